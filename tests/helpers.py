"""Helpers shared by several test modules: a small learner config, a synthetic batch, a learner."""

import jax
import numpy as np

from rosmo.agents import make_agent
from rosmo.suites.configs.bsuite import get_config
from rosmo.networks.mlp import make_mlp_networks
from rosmo.training.learner import Learner


def synthetic_batch(batch_size: int, length: int, seed: int = 0):
    """Catch-shaped windows with some episode boundaries inside."""
    rng = np.random.default_rng(seed)
    is_last = rng.random((batch_size, length)) < 0.15
    is_first = np.concatenate(
        [np.ones((batch_size, 1), bool) & (rng.random((batch_size, 1)) < 0.3), is_last[:, :-1]], 1
    )
    return dict(
        observation=rng.random((batch_size, length, 10, 5)).astype(np.float32),
        action=rng.integers(0, 3, (batch_size, length)).astype(np.int32),
        reward=np.where(is_last, 0.0, rng.choice([-1.0, 0.0, 1.0], (batch_size, length))).astype(np.float32),
        discount=np.ones((batch_size, length), np.float32),
        is_first=is_first,
        is_last=is_last,
        is_terminal=is_last.copy(),
    )


def small_config(**overrides):
    c = get_config("catch")
    c.batch_size = 32
    c.num_bins = 21
    c.warmup_steps = 0
    c.learning_rate = 3e-3
    for k, v in overrides.items():
        c[k] = v
    return c


def make_learner(config, mesh=None):
    networks = make_mlp_networks(3, config.num_bins)
    return Learner(make_agent(config, networks), config, np.zeros((1, 10, 5), np.float32), mesh=mesh)


def nudged_two_steps(config, mesh=None, seed: int = 3):
    """(params before, params after) two learner steps on `synthetic_batch(seed)`, from the initial parameters
    plus a fixed N(0, 0.05^2) nudge: with exactly-zero heads the first gradients into the torso are round-off,
    which Adam would scale up to full steps. The same on any mesh, so runs on different meshes compare."""
    learner = make_learner(config, mesh=mesh)
    batch = synthetic_batch(config.batch_size, config.unroll_steps + config.td_steps + 1, seed=seed)
    state = jax.device_get(learner.state)
    leaves, treedef = jax.tree.flatten(state.params)
    rng = np.random.default_rng(0)
    params = jax.tree.unflatten(treedef, [x + 0.05 * rng.standard_normal(x.shape).astype(x.dtype) for x in leaves])
    learner.restore(state._replace(params=params, target_params=params))
    before = jax.device_get(learner.params)
    for _ in range(2):
        learner.step(batch)
    return before, jax.device_get(learner.params)
