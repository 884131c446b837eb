"""BSuite evaluation: `acme.EnvironmentLoop` (one env, one act call per step) vs the lockstep loop.

    python benchmarks/eval_loop_throughput.py                       # catch + cartpole, 100 episodes
    python benchmarks/eval_loop_throughput.py --envs catch --policies prior --num-envs 16 50

For each env and acting rule, plays the same untrained agent (fresh parameters
of the BSuite config's networks; the cost of an act call does not depend on the
weights) for --episodes episodes with

- `acme`: `rosmo.evaluation.loops.play_environment_loop` (`acme.EnvironmentLoop`, `rosmo.agents.actor.Actor`),
- `lockstep N`: `rosmo.evaluation.loops.play_dm_env` with N envs and one batched act call per lockstep,

after compiling the act function for every batch shape and a 2-episode warm-up. Reports wall seconds for
the episodes and env steps per second; untrained cartpole episodes are short, so
steps/s is the number to extrapolate from (a trained cartpole agent plays 1000
steps per episode). Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

from rosmo.agents import make_agent
from rosmo.suites.configs.bsuite import get_config
from rosmo.envs import bsuite as bsuite_envs
from rosmo.evaluation.loops import play_dm_env, play_environment_loop
from rosmo.networks.factory import make_networks

POLICIES = {  # name -> (algo, act_policy, extra config)
    "prior": ("rosmo", "prior", {}),
    "improved": ("rosmo", "improved", {}),
    "mcts": ("mzu", "mcts", {"num_simulations": 20}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["catch", "cartpole"])
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument(
        "--num-envs", type=int, nargs="+", default=[50], help="lockstep widths (50: the configs' eval_parallel)"
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.episodes} episodes per cell")
    print(f"{'env':<10}{'policy':<10}{'loop':<14}{'wall s':>9}{'steps':>9}{'steps/s':>10}{'mean return':>13}")
    for env in args.envs:
        shape, num_actions = bsuite_envs.env_spec(env)
        for name in args.policies:
            algo, act_policy, extra = POLICIES[name]
            config = get_config(env)
            config.algo, config.act_policy = algo, act_policy
            for k, v in extra.items():
                config[k] = v
            networks = make_networks(config, num_actions)
            agent = make_agent(config, networks)
            params = networks.init(jax.random.PRNGKey(0), np.zeros((1,) + tuple(shape), np.float32))
            act = jax.jit(agent.act)
            for n in [1] + list(args.num_envs):  # compile every batch shape first
                jax.block_until_ready(act(params, np.zeros((n,) + tuple(shape), np.float32), jax.random.PRNGKey(0)))
            make = lambda seed: bsuite_envs.make_env(env, seed=seed)  # noqa: E731, B023 (used in this iteration)
            runs = [("acme", lambda k: play_environment_loop(make, agent.act, params, k, seed=0, jitted_act=act))]  # noqa: B023 (run below, this iteration)
            for n in args.num_envs:
                runs.append(
                    (f"lockstep {n}", lambda k, n=n: play_dm_env(make, agent.act, params, k, n, seed=0, jitted_act=act))  # noqa: B023 (run below, this iteration)
                )
            for loop_name, run in runs:
                run(2)  # warm-up (the actor's key split compiles once)
                start = time.perf_counter()
                episodes = run(args.episodes)
                wall = time.perf_counter() - start
                print(
                    f"{env:<10}{name:<10}{loop_name:<14}{wall:>9.2f}{episodes.env_steps:>9}"
                    f"{episodes.env_steps / wall:>10.0f}{np.mean(episodes.returns):>13.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
