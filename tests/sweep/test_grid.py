"""Sweep specs and grids: files and flags expand to the right runs, names, configs and errors (no training)."""

import json
import os

import pytest

from rosmo.cli import main as cli_main
from rosmo.suites.configs.bsuite import get_config
from rosmo.sweep.grid import expand, plan_runs, select_runs
from rosmo.sweep.naming import run_name, value_labels
from rosmo.sweep.runs import describe, prepare, read_run_plan, write_status
from rosmo.sweep.spec import SweepError, amend, load_sweep_file, parse_seeds, split_values, sweep_from_dict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_product_and_seeds_expand_in_seed_major_order():
    spec = amend(None, config="bsuite:catch", grid=["unroll_steps=1,3", "policy_samples=0,4"], seeds="0-1")
    runs = plan_runs(spec)
    assert [r.name for r in runs] == [
        "unroll_steps=1,policy_samples=0,seed=0",
        "unroll_steps=1,policy_samples=4,seed=0",
        "unroll_steps=3,policy_samples=0,seed=0",
        "unroll_steps=3,policy_samples=4,seed=0",
        "unroll_steps=1,policy_samples=0,seed=1",
        "unroll_steps=1,policy_samples=4,seed=1",
        "unroll_steps=3,policy_samples=0,seed=1",
        "unroll_steps=3,policy_samples=4,seed=1",
    ]
    last = runs[-1].config
    assert (last.unroll_steps, last.policy_samples, last.seed) == (3, 4, 1)  # typed from the flag's text
    assert runs[-1].point == {"unroll_steps": 3, "policy_samples": 4, "seed": 1}


def test_union_of_grids_and_config_axis():
    spec = sweep_from_dict(
        {
            "config": ["bsuite:catch", "bsuite:cartpole"],
            "set": {"num_steps": 100},
            "grid": [{"algo": ["rosmo"]}, {"algo": ["mzu"], "num_simulations": [2, 8]}],
            "seeds": [0],
        },
        "test",
    )
    runs = plan_runs(spec)
    names = [r.name for r in runs]
    assert names == [
        "config=catch,algo=rosmo",
        "config=cartpole,algo=rosmo",
        "config=catch,algo=mzu,num_simulations=2",
        "config=catch,algo=mzu,num_simulations=8",
        "config=cartpole,algo=mzu,num_simulations=2",
        "config=cartpole,algo=mzu,num_simulations=8",
    ]
    cartpole_mzu = runs[-1].config
    assert cartpole_mzu.env == "cartpole" and cartpole_mzu.num_steps == 100 and cartpole_mzu.num_simulations == 8
    assert runs[0].config.num_simulations == 20  # rosmo keeps the config's value, and its name does not show it
    assert len(expand(spec)) == 6


def test_only_selects_a_slice_by_config_values():
    spec = sweep_from_dict(
        {
            "config": ["bsuite:catch", "bsuite:cartpole"],
            "grid": [{"algo": ["rosmo", "bc"], "data_percentage": [100, 10]}, {"algo": ["mzu"]}],
            "seeds": [0, 1],
        },
        "test",
    )
    runs = plan_runs(spec)
    assert len(runs) == 20

    def names(*only):
        return [r.name for r in select_runs(runs, list(only))]

    both = names("algo=rosmo,mzu", "config=bsuite:catch", "seed=0")
    assert both == [
        "config=catch,algo=rosmo,data_percentage=100,seed=0",
        "config=catch,algo=rosmo,data_percentage=10,seed=0",
        "config=catch,algo=mzu,seed=0",
    ]  # run order kept
    assert len(names("data_percentage=100")) == 12  # mzu runs keep the config's 100, not in their names
    assert names("data_percentage=10.0") == names("data_percentage=10") and len(names("data_percentage=10")) == 8
    assert len(names("env=cartpole")) == 10  # any config field, not only the varied ones
    for only, message in [
        ("algo", "expected FIELD=V1,V2"),
        ("algoo=rosmo", "no run has a config field 'algoo'"),
        ("algo=dqn", "no run of the sweep matches"),
    ]:
        with pytest.raises(SweepError, match=message):
            select_runs(runs, [only])


