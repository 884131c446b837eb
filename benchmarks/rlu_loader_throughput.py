"""RL Unplugged Atari loader: windows/s and episodes per batch, on the real `rlu_atari` builder's output.

    python benchmarks/rlu_loader_throughput.py                     # 1000 episodes, batch 512, L = 11
    python benchmarks/rlu_loader_throughput.py --learner-preset small --workdir /tmp/rlu_bench

Writes released-format files (`rosmo.data.rlu_released`: 84x84 Atari-like PNG frames,
random actions, episode lengths uniform in [mean/2, 3 mean/2]), prepares them with the
real `rlu_atari` builder, then times `make_rlu_atari_loader` (K = n = 5, S = 4):

  streaming, stacked   observation [B, 11, 84, 84, 4] (the default interface);
  streaming, frames    frames [B, 14, 84, 84] (single frames, stacked on the device);
  memory, stacked/frames  the same pool fed from episodes already decoded in RAM
                       (the pool's gather cost alone: PNG decode excluded);
  xN                   rows with `--gather-threads` N (threads copying the windows; default 1,2);

and prints, per row, the mean / min number of distinct episodes in a batch. With
`--learner-preset`, the learner's demand at the same batch (ROSMO updates/s x B,
`atari_learner_throughput.time_updates`) is printed next to them. Numbers, not asserts:
say the machine's load (`uptime`) next to them.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import tempfile
import time

import numpy as np

from rosmo.data import rlds, rlu_atari, rlu_episodes, rlu_released
from rosmo.data.episode_pool import EpisodePool

from atari_learner_throughput import time_updates  # benchmarks/ is on sys.path when run as a script

tfds = rlds.tfds
K = N = 5
STACK = 4
NUM_ACTIONS = 18


def atari_like_pngs(count: int = 256, seed: int = 0) -> list[bytes]:
    """PNGs of Atari-like 84x84 frames: flat background, a brick band, moving paddles and ball."""
    rng = np.random.default_rng(seed)
    bricks = rng.integers(60, 200, (6, 14), dtype=np.uint8).repeat(3, axis=0).repeat(6, axis=1)
    frames = np.zeros((count, 84, 84), np.uint8)
    for i in range(count):
        f = frames[i]
        f[:] = 30
        f[10:28] = bricks
        y = 30 + (7 * i) % 40
        f[y : y + 10, 4:7] = 200
        f[70:73, (3 * i) % 76 : (3 * i) % 76 + 8] = 180
        f[40 + (5 * i) % 30, 10 + (11 * i) % 70] = 255
    return rlu_released.encode_frames(frames)


def write_dataset(
    root: str, num_episodes: int, mean_length: int, num_files: int, seed: int = 0, num_actions: int = NUM_ACTIONS
) -> dict:
    """Released files under root/files, `rlu_atari/Pong_run_1` under root/data; returns the actions per episode."""
    rng = np.random.default_rng(seed)
    pngs = atari_like_pngs()
    lengths = rng.integers(mean_length // 2, 3 * mean_length // 2 + 1, num_episodes)
    actions = {}
    files = [[] for _ in range(num_files)]
    for e, T in enumerate(lengths):
        f = e % num_files
        a = rng.integers(0, num_actions, T)
        d = np.ones(T, np.float32)
        d[-1] = 0.0 if e % 3 else 1.0
        actions[(f, e)] = a
        episode = dict(
            actions=a, rewards=(rng.random(T) < 0.05).astype(np.float32), discounts=d, checkpoint_idx=f, episode_idx=e
        )
        files[f].append(rlu_released.released_example(episode, [pngs[(e * 31 + t) % len(pngs)] for t in range(T)]))
    rlu_released.write_released_files(os.path.join(root, "files"), "Pong", 1, files)
    rlu_released.prepare("rlu_atari", "Pong", 1, os.path.join(root, "files"), os.path.join(root, "data"), num_files)
    return {"lengths": lengths, "actions": actions}


def timed(it, seconds: float, batch_size: int) -> dict[str, float]:
    t0 = time.perf_counter()
    first = next(it)  # includes start-up (the pool's first fill)
    setup = time.perf_counter() - t0
    distinct = [len(set(zip(first["checkpoint_id"].tolist(), first["episode_id"].tolist())))]
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        b = next(it)
        distinct.append(len(set(zip(b["checkpoint_id"].tolist(), b["episode_id"].tolist()))))
        count += 1
    elapsed = time.perf_counter() - t0
    return dict(
        setup_s=setup,
        windows_s=count * batch_size / elapsed,
        episodes_mean=float(np.mean(distinct)),
        episodes_min=int(np.min(distinct)),
    )


def decoded_episodes(data_dir: str, count: int) -> list[dict[str, np.ndarray]]:
    builder = rlu_atari.load_rlu_builder("Pong", 1, data_dir)
    stream = tfds.as_numpy(rlu_episodes.episode_stream(builder, repeat=False))
    return list(itertools.islice(stream, count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--mean-length", type=int, default=500, help="mean steps per episode")
    parser.add_argument("--files", type=int, default=20, help="released files")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--episodes-in-flight", type=int, default=300)
    parser.add_argument("--memory-episodes", type=int, default=200, help="decoded episodes held for the memory rows")
    parser.add_argument("--gather-threads", default="1,2", help="comma-separated thread counts for the frames rows")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--learner-preset", default=None, help="small | full: also time the learner at this batch")
    parser.add_argument("--workdir", default=None, help="dataset location (kept; reused when present)")
    args = parser.parse_args()
    rlds.tfds.disable_progress_bar()

    root = args.workdir or tempfile.mkdtemp(prefix="rosmo_rlu_bench_")
    B = args.batch_size
    rows = []
    try:
        data_dir = os.path.join(root, "data")
        t0 = time.perf_counter()
        if not os.path.exists(os.path.join(data_dir, "rlu_atari")):
            write_dataset(root, args.episodes, args.mean_length, args.files)
        builder = rlu_atari.load_rlu_builder("Pong", 1, data_dir)
        print(
            f"rlu_atari/Pong_run_1: {builder.info.splits['train'].num_examples} episodes, "
            f"{builder.info.splits['train'].num_shards} shards, ready in {time.perf_counter() - t0:.0f}s",
            flush=True,
        )
        threads = [int(t) for t in args.gather_threads.split(",")]
        variants = [(True, 1)] + [(False, t) for t in threads]  # (stacked on the host, gather threads)

        def label(source, stacked, t):
            return (source, "stacked" if stacked else "frames", f"x{t}")

        for stacked, t in variants:
            it = rlu_atari.make_rlu_atari_loader(
                "Pong",
                1,
                data_dir=data_dir,
                unroll_steps=K,
                td_steps=N,
                batch_size=B,
                seed=0,
                episodes_in_flight=args.episodes_in_flight,
                stack_on_host=stacked,
                with_ids=True,
                gather_threads=t,
            )
            rows.append(label("streaming", stacked, t) + (timed(it, args.seconds, B),))
            it.close()
            print(rows[-1], flush=True)
        episodes = decoded_episodes(data_dir, args.memory_episodes)
        for stacked, t in variants:
            pool = EpisodePool(
                itertools.cycle(episodes),
                length=K + N + 1,
                history=STACK - 1,
                batch_size=B,
                pool_size=args.episodes_in_flight,
                seed=0,
                with_ids=True,
                stack=STACK if stacked else 0,
                gather_threads=t,
            )
            rows.append(label("memory", stacked, t) + (timed(_Iter(pool), args.seconds, B),))
            print(rows[-1], flush=True)
        del episodes
        demand = None
        if args.learner_preset:
            timing = time_updates(args.learner_preset, B, args.seconds)
            demand = timing["updates_per_s"] * B
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)

    print()
    header = (
        f"{'source':<11}{'output':<9}{'threads':<8}{'setup s':>9}{'windows/s':>11}{'episodes/batch mean':>21}{'min':>6}"
    )
    if demand:
        header += f"{'loader/learner':>16}"
    print(header)
    print("-" * len(header))
    for source, output, threads, r in rows:
        line = (
            f"{source:<11}{output:<9}{threads:<8}{r['setup_s']:>9.1f}{r['windows_s']:>11.0f}"
            f"{r['episodes_mean']:>21.1f}{r['episodes_min']:>6}"
        )
        if demand:
            line += f"{r['windows_s'] / demand:>16.1f}"
        print(line)
    if demand:
        print(f"learner ({args.learner_preset} preset, batch {B}): {demand:.0f} windows/s")
    print(
        f"(batch {B}, L = {K + N + 1}, {args.episodes_in_flight} episodes in flight, {args.episodes} episodes "
        f"of ~{args.mean_length} steps, {args.seconds:.0f} s per row, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f})"
    )


class _Iter:
    def __init__(self, pool):
        self.pool = pool

    def __next__(self):
        return self.pool.sample()


if __name__ == "__main__":
    main()
