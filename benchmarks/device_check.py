"""The first accelerator day's check: learner speed on the real networks, the RL Unplugged loader feeding it, memory.

    bash benchmarks/device_check.sh                   # full sizes (one GPU: about 5-8 minutes)
    DEVICE_CHECK_SIZE=tiny bash benchmarks/device_check.sh   # CPU smoke sizes (a test runs this)

Prints, one line each:

1. Atari ROSMO and MuZero Unplugged (N = 20 simulations) updates/s on one synthetic batch of
   single frames stacked in the jitted step (as training ships them), the original's full ResNet
   (`atari:Pong` full preset), Pong's 6 actions, batch 512, K = n = 5;
2. the RL Unplugged loader feeding the same ROSMO learner (released-format files made here and
   prepared by the real `rlu_atari` builder -> episode pool -> DevicePrefetcher -> updates; the
   batches have line 1's shapes, so its compiled update is reused): updates/s and the fraction of
   the wall time the learner waited for data;
3. MinAtar ROSMO updates/s (`minatar:breakout`, batch 128) and MZU N = 20;
4. peak device memory (`memory_stats()["peak_bytes_in_use"]`; the process's peak RSS on a CPU).

Sizes (`--size` or `DEVICE_CHECK_SIZE`): `full` (the above) or `tiny`, a CPU smoke run: the `small` ResNet
preset with no representation, dynamics or prediction blocks (the down-sampling stem's blocks stay), batch 4,
MZU at K = n = 1, a 24-episode loader dataset, 3 updates per timing; ROSMO's settings are the test suite's tiny
runs' (see `SIZES`).
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
from rosmo.networks.factory import make_networks
from rosmo.suites.atari import stack_observation
from rosmo.training.learner import Learner

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from atari_learner_throughput import NUM_ACTIONS as ATARI_ACTIONS, atari_windows  # noqa: E402  (Pong: 6)
from learner_throughput import synthetic_windows, time_learner, time_pipeline  # noqa: E402
from rlu_loader_throughput import write_dataset  # noqa: E402

SIZES = {
    "full": dict(
        preset="full",
        atari_batch=512,
        atari_steps={"rosmo": 5, "mzu": 5},  # K = n
        atari_warmup=None,  # the preset's
        threefry_partitionable=True,
        resnet_blocks=None,  # the preset's
        episodes=400,
        mean_length=400,
        files=8,
        seconds=20.0,
        max_updates=None,
        minatar=dict(batch_size=128),  # the suite's breakout config otherwise (K = n = 3)
        minatar_mzu_steps=None,
    ),
    # CPU smoke sizes. ROSMO's Atari and MinAtar learners take the settings of the test suite's tiny runs
    # (tests/conftest.py `tiny_atari_run`, tests/suites/test_minatar_learning.py), so under the tests'
    # compilation cache their programs are loaded, not compiled again; MZU's take K = n = 1 (a smaller graph).
    "tiny": dict(
        preset="small",
        atari_batch=4,
        atari_steps={"rosmo": 5, "mzu": 1},
        atari_warmup=1,
        threefry_partitionable=False,
        resnet_blocks=0,  # representation / dynamics / prediction blocks: each block is compile time
        episodes=24,
        mean_length=40,
        files=2,
        seconds=0.5,
        max_updates=3,  # timed updates per line: the smoke run checks that each line is measured, not its value
        minatar=dict(batch_size=32, warmup_steps=0, learning_rate=3e-3, hidden_size=64, target_update_interval=50),
        minatar_mzu_steps=1,
    ),
}


def atari_config(size, algo: str, simulations: int = 20):
    c = atari_configs.get_config(f"Pong,{size['preset']}")
    c.batch_size, c.algo, c.stack_on_device = size["atari_batch"], algo, True
    c.unroll_steps = c.td_steps = size["atari_steps"][algo]
    if size["atari_warmup"] is not None:
        c.warmup_steps = size["atari_warmup"]
    if size["resnet_blocks"] is not None:
        c.representation_blocks = c.dynamics_blocks = c.prediction_blocks = size["resnet_blocks"]
    if algo == "mzu":
        c.num_simulations = simulations
    return c


def frame_windows(batch_size: int, length: int) -> dict[str, np.ndarray]:
    """Synthetic windows in the loader's single-frame layout: `frames` uint8 [B, L + 3, 84, 84], the rest [B, L]."""
    window = atari_windows(batch_size, length, ATARI_ACTIONS)
    frames = window.pop("observation")[..., 0]  # [B, L, 84, 84]
    window["frames"] = np.concatenate([np.zeros_like(frames[:, :3]), frames], axis=1)
    return window


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


