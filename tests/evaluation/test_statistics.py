"""Return statistics (hand-computed) and the normalisation function."""

import numpy as np
import pytest

from rosmo.statistics import bootstrap_ci, interquartile_mean, normalize_statistics, return_statistics


def test_interquartile_mean_hand_computed():
    assert interquartile_mean([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5  # drop 2 each end: mean(3, 4, 5, 6)
    assert interquartile_mean([100, 0, 0, 10, 0]) == pytest.approx(10 / 3)  # drop 1 each end: mean(0, 0, 10)
    assert interquartile_mean([1, 2, 3]) == 2.0  # floor(3/4) = 0: the plain mean
    with pytest.raises(ValueError, match="empty"):
        interquartile_mean([])


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
