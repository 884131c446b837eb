"""Learner throughput: updates/s, FLOPs per update and achieved FLOP/s of one jitted update on synthetic windows.

    python benchmarks/learner_throughput.py                 # BSuite (batch 512) and MinAtar (batch 128): rosmo, \
mzu N=4/20/50, bc, cql
    python benchmarks/learner_throughput.py --suite minatar --only rosmo,mzu --seconds 5
    python benchmarks/learner_throughput.py --suite atari --batch-size 32 --seconds 20    # the Atari config's full \
ResNet
    python benchmarks/learner_throughput.py --batch-size 256 --seconds 20
    python benchmarks/learner_throughput.py --pipeline --dataset datasets/bsuite/catch   # the training loop's path
    python benchmarks/learner_throughput.py --pipeline --devices 4                        # CPU host devices

Synthetic windows of the suite's observation shape (catch 10x5 float32, 3 actions; MinAtar
breakout 10x10x4 uint8, 6 actions; Atari 84x84x4 uint8, 6 actions) with episode boundaries
inside; the data pipeline is not timed (see loader_throughput.py). Rates: updates per wall
second, and per CPU second of this process (`time.process_time`, all threads), which is
steadier on a shared machine. FLOPs per update come from XLA's cost analysis of the compiled
update (`jitted.lower(...).compile().cost_analysis()`); a `while` loop's body (MCTS's
simulations) is counted once, so MZU's count is a lower bound. Achieved FLOP/s = FLOPs per
update x updates/s, against the peak this machine reaches on one 1024x1024 float32 matmul
(measured first). The load average is printed with the numbers. `--pipeline` times the
training loop's path instead: host batches (the dataset's loader with `--dataset`, else fresh
synthetic windows) -> `DevicePrefetcher` (2 batches in flight) -> updates, and reports updates/s
and the fraction of the time the learner waited for data, with and without prefetching.
`--devices N` splits the CPU into N XLA host devices. Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from typing import Callable, Optional

if __name__ == "__main__" and "--devices" in sys.argv:  # XLA reads the flag when JAX starts
    os.environ["XLA_FLAGS"] = (
        f"--xla_force_host_platform_device_count={sys.argv[sys.argv.index('--devices') + 1]} "
        + os.environ.get("XLA_FLAGS", "")
    )

import jax  # noqa: E402
import numpy as np  # noqa: E402

from rosmo.agents import make_agent  # noqa: E402
from rosmo.suites.configs import atari as atari_configs  # noqa: E402
from rosmo.suites.configs import minatar as minatar_configs  # noqa: E402
from rosmo.suites.configs.bsuite import get_config  # noqa: E402
from rosmo.data.loader import make_loader  # noqa: E402
from rosmo.networks.factory import make_networks  # noqa: E402
from rosmo.training.learner import Learner  # noqa: E402
from rosmo.training.prefetch import DevicePrefetcher  # noqa: E402


def synthetic_windows(
    batch_size: int, length: int, obs_shape=(10, 5), num_actions: int = 3, seed: int = 0, obs_dtype=np.float32
):
    rng = np.random.default_rng(seed)
    is_last = rng.random((batch_size, length)) < 0.1
    is_first = np.concatenate([np.zeros((batch_size, 1), bool), is_last[:, :-1]], axis=1)
    obs = rng.random((batch_size, length) + tuple(obs_shape))
    return dict(
        observation=(obs < 0.1).astype(obs_dtype) if obs_dtype == np.uint8 else obs.astype(obs_dtype),
        action=rng.integers(0, num_actions, (batch_size, length)).astype(np.int32),
        reward=rng.standard_normal((batch_size, length)).astype(np.float32),
        discount=np.ones((batch_size, length), np.float32),
        is_first=is_first,
        is_last=is_last,
        is_terminal=is_last.copy(),
    )


def time_learner(
    learner: Learner, batch: dict[str, np.ndarray], seconds: float, max_updates: Optional[int] = None
) -> dict[str, float]:
    """Compile one update, then run updates on one device-resident batch for about `seconds` (at least 3, at most
    `max_updates`). Updates are dispatched asynchronously, so the loop may queue more than `seconds` holds; the
    clock stops when the device has run them all."""
    batch = learner.put_batch(batch)
    start = time.time()
    jax.block_until_ready(learner.step(batch))
    compile_s = time.time() - start
    count, start, cpu = 0, time.time(), time.process_time()
    while (time.time() - start < seconds or count < 3) and count != max_updates:
        metrics = learner.step(batch)
        count += 1
    jax.block_until_ready(metrics)
    elapsed, cpu = time.time() - start, time.process_time() - cpu
    batch_size = len(batch["action"])
    return {
        "updates_per_s": count / elapsed,
        "updates_per_cpu_s": count / max(cpu, 1e-9),
        "samples_per_s": count * batch_size / elapsed,
        "compile_s": compile_s,
        "updates": count,
    }


def time_pipeline(
    learner: Learner, batches, seconds: float, prefetch: bool = True, max_updates: Optional[int] = None
) -> dict[str, float]:
    """Updates fed from `batches` (host numpy) as the training loop does; updates/s and the data-wait fraction.
    About `seconds` of dispatching, at least 3 updates and at most `max_updates`.

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
    while (time.perf_counter() - start < seconds or count < 3) and count != max_updates:
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
    print(
        f"devices: {len(jax.devices())} x {jax.devices()[0].platform}  batch {args.batch_size}  env {args.env}  "
        f"data: {args.dataset or 'synthetic windows made per batch'}  load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'feeding':<22}{'updates/s':>12}{'data wait':>12}")
    for prefetch in (True, False):
        learner = Learner(make_agent(config, networks), config, np.zeros((1, 10, 5), np.float32))
        if args.dataset:
            batches = make_loader(
                args.dataset,
                unroll_steps=config.unroll_steps,
                td_steps=config.td_steps,
                batch_size=args.batch_size,
                seed=0,
            )
        else:
            batches = synthetic_stream(args.batch_size, length)
        r = time_pipeline(learner, batches, args.seconds, prefetch=prefetch)
        name = "prefetch 2 to device" if prefetch else "synchronous"
        print(f"{name:<22}{r['updates_per_s']:>12.1f}{r['data_wait_fraction']:>11.1%}", flush=True)


