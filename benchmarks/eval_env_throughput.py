"""Atari env throughput under the RL Unplugged protocol: vector env (C++ threads) vs a Python loop.

For N in --num-envs (default 1, 8, 32), random actions, reports agent steps
per second (all envs together; x4 for emulator frames) of

- `vector`: `rosmo.envs.atari.AtariVectorEnv(game, N)` (ALE's C++ thread pool),
- `python`: a Python loop over N `rosmo.envs.atari.AtariEnv` (one core).

Each configuration warms up, then steps for about --seconds of wall time.
Two rates per cell: per wall-clock second, and per CPU second of this process
(`time.process_time`, all threads), which is steadier on a shared machine;
C++ worker threads that spin while waiting count as CPU time.

    python benchmarks/eval_env_throughput.py --game Pong --num-envs 1 8 32 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from rosmo.envs.atari import AtariEnv, AtariVectorEnv


def bench_vector(game: str, n: int, seconds: float, num_threads: int):
    env = AtariVectorEnv(game, n, seed=0, num_threads=num_threads)
    rng = np.random.default_rng(0)
    env.reset()
    for _ in range(20):  # warm-up
        env.step(rng.integers(env.num_actions, size=n))
    steps, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        env.step(rng.integers(env.num_actions, size=n))
        steps += n
    rates = steps / (time.perf_counter() - start), steps / max(time.process_time() - cpu, 1e-9)
    env.close()
    return rates


def bench_python(game: str, n: int, seconds: float):
    envs = [AtariEnv(game, seed=i) for i in range(n)]
    rng = np.random.default_rng(0)
    for env in envs:
        env.reset()
    num_actions = envs[0].num_actions
    for _ in range(5):
        for env in envs:
            env.step(rng.integers(num_actions))
    steps, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        actions = rng.integers(num_actions, size=n)
        for env, a in zip(envs, actions):
            env.step(a)
        steps += n
    return steps / (time.perf_counter() - start), steps / max(time.process_time() - cpu, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="Pong")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured wall time per configuration")
    parser.add_argument("--num-threads", type=int, default=0, help="vector env threads (0: ALE's default)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()

    results = {
        "game": args.game,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "seconds_per_config": args.seconds,
        "rows": [],
    }
    print(f"{args.game}, {os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f}")
    print("agent steps per wall second (per CPU second); emulator frames = x4")
    print(f"{'num_envs':>8} {'vector':>16} {'python loop':>16} {'wall speed-up':>14}")
    for n in args.num_envs:
        vec, vec_cpu = bench_vector(args.game, n, args.seconds, args.num_threads)
        py, py_cpu = bench_python(args.game, n, args.seconds)
        results["rows"].append(
            {
                "num_envs": n,
                "vector_steps_per_s": vec,
                "vector_steps_per_cpu_s": vec_cpu,
                "python_steps_per_s": py,
                "python_steps_per_cpu_s": py_cpu,
            }
        )
        print(f"{n:>8} {vec:>7.0f} ({vec_cpu:>6.0f}) {py:>7.0f} ({py_cpu:>6.0f}) {vec / py:>13.1f}x", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
