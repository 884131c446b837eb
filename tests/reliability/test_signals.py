"""Jobs stop cleanly: a signal is a flag the loops poll (never an exception raised inside a handler), sweep
workers die with their sweep, a live run is reported running, one sweep per directory."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rosmo.sweep import executors
from rosmo.sweep.runs import SweepLock, read_status
from rosmo.training.workdir import live_holder

pytestmark = pytest.mark.slow  # end-to-end: runs jobs or subprocesses (make test-fast skips it)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, PYTHONPATH=ROOT)

# A job loop whose work runs garbage-collection callbacks and __del__ methods all the time: a handler that
# raised would often fire inside them, where Python prints "Exception ignored in ..." and carries on.
# SIGINT set back to Python's handler first: a shell's background job inherits SIGINT ignored, which
# StopSignals keeps (as a foreground Ctrl-C could not reach it), and the storm would then never stop it.
# The child ends inside the block, as the storm goes on until it is gone; how a command ends after its
# block with a storm still arriving is the dataset maker's test below.
STORM_CHILD = textwrap.dedent("""
    import gc, os, signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from rosmo.signals import StopSignals, Stopped, check_stop
    gc.callbacks.append(lambda phase, info: sum(range(50)))
    class Node:
        def __init__(self): self.me = self
        def __del__(self): sum(range(50))
    gc.set_threshold(50)
    with StopSignals():
        print("ready", flush=True)
        try:
            while True:
                [Node() for _ in range(200)]
                check_stop()
        except Stopped as stop:
            print(f"job: {stop}", file=sys.stderr, flush=True)
            os._exit(stop.exit_code)
""")


def _wait_for(predicate, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_storm_stops_the_loop_once_with_one_line(signum):
    child = subprocess.Popen(
        [sys.executable, "-c", STORM_CHILD], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "ready"
    end = time.time() + 10
    while child.poll() is None and time.time() < end:  # signals in a tight loop until the child has exited
        os.kill(child.pid, signum)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 128 + signum
    assert err.strip().splitlines() == [f"job: stopped by {signal.Signals(signum).name}"], err
    assert "Exception ignored" not in err


def test_dataset_maker_stops_on_sigterm_with_one_line_and_no_leftovers(tmp_path):
    out = tmp_path / "D"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rosmo.cli",
            "dataset",
            "bsuite",
            "--env",
            "catch",
            "--out",
            str(out),
            "--episodes",
            "100000",
            "--no-progress",
        ],
        env=ENV,
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(
        lambda: out.exists() and any(n.startswith(".catch.tmp-") for n in os.listdir(out)), 120, "the maker to start"
    )
    end = time.time() + 30
    while child.poll() is None and time.time() < end:  # a storm until it has exited: its clean-up and shutdown too
        os.kill(child.pid, signal.SIGTERM)
        time.sleep(0.001)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 143
    assert err.strip().splitlines() == ["rosmo dataset bsuite: stopped by SIGTERM; catch: nothing was written"]
    assert os.listdir(out) == []  # its temp directory is removed, no dataset


def test_a_signal_during_start_up_ends_the_command_with_one_line(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-m", "rosmo.cli", "evaluate", "--checkpoint", str(tmp_path)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)  # importing the library (TensorFlow, JAX)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    lines = err.strip().splitlines()
    assert child.returncode == 130 or (child.returncode == 2 and "error" in err)  # or it had already finished
    assert "Traceback" not in err, err
    if child.returncode == 130:  # the line reaches stderr even while importing TensorFlow has fd 2 on /dev/null
        assert lines == ["rosmo evaluate: stopped by SIGINT"], err


def test_sweep_worker_dies_with_a_killed_sweep(tmp_path):
    """kill -9 of the parent: PR_SET_PDEATHSIG sends the worker SIGTERM."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
        import subprocess, sys, time
        from rosmo.sweep.executors import _child_setup
        import os
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                                 preexec_fn=_child_setup(os.getpid(), None), start_new_session=True)
        print(child.pid, flush=True)
        time.sleep(600)
    """),
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()

    def gone():
        try:
            with open(f"/proc/{worker}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except FileNotFoundError:
            return True

    _wait_for(gone, 10, "the worker to end")


def test_a_live_run_is_reported_running_and_a_second_sweep_is_refused(tmp_path):
    run_dir = str(tmp_path / "sweep" / "seed=0")
    os.makedirs(run_dir)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import time
        from rosmo.training.workdir import WorkdirLock
        with WorkdirLock({run_dir!r}):
            print("held", flush=True)
            time.sleep(600)
    """),
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert live_holder(run_dir)["pid"] == holder.pid
        statuses = executors.run_local([run_dir], workers=1, pin=False, poll_seconds=0.05)
        assert statuses[run_dir]["state"] == "running" and str(holder.pid) in statuses[run_dir]["note"]
        assert read_status(run_dir)["state"] == "running"  # not "failed", and no worker was started
        assert not os.path.exists(os.path.join(run_dir, "worker.log"))
    finally:
        holder.kill()
        holder.wait()
    assert live_holder(run_dir) is None  # a dead holder's lock file is stale

    sweep_dir = str(tmp_path / "sweep")
    with SweepLock(sweep_dir):
        other = subprocess.run(
            [
                sys.executable,
                "-m",
                "rosmo.cli",
                "sweep",
                "--config",
                "bsuite:catch",
                "--seeds",
                "0",
                "--out",
                sweep_dir,
                "--no-progress",
            ],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert other.returncode == 2
    lines = other.stderr.strip().splitlines()
    assert len(lines) == 1 and "another `rosmo sweep` is running on this directory" in lines[0], other.stderr
    assert not os.path.exists(os.path.join(sweep_dir, "sweep.json"))  # refused before it touched anything


def test_an_in_process_command_gives_the_handlers_back_after_a_stop(monkeypatch):
    """`cli.main(argv)` called in-process: a job stopped by a signal leaves the caller's handlers as they were
    (SIG_IGN is for the process entry only), and a stop seen before does not carry into the next command."""
    from rosmo import cli
    from rosmo.signals import StopSignals, stop_received

    def stopped_job(argv):
        with StopSignals():
            os.kill(os.getpid(), signal.SIGTERM)
        return 143

    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(cli, "_main", stopped_job)
    assert cli.main(["train"]) == 143
    assert stop_received()
    assert {sig: signal.getsignal(sig) for sig in before} == before
    monkeypatch.setattr(cli, "_main", lambda argv: 0)
    assert cli.main(["train"]) == 0 and not stop_received()  # cleared at the next command's start
    assert {sig: signal.getsignal(sig) for sig in before} == before
