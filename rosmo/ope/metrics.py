"""How well an off-policy estimator ranks candidates (Fu et al. 2021, DOPE): pure functions of two arrays.

For candidates i with an estimate e_i and an online score y_i (normalised):

    spearman     Spearman's rank correlation of (e, y) (`scipy.stats.spearmanr`; NaN when e or y is constant
                 or there are fewer than 2 candidates)
    regret@k     max_i y_i - E[max_{i in top-k by e} y_i]     (0: the estimator's top k hold the best candidate);
                 candidates tied on e at the top-k boundary are drawn uniformly at random, and the expectation
                 over that draw is exact (a constant estimator scores the regret of a random pick)
    abs error    mean_i |e_i - y_i|
    last         regret of "take the last checkpoint": max_i y_i - y_{argmax_i step_i}

`bootstrap_mean_ci(values)` is the percentile bootstrap CI of a mean over units (seeds).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats


def _pair(estimates: Sequence[float], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(estimates, np.float64).reshape(-1)
    y = np.asarray(scores, np.float64).reshape(-1)
    if e.shape != y.shape:
        raise ValueError(f"estimates {e.shape} and scores {y.shape} differ in length")
    return e, y


def spearman(estimates: Sequence[float], scores: Sequence[float]) -> float:
    """Spearman's rho of (estimates, scores) [N]; NaN for N < 2 or a constant input."""
    e, y = _pair(estimates, scores)
    if len(e) < 2 or np.all(e == e[0]) or np.all(y == y[0]):
        return float("nan")
    return float(stats.spearmanr(e, y).statistic)


def top_k(estimates: Sequence[float], k: int) -> np.ndarray:
    """Indices of the k largest estimates (ties: the earlier candidate first)."""
    e = np.asarray(estimates, np.float64).reshape(-1)
    return np.argsort(-e, kind="stable")[: max(1, int(k))]


def regret_at_k(estimates: Sequence[float], scores: Sequence[float], k: int) -> float:
    """max(y) - E[max(y of the k candidates with the largest estimates)]. [N], [N] -> float >= 0.

    The candidates whose estimate is above the k-th largest are taken; from the m candidates tied at the
    k-th largest estimate, r fill the remaining places, drawn uniformly without replacement. With the tied
    scores sorted y_(1) >= ... >= y_(m), P(the draw's best is y_(j)) = C(m - j, r - 1) / C(m, r), so
    E[max] = sum_j P_j * max(y_sure, y_(j)) with y_sure the best score taken for sure (-inf if none).
    """
    e, y = _pair(estimates, scores)
    if len(e) == 0:
        return float("nan")
    k = min(max(1, int(k)), len(e))
    boundary = np.sort(e)[::-1][k - 1]
    sure = y[e > boundary]
    tied = np.sort(y[e == boundary])[::-1]
    m, r = len(tied), k - len(sure)
    best_sure = float(np.max(sure)) if len(sure) else -np.inf
    probs = np.array([math.comb(m - j, r - 1) for j in range(1, m + 1)], np.float64) / math.comb(m, r)
    expected_best = float(np.sum(probs * np.maximum(best_sure, tied)))
    return max(0.0, float(np.max(y) - expected_best))  # >= 0 up to the expectation's rounding


def absolute_error(estimates: Sequence[float], scores: Sequence[float]) -> float:
    """mean |estimates - scores|. [N], [N] -> float."""
    e, y = _pair(estimates, scores)
    return float(np.mean(np.abs(e - y))) if len(e) else float("nan")


def last_checkpoint_regret(steps: Sequence[int], scores: Sequence[float]) -> float:
    """Regret of picking the candidate with the largest step: max(scores) - scores[argmax(steps)]."""
    s, y = _pair(steps, scores)
    if len(s) == 0:
        return float("nan")
    return float(np.max(y) - y[int(np.argmax(s))])


def bootstrap_mean_ci(
    values: Sequence[float], reps: int = 2000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float, float]:
    """(mean, low, high): the mean of the finite `values` [U] and its percentile bootstrap (1 - alpha) CI,
    resampling the U units with replacement `reps` times. NaNs everywhere when no value is finite."""
    x = np.asarray(values, np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, (int(reps), x.size))].mean(axis=1)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(x.mean()), float(low), float(high)
