"""Figures as files: matplotlib on the Agg backend, each figure written as PNG and SVG (temp file + rename).

fig, ax = plt.subplots()
save(fig, "out/plots", "returns")   # out/plots/returns.png, out/plots/returns.svg
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # before pyplot (and rliable's plot_utils, which imports it)

import matplotlib.pyplot as plt  # noqa: E402

FORMATS = ("png", "svg")


def save(fig, out_dir: str, stem: str) -> list[str]:
    """Write `fig` as <stem>.png and <stem>.svg (temp file + rename) and close it; returns the paths.

    Args:
      fig: a matplotlib figure.
      out_dir: the directory (made if missing).
      stem: the file name without extension.
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for fmt in FORMATS:
        path = os.path.join(out_dir, f"{stem}.{fmt}")
        tmp = os.path.join(out_dir, f".{stem}.tmp.{fmt}")
        fig.savefig(tmp, format=fmt, bbox_inches="tight", dpi=120)
        os.replace(tmp, path)
        paths.append(path)
    plt.close(fig)
    return paths


__all__ = ["FORMATS", "plt", "save"]