def test_file_formats_flags_and_templates(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "config: bsuite:catch\nset: {dataset_dir: '/data/{env}-{seed}'}\n"
        "grid: {learning_rate: [0.001, 0.0003]}\nseeds: 0-2\n"
    )
    spec = load_sweep_file(str(tmp_path / "s.yaml"))
    assert len(plan_runs(spec)) == 6 and spec.seeds == [0, 1, 2]
    runs = plan_runs(amend(spec, seeds="4", grid=["unroll_steps=5"], fixed=["num_steps=7"]))
    # single values are not in names, but the seed is (the file has several: these runs join its others)
    assert [r.name for r in runs] == ["learning_rate=0.001,seed=4", "learning_rate=0.0003,seed=4"]
    assert [r.name for r in plan_runs(amend(spec, seeds="2"))] == [r.name for r in plan_runs(spec)][-2:]
    one = amend(None, config="bsuite:catch", grid=["learning_rate=0.001,0.0003"])  # one seed and no file: no seed
    assert [r.name for r in plan_runs(amend(one, seeds="3"))] == ["learning_rate=0.001", "learning_rate=0.0003"]
    assert runs[0].config.dataset_dir == "/data/catch-4" and runs[0].config.num_steps == 7
    assert runs[0].config.unroll_steps == 5
    (tmp_path / "s.py").write_text(
        "def get_sweep(env='catch'):\n    return {'config': 'bsuite:' + env, 'grid': {'unroll_steps': [1, 2]}}\n"
    )
    assert plan_runs(load_sweep_file(f"{tmp_path / 's.py'}:cartpole"))[0].config.env == "cartpole"
    (tmp_path / "s.json").write_text(json.dumps({"config": "bsuite:catch", "grid": {"algo": ["bc", "cql"]}}))
    assert [r.config.algo for r in plan_runs(load_sweep_file(str(tmp_path / "s.json")))] == ["bc", "cql"]
    # --grid over a field the file fixes: the flag's axis wins
    (tmp_path / "f.yaml").write_text("config: bsuite:catch\nset: {unroll_steps: 2}\n")
    assert [
        r.config.unroll_steps
        for r in plan_runs(amend(load_sweep_file(str(tmp_path / "f.yaml")), grid=["unroll_steps=1,4"]))
    ] == [1, 4]


def test_shipped_sweep_files_plan():
    counts = {
        "experiments/sweeps/unroll.yaml": 36,
        "experiments/sweeps/simulations.yaml": 66,
        "experiments/sweeps/coverage.yaml": 108,
        "experiments/bsuite/compare.py": 36,
        "experiments/sweeps/tiny.yaml": 3,
    }
    for path, count in counts.items():
        runs = plan_runs(load_sweep_file(os.path.join(ROOT, path)))
        assert len(runs) == count, path
    sims = plan_runs(load_sweep_file(os.path.join(ROOT, "experiments/sweeps/simulations.yaml")))
    mzu = [r for r in sims if r.config.algo == "mzu"]
    assert {r.config.num_simulations for r in mzu} == {2, 4, 8, 20, 50} and {r.config.act_policy for r in mzu} == {
        "mcts"
    }
    assert {r.config.search for r in mzu} == {"muzero", "gumbel"}
    compare = plan_runs(load_sweep_file(os.path.join(ROOT, "experiments/bsuite/compare.py") + ":2000"))
    assert {r.config.num_steps for r in compare} == {2000}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"config": "bsuite:catch", "grids": {}}, "test: unknown key 'grids'"),
        (
            {"config": "bsuite:catch", "grid": {"unroll_step": [1]}},
            "the config has no field 'unroll_step'; did you mean unroll_steps",
        ),
        ({"config": "bsuite:catch", "grid": {"unroll_steps": [0]}}, "unroll_steps=0: expected an integer >= 1"),
        ({"config": "bsuite:catch", "grid": {"unroll_steps": 3}}, "grid.unroll_steps: expected a non-empty list"),
        ({"config": "bsuite:catch", "grid": {"seed": [1]}}, "give seeds with `seeds:`"),
        ({"config": "bsuite:catch", "set": {"algo": "bc"}, "grid": {"algo": ["bc"]}}, "'algo' is both fixed"),
        ({"grid": {"algo": ["bc"]}}, "no config"),
        ({"config": "bsuite:nope"}, "unknown BSuite config 'nope'"),
        ({"config": "bsuite:catch", "seeds": "3-1"}, "test: seeds: expected seeds like"),
        (
            {"config": "bsuite:catch", "set": {"dataset_dir": "/d/{nope}"}},
            "dataset_dir='/d/{nope}': cannot fill in 'nope'",
        ),
        ({"config": "bsuite:catch", "grid": [{"algo": ["bc"]}, {"algo": ["bc"]}]}, "two runs named 'run'"),
    ],
)
def test_bad_sweeps_name_the_problem(data, message):
    with pytest.raises(SweepError) as err:
        plan_runs(sweep_from_dict(data, "test"))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_small_helpers():
    assert parse_seeds("0-2,7") == [0, 1, 2, 7] and parse_seeds([3, 1]) == [3, 1] and parse_seeds(5) == [5]
    assert split_values("(64,64),(32,),7") == ["(64,64)", "(32,)", "7"]
    assert (
        run_name({"config": "atari:Pong,small", "learning_rate": 3e-4, "act_greedy": False, "x": None})
        == "config=Pong-small,learning_rate=0.0003,act_greedy=false,x=none"
    )
    assert value_labels("dataset_dir", ["/d/a/catch", "/d/b/catch", "/d/cartpole"]) == {
        "'/d/a/catch'": "a-catch",
        "'/d/b/catch'": "b-catch",
        "'/d/cartpole'": "d-cartpole",
    }