SUITES = {  # suite -> (config of an env, observation shape, dtype, num_actions)
    "bsuite": (lambda: get_config("catch"), (10, 5), np.float32, 3),
    "minatar": (lambda: minatar_configs.get_config("breakout"), (10, 10, 4), np.uint8, 6),
    "atari": (lambda: atari_configs.get_config("Pong"), (84, 84, 4), np.uint8, 6),
}


def cost_flops(learner: Learner, batch) -> float:
    """FLOPs of one compiled update from XLA's cost analysis (while-loop bodies counted once)."""
    compiled = learner._update.lower(learner._state, learner._guard, batch).compile()  # noqa: SLF001
    analysis = compiled.cost_analysis()
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0] if analysis else {}
    return float((analysis or {}).get("flops", float("nan")))


def time_updates(
    config, seconds: float, obs_shape=(10, 5), num_actions: int = 3, obs_dtype=np.float32, flops: bool = True
) -> dict[str, float]:
    """Time the agent of `config` on synthetic windows; with `flops`, add FLOPs per update and FLOP/s."""
    networks = make_networks(config, num_actions)
    learner = Learner(make_agent(config, networks), config, np.zeros((1,) + tuple(obs_shape), obs_dtype))
    length = config.unroll_steps + config.td_steps + 1
    batch = synthetic_windows(config.batch_size, length, obs_shape, num_actions, obs_dtype=obs_dtype)
    result = time_learner(learner, batch, seconds)
    if flops:
        result["flops"] = cost_flops(learner, learner.put_batch(batch))
        result["flop_per_s"] = result["flops"] * result["updates_per_s"]
    return result


