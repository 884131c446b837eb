"""Ranking metrics against hand-computed values, and `rosmo report --ope` on run directories written here."""

import json
import math
import os

import pandas as pd
import pytest

from rosmo import cli
from rosmo.ope import metrics
from rosmo.report.ope import make_ope_report  # noqa: F401  (imports TensorFlow before capsys captures)

# Four candidates. Ranks of e: 1, 3, 2, 4; of y: 1, 2, 4, 3; d = 0, 1, -2, 1, sum d^2 = 6:
#   rho = 1 - 6 * 6 / (4 * (16 - 1)) = 0.4
# top-1 by e: candidate 3 (y 0.6), best y 0.8 -> regret@1 0.2; top-3 (3, 1, 2) holds candidate 2 -> regret@3 0
# |e - y| = 0.1, 0.1, 0.5, 0.3 -> 0.25; the last step is candidate 3 -> last-checkpoint regret 0.2
E = [0.1, 0.5, 0.3, 0.9]
Y = [0.2, 0.4, 0.8, 0.6]
STEPS = [1000, 2000, 3000, 4000]


def test_metrics_equal_the_hand_computed_values():
    assert metrics.spearman(E, Y) == pytest.approx(0.4)
    assert metrics.regret_at_k(E, Y, 1) == pytest.approx(0.2)
    assert metrics.regret_at_k(E, Y, 3) == pytest.approx(0.0)
    assert metrics.regret_at_k(E, Y, 10) == 0.0
    assert metrics.absolute_error(E, Y) == pytest.approx(0.25)
    assert metrics.last_checkpoint_regret(STEPS, Y) == pytest.approx(0.2)
    assert math.isnan(metrics.spearman([1.0, 1.0, 1.0], Y[:3]))  # a constant estimator ranks nothing
    assert metrics.top_k([0.5, 0.7, 0.7], 1).tolist() == [1]  # ties: the earlier candidate


def test_regret_breaks_ties_at_random_in_expectation():
    # a constant estimator picks at random: regret@1 = 0.8 - mean(Y) = 0.3; its top 3 miss the best (0.8)
    # with probability 1/4 (then the best is 0.6): regret@3 = 0.8 - (3/4 * 0.8 + 1/4 * 0.6) = 0.05
    assert metrics.regret_at_k([1.0] * 4, Y, 1) == pytest.approx(0.3)
    assert metrics.regret_at_k([1.0] * 4, Y, 3) == pytest.approx(0.05)
    # one sure candidate (y 0.2) and one of two tied ones (y 0.8 or 0.4): 0.8 - (0.8 + 0.4) / 2 = 0.2
    assert metrics.regret_at_k([0.9, 0.5, 0.5, 0.1], [0.2, 0.8, 0.4, 0.6], 2) == pytest.approx(0.2)
    assert metrics.regret_at_k([0.9, 0.5, 0.5, 0.1], [0.2, 0.8, 0.4, 0.6], 3) == pytest.approx(0.0)


def test_bootstrap_ci_of_a_mean():
    mean, low, high = metrics.bootstrap_mean_ci([1.0, 2.0, 3.0, float("nan")], reps=4000, seed=0)
    assert mean == pytest.approx(2.0) and 1.0 <= low < 2.0 < high <= 3.0
    assert metrics.bootstrap_mean_ci([0.5]) == (0.5, 0.5, 0.5)
    assert all(math.isnan(v) for v in metrics.bootstrap_mean_ci([float("nan")]))


def _run(root, name, algo, seed, steps, scores, estimates):
    """A run directory: config.json and an eval.csv whose online and ope rows are separate (as the evaluator writes)."""
    run = os.path.join(root, name)
    os.makedirs(run)
    json.dump(
        {"env": "catch", "suite": "bsuite", "algo": algo, "seed": seed}, open(os.path.join(run, "config.json"), "w")
    )
    online = pd.DataFrame({"step": steps, "normalized_score": scores, "mean_return": scores})
    ope = pd.DataFrame({"step": steps, "ope_fqe": estimates})
    pd.concat([online, ope]).to_csv(os.path.join(run, "eval.csv"), index=False)


def test_report_ope_on_hand_computed_runs(tmp_path, capsys):
    root = str(tmp_path / "sweep")
    _run(root, "a", "rosmo", 0, STEPS, Y, E)
    # run b: rho -1, regret@1 0.5 - 0.3 = 0.2, regret@3 0, |e - y| = 0.3, 0.1 -> 0.2, last-checkpoint regret 0.2
    _run(root, "b", "bc", 0, [1000, 2000], [0.5, 0.3], [0.2, 0.4])
    assert cli.main(["report", root, "--ope", "--reps", "200"]) == 0
    out = capsys.readouterr().out
    assert "checkpoints within a run" in out and "runs within a sweep" in out
    scores = pd.read_csv(tmp_path / "sweep" / "ope.csv")

    def value(estimator, selection, metric):
        row = scores[(scores.estimator == estimator) & (scores.selection == selection) & (scores.metric == metric)]
        assert len(row) == 1
        return float(row["mean"].iloc[0])

    # checkpoints: the seed's mean over runs a and b
    assert value("fqe", "checkpoints", "spearman") == pytest.approx((0.4 - 1.0) / 2)
    assert value("fqe", "checkpoints", "regret@1") == pytest.approx(0.2)
    assert value("fqe", "checkpoints", "regret@3") == pytest.approx(0.0)
    assert value("fqe", "checkpoints", "abs_error") == pytest.approx((0.25 + 0.2) / 2)
    assert value("last", "checkpoints", "regret@1") == pytest.approx(0.2)
    # runs: the last estimated step of each run: a (e 0.9, y 0.6), b (e 0.4, y 0.3)
    assert value("fqe", "runs", "spearman") == pytest.approx(1.0)
    assert value("fqe", "runs", "regret@1") == pytest.approx(0.0)
    assert value("fqe", "runs", "abs_error") == pytest.approx(0.2)
    assert os.path.isfile(tmp_path / "sweep" / "plots" / "ope_scatter_fqe.png")
    merged = pd.read_csv(tmp_path / "sweep" / "ope_checkpoints.csv")
    assert len(merged) == 6 and merged["score"].notna().all() and merged["fqe"].notna().all()


def test_report_ope_without_estimates_is_a_one_line_error(tmp_path, capsys):
    root = str(tmp_path / "sweep")
    run = os.path.join(root, "a")
    os.makedirs(run)
    json.dump({"env": "catch", "seed": 0}, open(os.path.join(run, "config.json"), "w"))
    pd.DataFrame({"step": [1], "normalized_score": [0.5]}).to_csv(os.path.join(run, "eval.csv"), index=False)
    assert cli.main(["report", root, "--ope"]) == 2
    err = capsys.readouterr().err
    assert "ope_*" in err and "Traceback" not in err


def test_learning_curves_merge_online_and_ope_rows_of_a_step(tmp_path):
    from rosmo.report.collect import load_runs

    root = str(tmp_path / "sweep")
    _run(root, "a", "rosmo", 0, STEPS, Y, E)
    (record,) = load_runs(root)
    assert record.curve["step"].tolist() == STEPS and record.curve["score"].tolist() == Y  # not the ope rows' NaN
