"""Executor pieces without training: thread environment, worker counts, following submitted jobs."""

import io
import json
import os
import subprocess
import sys
import time

from rosmo.sweep.executors import (
    claimed_cpus,
    cpu_slots,
    default_workers,
    monitor,
    pinned_slots,
    thread_env,
    threads_per_worker,
)
from rosmo.sweep.progress import SweepProgress
from rosmo.sweep.runs import RUN_FILE, write_status


def test_thread_env_limits_every_library():
    env = thread_env(1, compile_cache="/tmp/c", base={"XLA_FLAGS": "--xla_dump_to=/tmp/x", "PATH": "/bin"})
    assert env["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1 --xla_dump_to=/tmp/x"
    assert env["TF_NUM_INTRAOP_THREADS"] == "1" and env["TF_NUM_INTEROP_THREADS"] == "1"
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["JAX_COMPILATION_CACHE_DIR"] == "/tmp/c" and env["PATH"] == "/bin"
    four = thread_env(4, base={})
    assert four["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=4"
    assert "JAX_COMPILATION_CACHE_DIR" not in four
    again = thread_env(1, base={"XLA_FLAGS": env["XLA_FLAGS"]})  # a worker's own child: the flags once, as they were
    assert again["XLA_FLAGS"] == env["XLA_FLAGS"]


def test_workers_fit_cpus_and_memory():
    assert default_workers(1, 3.0, cpus=16, memory_gb=24.0) == 8  # memory-bound
    assert default_workers(2, 1.0, cpus=16, memory_gb=100.0) == 8  # cpu-bound with 2 threads per run
    assert default_workers(1, 3.0, cpus=2, memory_gb=1.0) == 1
    assert (
        threads_per_worker(2, cpus=2) == 1
        and threads_per_worker(3, cpus=16) == 5
        and threads_per_worker(8, cpus=2) == 1
    )


def test_cpu_slots_are_disjoint():
    assert cpu_slots(2, 1, cpus=[0, 1]) == [[0], [1]]
    assert cpu_slots(2, 3, cpus=list(range(8)), busy={}) == [[0, 1, 2], [3, 4, 5]]
    assert cpu_slots(3, 1, cpus=[4, 6]) == [None, None, None]  # do not fit: no pinning
    # a sweep that leaves CPUs over takes idle ones: another sweep already runs on CPU 0
    assert cpu_slots(1, 1, cpus=[0, 1], busy={0: 98.0, 1: 3.0}) == [[1]]
    assert cpu_slots(1, 2, cpus=[0, 1, 2, 3], busy={0: 90.0, 1: 0.0, 2: 95.0, 3: 1.0}) == [[1, 3]]
    assert cpu_slots(1, 1, cpus=[0, 1], busy={0: 0.0, 1: 0.0}) == [[0]]
    # ... and avoids a CPU another sweep claimed even before that sweep's worker is busy
    assert cpu_slots(1, 1, cpus=[0, 1], busy={0: 0.0, 1: 90.0}, claimed={0}) == [[1]]


def test_a_sweep_claims_its_cpus_and_the_next_one_avoids_them(tmp_path):
    claims = str(tmp_path / "claims")
    os.makedirs(claims)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with open(os.path.join(claims, f"{os.getppid()}.json"), "w") as f:  # a live sweep pinned to CPU 0
        json.dump({"pid": os.getppid(), "cpus": [0]}, f)
    with open(os.path.join(claims, f"{dead.pid}.json"), "w") as f:  # one that has exited
        json.dump({"pid": dead.pid, "cpus": [1]}, f)
    assert claimed_cpus(claims) == {0}
    assert not os.path.exists(os.path.join(claims, f"{dead.pid}.json"))  # stale claim removed
    cpus = sorted(os.sched_getaffinity(0))
    with pinned_slots(1, 1, claims_dir=claims) as slots:
        own = os.path.join(claims, f"{os.getpid()}.json")
        with open(own) as f:
            assert json.load(f) == {"pid": os.getpid(), "cpus": slots[0]}
        if len(cpus) > 1 and 0 in cpus:
            assert slots[0] != [0]
    assert not os.path.exists(own)


class _Job:
    def __init__(self, done_after: float):
        self.until = time.time() + done_after

    def done(self) -> bool:
        return time.time() >= self.until


def test_monitor_follows_run_directories(tmp_path):
    run_dirs = []
    for i, state in enumerate(["done", "failed", "running"]):
        run_dir = str(tmp_path / f"r{i}")
        os.makedirs(run_dir)
        json.dump({"config": {"num_steps": 10}}, open(os.path.join(run_dir, RUN_FILE), "w"))
        write_status(
            run_dir, state=state, started=time.time() - 5, wall_seconds=5.0, error="boom" if state == "failed" else None
        )
        run_dirs.append(run_dir)
    json.dump({"num_steps": 10}, open(os.path.join(run_dirs[0], "summary.json"), "w"))
    with open(os.path.join(run_dirs[2], "train.csv"), "w") as f:
        f.write("step,loss\n5,0.1\n")
    out = io.StringIO()
    statuses = monitor(run_dirs, [_Job(0.0)], SweepProgress(file=out, live=False), poll_seconds=0.01)
    text = out.getvalue()
    assert "sweep: 1 of 3 runs already done, skipped" in text
    assert "[failed] r1: boom" in text and "sweep: 1/3 done, 1 running, 1 failed, 0 queued" in text
    assert statuses[run_dirs[1]]["state"] == "failed"