def atari_learner(config) -> Learner:
    networks = make_networks(config, ATARI_ACTIONS)
    obs_example = np.zeros((1, 84, 84, 4), np.uint8)
    return Learner(make_agent(config, networks), config, obs_example, batch_transform=stack_observation)


def atari_line(label: str, config, learner: Learner, size) -> None:
    window = frame_windows(config.batch_size, config.unroll_steps + config.td_steps + 1)
    r = time_learner(learner, window, size["seconds"], size["max_updates"])
    line(
        f"{label} (batch {config.batch_size})",
        f"{r['updates_per_s']:.2f} updates/s  compile "
        f"{r['compile_s']:.0f} s  [{resnet_label(size)}, K = n = {config.unroll_steps}]",
    )


def atari_checks(size) -> None:
    """Lines 1-2: ROSMO on synthetic windows, the same learner fed by the RL Unplugged loader, then MZU."""
    config = atari_config(size, "rosmo")
    learner = atari_learner(config)
    atari_line("atari rosmo", config, learner, size)
    root = tempfile.mkdtemp(prefix="rosmo-device-check-")
    try:
        write_dataset(root, size["episodes"], size["mean_length"], size["files"], num_actions=ATARI_ACTIONS)
        batches = rlu_atari.make_rlu_atari_loader(
            "Pong",
            1,
            data_dir=os.path.join(root, "data"),
            unroll_steps=config.unroll_steps,
            td_steps=config.td_steps,
            batch_size=config.batch_size,
            stack_on_host=False,
            num_actions=ATARI_ACTIONS,
            episodes_in_flight=min(300, size["episodes"]),
        )
        # the compiled update above: the same shapes
        r = time_pipeline(learner, batches, size["seconds"] * 2, max_updates=size["max_updates"])
        line(
            "rlu loader -> atari rosmo",
            f"{r['updates_per_s']:.2f} updates/s  data wait "
            f"{r['data_wait_fraction']:.1%} of the wall time  ({r['updates']} updates)",
        )
        batches.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    del learner
    config = atari_config(size, "mzu")
    atari_line("atari mzu N=20", config, atari_learner(config), size)


def minatar_checks(size) -> None:
    """Line 3: MinAtar Breakout ROSMO and MZU N = 20 on synthetic windows."""
    for algo, label in (("rosmo", "minatar rosmo"), ("mzu", "minatar mzu N=20")):
        config = minatar_configs.get_config("breakout")
        config.update(size["minatar"], algo=algo)
        if algo == "mzu":
            config.num_simulations = 20
            if size["minatar_mzu_steps"] is not None:
                config.unroll_steps = config.td_steps = size["minatar_mzu_steps"]
        learner = Learner(make_agent(config, make_networks(config, 6)), config, np.zeros((1, 10, 10, 4), np.uint8))
        window = synthetic_windows(
            config.batch_size, config.unroll_steps + config.td_steps + 1, (10, 10, 4), 6, obs_dtype=np.uint8
        )
        r = time_learner(learner, window, size["seconds"], size["max_updates"])
        line(
            f"{label} (batch {config.batch_size})",
            f"{r['updates_per_s']:.1f} updates/s  compile {r['compile_s']:.0f} s",
        )
        del learner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default=os.environ.get("DEVICE_CHECK_SIZE", "full"), choices=sorted(SIZES))
    args = parser.parse_args()
    size = SIZES[args.size]
    start = time.time()
    line("devices", f"{jax.devices()}  size {args.size}  host load average {os.getloadavg()[0]:.1f}")
    with jax.threefry_partitionable(size["threefry_partitionable"]):  # the random bits: see SIZES
        atari_checks(size)
    minatar_checks(size)
    line("peak device memory", peak_memory())
    line("total", f"{time.time() - start:.0f} s  host load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
