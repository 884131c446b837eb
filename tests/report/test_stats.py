"""Report statistics are rliable's: IQM / CIs on a known table, probability of improvement, curves, profiles."""

import numpy as np
import pytest
from rliable import library as rly
from rliable import metrics as rliable_metrics

from rosmo.statistics import bootstrap_ci, interquartile_mean
from rosmo.report.stats import (
    curve_estimates,
    final_metrics,
    interval_estimates,
    performance_profiles,
    probability_of_improvement,
)

# 5 seeds x 1 env: IQM drops floor(5/4) = 1 run at each end -> mean(0.5, 0.6, 0.7) = 0.6
KNOWN = np.array([[0.1], [0.5], [0.6], [0.7], [1.0]])


def test_final_metrics_hand_computed():
    iqm, mean, median = final_metrics(KNOWN)
    assert iqm == pytest.approx(0.6) and mean == pytest.approx(0.58) and median == pytest.approx(0.6)
    # two envs: IQM over all 8 scores (drop 2 each end), mean of env means, median of env means
    two = np.array([[0.0, 1.0], [0.2, 0.9], [0.4, 0.5], [0.6, 0.3]])
    iqm, mean, median = final_metrics(two)
    assert iqm == pytest.approx(np.mean([0.3, 0.4, 0.5, 0.6]))
    assert mean == pytest.approx(np.mean([0.3, 0.675])) and median == pytest.approx(np.median([0.3, 0.675]))


def test_interval_estimates_equal_rliable():
    est = interval_estimates({"a": KNOWN, "b": KNOWN[::-1] * 0.5}, reps=3000, seed=7)["a"]
    np.random.seed(7)  # rliable's stratified bootstrap draws from NumPy's global generator
    points, intervals = rly.get_interval_estimates(
        {"a": KNOWN},
        lambda s: np.array([rliable_metrics.aggregate_iqm(s), rliable_metrics.aggregate_mean(s)]),
        reps=3000,
    )
    assert est["iqm"] == pytest.approx(points["a"][0]) and est["mean"] == pytest.approx(points["a"][1])
    assert (est["iqm_low"], est["iqm_high"]) == pytest.approx(tuple(intervals["a"][:, 0]))
    assert (est["mean_low"], est["mean_high"]) == pytest.approx(tuple(intervals["a"][:, 1]))
    assert est["iqm_low"] < 0.6 < est["iqm_high"] and est["runs"] == 5 and est["tasks"] == 1
    state = np.random.get_state()
    interval_estimates({"a": KNOWN}, reps=100, seed=1)
    assert np.array_equal(np.random.get_state()[1], state[1])  # the global generator is left as it was


def test_evaluation_statistics_use_rliable():
    x = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0])
    assert interquartile_mean(x) == pytest.approx(rliable_metrics.aggregate_iqm(x[:, None]))
    low, high = bootstrap_ci(x, num_resamples=1000, seed=3)
    np.random.seed(3)
    _, intervals = rly.get_interval_estimates(
        {"x": x[:, None]}, lambda s: np.array([rliable_metrics.aggregate_iqm(s)]), reps=1000
    )
    assert (low, high) == pytest.approx(tuple(intervals["x"][:, 0]))


def test_probability_of_improvement():
    better, worse = np.array([[0.8], [0.9], [1.0]]), np.array([[0.1], [0.2], [0.3]])
    p, low, high = probability_of_improvement(better, worse, reps=500)
    assert (p, low, high) == (1.0, 1.0, 1.0)
    p, _, _ = probability_of_improvement(worse, better, reps=200)
    assert p == 0.0
    # one env: x = [1, 3], y = [2]: P(x > y) = (0 + 1) / 2
    p, low, high = probability_of_improvement(np.array([[1.0], [3.0]]), np.array([[2.0]]), reps=500)
    assert p == pytest.approx(0.5) and 0.0 <= low <= 0.5 <= high <= 1.0
    with pytest.raises(ValueError):
        probability_of_improvement(better, np.ones((3, 2)))


