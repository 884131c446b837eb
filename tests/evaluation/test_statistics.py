"""Return statistics (hand-computed) and the normalisation function."""

import numpy as np
import pytest
import scipy.stats
from rliable import library as rly
from rliable import metrics as rliable_metrics

from rosmo.statistics import (
    bootstrap_ci,
    interquartile_mean,
    iqm_of_rows,
    normalize_statistics,
    return_statistics,
    seeded_numpy,
    trimmed_mean,
)


def test_interquartile_mean_hand_computed():
    assert interquartile_mean([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5  # drop 2 each end: mean(3, 4, 5, 6)
    assert interquartile_mean([100, 0, 0, 10, 0]) == pytest.approx(10 / 3)  # drop 1 each end: mean(0, 0, 10)
    assert interquartile_mean([1, 2, 3]) == 2.0  # floor(3/4) = 0: the plain mean
    with pytest.raises(ValueError, match="empty"):
        interquartile_mean([])


def test_trimmed_mean_is_scipys_bit_for_bit():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 4, 5, 8, 13, 64, 101):
        for values in (rng.normal(size=n), rng.normal(size=(n, 3)), rng.integers(-5, 5, size=n), np.full(n, 0.1)):
            for proportion in (0.0, 0.1, 0.25, 0.4):
                expected = scipy.stats.trim_mean(values, proportion, axis=None)
                got = trimmed_mean(values, proportion)
                assert got == expected and type(got) is type(expected), (n, values.dtype, proportion)
    assert np.isnan(trimmed_mean(np.array([1.0, np.nan, 3.0, 4.0, 5.0])))  # as scipy's (NaNs propagate)
    assert np.isnan(trimmed_mean(np.array([])))
    assert trimmed_mean(np.array([np.inf, 1.0, 2.0, 3.0])) == 2.5  # drop 1 each end: mean(2, 3)


def test_iqm_of_rows_is_trimmed_mean_per_row():
    rows = np.random.default_rng(1).normal(size=(50, 13))
    rows[3, 5] = np.nan
    got = iqm_of_rows(rows)
    for row, value in zip(rows, got):
        expected = trimmed_mean(row, 0.25)
        assert value == expected or (np.isnan(value) and np.isnan(expected))
    assert np.isnan(got[3])


@pytest.mark.parametrize("n", [1, 2, 5, 37, 200])
def test_bootstrap_ci_is_rliables_interval_bit_for_bit(n):
    """The same draws and percentiles as rliable's `get_interval_estimates` with its own statistics."""
    x = np.random.default_rng(n).exponential(size=n)
    for ours, theirs in ((None, rliable_metrics.aggregate_iqm), (np.median, np.median)):
        for confidence in (0.95, 0.9):
            with seeded_numpy(7):
                _, intervals = rly.get_interval_estimates(
                    {"x": x[:, None]},
                    lambda s, f=theirs: np.array([f(s)]),
                    reps=300,
                    confidence_interval_size=confidence,
                )
            assert bootstrap_ci(x, ours, 300, confidence, seed=7) == tuple(intervals["x"][:, 0]), (n, confidence)


def test_bootstrap_ci_and_statistics():
    assert bootstrap_ci([3.0] * 10) == (3.0, 3.0)
    x = np.random.default_rng(0).normal(10.0, 2.0, size=64)
    low, high = bootstrap_ci(x, seed=1)
    assert low < interquartile_mean(x) < high and high - low < 2.0
    assert bootstrap_ci(x, seed=1) == (low, high)  # seeded
    stats = return_statistics([0.0, 1.0, 2.0, 3.0, 10.0])
    assert stats["episodes"] == 5 and stats["mean"] == 3.2 and stats["median"] == 2.0 and stats["iqm"] == 2.0
    norm = normalize_statistics(stats, low=2.0, high=4.0)  # (R - 2) / 2
    assert (norm["mean"], norm["median"], norm["iqm"]) == pytest.approx((0.6, 0.0, 0.0))
