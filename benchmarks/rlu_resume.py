"""RL Unplugged Atari loader: the cost of an exact resume (`make_rlu_atari_loader(start_batch=b)`).

    python benchmarks/rlu_resume.py --workdir /work/scratch/data/bench        # b = 1000, 10000
    python benchmarks/rlu_resume.py --workdir DIR --start-batches 2000 --check 1100

A resumed loader replays the draws of batches 0 .. b-1 on the episodes' lengths (the
records are read, PNGs not decoded), then reads the stream again up to where the replay
left it, decoding only the episodes still in the pool. Prints the time to the first
batch for b = 0 (the normal start) and each b, the extra seconds per 10k batches
((t(b) - t(0)) / b * 10^4), and the replay alone (index stream + `EpisodePool.skip`). \
`--check c`: also asserts that batch c of a loader
resumed at c equals batch c of an uninterrupted one (slow: it draws c + 1 batches).
Dataset: `rlu_loader_throughput.py`'s (made there when missing). Numbers, not asserts:
say the machine's load (`uptime`) next to them.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from rosmo.data import rlds, rlu_atari, rlu_episodes
from rosmo.data.episode_pool import EpisodePool

from rlu_loader_throughput import K, N, STACK, write_dataset  # benchmarks/ is on sys.path when run as a script

tfds = rlds.tfds


def first_batch_s(data_dir: str, start_batch: int, batch_size: int, episodes_in_flight: int):
    """(seconds to the first batch of a loader resumed at `start_batch`, that batch)."""
    t0 = time.perf_counter()
    it = rlu_atari.make_rlu_atari_loader(
        "Pong",
        1,
        data_dir=data_dir,
        unroll_steps=K,
        td_steps=N,
        batch_size=batch_size,
        seed=0,
        episodes_in_flight=episodes_in_flight,
        with_ids=True,
        start_batch=start_batch,
        prefetch=0,
    )
    batch = next(it)
    return time.perf_counter() - t0, batch


def replay_s(data_dir: str, start_batch: int, batch_size: int, episodes_in_flight: int) -> float:
    """Seconds of the replay alone (`EpisodePool.skip` on `episode_index_stream`), as the loader runs it."""
    builder = rlu_atari.load_rlu_builder("Pong", 1, data_dir)
    t0 = time.perf_counter()
    stream = iter(tfds.as_numpy(rlu_episodes.episode_index_stream(builder, seed=0).prefetch(2)))
    pool = EpisodePool(
        stream, length=K + N + 1, history=STACK - 1, batch_size=batch_size, pool_size=episodes_in_flight, seed=[0, 0, 0]
    )
    pool.skip(start_batch)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True, help="dataset location (made when missing, kept)")
    parser.add_argument("--start-batches", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--episodes-in-flight", type=int, default=300)
    parser.add_argument("--check", type=int, default=0, help="also check batch c against an uninterrupted loader")
    args = parser.parse_args()
    tfds.disable_progress_bar()
    data_dir = os.path.join(args.workdir, "data")
    if not os.path.exists(os.path.join(data_dir, "rlu_atari")):
        write_dataset(args.workdir, 1000, 500, 20)
    builder = rlu_atari.load_rlu_builder("Pong", 1, data_dir)
    split = builder.info.splits["train"]
    B, P = args.batch_size, args.episodes_in_flight
    base, _ = first_batch_s(data_dir, 0, B, P)
    print(f"rlu_atari/Pong_run_1: {split.num_examples} episodes; batch {B}, {P} episodes in flight, L = {K + N + 1}")
    print(f"start_batch 0: first batch in {base:.1f} s", flush=True)
    for b in args.start_batches:
        seconds, _ = first_batch_s(data_dir, b, B, P)
        replay = replay_s(data_dir, b, B, P)
        print(
            f"start_batch {b}: first batch in {seconds:.1f} s ({(seconds - base) / b * 1e4:.1f} s more per 10k "
            f"batches than start_batch 0); the replay alone {replay:.1f} s ({replay / b * 1e4:.1f} s per 10k "
            f"batches)",
            flush=True,
        )
    if args.check:
        it = rlu_atari.make_rlu_atari_loader(
            "Pong",
            1,
            data_dir=data_dir,
            unroll_steps=K,
            td_steps=N,
            batch_size=B,
            seed=0,
            episodes_in_flight=P,
            with_ids=True,
        )
        for _ in range(args.check):
            next(it)
        want = next(it)
        it.close()
        _, got = first_batch_s(data_dir, args.check, B, P)
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
        print(f"batch {args.check}: resumed == uninterrupted (every field)")
    print(f"({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
