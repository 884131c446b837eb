"""The first accelerator day's check: learner speed on the real networks, the RL Unplugged loader feeding it, memory.

    bash benchmarks/device_check.sh                   # full sizes (one GPU: about 5-8 minutes)
    DEVICE_CHECK_SIZE=tiny bash benchmarks/device_check.sh   # CPU smoke sizes (a test runs this)

Prints, one line each:

1. Atari ROSMO and MuZero Unplugged (N = 20 simulations) updates/s on synthetic windows, the
   original's full ResNet (`atari:Pong` full preset), batch 512, K = n = 5;
2. the RL Unplugged loader feeding the ROSMO learner (released-format files made here and
   prepared by the real `rlu_atari` builder -> episode pool -> DevicePrefetcher -> updates):
   updates/s and the fraction of the wall time the learner waited for data;
3. MinAtar ROSMO updates/s (`minatar:breakout`, batch 128) and MZU N = 20;
4. peak device memory (`memory_stats()["peak_bytes_in_use"]`; the process's peak RSS on a CPU).

Sizes (`--size` or `DEVICE_CHECK_SIZE`): `full` (the above) or `tiny` (the `small` ResNet preset with no
representation, dynamics or prediction blocks (the down-sampling stem's blocks stay), batch 8, K = n = 1 for
Atari and MinAtar (smaller graphs: faster compiles), MinAtar batch 16, a 24-episode loader dataset, 0.5 s per
timing: a CPU smoke run).
Numbers, not asserts; the device and the host's load average are printed with them.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

import jax
import numpy as np

from rosmo.agents import make_agent
from rosmo.suites.configs import atari as atari_configs, minatar as minatar_configs
from rosmo.data import rlu_atari
from rosmo.networks import make_networks
from rosmo.suites.atari import stack_observation
from rosmo.training.learner import Learner

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from atari_learner_throughput import atari_windows  # noqa: E402
from learner_throughput import synthetic_windows, time_learner, time_pipeline  # noqa: E402
from rlu_loader_throughput import write_dataset  # noqa: E402

SIZES = {
    "full": dict(
        preset="full",
        atari_batch=512,
        minatar_batch=128,
        episodes=400,
        mean_length=400,
        files=8,
        seconds=20.0,
        steps=5,
        minatar_steps=None,  # the suite's K = n = 3
        resnet_blocks=None,  # the preset's
    ),
    "tiny": dict(
        preset="small",
        atari_batch=8,
        minatar_batch=16,
        episodes=24,
        mean_length=40,
        files=2,
        seconds=0.5,
        steps=1,
        minatar_steps=1,
        resnet_blocks=0,  # representation / dynamics / prediction blocks: each block is compile time
    ),
}


def atari_config(size, algo: str, simulations: int = 20):
    c = atari_configs.get_config(f"Pong,{size['preset']}")
    c.batch_size, c.algo, c.stack_on_device = size["atari_batch"], algo, False
    c.unroll_steps = c.td_steps = size["steps"]
    if size["resnet_blocks"] is not None:
        c.representation_blocks = c.dynamics_blocks = c.prediction_blocks = size["resnet_blocks"]
    if algo == "mzu":
        c.num_simulations = simulations
    return c


def resnet_label(size) -> str:
    blocks = "" if size["resnet_blocks"] is None else f" with {size['resnet_blocks']} blocks"
    return f"{size['preset']} ResNet{blocks}"


def line(name: str, text: str) -> None:
    print(f"{name:<34}{text}", flush=True)


def peak_memory() -> str:
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return f"{stats['peak_bytes_in_use'] / 2**30:.2f} GiB peak on {jax.devices()[0].device_kind}"
    return (
        f"n/a on {jax.devices()[0].platform}; "
        f"host peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default=os.environ.get("DEVICE_CHECK_SIZE", "full"), choices=sorted(SIZES))
    args = parser.parse_args()
    size = SIZES[args.size]
    start = time.time()
    line("devices", f"{jax.devices()}  size {args.size}  host load average {os.getloadavg()[0]:.1f}")

    for algo, label in (("rosmo", "atari rosmo"), ("mzu", "atari mzu N=20")):
        config = atari_config(size, algo)
        learner = Learner(make_agent(config, make_networks(config, 6)), config, np.zeros((1, 84, 84, 4), np.uint8))
        r = time_learner(
            learner, atari_windows(config.batch_size, config.unroll_steps + config.td_steps + 1), size["seconds"]
        )
        line(
            f"{label} (batch {config.batch_size})",
            f"{r['updates_per_s']:.2f} updates/s  compile "
            f"{r['compile_s']:.0f} s  [{resnet_label(size)}, K = n = {size['steps']}]",
        )
        del learner

    root = tempfile.mkdtemp(prefix="rosmo-device-check-")
    try:
        write_dataset(root, size["episodes"], size["mean_length"], size["files"])
        config = atari_config(size, "rosmo")
        config.stack_on_device = True
        learner = Learner(
            make_agent(config, make_networks(config, 18)),
            config,
            np.zeros((1, 84, 84, 4), np.uint8),
            batch_transform=stack_observation,
        )
        batches = rlu_atari.make_rlu_atari_loader(
            "Pong",
            1,
            data_dir=os.path.join(root, "data"),
            unroll_steps=config.unroll_steps,
            td_steps=config.td_steps,
            batch_size=config.batch_size,
            stack_on_host=False,
            episodes_in_flight=min(300, size["episodes"]),
        )
        r = time_pipeline(learner, batches, size["seconds"] * 2)
        line(
            "rlu loader -> atari rosmo",
            f"{r['updates_per_s']:.2f} updates/s  data wait "
            f"{r['data_wait_fraction']:.1%} of the wall time  ({r['updates']} updates)",
        )
        batches.close()
        del learner
    finally:
        shutil.rmtree(root, ignore_errors=True)

    for algo, label in (("rosmo", "minatar rosmo"), ("mzu", "minatar mzu N=20")):
        config = minatar_configs.get_config("breakout")
        config.batch_size, config.algo = size["minatar_batch"], algo
        if size["minatar_steps"] is not None:
            config.unroll_steps = config.td_steps = size["minatar_steps"]
        if algo == "mzu":
            config.num_simulations = 20
        learner = Learner(make_agent(config, make_networks(config, 6)), config, np.zeros((1, 10, 10, 4), np.uint8))
        window = synthetic_windows(
            config.batch_size, config.unroll_steps + config.td_steps + 1, (10, 10, 4), 6, obs_dtype=np.uint8
        )
        r = time_learner(learner, window, size["seconds"])
        line(f"{label} (batch {config.batch_size})", f"{r['updates_per_s']:.1f} updates/s")
        del learner

    line("peak device memory", peak_memory())
    line("total", f"{time.time() - start:.0f} s  host load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
