"""The field's statistics of a sweep (Agarwal et al. 2021): rliable's, bit for bit, for all resamples at once.

Scores are arranged as rliable wants them: `[runs, tasks]` (final scores;
tasks = envs, runs = seeds) or `[runs, tasks, steps]` (learning curves).
Intervals are stratified percentile-bootstrap CIs, seeded: rliable's
`get_interval_estimates` bit for bit (its draws from NumPy's global generator
and its percentiles), with the IQM, mean and median intervals computed for all
resamples at once (`rosmo.statistics.stratified_resamples`) instead of one
Python call per resample (5,000 per group).

Per group and env (one task) the metrics are, over the N runs x:
    IQM    = mean of x without the floor(N/4) lowest and highest   (rliable aggregate_iqm; our copy,
             rosmo.statistics.trimmed_mean, is its arithmetic without scipy's slow wrapper)
    mean   = mean of x                                              (rliable aggregate_mean)
    median = median of x
Over several envs (M tasks): IQM over all N*M scores, mean of the env means,
median of the env means (rliable aggregate_iqm / aggregate_mean / aggregate_median).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from rosmo.statistics import iqm_of_rows, percentile_interval, seeded_numpy, stratified_resamples, trimmed_mean

METRICS = ("iqm", "mean", "median")


def final_metrics(scores: np.ndarray) -> np.ndarray:
    """scores [runs, tasks] -> [IQM, mean, median] (module docstring: median over runs when one task)."""
    scores = np.asarray(scores, np.float64)
    task_means = np.mean(scores, axis=0)  # rliable's aggregate_mean / aggregate_median, its arithmetic
    median = np.median(scores) if scores.shape[1] == 1 else np.median(task_means, axis=0)
    return np.array([trimmed_mean(scores, 0.25), np.mean(task_means, axis=0), median])


def final_metrics_of_resamples(resamples: np.ndarray) -> np.ndarray:
    """`final_metrics` of each resample, bit for bit: resamples [R, runs, tasks] -> [R, 3]."""
    flat = resamples.reshape(resamples.shape[0], -1)
    task_means = np.mean(resamples, axis=1)  # [R, tasks]
    median = np.median(flat, axis=1) if resamples.shape[2] == 1 else np.median(task_means, axis=1)
    return np.stack([iqm_of_rows(flat), np.mean(task_means, axis=1), median], axis=1)


def interval_estimates(
    score_dict: Mapping[str, np.ndarray], reps: int = 5_000, seed: int = 0, confidence: float = 0.95
) -> dict[str, dict[str, float]]:
    """{name: scores [runs, tasks]} -> {name: {iqm, iqm_low, iqm_high, mean, ..., median_high, runs, tasks}}.

    Each name's bootstrap starts from `seed`, so its interval is rliable's on its scores alone.
    """
    data = {k: np.asarray(v, np.float64) for k, v in score_dict.items()}
    for key, scores in data.items():
        if scores.ndim != 2 or scores.shape[0] < 1 or scores.shape[1] < 1:
            raise ValueError(f"scores of {key!r}: expected a [runs, tasks] array, got shape {scores.shape}")
    out = {}
    for key, scores in data.items():  # each key from the same seed: a row does not depend on the others
        points = final_metrics(scores)
        resamples = stratified_resamples(scores, reps, seed)  # [R, runs, tasks]
        intervals = percentile_interval(final_metrics_of_resamples(resamples), confidence)
        row: dict[str, float] = {"runs": int(scores.shape[0]), "tasks": int(scores.shape[1])}
        for i, name in enumerate(METRICS):
            row[name] = float(points[i])
            row[f"{name}_low"], row[f"{name}_high"] = (float(v) for v in intervals[:, i])
        out[key] = row
    return out


def improvement_fractions(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X_m > Y_m) per task, ties counting half: x [..., n, tasks], y [..., k, tasks] -> [..., tasks].

    (#{(i, j): x_i > y_j} + #{(i, j): x_i = y_j} / 2) / (n k): the Mann-Whitney U statistic of x over n k,
    which is what rliable's `probability_of_improvement` computes per task with scipy (exact in float64:
    counts and halves), so the values are its bit for bit.
    """
    xs, ys = x[..., :, None, :], y[..., None, :, :]
    u = np.sum(xs > ys, axis=(-3, -2)) + 0.5 * np.sum(xs == ys, axis=(-3, -2))
    return u / (x.shape[-2] * y.shape[-2])