def test_curve_and_profile_estimates():
    scores = np.stack([KNOWN[:, 0] * t for t in (0.0, 0.5, 1.0)], axis=-1)[:, None, :]  # [5 runs, 1 env, 3 steps]
    iqm, ci = curve_estimates({"g": scores}, reps=500)["g"]
    assert iqm == pytest.approx([0.0, 0.3, 0.6]) and ci.shape == (2, 3)
    assert np.all(ci[0] <= iqm + 1e-12) and np.all(iqm <= ci[1] + 1e-12)
    profiles, cis = performance_profiles({"g": KNOWN}, [0.0, 0.55, 1.0], reps=200)
    assert profiles["g"] == pytest.approx([1.0, 0.6, 0.0])  # fraction of runs with score > tau


@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (5, 1), (4, 3), (7, 2)])
def test_interval_estimates_are_rliables_bit_for_bit(shape):
    """All resamples at once give rliable's intervals exactly: the same draws, statistics and percentiles."""
    scores = np.random.default_rng(sum(shape)).uniform(size=shape)
    scores[0, 0] = scores[-1, -1]  # a tie
    for confidence in (0.95, 0.8):
        ours = interval_estimates({"x": scores}, reps=400, seed=5, confidence=confidence)["x"]
        np.random.seed(5)
        points, intervals = rly.get_interval_estimates(
            {"x": scores}, final_metrics, reps=400, confidence_interval_size=confidence
        )
        for i, name in enumerate(("iqm", "mean", "median")):
            assert ours[name] == points["x"][i], name
            assert (ours[f"{name}_low"], ours[f"{name}_high"]) == tuple(intervals["x"][:, i]), (name, confidence)


@pytest.mark.parametrize("shape", [(1, 1, 2), (5, 1, 3), (4, 2, 4)])
def test_curve_estimates_are_rliables_bit_for_bit(shape):
    curves = np.random.default_rng(sum(shape)).normal(size=shape)
    iqm, ci = curve_estimates({"g": curves}, reps=300, seed=2)["g"]
    np.random.seed(2)
    points, intervals = rly.get_interval_estimates(
        {"g": curves},
        lambda s: np.array([rliable_metrics.aggregate_iqm(s[..., t]) for t in range(s.shape[-1])]),
        reps=300,
    )
    assert np.array_equal(iqm, points["g"]) and np.array_equal(ci, intervals["g"])


@pytest.mark.parametrize("n, k, tasks", [(3, 3, 1), (5, 2, 1), (4, 6, 3), (1, 1, 2)])
def test_probability_of_improvement_is_rliables_bit_for_bit(n, k, tasks):
    rng = np.random.default_rng(n * 10 + k)
    x = rng.integers(0, 4, size=(n, tasks)) / 4.0  # few values: ties between and within the groups
    y = rng.integers(0, 4, size=(k, tasks)) / 4.0
    ours = probability_of_improvement(x, y, reps=300, seed=4)
    np.random.seed(4)
    points, intervals = rly.get_interval_estimates(
        {"pair": [x, y]}, lambda a, b: np.array([rliable_metrics.probability_of_improvement(a, b)]), reps=300
    )
    assert ours == (points["pair"][0], intervals["pair"][0, 0], intervals["pair"][1, 0])


def test_performance_profiles_are_rliables_bit_for_bit():
    rng = np.random.default_rng(0)
    groups = {"a": rng.uniform(size=(5, 2)), "b": rng.uniform(size=(3, 2)), "c": np.full((4, 1), 0.5)}
    taus = np.linspace(0.0, 1.0, 11)
    profiles, cis = performance_profiles(groups, taus, reps=200, seed=9)
    np.random.seed(9)
    expected, expected_cis = rly.create_performance_profile(groups, taus, reps=200)
    for key in groups:
        assert np.array_equal(profiles[key], expected[key]) and np.array_equal(cis[key], expected_cis[key]), key
