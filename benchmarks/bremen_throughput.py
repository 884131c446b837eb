"""BREMEN throughput on this machine: env collection, ensemble training, BC, and TRPO iterations on HalfCheetah-v5.

    .venv/bin/python benchmarks/bremen_throughput.py

Prints steps/s for each piece with `rosmo.agents.bremen.cpu_config` sizes (first calls compile and are
not timed). Numbers, not asserts; run with XLA single-threaded on a shared machine.
"""

from __future__ import annotations

import time

import jax

from rosmo.agents import bremen
from rosmo.agents.bremen import dynamics, learner
from rosmo.data.transitions import from_episodes
from rosmo.deploy.bremen import env_functions
from rosmo.envs import mujoco


def main() -> None:
    env = "HalfCheetah-v5"
    c = bremen.cpu_config(env)
    start = time.time()
    episodes = mujoco.collect_episodes(env, mujoco.random_act_fn, mujoco.random_params(6), 20_000, 16, 0)
    print(f"collection (random policy, 16 envs): {20_000 / (time.time() - start):.0f} env steps/s")
    data = from_episodes(episodes)
    for epochs in (1, 3):  # the first call compiles
        start = time.time()
        dynamics.train_ensemble(
            data,
            c.dynamics.hidden_sizes,
            jax.random.PRNGKey(0),
            c.dynamics.num_members,
            c.dynamics.learning_rate,
            c.dynamics.batch_size,
            epochs,
            1000,
            patience=100,
        )
    print(
        f"dynamics ensemble (K={c.dynamics.num_members}, {c.dynamics.hidden_sizes}, batch {c.dynamics.batch_size}):"
        f" {3000 / (time.time() - start):.0f} steps/s"
    )
    networks = learner.make_networks(c, 17, 6)
    for steps in (1000, 5000):
        start = time.time()
        params, norm, _ = bremen.train_bc(
            networks.policy,
            data.observation,
            data.action,
            jax.random.PRNGKey(0),
            num_steps=steps,
            eval_every=1000,
            patience=100,
        )
    print(
        f"behaviour cloning ({c.policy.hidden_sizes}, batch {c.bc.batch_size}): {5000 / (time.time() - start):.0f} "
        "steps/s"
    )
    ensemble, _ = dynamics.train_ensemble(
        data, c.dynamics.hidden_sizes, jax.random.PRNGKey(0), 5, batch_size=256, max_epochs=1, steps_per_epoch=10
    )
    for iterations in (1, 10):
        c.trpo.iterations = iterations
        start = time.time()
        learner.optimize_policy(c, networks, ensemble, params, norm, data, jax.random.PRNGKey(1), env_functions(c.env))
    print(f"TRPO ({c.trpo.batch_size} imagined steps / iteration): {10 / (time.time() - start):.2f} iterations/s")


if __name__ == "__main__":
    main()