def probability_of_improvement(
    x: np.ndarray, y: np.ndarray, reps: int = 2_000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float, float]:
    """P(X > Y) averaged over tasks, with its CI: x [n, tasks], y [k, tasks] -> (p, low, high).

    P(X_m > Y_m) = Mann-Whitney U / (n k) on task m (ties count half); the interval resamples x and y
    independently, runs within each task. rliable's `probability_of_improvement` and
    `get_interval_estimates` bit for bit (the same draws, in the same order, from NumPy's global
    generator), with the statistic of all resamples computed at once.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            "probability_of_improvement: expected [runs, tasks] arrays with the same tasks, "
            f"got {x.shape} and {y.shape}"
        )
    tasks = np.arange(x.shape[1])
    with seeded_numpy(seed):  # per resample: x's indices, then y's (the bounds differ, so one call each)
        draws = [
            (np.random.choice(len(x), x.shape, replace=True), np.random.choice(len(y), y.shape, replace=True))
            for _ in range(reps)
        ]
    x_resamples = np.stack([x[ix, tasks] for ix, _ in draws])  # [R, n, tasks]
    y_resamples = np.stack([y[iy, tasks] for _, iy in draws])  # [R, k, tasks]
    estimates = np.mean(improvement_fractions(x_resamples, y_resamples), axis=1)  # [R]
    low, high = percentile_interval(estimates[:, None], confidence)[:, 0]
    return float(np.mean(improvement_fractions(x, y))), float(low), float(high)


def performance_profiles(
    score_dict: Mapping[str, np.ndarray], taus: Sequence[float], reps: int = 2_000, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Score distributions: fraction of runs (over all tasks) with score > tau, [len(taus)], and CIs [2, len(taus)].

    rliable's `create_performance_profile` bit for bit (one seeded stream over the groups in order, each
    group's resamples drawn as its `StratifiedBootstrap` draws them), computed for all resamples at once.
    """
    data = {k: np.asarray(v, np.float64) for k, v in score_dict.items()}
    taus = np.asarray(taus, np.float64)
    profiles, intervals = {}, {}
    with seeded_numpy(seed):
        for key, scores in data.items():  # the groups share the stream, as in rliable
            resamples = stratified_resamples(scores, reps, None)  # [R, runs, tasks]
            flat = resamples.reshape(reps, 1, -1)
            profiles[key] = np.mean(scores.reshape(1, -1) > taus[:, None], axis=1)
            intervals[key] = percentile_interval(np.mean(flat > taus[None, :, None], axis=2))
    return profiles, intervals


def curve_estimates(
    curves: Mapping[str, np.ndarray], reps: int = 2_000, seed: int = 0, confidence: float = 0.95
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{name: scores [runs, tasks, steps]} -> {name: (IQM [steps], CI [2, steps])}, one bootstrap for all steps."""
    data = {k: np.asarray(v, np.float64) for k, v in curves.items()}

    def iqm_per_step(scores: np.ndarray) -> np.ndarray:
        return np.array([trimmed_mean(scores[..., t], 0.25) for t in range(scores.shape[-1])])

    out = {}
    for key, scores in data.items():
        resamples = stratified_resamples(scores, reps, seed)  # [R, runs, tasks, steps]
        per_step = np.stack(
            [iqm_of_rows(resamples[..., t].reshape(reps, -1)) for t in range(scores.shape[-1])], axis=1
        )  # [R, steps]
        out[key] = (iqm_per_step(scores), percentile_interval(per_step, confidence))
    return out
