"""Axis formatting of the score-vs-field and score-vs-seconds plots."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rosmo.report.plots import field_axis, seconds_axis_is_log  # noqa: E402


def _labels(ax, minor):
    ax.figure.canvas.draw()
    return [t.get_text() for t in ax.get_xaxis().get_ticklabels(minor=minor) if t.get_text()]


def test_a_wide_range_gets_a_log_axis_labelled_only_at_the_swept_values():
    fig, ax = plt.subplots()
    values = np.array([2.0, 4.0, 8.0, 20.0, 50.0])
    ax.plot(values, values)
    field_axis(ax, values)
    assert ax.get_xscale() == "log"
    assert _labels(ax, minor=False) == ["2", "4", "8", "20", "50"]
    assert _labels(ax, minor=True) == []  # no "3x10^0"-style minor labels
    plt.close(fig)


def test_a_narrow_range_stays_linear():
    fig, ax = plt.subplots()
    values = np.array([1.0, 3.0, 5.0, 10.0])
    ax.plot(values, values)
    field_axis(ax, values)
    assert ax.get_xscale() == "linear"
    assert _labels(ax, minor=False) == ["1", "3", "5", "10"]
    plt.close(fig)


def test_seconds_go_on_a_log_axis_only_when_the_groups_times_differ_twentyfold():
    assert seconds_axis_is_log([208.0, 206.0, 706.0, 6736.0])  # 32x: ROSMO against MZU N = 50
    assert not seconds_axis_is_log([208.0, 206.0, 706.0])  # 3.4x
    assert not seconds_axis_is_log([10.0, 199.0])  # 19.9x
    assert seconds_axis_is_log([10.0, 200.0])
    assert not seconds_axis_is_log([5000.0])  # one curve
    assert not seconds_axis_is_log([0.0, float("nan"), 300.0])  # nothing to compare
