"""What every agent provides: a loss for the learner and an acting rule.

An agent is two pure functions over one parameter tree:

    loss(params, target_params, batch, key) -> (scalar loss, metrics dict)
    act(params, obs[B, ...], key)           -> actions int32[B]

`batch` holds windows `[B, L, ...]` of `observation, action, reward,
discount, is_first, is_last, is_terminal` (see `rosmo.data.loader`).
The learner, data pipeline, evaluation, logging and checkpoints are shared
by all agents; selecting one is `config.algo`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from rosmo.networks import Networks


class Agent(NamedTuple):
    name: str
    networks: Networks
    loss: Callable
    act: Callable


def scale_gradient(x: jax.Array, scale: float) -> jax.Array:
    """Identity forward; gradient multiplied by `scale` backward."""
    return x * scale + jax.lax.stop_gradient(x) * (1.0 - scale)


def flatten_time(x: jax.Array) -> jax.Array:
    """[B, T, ...] -> [B*T, ...]."""
    return x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:])


def select_actions(logits: jax.Array, key: jax.Array, greedy: bool) -> jax.Array:
    """Argmax (greedy) or a sample from softmax(logits); logits [B, A] -> int32[B]."""
    if greedy:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    return jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)
