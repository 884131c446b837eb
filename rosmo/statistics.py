"""Statistics of episode returns, and the one normalisation function.

Statistics of a set of episode returns `x[0..N)` (the field's reporting, rliable):

    mean, median, std, min, max
    IQM  = mean of the sorted returns with floor(N / 4) dropped at each end
           (scipy.stats.trim_mean(x, 0.25), rliable's interquartile mean)
    CI   = percentile bootstrap: resample x with replacement R times,
           take the (alpha/2, 1 - alpha/2) quantiles of the statistic

Normalised scores are affine in the return, so the normalised mean / median /
IQM (and CI) are the return statistics mapped through

    normalized(R) = (R - low) / (high - low)

with the references of the suite (BSuite: uniform random and the behaviour
DQN of the dataset; Atari: RL Unplugged's random and online DQN, and the
Atari-57 human scores).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
from rliable import library as rly
from rliable import metrics as rliable_metrics


@contextlib.contextmanager
def seeded_numpy(seed: Optional[int]) -> Iterator[None]:
    """Seed NumPy's global generator for the block, then put its previous state back.

    rliable's StratifiedBootstrap draws its resamples with `np.random.choice`
    (the global generator; its `random_state` argument does not reach that
    draw), so this is how its intervals are made reproducible. None: no seeding.
    """
    if seed is None:
        yield
        return
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def interquartile_mean(values: Sequence[float]) -> float:
    """Mean of `values` after dropping floor(N/4) of the lowest and of the highest. values [N] -> float.

    rliable's `aggregate_iqm` (scipy.stats.trim_mean(x, 0.25)) of the values as one task.
    """
    x = np.asarray(values, np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("interquartile_mean of an empty set of returns")
    return float(rliable_metrics.aggregate_iqm(x[:, None]))


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[[np.ndarray], float] = interquartile_mean,
    num_resamples: int = 2_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of `statistic(values)` (rliable's interval estimates).

    Draws `num_resamples` resamples of size N with replacement (seeded), and
    returns the (1 - confidence)/2 and (1 + confidence)/2 percentiles of the
    statistic over them: `rliable.library.get_interval_estimates` with the
    values as the runs of one task. values [N] -> (low, high).
    """
    x = np.asarray(values, np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("bootstrap_ci of an empty set of returns")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    with seeded_numpy(seed):
        _, intervals = rly.get_interval_estimates(
            {"x": x[:, None]},
            lambda scores: np.array([statistic(scores[:, 0])]),
            reps=num_resamples,
            confidence_interval_size=confidence,
        )
    low, high = intervals["x"][:, 0]
    return float(low), float(high)


def return_statistics(returns: Sequence[float], seed: int = 0, num_resamples: int = 2_000) -> dict[str, object]:
    """{"episodes", "mean", "median", "iqm", "iqm_ci95": [low, high], "std", "min", "max"} of episode returns."""
    x = np.asarray(returns, np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("no episode finished: cannot compute return statistics")
    return {
        "episodes": int(x.size),
        "mean": float(x.mean()),
        "median": float(np.median(x)),
        "iqm": interquartile_mean(x),
        "iqm_ci95": list(bootstrap_ci(x, interquartile_mean, num_resamples, 0.95, seed)),
        "std": float(x.std()),
        "min": float(x.min()),
        "max": float(x.max()),
    }


def normalize_statistics(stats: dict[str, object], low: float, high: float) -> dict[str, object]:
    """Map mean/median/iqm/iqm_ci95 of `return_statistics` through (R - low) / (high - low)."""
    span = high - low
    if span == 0:
        raise ValueError(f"normalisation references coincide (low = high = {low})")

    def f(v: float) -> float:
        return float((v - low) / span)

    return {
        "mean": f(stats["mean"]),
        "median": f(stats["median"]),
        "iqm": f(stats["iqm"]),
        "iqm_ci95": sorted(f(v) for v in stats["iqm_ci95"]),
        "references": {"low": float(low), "high": float(high)},
    }
