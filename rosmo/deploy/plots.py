"""A deployment run's plot: return after each deployment, against deployments and against environment steps.

deployments.png / .svg   two panels: IQM return with its 95% CI (and the mean) vs deployment index,
                         and the same vs environment steps collected so far
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rosmo.figures import plt, save


def _column(rows: Sequence[dict[str, Any]], key: str) -> np.ndarray:
    return np.asarray([np.nan if r.get(key) in (None, "") else float(r[key]) for r in rows], np.float64)


def plot_deployments(rows: Sequence[dict[str, Any]], out_dir: str, title: str = "") -> list[str]:
    """Write `out_dir/deployments.{png,svg}` from `deployments.csv`-style rows; returns the paths."""
    x_dep, x_steps = _column(rows, "deployment"), _column(rows, "env_steps")
    iqm, low, high, mean = (
        _column(rows, k) for k in ("iqm_return", "iqm_return_ci_low", "iqm_return_ci_high", "mean_return")
    )
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, x, label in ((axes[0], x_dep, "deployment"), (axes[1], x_steps, "environment steps")):
        ax.plot(x, iqm, "o-", label="IQM return (95% CI)")
        ax.fill_between(x, low, high, alpha=0.25)
        ax.plot(x, mean, "s--", alpha=0.7, label="mean return")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("return")
    axes[0].legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title)
    return save(fig, out_dir, "deployments")
