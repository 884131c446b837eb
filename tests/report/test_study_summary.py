"""experiments/study_summary.py: a summary row per report group; fields read from run directories fall back to an
earlier summary's row when the run directories are gone."""

import csv
import json
import os

from experiments.study_summary import MINATAR_COLUMNS, main

GROUPS = (
    "group,algo,data_percentage,env,seeds,unfinished,num_steps,train_seconds,iqm,iqm_low,iqm_high,"
    "mean,mean_low,mean_high,median,median_low,median_high\n"
    '"algo=mzu,data_percentage=10",mzu,10.0,breakout,3,0,6000.0,700.0,0.5,0.4,0.6,0.5,0.4,0.6,0.5,0.4,0.6\n'
    '"algo=bc,data_percentage=10",bc,10.0,breakout,2,0,6000.0,400.0,0.9,0.8,1.0,0.9,0.8,1.0,0.9,0.8,1.0\n'
)
RESULTS = (
    "run,group,algo,data_percentage,env,seed,step,score,mean_return,train_seconds,train_seconds_estimated,final\n"
    '"breakout/algo=mzu,data_percentage=10,seed=0","algo=mzu,data_percentage=10",mzu,10.0,breakout,0,6000,0.5,1,'
    "700,False,True\n"
    '"breakout/algo=bc,data_percentage=10,seed=0","algo=bc,data_percentage=10",bc,10.0,breakout,0,6000,0.9,1,'
    "400,False,True\n"
)


def _rows(path):
    with open(path) as f:
        return {(r["study"], r["algo"]): r for r in csv.DictReader(f)}


def _study(tmp_path) -> str:
    """A report of two groups on breakout whose bc run is on disk and whose mzu run is gone: STUDY=SWEEP@REPORT."""
    report = tmp_path / "report"
    report.mkdir()
    (report / "groups.csv").write_text(GROUPS)
    (report / "results.csv").write_text(RESULTS)
    sweep = tmp_path / "runs"
    os.makedirs(sweep / "breakout" / "algo=bc,data_percentage=10,seed=0")
    (sweep / "breakout" / "algo=bc,data_percentage=10,seed=0" / "config.json").write_text(
        json.dumps({"algo": "bc", "env": "breakout", "unroll_steps": 5, "dataset_dir": str(tmp_path / "none")})
    )
    return f"coverage={sweep}@{report}"


def _write(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_fields_of_gone_runs_come_from_the_previous_summary(tmp_path):
    study = _study(tmp_path)
    previous = tmp_path / "previous.csv"
    with open(previous, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["study", "algo", "env", "data_percentage", "num_simulations"])
        writer.writeheader()
        writer.writerow(dict(study="other", algo="mzu", env="breakout", data_percentage="10.0", num_simulations=4))
        writer.writerow(dict(study="coverage", algo="mzu", env="breakout", data_percentage="10", num_simulations=20))
    with open(previous) as f:  # add the columns read from run directories
        rows = list(csv.DictReader(f))
    for r in rows:
        r.update(unroll_steps="3", sticky_action_prob="0.1", search="muzero")
    with open(previous, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "summary.csv"
    assert main([study, "--minatar", "--previous", str(previous), "--out", str(out)]) == 0
    rows = _rows(out)
    mzu, bc = rows[("coverage", "mzu")], rows[("coverage", "bc")]
    # gone: from the previous row of the same study, env and group fields (not the other study's)
    assert (mzu["num_simulations"], mzu["unroll_steps"], mzu["search"], mzu["sticky_action_prob"]) == (
        "20",
        "3",
        "muzero",
        "0.1",
    )
    assert (mzu["n_seeds"], mzu["iqm"], mzu["train_seconds"]) == ("3", "0.5", "700.0")  # the report's numbers
    # on disk: from its config.json, never from the previous summary
    assert (bc["unroll_steps"], bc["num_simulations"], bc["sticky_action_prob"]) == ("5", "", "")
    assert main([study, "--minatar", "--out", str(tmp_path / "alone.csv")]) == 0  # no --previous: left empty
    assert _rows(tmp_path / "alone.csv")[("coverage", "mzu")]["unroll_steps"] == ""


def test_committed_summaries_hold_one_row_per_group():
    """Each results/*/summary.csv (what the docs' results pages are generated from) names every group once, by
    the fields that tell groups apart and its number of seeds (one group may be reported at 3 and at 5 seeds)."""
    root = os.path.join(os.path.dirname(__file__), "..", "..", "results")
    metrics = {"iqm", "ci_low", "ci_high", "mean", "median", "train_seconds"}
    for study in sorted(os.listdir(root)):
        path = os.path.join(root, study, "summary.csv")
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            rows = list(csv.DictReader(f))
        keys = [tuple(v for k, v in r.items() if k not in metrics) for r in rows]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        assert not repeated, (path, repeated)


def test_a_gone_run_without_one_previous_row_is_an_error(tmp_path, capsys):
    study = _study(tmp_path)
    row = dict(study="coverage", algo="mzu", env="breakout", data_percentage="10", num_simulations="20")
    for rows, found in (([dict(row, study="other")], 0), ([row, dict(row)], 2)):  # none of this study; two alike
        _write(tmp_path / "previous.csv", rows)
        code = main(
            [study, "--minatar", "--previous", str(tmp_path / "previous.csv"), "--out", str(tmp_path / "s.csv")]
        )
        assert code == 2 and not os.path.exists(tmp_path / "s.csv")
        err = capsys.readouterr().err
        expected = "group 'algo=mzu,data_percentage=10' on breakout: its first run directory is gone and the previous"
        assert expected in err and f"summary has {found} rows of it (expected 1)" in err, err


def test_update_replaces_the_studys_rows_in_place_and_keeps_the_others(tmp_path):
    study = _study(tmp_path)
    fields = dict.fromkeys(MINATAR_COLUMNS, "")
    summary = tmp_path / "summary.csv"
    _write(
        summary,
        [
            dict(fields, study="games", algo="rosmo", env="asterix", iqm="1.2"),
            dict(
                fields,
                study="coverage",
                algo="mzu",
                env="breakout",
                data_percentage="10",
                num_simulations="20",
                unroll_steps="3",
                search="muzero",
                sticky_action_prob="0.1",
                n_seeds="1",
                iqm="0.1",
            ),
            dict(fields, study="unroll", algo="rosmo", env="breakout", unroll_steps="5", iqm="0.6"),
        ],
    )
    assert main([study, "--minatar", "--update", str(summary)]) == 0
    with open(summary) as f:
        rows = list(csv.DictReader(f))
    assert [(r["study"], r["algo"]) for r in rows] == [
        ("games", "rosmo"),
        ("coverage", "mzu"),
        ("coverage", "bc"),
        ("unroll", "rosmo"),
    ]
    assert (rows[0]["iqm"], rows[3]["iqm"]) == ("1.2", "0.6")  # other studies untouched
    assert (rows[1]["n_seeds"], rows[1]["iqm"], rows[1]["unroll_steps"]) == ("3", "0.5", "3")  # new, fields kept
