"""Learner throughput: updates/s and samples/s of one jitted update on synthetic windows.

    python benchmarks/learner_throughput.py                 # BSuite config, batch 512: rosmo, mzu N=4/20/50, bc, cql
    python benchmarks/learner_throughput.py --only mzu,rosmo --seconds 5
    python benchmarks/learner_throughput.py --batch-size 256 --seconds 20
    python benchmarks/learner_throughput.py --pipeline --dataset datasets/bsuite/catch   # the training loop's path
    python benchmarks/learner_throughput.py --pipeline --devices 4                        # CPU host devices

Synthetic catch-shaped windows (10x5 float32 observations, 3 actions) with
episode boundaries inside; the data pipeline is not timed (see
loader_throughput.py). Two rates: updates per wall second, and per CPU second of
this process (`time.process_time`, all threads), which is steadier on a shared
machine. `--pipeline` times the training loop's path instead: host batches (the
dataset's loader with `--dataset`, else fresh synthetic windows) -> `DevicePrefetcher`
(2 batches in flight) -> updates, and reports updates/s and the fraction of the
time the learner waited for data, with and without prefetching. `--devices N`
splits the CPU into N XLA host devices. Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from typing import Callable, Dict, List, Tuple

if __name__ == "__main__" and "--devices" in sys.argv:  # XLA reads the flag when JAX starts
    os.environ["XLA_FLAGS"] = (f"--xla_force_host_platform_device_count={sys.argv[sys.argv.index('--devices') + 1]} "
                               + os.environ.get("XLA_FLAGS", ""))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from rosmo.agents import make_agent  # noqa: E402
from rosmo.suites.configs.bsuite import get_config  # noqa: E402
from rosmo.data.loader import make_loader  # noqa: E402
from rosmo.networks import make_networks  # noqa: E402
from rosmo.training.learner import Learner  # noqa: E402
from rosmo.training.prefetch import DevicePrefetcher  # noqa: E402


def synthetic_windows(batch_size: int, length: int, obs_shape=(10, 5), num_actions: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    is_last = rng.random((batch_size, length)) < 0.1
    is_first = np.concatenate([np.zeros((batch_size, 1), bool), is_last[:, :-1]], axis=1)
    return dict(
        observation=rng.random((batch_size, length) + tuple(obs_shape)).astype(np.float32),
        action=rng.integers(0, num_actions, (batch_size, length)).astype(np.int32),
        reward=rng.standard_normal((batch_size, length)).astype(np.float32),
        discount=np.ones((batch_size, length), np.float32),
        is_first=is_first,
        is_last=is_last,
        is_terminal=is_last.copy(),
    )


def time_learner(learner: Learner, batch: Dict[str, np.ndarray], seconds: float) -> Dict[str, float]:
    """Compile one update, then run updates on one device-resident batch for about `seconds` (at least 3)."""
    batch = learner.put_batch(batch)
    start = time.time()
    jax.block_until_ready(learner.step(batch))
    compile_s = time.time() - start
    count, start, cpu = 0, time.time(), time.process_time()
    while time.time() - start < seconds or count < 3:
        metrics = learner.step(batch)
        count += 1
    jax.block_until_ready(metrics)
    elapsed, cpu = time.time() - start, time.process_time() - cpu
    batch_size = len(batch["action"])
    return {"updates_per_s": count / elapsed, "updates_per_cpu_s": count / max(cpu, 1e-9),
            "samples_per_s": count * batch_size / elapsed, "compile_s": compile_s, "updates": count}


def time_pipeline(learner: Learner, batches, seconds: float, prefetch: bool = True) -> Dict[str, float]:
    """Updates fed from `batches` (host numpy) as the training loop does; updates/s and the data-wait fraction.

    With `prefetch`, a DevicePrefetcher keeps 2 batches on the device ahead; without it each
    batch is read and put on the device between updates. The clock stops after the device finishes.
    """
    source = DevicePrefetcher(batches, learner.put_batch, size=2) if prefetch else None

    def next_batch():
        return next(source) if prefetch else learner.put_batch(next(batches))

    jax.block_until_ready(learner.step(next_batch()))  # compile
    if prefetch:
        source.take_wait_seconds()
    count, waited, start = 0, 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds or count < 3:
        t = time.perf_counter()
        batch = next_batch()
        waited += time.perf_counter() - t if not prefetch else 0.0
        metrics = learner.step(batch)
        if prefetch:
            source.refill()
        count += 1
    jax.block_until_ready(metrics)
    elapsed = time.perf_counter() - start
    if prefetch:
        waited = source.take_wait_seconds()
        source.close()
    return {"updates_per_s": count / elapsed, "data_wait_fraction": waited / elapsed, "updates": count}


def synthetic_stream(batch_size: int, length: int, seed: int = 0):
    """Fresh synthetic windows for every batch (the host work of making a batch is part of the timing)."""
    for i in itertools.count():
        yield synthetic_windows(batch_size, length, seed=seed + i)


def pipeline_main(args) -> None:
    config = get_config(args.env)
    config.batch_size = args.batch_size
    networks = make_networks(config, 3)
    length = config.unroll_steps + config.td_steps + 1
    print(f"devices: {len(jax.devices())} x {jax.devices()[0].platform}  batch {args.batch_size}  env {args.env}  "
          f"data: {args.dataset or 'synthetic windows made per batch'}  load average {os.getloadavg()[0]:.1f}")
    print(f"{'feeding':<22}{'updates/s':>12}{'data wait':>12}")
    for prefetch in (True, False):
        learner = Learner(make_agent(config, networks), config, np.zeros((1, 10, 5), np.float32))
        if args.dataset:
            batches = make_loader(args.dataset, unroll_steps=config.unroll_steps, td_steps=config.td_steps,
                                  batch_size=args.batch_size, seed=0)
        else:
            batches = synthetic_stream(args.batch_size, length)
        r = time_pipeline(learner, batches, args.seconds, prefetch=prefetch)
        name = "prefetch 2 to device" if prefetch else "synchronous"
        print(f"{name:<22}{r['updates_per_s']:>12.1f}{r['data_wait_fraction']:>11.1%}", flush=True)


def time_updates(config, seconds: float, obs_shape=(10, 5), num_actions: int = 3) -> Dict[str, float]:
    """Time the agent of `config` on catch-shaped synthetic windows."""
    networks = make_networks(config, num_actions)
    learner = Learner(make_agent(config, networks), config, np.zeros((1,) + tuple(obs_shape), np.float32))
    length = config.unroll_steps + config.td_steps + 1
    return time_learner(learner, synthetic_windows(config.batch_size, length, obs_shape, num_actions), seconds)


def variants(env: str, batch_size: int) -> List[Tuple[str, Callable]]:
    """(name, config) pairs to time: ROSMO (exact, sampled), MZU with N = 4, 20, 50 simulations, BC, CQL."""

    def base(algo: str, **fields):
        c = get_config(env)
        c.batch_size = batch_size
        c.algo = algo
        for k, v in fields.items():
            c[k] = v
        return c

    return [
        ("rosmo exact", base("rosmo", policy_samples=0)),
        ("rosmo sampled N=4", base("rosmo", policy_samples=4)),
        ("mzu N=4", base("mzu", num_simulations=4)),
        ("mzu N=20", base("mzu", num_simulations=20)),
        ("mzu N=50", base("mzu", num_simulations=50)),
        ("bc", base("bc")),
        ("cql", base("cql")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="catch")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per variant")
    parser.add_argument("--only", default=None, help="comma-separated substrings of variant names to run")
    parser.add_argument("--pipeline", action="store_true", help="time the loop's feeding path (ROSMO exact)")
    parser.add_argument("--dataset", default=None, help="with --pipeline: an RLDS dataset directory to read")
    parser.add_argument("--devices", type=int, default=None, help="XLA CPU host devices (set before JAX starts)")
    args = parser.parse_args()
    if args.pipeline:
        pipeline_main(args)
        return
    print(f"devices: {jax.devices()}  batch {args.batch_size}  env {args.env}  load average {os.getloadavg()[0]:.1f}")
    print(f"{'variant':<24}{'updates/s':>12}{'per CPU s':>12}{'samples/s':>14}{'compile s':>12}")
    results = {}
    for name, config in variants(args.env, args.batch_size):
        if args.only and not any(s in name for s in args.only.split(",")):
            continue
        r = time_updates(config, args.seconds)
        results[name] = r
        print(f"{name:<24}{r['updates_per_s']:>12.1f}{r['updates_per_cpu_s']:>12.1f}{r['samples_per_s']:>14.0f}"
              f"{r['compile_s']:>12.1f}", flush=True)
    base = results.get("rosmo exact")
    if base:
        for name, r in results.items():
            if name != "rosmo exact":
                print(f"time per update {name:<18} / rosmo exact: {base['updates_per_s'] / r['updates_per_s']:7.2f}x")


if __name__ == "__main__":
    main()
