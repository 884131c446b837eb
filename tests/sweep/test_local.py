"""A real local sweep (tiny dataset, 3 steps per run, 2 workers): runs finish, a failing run is recorded and the
others go on, a second invocation skips finished runs and retries the failed one, and the report reads it."""

import json
import os
import subprocess
import sys

import pytest

from rosmo.cli import main as cli_main
from tests.sweep.conftest import ROOT, SESSION_RANDOM_BITS, TINY_SWEEP


def _sweep(out, tiny_root, compile_cache):
    """`rosmo sweep` as a user runs it (its own process; the workers are its children)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rosmo.cli",
            "sweep",
            TINY_SWEEP,
            "--set",
            f"dataset_dir={tiny_root}/{{env}}",
            "--out",
            out,
            "--workers",
            "2",
            "--threads",
            "1",
            "--compile-cache",
            compile_cache,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, PYTHONPATH=ROOT, **SESSION_RANDOM_BITS),
        cwd=ROOT,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def first_sweep(tmp_path_factory, tiny_root, compile_cache):
    out = str(tmp_path_factory.mktemp("sweep") / "tiny")
    return (out, *_sweep(out, tiny_root, compile_cache))


def _status(out, name):
    return json.load(open(os.path.join(out, name, "sweep_status.json")))


@pytest.mark.slow
def test_runs_finish_and_a_failing_run_is_reported(first_sweep):
    out, code, stdout, stderr = first_sweep
    assert code == 1, stdout + stderr  # a run failed
    for name in ("learning_rate=0.001", "learning_rate=0.002"):
        status = _status(out, name)
        assert status["state"] == "done" and status["returncode"] == 0 and status["threads"] == 1
        summary = json.load(open(os.path.join(out, name, "summary.json")))
        assert summary["num_steps"] == 3 and summary["final_eval"]["episodes"] == 2
        assert os.path.exists(os.path.join(out, name, "eval.csv"))
        log = open(os.path.join(out, name, "worker.log")).read()
        assert (
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" in log
            and "TF_NUM_INTRAOP_THREADS=1" in log
        )
    # each worker slot on its own CPU (the first two runs started together)
    cpus = [_status(out, name)["cpus"] for name in ("learning_rate=0.001", "learning_rate=0.002")]
    if len(os.sched_getaffinity(0)) >= 2:
        assert all(len(c) == 1 for c in cpus) and cpus[0] != cpus[1]
        assert f"cpus {cpus[0]}" in open(os.path.join(out, "learning_rate=0.001", "worker.log")).read()
    failed = _status(out, "env=cartpole")
    assert failed["state"] == "failed" and failed["returncode"] == 1
    assert failed["error"].startswith("DatasetError: ") and os.path.join(out, "") not in failed["error"]
    assert "cartpole" in failed["error"] and "\n" not in failed["error"]
    assert "Traceback" in open(os.path.join(out, "env=cartpole", "worker.log")).read()
    assert "[failed] env=cartpole: DatasetError" in stdout and "[done] learning_rate=0.001" in stdout
    assert "failed: env=cartpole: DatasetError" in stderr


@pytest.mark.slow
def test_second_sweep_skips_finished_runs_and_retries_failed(first_sweep, tiny_root, compile_cache):
    out = first_sweep[0]
    summary = os.path.join(out, "learning_rate=0.001", "summary.json")
    before = os.stat(summary).st_mtime_ns
    code, stdout, _ = _sweep(out, tiny_root, compile_cache)
    assert code == 1
    assert "sweep: 2 of 3 runs already done, skipped" in stdout
    assert os.stat(summary).st_mtime_ns == before
    assert _status(out, "learning_rate=0.001")["attempts"] == 1
    assert _status(out, "env=cartpole")["attempts"] == 2


@pytest.mark.slow
def test_report_of_the_sweep(first_sweep, tmp_path):
    out = first_sweep[0]
    assert cli_main(["report", out, "--out", str(tmp_path), "--reps", "200", "--no-plots"]) == 0
    text = open(tmp_path / "report.md").read()
    assert "| learning_rate | env | seeds |" in text
    assert "| 0.001 | catch | 1 |" in text and "| 0.002 | catch | 1 |" in text and "`env=cartpole`: failed" in text
