"""Estimates from the agent's own learned model (ROSMO, MuZero Unplugged): no fitting, two forward passes.

Value head at the logged initial observations o_0 (scalar from the categorical head):

    V_value   = mean over o_0 of v(h(o_0))

H-step latent rollout of the model under the policy (`rosmo.ope.policy.latent_actor`):

    s_0 = h(o_0);  a_k = pi(s_k);  s_{k+1} = g(s_k, a_k);  r_k = reward head of f(s_{k+1})
    V_rollout = mean over o_0 of  sum_{k<H} gamma^k r_k + gamma^H v(s_H)

gamma is the run's `config.discount` (the discount the value head was trained with), so both
estimate the agent's own discounted return; the model does not predict episode ends (after one
it was trained towards reward and value 0).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from rosmo import ops
from rosmo.networks.base import Networks


def model_value(networks: Networks, params, initial_obs: jax.Array) -> jax.Array:
    """mean_i v(h(o_0^i)). initial_obs [I, ...] -> scalar."""
    pred = networks.predict(params, networks.represent(params, initial_obs))
    return jnp.mean(ops.logits_to_scalar(pred.value_logits, networks.num_bins))


def latent_rollout_returns(
    networks: Networks, params, initial_obs: jax.Array, act: Callable, horizon: int, discount: float, key: jax.Array
) -> jax.Array:
    """Per initial observation: sum_{k<H} gamma^k r_k + gamma^H v(s_H) (module docstring). [I, ...] -> [I].

    act(params, states[I, *S], key) -> int32[I] picks a_k (key folded with k).
    """
    if horizon < 0:
        raise ValueError(f"rollout horizon must be >= 0, got {horizon}")
    state = networks.represent(params, initial_obs)
    total = jnp.zeros(initial_obs.shape[:1], jnp.float32)
    for k in range(horizon):
        action = act(params, state, jax.random.fold_in(key, k))
        state = networks.dynamics(params, state, action)
        reward = ops.logits_to_scalar(networks.predict(params, state).reward_logits, networks.num_bins)
        total = total + discount**k * reward
    value = ops.logits_to_scalar(networks.predict(params, state).value_logits, networks.num_bins)
    return total + discount**horizon * value


def model_rollout(
    networks: Networks, params, initial_obs: jax.Array, act: Callable, horizon: int, discount: float, key: jax.Array
) -> jax.Array:
    """mean over initial observations of `latent_rollout_returns`. -> scalar."""
    return jnp.mean(latent_rollout_returns(networks, params, initial_obs, act, horizon, discount, key))
