"""Loader throughput: windows/s and batches/s of `rosmo.data.loader.make_loader`.

Writes two synthetic RLDS datasets to a temporary directory, then times both
loader modes on each:

  (a) BSuite-shaped: catch observations 10x5 float32, L = 3 + 3 + 1 = 7, batch 512;
  (b) Atari-shaped: 84x84x4 uint8 observations, L = 5 + 5 + 1 = 11, batch 512.

Usage:
    python benchmarks/loader_throughput.py [--seconds 5] [--bsuite-episodes 2000]
        [--atari-steps 20000] [--modes in_memory streaming] [--datasets bsuite atari]

Numbers depend on the machine and on what else runs on it; they are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

from rosmo.data import loader, rlds

tfds = rlds.tfds


def write_bsuite(path: str, num_episodes: int, seed: int = 0) -> int:
    """Catch-shaped episodes: 10x5 float32 observations, 10 steps each (9 moves + final)."""
    rng = np.random.default_rng(seed)
    steps_total = 0
    with rlds.RldsWriter(path, "bench_catch", rlds.bsuite_features((10, 5)), {"num_actions": 3}) as w:
        for e in range(num_episodes):
            T = 10
            t = np.arange(T)
            obs = (rng.random((T, 10, 5)) < 0.04).astype(np.float32)
            w.add_episode(_episode(e, obs, rng.integers(0, 3, T), rng.choice([-1.0, 1.0]) * (t == T - 2)))
            steps_total += T
    return steps_total


def write_atari(path: str, num_steps: int, episode_length: int = 1000, seed: int = 0) -> int:
    """Atari-shaped episodes: 84x84x4 uint8 observations (random frames), `episode_length` steps each."""
    rng = np.random.default_rng(seed)
    features = tfds.features.FeaturesDict(
        {
            "steps": tfds.features.Dataset(
                # Raw bytes: TFDS would otherwise store each uint8 as an int64 in a list (slow, 2x bigger).
                rlds.step_features(
                    tfds.features.Tensor(shape=(84, 84, 4), dtype=np.uint8, encoding=tfds.features.Encoding.BYTES)
                )
            ),
            "episode_id": tfds.features.Scalar(dtype=np.int64),
            "episode_return": tfds.features.Scalar(dtype=np.float32),
        }
    )
    written, e = 0, 0
    with rlds.RldsWriter(path, "bench_atari", features, {"num_actions": 18}, max_episodes_per_shard=5) as w:
        while written < num_steps:
            T = min(episode_length, num_steps - written)
            obs = rng.integers(0, 256, (T, 84, 84, 4), dtype=np.uint8)
            w.add_episode(_episode(e, obs, rng.integers(0, 18, T), (rng.random(T) < 0.05).astype(np.float32)))
            written += T
            e += 1
    return written


def _episode(e: int, obs: np.ndarray, action: np.ndarray, reward: np.ndarray) -> dict:
    T = len(obs)
    t = np.arange(T)
    last = t == T - 1
    reward = np.where(last, 0.0, reward).astype(np.float32)
    return {
        "steps": {
            "observation": obs,
            "action": np.where(last, 0, action).astype(np.int64),
            "reward": reward,
            "discount": np.where(last, 0.0, 1.0).astype(np.float32),
            "is_first": t == 0,
            "is_last": last,
            "is_terminal": last,
        },
        "episode_id": e,
        "episode_return": np.float32(reward.sum()),
    }


def measure(path: str, mode: str, k: int, n: int, batch: int, seconds: float, shuffle_buffer: int) -> dict:
    t0 = time.perf_counter()
    it = loader.make_loader(
        path,
        unroll_steps=k,
        td_steps=n,
        batch_size=batch,
        in_memory=(mode == "in_memory"),
        shuffle_buffer=shuffle_buffer,
        prefetch=2,
        seed=0,
    )
    next(it)  # the first batch includes pipeline start-up
    setup = time.perf_counter() - t0
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        next(it)
        count += 1
    elapsed = time.perf_counter() - t0
    if hasattr(it, "close"):
        it.close()
    return {"setup_s": setup, "batches_s": count / elapsed, "windows_s": count * batch / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="timed seconds per (dataset, mode)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--bsuite-episodes", type=int, default=2000, help="catch episodes of 10 steps")
    parser.add_argument("--atari-steps", type=int, default=20_000, help="84x84x4 uint8 steps (~28 KB each)")
    parser.add_argument(
        "--atari-shuffle-buffer",
        type=int,
        default=1000,
        help="streaming shuffle buffer for Atari, in windows (~310 KB each)",
    )
    parser.add_argument("--shuffle-buffer", type=int, default=10_000, help="streaming shuffle buffer for BSuite")
    parser.add_argument("--modes", nargs="+", default=["in_memory", "streaming"], choices=["in_memory", "streaming"])
    parser.add_argument("--datasets", nargs="+", default=["bsuite", "atari"], choices=["bsuite", "atari"])
    parser.add_argument("--workdir", default=None, help="where to write the datasets (default: a temp dir, removed)")
    args = parser.parse_args()

    workdir = args.workdir or tempfile.mkdtemp(prefix="rosmo_loader_bench_")
    rows = []
    try:
        configs = {
            "bsuite": (write_bsuite, args.bsuite_episodes, 3, 3, args.shuffle_buffer, "catch 10x5 f32"),
            "atari": (write_atari, args.atari_steps, 5, 5, args.atari_shuffle_buffer, "84x84x4 u8"),
        }
        for name in args.datasets:
            write, size, k, n, buffer, shape = configs[name]
            path = os.path.join(workdir, name)
            t0 = time.perf_counter()
            if not os.path.exists(path):
                steps = write(path, size)
            else:
                steps = loader.dataset_spec(path)["num_steps"]
            print(f"{name}: {steps} steps written in {time.perf_counter() - t0:.1f}s to {path}", flush=True)
            for mode in args.modes:
                r = measure(path, mode, k, n, args.batch_size, args.seconds, buffer)
                rows.append((name, shape, steps, k + n + 1, mode, r))
                print(f"  {mode}: {r['windows_s']:.0f} windows/s", flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    header = f"{'data':<8}{'obs':<16}{'steps':>8}{'L':>4}  {'mode':<11}{'setup s':>9}{'batches/s':>11}{'windows/s':>12}"
    print(header)
    print("-" * len(header))
    for name, shape, steps, length, mode, r in rows:
        print(
            f"{name:<8}{shape:<16}{steps:>8}{length:>4}  {mode:<11}{r['setup_s']:>9.2f}"
            f"{r['batches_s']:>11.1f}{r['windows_s']:>12.0f}"
        )
    print(f"(batch {args.batch_size}, {args.seconds:.0f} s per row, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
