"""experiments/score_at_step.py: IQMs of a report's runs at one step, by hand."""

import csv

import pytest

from experiments.score_at_step import main, scores_at_step, table

HEADER = "run,group,algo,env,seed,step,score,final\n"


def _results(tmp_path, scores_by_env_step):
    """results.csv with one group `algo=rosmo` whose runs `<env>-<seed>` have the given scores at each step."""
    lines = [HEADER]
    for (env, step), scores in scores_by_env_step.items():
        for seed, score in enumerate(scores):
            lines.append(f'"{env}-{seed}",algo=rosmo,rosmo,{env},{seed},{step},{score},False\n')
    path = tmp_path / "results.csv"
    path.write_text("".join(lines))
    return str(path)


def test_scores_at_one_step_by_group_and_env(tmp_path, capsys):
    # a: 4 runs at step 6000 -> IQM drops the lowest and the highest: (1 + 2) / 2 = 1.5
    # b: 4 runs -> IQM (5 + 6) / 2 = 5.5; over both envs (8 scores): drop 2 low, 2 high -> (2 + 3 + 4 + 5) / 4 = 3.5
    path = _results(
        tmp_path,
        {("a", 6000): [0, 1, 2, 3], ("b", 6000): [4, 5, 6, 7], ("a", 12000): [9, 9, 9, 9], ("b", 12000): [8, 8, 8, 8]},
    )
    rows = list(csv.DictReader(open(path)))
    assert scores_at_step(rows, 6000) == {"algo=rosmo": {"a": [0.0, 1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0, 7.0]}}
    by_env = {row["env"]: row for row in table(scores_at_step(rows, 6000), reps=200)}
    assert by_env["a"]["iqm"] == pytest.approx(1.5) and by_env["b"]["iqm"] == pytest.approx(5.5)
    assert by_env["all envs"]["iqm"] == pytest.approx(3.5) and by_env["all envs"]["runs"] == 4
    assert by_env["a"]["iqm_low"] <= 1.5 <= by_env["a"]["iqm_high"]
    assert main([path, "6000", "--reps", "200"]) == 0
    out = capsys.readouterr().out
    assert "| algo=rosmo | a | 4 | 1.50 [" in out and "| algo=rosmo | all envs | 4 | 3.50 [" in out


def test_unequal_runs_per_env_have_no_aggregate_and_a_missing_step_is_an_error(tmp_path, capsys):
    path = _results(tmp_path, {("a", 6000): [0, 1, 2], ("b", 6000): [4, 5], ("b", 5000): [1, 1, 1]})
    assert main([path, "6000", "--reps", "200"]) == 0
    out = capsys.readouterr().out
    assert "all envs" not in out and "(no evaluation at step 6000: b-2)" in out
    assert main([path, "7000"]) == 2
    assert "no run evaluated at step 7000" in capsys.readouterr().err
    assert main([str(tmp_path / "none.csv"), "6000"]) == 2
