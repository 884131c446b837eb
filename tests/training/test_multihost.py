"""Multi-host, tested: 2 processes x 2 CPU devices (jax.distributed, gloo, localhost) train as one 4-device mesh.

`launch/local_multiprocess.sh` starts the two learner processes and one evaluator
(`rosmo evaluate --watch`); at the same time this process trains the same run on its one
device, fed the global batches the two processes assemble. The checkpoints' parameters must
agree within float tolerance (only the summation order of the gradient all-reduce differs),
and the evaluator must have evaluated every checkpoint exactly once.
"""

import csv
import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from rosmo import cli
from rosmo.data import loader
from rosmo.training.checkpoint import complete_steps, load_params
from tests.conftest import make_episode, write_dataset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = 4
CHECKPOINTS = [2, 4]
ARGS = [
    "--config.eval_every=0",
    f"--config.num_steps={STEPS}",
    "--config.batch_size=8",
    "--config.warmup_steps=1",
    "--config.checkpoint_every=2",
    "--config.keep_checkpoints=5",
    "--config.log_every=2",
    "--config.unroll_steps=1",
    "--config.td_steps=1",
    "--config.num_bins=11",
    "--config.eval_episodes=4",
    "--config.eval_parallel=2",
    "--config.use_tensorboard=false",
]
RTOL, ATOL = 1e-4, 1e-5
PROCESSES = 2


def _global_batches(make_loader):
    """`make_loader` as one process sees the global batch of a PROCESSES-process run: the per-process batches of
    shards 0..P-1 (each `batch_size / P` windows), concatenated in process order, which is how
    `jax.make_array_from_process_local_data` lays the processes' shares along the `data` axis."""

    def composed_loader(*args, batch_size, shard=0, **kwargs):
        assert shard == 0 and batch_size % PROCESSES == 0
        shares = [make_loader(*args, batch_size=batch_size // PROCESSES, shard=p, **kwargs) for p in range(PROCESSES)]
        while True:
            parts = [next(share) for share in shares]
            yield {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}

    return composed_loader


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("multihost")
    data = write_dataset(root / "data", [make_episode(e, 5 + e % 7, obs_shape=(10, 5)) for e in range(16)])
    env = dict(
        os.environ,
        PYTHONPATH=REPO,
        PYTHON=sys.executable,
        ROSMO_PORT=str(_free_port()),
        ROSMO_DEVICES_PER_PROCESS="2",
        ROSMO_EVALUATORS="1",
        ROSMO_EVAL_POLL="0.5",
        TF_CPP_MIN_LOG_LEVEL="2",
        JAX_THREEFRY_PARTITIONABLE="false",
    )  # other random bits, a much faster compile on XLA:CPU
    env.pop("XLA_FLAGS", None)
    args = ARGS + [f"--config.dataset_dir={data}"]
    multi = str(root / "multi")
    pair = subprocess.Popen(
        ["bash", os.path.join(REPO, "launch", "local_multiprocess.sh"), str(PROCESSES), "bsuite:catch", multi, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    single = str(root / "single")
    try:
        with pytest.MonkeyPatch.context() as patch, jax.threefry_partitionable(False):
            patch.setattr(loader, "make_loader", _global_batches(loader.make_loader))  # the suites call it by module
            code = cli.main(["train", "--config=bsuite:catch", "--no-progress", *args, f"--workdir={single}"])
    except BaseException:
        pair.kill()
        raise
    out, _ = pair.communicate(timeout=300)
    logs = {name: open(os.path.join(root, name)).read() for name in os.listdir(root) if name.endswith(".log")}
    assert code == 0
    assert pair.returncode == 0, out + "\n".join(f"== {k}\n{v[-2000:]}" for k, v in logs.items())
    return multi, single, logs


@pytest.mark.slow
def test_two_processes_form_one_mesh_and_match_one_process(runs):
    multi, single, logs = runs
    assert "learner mesh: 4 devices over 2 processes" in logs["multi.process0.log"]
    assert complete_steps(os.path.join(multi, "checkpoints")) == CHECKPOINTS
    assert complete_steps(os.path.join(single, "checkpoints")) == CHECKPOINTS
    differences = {}
    for step in CHECKPOINTS:
        a, _ = load_params(multi, step=step)
        b, _ = load_params(single, step=step)
        jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=RTOL, atol=ATOL), a, b)
        differences[step] = max(float(np.max(np.abs(x - y))) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    first, _ = load_params(single, step=CHECKPOINTS[0])
    last, _ = load_params(single, step=CHECKPOINTS[-1])
    moved = max(float(np.max(np.abs(x - y))) for x, y in zip(jax.tree.leaves(first), jax.tree.leaves(last)))
    assert moved > 100 * max(differences.values()), (moved, differences)  # training moved the params far more
    print(
        f"max |params(2 processes x 2 devices) - params(1 process x 1 device)| per step: {differences}; "
        f"max change from step {CHECKPOINTS[0]} to {CHECKPOINTS[-1]}: {moved:.3g}"
    )


@pytest.mark.slow
def test_the_evaluator_follows_the_multi_host_learner(runs):
    multi, _, logs = runs
    with open(os.path.join(multi, "eval.csv")) as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    assert steps == CHECKPOINTS  # each checkpoint once
    assert sorted(int(n[:-5]) for n in os.listdir(os.path.join(multi, "evaluator", "results"))) == CHECKPOINTS
    summary = json.load(open(os.path.join(multi, "summary.json")))
    assert summary["num_steps"] == STEPS and summary["final_eval"]["step"] == STEPS
    assert "evaluator finished: 2 checkpoint(s) evaluated here" in logs["multi.evaluator0.log"]
