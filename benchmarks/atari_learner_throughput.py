"""Atari learner throughput: ROSMO updates/s with the ResNet presets on synthetic windows.

    python benchmarks/atari_learner_throughput.py                      # small + light + full, batch 16 and 32, \
K = n = 5
    python benchmarks/atari_learner_throughput.py --batch-sizes 32 --presets small --seconds 30

Windows are uint8 [B, K + n + 1, 84, 84, 4] random frames with episode
boundaries inside (6 actions, Pong's minimal set); the data pipeline is not
timed (see loader_throughput.py). One device-resident batch is reused.
Numbers, not asserts. It first prints the parameter count of the original's
Atari network by formula (`original_atari_param_count`) next to the count of
the `full` preset as built here.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from rosmo.agents import make_agent
from rosmo.suites.configs.atari import get_config
from rosmo.training.learner import Learner
from rosmo.networks.factory import make_networks
from rosmo.networks.resnet import original_atari_param_count

from learner_throughput import time_learner  # same timing loop as the BSuite benchmark (benchmarks/ is on sys.path)

NUM_ACTIONS = 6


def atari_windows(batch_size: int, length: int, num_actions: int = NUM_ACTIONS, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthetic Atari-shaped windows: observation uint8 [B, L, 84, 84, 4], flags with ~1% episode ends."""
    rng = np.random.default_rng(seed)
    is_last = rng.random((batch_size, length)) < 0.01
    is_first = np.concatenate([np.zeros((batch_size, 1), bool), is_last[:, :-1]], axis=1)
    return dict(
        observation=rng.integers(0, 256, (batch_size, length, 84, 84, 4), dtype=np.uint8),
        action=rng.integers(0, num_actions, (batch_size, length)).astype(np.int32),
        reward=rng.choice(np.float32([-1, 0, 0, 0, 1]), (batch_size, length)),
        discount=np.ones((batch_size, length), np.float32),
        is_first=is_first,
        is_last=is_last,
        is_terminal=is_last.copy(),
    )


def time_updates(preset: str, batch_size: int, seconds: float, policy_samples: int = 0) -> dict[str, float]:
    """Build the learner, compile one update, then run updates for about `seconds` (at least 3)."""
    config = get_config(f"Pong,{preset}")
    config.batch_size = batch_size
    config.policy_samples = policy_samples
    start = time.time()
    learner = Learner(
        make_agent(config, make_networks(config, NUM_ACTIONS)), config, np.zeros((1, 84, 84, 4), np.uint8)
    )
    init_s = time.time() - start
    length = config.unroll_steps + config.td_steps + 1
    timing = time_learner(learner, atari_windows(batch_size, length), seconds)
    params = sum(x.size for x in jax.tree.leaves(learner.params))
    return dict(timing, init_s=init_s, params=params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="small,light,full", help="comma-separated: small, light, full")
    parser.add_argument("--batch-sizes", default="16,32", help="comma-separated batch sizes")
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per variant (at least 3 updates)")
    parser.add_argument("--policy-samples", type=int, default=0, help="0: exact ROSMO target; N: sampled")
    args = parser.parse_args()
    print(f"devices: {jax.devices()}  K=5 n=5 (windows of 11 steps), 601 bins, {NUM_ACTIONS} actions")
    config = get_config("Pong")
    built = jax.eval_shape(
        make_networks(config, NUM_ACTIONS).init, jax.random.PRNGKey(0), jax.ShapeDtypeStruct((1, 84, 84, 4), np.uint8)
    )
    print(
        f"original Atari network, parameters by formula: {original_atari_param_count(NUM_ACTIONS, 601):,} "
        f"({NUM_ACTIONS} actions), {original_atari_param_count(18, 601):,} (18 actions); "
        f"`full` preset as built: {sum(x.size for x in jax.tree.leaves(built)):,} ({NUM_ACTIONS} actions)"
    )
    print(f"{'preset':<8}{'batch':>6}{'params':>10}{'updates/s':>11}{'samples/s':>11}{'init s':>8}{'compile s':>10}")
    for preset in args.presets.split(","):
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            r = time_updates(preset, batch_size, args.seconds, args.policy_samples)
            print(
                f"{preset:<8}{batch_size:>6}{r['params']:>10}{r['updates_per_s']:>11.2f}{r['samples_per_s']:>11.1f}"
                f"{r['init_s']:>8.1f}{r['compile_s']:>10.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
