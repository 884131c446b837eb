"""Careless input ends in one line naming the file, field or flag (exit 2), never a traceback."""

import contextlib
import io
import os

import pytest

from rosmo.cli import main
from rosmo.evaluator import watch
from rosmo.report import build  # noqa: F401  (imported at collection: the library's loggers bind pytest's streams then)
from tests.conftest import TINY_CATCH_FLAGS, make_episode, write_dataset

pytestmark = pytest.mark.slow  # end-to-end: runs jobs or subprocesses (make test-fast skips it)


def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue().strip().splitlines()


def test_a_config_file_whose_get_config_raises(tmp_path):
    config = tmp_path / "broken.py"
    config.write_text("def get_config(arg=None):\n    raise RuntimeError('no such table: experiments')\n")
    code, _, err = _run("train", f"--config={config}", f"--workdir={tmp_path / 'run'}")
    assert code == 2 and len(err) == 1, err
    assert f"get_config() in {config} raised RuntimeError: no such table: experiments" in err[0]
    code, _, err = _run(
        "sweep", "--config", str(config), "--seeds", "0", "--out", str(tmp_path / "sweep"), "--no-progress"
    )
    assert code == 2 and len(err) == 1 and "raised RuntimeError" in err[0], err


def test_output_directories_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = str(blocker / "sub")
    code, _, err = _run("dataset", "bsuite", "--env", "catch", "--out", out, "--episodes", "2", "--no-progress")
    assert code == 2 and len(err) == 1 and f"--out {out}: cannot write the dataset there (Not a directory" in err[0], (
        err
    )
    code, _, err = _run("sweep", "--config", "bsuite:catch", "--seeds", "0", "--out", out, "--no-progress")
    assert code == 2 and len(err) == 1 and f"--out {out}: cannot create it (Not a directory)" in err[0], err
    sweep = str(tmp_path / "sweep")
    from tests.report.synthetic import write_run

    write_run(sweep, "seed=0", {}, "catch", 0, [10], [0.5])
    code, _, err = _run("report", sweep, "--out", out, "--no-plots", "--reps", "100")
    assert code == 2 and len(err) == 1 and f"--out {out}: cannot write the report there (Not a directory" in err[0], err


def test_yaml_and_json_sweep_errors_name_line_and_column(tmp_path):
    bad = tmp_path / "sweep.yaml"
    bad.write_text("config: bsuite:catch\ngrid:\n  unroll_steps: [1, 3\nseeds: 0-1\n")
    code, _, err = _run("sweep", str(bad), "--out", str(tmp_path / "o"), "--dry-run")
    assert code == 2 and len(err) == 1 and f"sweep file {bad}: line 4, column 6" in err[0], err
    bad = tmp_path / "sweep.json"
    bad.write_text('{"config": "bsuite:catch",\n "grid": {"unroll_steps": [1, 3}}\n')
    code, _, err = _run("sweep", str(bad), "--out", str(tmp_path / "o"), "--dry-run")
    assert code == 2 and len(err) == 1 and f"sweep file {bad}: line 2, column " in err[0], err


@pytest.mark.parametrize("flag, value", [("--deployments", "0"), ("--transitions", "-5"), ("--steps", "0")])
def test_deploy_errors_name_the_flags_that_exist(tmp_path, flag, value):
    code, _, err = _run("deploy", "--agent", "bc", "--workdir", str(tmp_path / "d"), flag, value)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"rosmo deploy: error: {flag} {value}"), err


def test_watch_on_a_mistyped_path_fails_fast(tmp_path, monkeypatch):
    code, _, err = _run("evaluate", "--watch", str(tmp_path / "nope" / "run"))
    assert code == 2 and len(err) == 1 and "neither the run directory nor its parent exists" in err[0], err
    monkeypatch.setattr(watch, "START_WAIT_SECONDS", 0.3)  # 300 s by default
    code, out, err = _run("evaluate", "--watch", str(tmp_path / "run"), "--poll", "0.05")
    assert code == 2 and err[-1].endswith(
        "no such run directory after 0.3 s of waiting (check the path, or start the learner first)"
    ), err
    assert "waiting for " + str(
        tmp_path / "run"
    ) + " to appear (a learner starting); giving up after 0.3 s" in out + "\n".join(err)


def test_a_batch_larger_than_the_dataset_warns(tmp_path):
    episodes = [make_episode(e, 3, obs_shape=(10, 5)) for e in range(3)]  # 6 transitions
    data = write_dataset(
        str(tmp_path / "data"),
        episodes,
        metadata={"env": "catch", "num_actions": 3, "random_return": -0.5, "dqn_return": 1.0},
    )
    code, _, err = _run(  # TINY_CATCH_FLAGS (batch 8): its learner is a compilation-cache hit
        "train",
        "--config=bsuite:catch",
        f"--workdir={tmp_path / 'run'}",
        f"--config.dataset_dir={data}",
        "--config.num_steps=1",
        "--config.eval_every=0",
        *TINY_CATCH_FLAGS,
    )
    assert code == 0, err
    assert (
        "rosmo: warning: --config.batch_size=8 is larger than the dataset (6 transitions in 3 episodes)"
        in "\n".join(err)
    )


def test_a_dataset_directory_is_not_a_workdir_and_a_file_is_not_a_run(tmp_path):
    data = write_dataset(
        str(tmp_path / "data"), [make_episode(0, 4, obs_shape=(10, 5))], metadata={"env": "catch", "num_actions": 3}
    )
    code, _, err = _run("train", "--config=bsuite:catch", f"--workdir={data}", f"--config.dataset_dir={data}")
    assert code == 2 and len(err) == 1 and "is a dataset directory (it holds dataset_info.json)" in err[0], err
    assert sorted(os.listdir(data)) == sorted(
        n
        for n in os.listdir(data)
        if not n.endswith((".json", ".lock")) or n in ("dataset_info.json", "features.json", "metadata.json")
    )
    (tmp_path / "file.txt").write_text("x")
    code, _, err = _run("evaluate", "--watch", str(tmp_path / "file.txt"), "--timeout", "5")
    assert code == 2 and len(err) == 1 and "is a file, expected a run directory" in err[0], err
