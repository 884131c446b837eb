"""`rosmo report` on synthetic run directories: tables, CSVs, plots, grouping, errors."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from rosmo.cli import main as cli_main
from rosmo.report import make_report
from rosmo.report.collect import ReportError, find_run_dirs, load_runs, training_seconds
from rosmo.report.stats import interval_estimates
from tests.report.synthetic import write_run

STEPS = [100, 200, 300]
REPS = 400  # bootstrap resamples: enough to check the plumbing, few enough to stay fast
# final scores per (unroll_steps, env) over seeds 0..3
FINAL = {
    (1, "catch"): [0.2, 0.4, 0.5, 0.9],
    (3, "catch"): [0.6, 0.8, 0.9, 1.0],
    (5, "catch"): [0.5, 0.7, 0.8, 0.6],
    (1, "cartpole"): [0.1, 0.3, 0.2, 0.0],
    (3, "cartpole"): [0.7, 0.6, 0.9, 0.8],
    (5, "cartpole"): [0.4, 0.5, 0.3, 0.6],
}


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("sweep"))
    for (k, env), finals in FINAL.items():
        for seed, final in enumerate(finals):
            point = {"config": f"bsuite:{env}", "unroll_steps": k}
            write_run(
                root,
                f"config={env},unroll_steps={k},seed={seed}",
                point,
                env,
                seed,
                STEPS,
                [final / 3, final / 2, final],
                train_seconds=[1.0 * k, 2.0 * k, 3.0 * k],
            )
    for seed, final in enumerate([0.3, 0.35, 0.4]):  # another algorithm, without unroll_steps
        write_run(
            root,
            f"algo=bc,config=catch,seed={seed}",
            {"algo": "bc", "config": "bsuite:catch"},
            "catch",
            seed,
            STEPS,
            [final, final, final],
        )
    # a run that did not finish: in the curves' data, not in the final table
    write_run(
        root,
        "config=catch,unroll_steps=3,seed=9",
        {"config": "bsuite:catch", "unroll_steps": 3},
        "catch",
        9,
        STEPS[:2],
        [0.0, 0.0],
        finished=False,
    )
    return root


@pytest.fixture(scope="module")
def report(sweep_dir, tmp_path_factory):
    return make_report(sweep_dir, out_dir=str(tmp_path_factory.mktemp("report")), reps=REPS, seed=0)


def test_table_is_rliable_per_group_and_env(report):
    table = pd.read_csv(report["groups"])
    # `config` only picks the env, so it is not a group field
    assert report["fields"] == ["algo", "unroll_steps"]  # no sweep.json: runs in name order
    row = table[(table["group"] == "unroll_steps=3") & (table["env"] == "catch")].iloc[0]
    scores = np.array(FINAL[(3, "catch")])[:, None]
    expected = interval_estimates({"x": scores}, reps=REPS, seed=0)["x"]
    assert row["iqm"] == pytest.approx(np.mean([0.8, 0.9]))  # 4 seeds: drop one at each end
    assert (row["iqm_low"], row["iqm_high"]) == pytest.approx((expected["iqm_low"], expected["iqm_high"]))
    assert row["median"] == pytest.approx(0.85) and row["seeds"] == 4 and row["unfinished"] == 1
    # over both envs: IQM of the 8 scores of the 4 seeds both envs have
    both = table[(table["group"] == "unroll_steps=3") & (table["env"] == "all envs")].iloc[0]
    assert both["iqm"] == pytest.approx(np.mean(sorted(FINAL[(3, "catch")] + FINAL[(3, "cartpole")])[2:6]))
    bc = table[table["group"] == "algo=bc"]
    assert list(bc["env"]) == ["catch"] and bc.iloc[0]["iqm"] == pytest.approx(0.35)
    assert list(table["group"].drop_duplicates()) == ["algo=bc", "unroll_steps=1", "unroll_steps=3", "unroll_steps=5"]


def test_report_markdown_csv_and_improvement(report):
    text = open(report["report"]).read()
    assert "| algo | unroll_steps | env | seeds | IQM [95% CI] |" in text
    assert "| – | 3 | catch | 4 (+1 unfinished) | 0.850 [" in text
    assert "config=catch,unroll_steps=3,seed=9`: partial, last evaluation at step 200" in text
    results = pd.read_csv(report["results"])
    assert len(results) == 6 * 4 * 3 + 3 * 3 + 2  # one row per run and evaluation
    assert results["final"].sum() == 6 * 4 + 3
    improvement = pd.read_csv(report["improvement"])
    assert report["compare"] == "unroll_steps=3"  # the best IQM over its envs
    vs_bc = improvement[improvement["y"] == "algo=bc"].iloc[0]
    assert vs_bc["envs"] == "catch" and vs_bc["probability"] == 1.0  # every unroll_steps=3 run beats every bc run
    vs_1 = improvement[improvement["y"] == "unroll_steps=1"].iloc[0]
    assert vs_1["envs"] == "cartpole,catch" and 0.5 < vs_1["probability"] <= 1.0


def test_plots_written_and_not_empty(report):
    names = {os.path.basename(p) for p in report["plots"]}
    for stem in (
        "final_scores_catch",
        "final_scores_cartpole",
        "final_scores_all_envs",
        "performance_profile",
        "probability_of_improvement",
        "learning_curves_steps",
        "learning_curves_wallclock",
        "score_vs_unroll_steps",
    ):
        assert f"{stem}.png" in names and f"{stem}.svg" in names, stem
    for path in report["plots"]:
        data = open(path, "rb").read()
        assert len(data) > 5000, path
        assert data[:8] == b"\x89PNG\r\n\x1a\n" if path.endswith(".png") else b"<svg" in data[:2000]


def test_group_by_and_errors(sweep_dir, tmp_path, capsys):
    out = make_report(sweep_dir, out_dir=str(tmp_path / "r"), group_by=["algo"], reps=200, make_plots=False)
    assert set(out["table"]["group"]) == {"all", "algo=bc"}
    with pytest.raises(ReportError, match="'lr' is neither a field the runs vary"):
        make_report(sweep_dir, out_dir=str(tmp_path / "r"), group_by=["lr"], reps=200, make_plots=False)
    assert cli_main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rosmo report: error:") and "no such directory" in err and "\n" not in err
    assert (
        cli_main(
            ["report", sweep_dir, "--out", str(tmp_path / "r2"), "--compare", "nope", "--no-plots", "--reps", "100"]
        )
        == 2
    )
    assert "--compare 'nope': no such group" in capsys.readouterr().err


def test_a_directory_of_links_reports_runs_of_several_sweeps_once(tmp_path):
    first, second, links = tmp_path / "first", tmp_path / "second", tmp_path / "links"
    a = write_run(str(first), "algo=rosmo,seed=0", {"algo": "rosmo"}, "catch", 0, STEPS, [0.1, 0.5, 1.0])
    b = write_run(str(second), "seed=0", {}, "catch", 0, STEPS, [0.1, 0.2, 0.3], config_spec="bsuite:catch")
    os.makedirs(links)
    os.symlink(a, links / "a")
    os.symlink(b, links / "b")
    os.symlink(a, links / "a_again")  # the same run twice
    os.symlink(links, links / "loop")  # a cycle
    assert [os.path.realpath(d) for d in find_run_dirs(str(links))] == [os.path.realpath(a), os.path.realpath(b)]
    records = {os.path.realpath(r.run_dir): r for r in load_runs(str(links))}
    assert records[os.path.realpath(b)].fields == {"algo": "rosmo"}  # not varied by its own sweep: read from its config
    # an MZU sweep over num_simulations next to them: ROSMO's config has the field, but it is not ROSMO's
    c = write_run(
        str(tmp_path / "third"), "num_simulations=2,seed=0", {"num_simulations": 2}, "catch", 0, STEPS, [0.0] * 3
    )
    config_path = os.path.join(a, "config.json")
    with open(config_path) as f:
        config = dict(json.load(f), num_simulations=20)
    with open(config_path, "w") as f:
        json.dump(config, f)
    os.symlink(c, links / "c")
    records = {os.path.realpath(r.run_dir): r for r in load_runs(str(links))}
    assert "num_simulations" not in records[os.path.realpath(a)].fields


def test_group_by_a_field_only_the_configs_hold(tmp_path):
    """`--group-by search` over two MZU sweeps that set it with --set (neither varies it) and a ROSMO run."""
    root = tmp_path / "links"
    os.makedirs(root)
    for sweep, search, finals in (("muzero", "muzero", [0.2, 0.3]), ("gumbel", "gumbel", [0.6, 0.7])):
        for seed, final in enumerate(finals):
            run = write_run(
                str(tmp_path / sweep),
                f"num_simulations=4,seed={seed}",
                {"num_simulations": 4},
                "catch",
                seed,
                STEPS,
                [final] * 3,
            )
            _set_config(run, algo="mzu", search=search)
            os.symlink(run, root / f"{sweep}{seed}")
    rosmo = write_run(str(tmp_path / "rosmo"), "seed=0", {}, "catch", 0, STEPS, [1.0] * 3)
    _set_config(rosmo, algo="rosmo", search="muzero")  # a field of another agent: not ROSMO's
    os.symlink(rosmo, root / "rosmo0")
    records = {os.path.realpath(r.run_dir): r for r in load_runs(str(root), fields=["search"])}
    searches = {os.path.basename(os.path.dirname(d)): r.fields.get("search") for d, r in records.items()}
    assert searches == {"muzero": "muzero", "gumbel": "gumbel", "rosmo": None}
    out = make_report(str(root), out_dir=str(tmp_path / "r"), group_by=["search"], reps=200, make_plots=False)
    table = out["table"].set_index("group")
    assert table.loc["search=gumbel", "iqm"] == pytest.approx(0.65)
    assert table.loc["search=muzero", "iqm"] == pytest.approx(0.25)


def _set_config(run_dir, **values):
    path = os.path.join(run_dir, "config.json")
    with open(path) as f:
        config = dict(json.load(f), **values)
    with open(path, "w") as f:
        json.dump(config, f)


def test_training_seconds_leave_the_evaluations_out():
    assert (
        training_seconds({"wall_seconds_total": 34.0, "train_seconds_total": 30.0, "eval_seconds_total": 4.0}) == 30.0
    )
    # summaries without wall_seconds_total kept the wall-clock (evaluations included) in train_seconds_total
    assert training_seconds({"train_seconds_total": 34.0, "eval_seconds_total": 4.0}) == 30.0
    assert training_seconds({"train_seconds_total": 34.0}) == 34.0
    assert training_seconds({"num_steps": 3}) is None and training_seconds(None) is None


def test_a_report_from_its_results_csv_alone_matches_and_new_runs_join_it(report, tmp_path, capsys):
    """The committed results.csv stands in for run directories that are gone; a new run joins it, and a run of
    the same name on disk replaces its recorded rows."""
    again = make_report(
        None, out_dir=str(tmp_path / "again"), reps=REPS, seed=0, make_plots=False, previous=[report["results"]]
    )
    columns = ["group", "env", "seeds", "unfinished", "iqm", "iqm_low", "iqm_high", "mean", "median", "train_seconds"]
    pd.testing.assert_frame_equal(pd.read_csv(again["groups"])[columns], pd.read_csv(report["groups"])[columns])
    # training seconds are the runs' totals (summary.json: 30 s), not those at the last evaluation (3 k s)
    assert set(pd.read_csv(again["groups"])["train_seconds"]) == {30.0}
    recorded = pd.read_csv(report["results"])
    # older results.csv: without run_train_seconds, or with one that counted evaluations (no run_eval_seconds):
    # the last evaluation's training seconds
    for name, dropped in (("oldest", ["run_train_seconds", "run_eval_seconds"]), ("older", ["run_eval_seconds"])):
        recorded.drop(columns=dropped).to_csv(tmp_path / f"{name}.csv", index=False)
        by_last = make_report(
            None,
            out_dir=str(tmp_path / name),
            reps=REPS,
            seed=0,
            make_plots=False,
            previous=[str(tmp_path / f"{name}.csv")],
        )
        k1 = pd.read_csv(by_last["groups"]).set_index(["group", "env"]).loc[("unroll_steps=1", "catch")]
        assert k1["train_seconds"] == 3.0, name
    rebuilt = pd.read_csv(again["results"])
    key = ["run", "step"]
    pd.testing.assert_frame_equal(
        rebuilt.sort_values(key).reset_index(drop=True), recorded.sort_values(key).reset_index(drop=True)
    )
    new = tmp_path / "new"
    write_run(
        str(new), "algo=bc,config=catch,seed=3", {"algo": "bc", "config": "bsuite:catch"}, "catch", 3, STEPS, [1.0] * 3
    )
    write_run(
        str(new), "algo=bc,config=catch,seed=0", {"algo": "bc", "config": "bsuite:catch"}, "catch", 0, STEPS, [0.0] * 3
    )
    planned = write_run(  # planned by `rosmo sweep --only` for a later call: no evaluation yet
        str(new), "algo=bc,config=catch,seed=1", {"algo": "bc", "config": "bsuite:catch"}, "catch", 1, STEPS, [0.0]
    )
    os.remove(os.path.join(planned, "eval.csv"))
    os.remove(os.path.join(planned, "summary.json"))
    joined = make_report(
        str(new), out_dir=str(tmp_path / "joined"), reps=REPS, seed=0, make_plots=False, previous=[report["results"]]
    )
    bc = pd.read_csv(joined["groups"]).set_index(["group", "env"]).loc[("algo=bc", "catch")]
    # seeds 0-3: 0.0 (on disk, replacing the recorded 0.3), 0.35, 0.4 (recorded; seed 1's planned directory
    # does not hide it), 1.0 (new): IQM of the middle two
    assert bc["seeds"] == 4 and bc["unfinished"] == 0 and bc["iqm"] == pytest.approx((0.35 + 0.4) / 2)
    args = ["report", "--out", str(tmp_path / "cli"), "--previous", report["results"], "--reps", "50", "--no-plots"]
    assert cli_main(args) == 0
    assert cli_main(["report", "--out", str(tmp_path / "x")]) == 2
    assert "SWEEP_DIR or --previous is required" in capsys.readouterr().err
    assert cli_main(["report", "--out", str(tmp_path / "y"), "--previous", report["groups"]]) == 2
    assert "expected a results.csv of rosmo report" in capsys.readouterr().err