def matmul_peak(size: int = 1024, seconds: float = 2.0) -> float:
    """FLOP/s of a jitted float32 [size, size] @ [size, size] matmul (2 size^3 FLOPs each), repeated ~`seconds`."""
    a = jax.numpy.ones((size, size), jax.numpy.float32)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    count, start = 0, time.time()
    while time.time() - start < seconds or count < 3:
        out = f(a)
        count += 1
    out.block_until_ready()
    return 2.0 * size**3 * count / (time.time() - start)


def variants(suite: str, batch_size: int, env: str = "") -> list[tuple[str, Callable]]:
    """(name, config) pairs to time: ROSMO (exact, sampled), MZU with N = 4, 20, 50 simulations, BC, CQL."""

    def base(algo: str, **fields):
        c = SUITES[suite][0]() if not env else get_config(env)
        if suite == "atari":
            c.stack_on_device = False  # synthetic windows carry stacked observations
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
    parser.add_argument("--suite", default="bsuite,minatar", help="comma-separated: bsuite, minatar, atari")
    parser.add_argument("--env", default="", help="a BSuite env for --suite bsuite (default catch)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="default: bsuite 512, minatar 128, atari 512 (the configs' batch sizes)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per variant")
    parser.add_argument("--only", default=None, help="comma-separated substrings of variant names to run")
    parser.add_argument("--no-flops", action="store_true", help="skip the cost analysis")
    parser.add_argument("--pipeline", action="store_true", help="time the loop's feeding path (ROSMO exact)")
    parser.add_argument("--dataset", default=None, help="with --pipeline: an RLDS dataset directory to read")
    parser.add_argument("--devices", type=int, default=None, help="XLA CPU host devices (set before JAX starts)")
    args = parser.parse_args()
    if args.pipeline:
        args.env = args.env or "catch"
        args.batch_size = args.batch_size or 512
        pipeline_main(args)
        return
    suites = [x.strip() for x in args.suite.split(",") if x.strip()]
    unknown = [x for x in suites if x not in SUITES]
    if unknown:
        parser.error(f"--suite: unknown {unknown}; expected some of {sorted(SUITES)}")
    peak = matmul_peak()
    print(
        f"devices: {jax.devices()}  load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}  "
        f"matmul peak (1024x1024 f32): {peak / 1e9:.1f} GFLOP/s"
    )
    for suite in suites:
        _, obs_shape, obs_dtype, num_actions = SUITES[suite]
        batch_size = args.batch_size or {"bsuite": 512, "minatar": 128, "atari": 512}[suite]
        print(f"\nsuite {suite}  batch {batch_size}  observation {obs_shape} {np.dtype(obs_dtype).name}")
        print(
            f"{'variant':<20}{'updates/s':>11}{'per CPU s':>11}{'compile s':>11}{'GFLOP/upd':>11}"
            f"{'GFLOP/s':>10}{'% peak':>8}"
        )
        results = {}
        for name, config in variants(suite, batch_size, args.env if suite == "bsuite" else ""):
            if args.only and not any(s in name for s in args.only.split(",")):
                continue
            r = time_updates(config, args.seconds, obs_shape, num_actions, obs_dtype, flops=not args.no_flops)
            results[name] = r
            flops = r.get("flops", float("nan"))
            rate = r.get("flop_per_s", float("nan"))
            print(
                f"{name:<20}{r['updates_per_s']:>11.1f}{r['updates_per_cpu_s']:>11.1f}{r['compile_s']:>11.1f}"
                f"{flops / 1e9:>11.3f}{rate / 1e9:>10.1f}{100 * rate / peak:>7.1f}%",
                flush=True,
            )
        base = results.get("rosmo exact")
        if base:
            for name, r in results.items():
                if name != "rosmo exact":
                    print(
                        f"time per update {name:<18} / rosmo exact: {base['updates_per_s'] / r['updates_per_s']:7.2f}x"
                    )
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
