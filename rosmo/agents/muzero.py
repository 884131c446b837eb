"""Pieces shared by the agents on the MuZero torso (ROSMO, MuZero Unplugged, BC, CQL).

target_network_outputs  target-net states, prior logits and values at every real observation
look_ahead              one model step from each state for several actions: rewards, next values
model_unroll_actions    the K actions to unroll with: logged in the root episode, random after it
unroll_model            s_0 = h(o_0), s_{k+1} = g(s_k, a_k) (gradient scaled per step), f(s_k)
policy_logits_of_observations  f(h(o)).policy_logits at every observation (BC, CQL)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rosmo import ops
from rosmo.agents.base import flatten_time, scale_gradient
from rosmo.networks.base import Networks

FLAG_KEYS = ("is_first", "is_last", "is_terminal")


def target_network_outputs(networks: Networks, target_params, obs: jax.Array, with_rewards: bool = False):
    """Target-net states, prior logits and scalar values at every real observation.

    obs [B, L, ...] -> states [B, L, *S], prior_logits [B, L, A], values [B, L]
    (and, with `with_rewards`, the reward head read at the real observations, [B, L]).
    """
    batch, length = obs.shape[:2]
    states = networks.represent(target_params, flatten_time(obs))
    pred = networks.predict(target_params, states)
    values = ops.logits_to_scalar(pred.value_logits, networks.num_bins)
    outputs = (
        states.reshape((batch, length) + states.shape[1:]),
        pred.policy_logits.reshape(batch, length, -1),
        values.reshape(batch, length),
    )
    if with_rewards:
        outputs += (ops.logits_to_scalar(pred.reward_logits, networks.num_bins).reshape(batch, length),)
    return outputs


def look_ahead(networks: Networks, params, states: jax.Array, actions: jax.Array):
    """One model step from each state for several actions.

    states [M, *S], actions int[M, N] -> (rewards [M, N], next_values [M, N]).
    """
    m, n = actions.shape
    repeated = jnp.repeat(states, n, axis=0)
    next_states = networks.dynamics(params, repeated, actions.reshape(-1))
    pred = networks.predict(params, next_states)
    rewards = ops.logits_to_scalar(pred.reward_logits, networks.num_bins).reshape(m, n)
    next_values = ops.logits_to_scalar(pred.value_logits, networks.num_bins).reshape(m, n)
    return rewards, next_values


def model_unroll_actions(batch, key: jax.Array, num_unroll: int, num_actions: int) -> jax.Array:
    """Actions for the K unroll steps: logged inside the root episode, uniform random after it. -> int32[B, K]."""
    actions = batch["action"]
    random_actions = jax.random.randint(key, actions.shape, 0, num_actions, dtype=actions.dtype)
    return ops.unroll_actions(actions, batch["is_first"], batch["is_last"], random_actions, num_unroll)


def unroll_model(networks: Networks, params, first_obs: jax.Array, actions: jax.Array, gradient_scale: float):
    """Model unroll with the online net. first_obs [B, ...], actions [B, K] -> Prediction of [B, K+1, ...]."""
    state = networks.represent(params, first_obs)
    predictions = [networks.predict(params, state)]
    for k in range(actions.shape[1]):
        state = scale_gradient(networks.dynamics(params, state, actions[:, k]), gradient_scale)
        predictions.append(networks.predict(params, state))
    return jax.tree.map(lambda *xs: jnp.stack(xs, axis=1), *predictions)


def policy_logits_of_observations(networks: Networks, params, obs: jax.Array) -> jax.Array:
    """f(h(o)).policy_logits at every observation. obs [B, L, ...] -> [B, L, A]."""
    batch, length = obs.shape[:2]
    pred = networks.predict(params, networks.represent(params, flatten_time(obs)))
    return pred.policy_logits.reshape(batch, length, -1)