def test_prepare_keeps_what_exists_and_dry_run(tmp_path, capsys):
    spec = amend(None, config="bsuite:catch", grid=["unroll_steps=1,3"])
    out = str(tmp_path / "sweep")
    run_dirs = prepare(out, spec, plan_runs(spec))
    assert read_run_plan(run_dirs[0])["config"]["unroll_steps"] == 1
    assert json.load(open(os.path.join(out, "sweep.json")))["runs"] == ["unroll_steps=1", "unroll_steps=3"]
    # a run whose sweep died while it ran (its process is gone) reads as interrupted, one still running as running
    write_status(run_dirs[0], state="running", pid=2**22 + 12345)
    write_status(run_dirs[1], state="running", pid=os.getpid())
    assert [r["state"] for r in describe(out, plan_runs(spec))] == ["interrupted", "running"]
    # the same names with another config: refused, naming the field
    changed = amend(None, config="bsuite:catch", grid=["unroll_steps=1,3"], fixed=["num_steps=10"])
    default_steps = get_config("catch").num_steps
    with pytest.raises(SweepError, match=rf"planned with another config \(num_steps: {default_steps} -> 10\)"):
        prepare(out, changed, plan_runs(changed))
    assert [r["state"] for r in describe(out, plan_runs(changed))] == ["conflict", "conflict"]
    os.makedirs(os.path.join(str(tmp_path), "other", "unroll_steps=1"))
    open(os.path.join(str(tmp_path), "other", "unroll_steps=1", "notes.txt"), "w").close()
    with pytest.raises(SweepError, match="is not a run of a sweep"):
        prepare(os.path.join(str(tmp_path), "other"), spec, plan_runs(spec))
    # the CLI: --dry-run lists states and writes nothing; resuming from the sweep dir needs no file
    assert cli_main(["sweep", "--out", out, "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "2 runs in" in text and "interrupted unroll_steps=1" in text and "1 interrupted, 1 running" in text
    assert cli_main(["sweep", "--out", out, "--dry-run", "--only", "unroll_steps=3"]) == 0
    text = capsys.readouterr().out
    assert "1 runs in" in text and "unroll_steps=1" not in text and "running     unroll_steps=3" in text
    assert cli_main(["sweep", "--config", "bsuite:catch", "--grid", "unrol_steps=1", "--out", out, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rosmo sweep: error:") and "did you mean unroll_steps" in err and err.count("\n") == 1
