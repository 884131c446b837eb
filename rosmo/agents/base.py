"""What every agent provides, and how an agent module declares itself to the registry.

An agent is two pure functions over one parameter tree:

    loss(params, target_params, batch, key) -> (scalar loss, metrics dict)
    act(params, obs[B, ...], key)           -> actions int32[B]

`batch` holds windows `[B, L, ...]` of `observation, action, reward,
discount, is_first, is_last, is_terminal` (see `rosmo.data.loader`).
The learner, data pipeline, evaluation, logging and checkpoints are shared
by all agents; selecting one is `config.algo`.

An agent module exports one `AgentSpec` (its name, config defaults, acting
rules, config validation and factories); `rosmo/agents/__init__.py` lists
the specs, and that list is the only one.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional

import jax
import jax.numpy as jnp

from rosmo.networks.base import Networks

WINDOWS, TRANSITIONS = "windows", "transitions"
"""`AgentSpec.learns_from`: the window learners of `rosmo train`, or an agent with its own transition learner."""


class Agent(NamedTuple):
    name: str
    networks: Networks
    loss: Callable
    act: Callable


class AgentSpec(NamedTuple):
    """One agent's declaration.

    name: the value of `--config.algo`.
    description: one line for `--help` and the docs.
    make_loss: (networks, config) -> loss function (module docstring).
    make_actor: (networks, config) -> act function; `config.act_policy` picks the rule.
    act_policies: the allowed `--config.act_policy` values, the default first.
    config_defaults: the agent's own config fields and their defaults (added to every
      config; validated only when this agent is selected).
    validate: config -> None, raising `rosmo.configs.validation.ConfigError` on a bad
      agent-specific field (optional).
    acting_fields: config fields only the acting rule reads (e.g. the search budget), which
      `rosmo evaluate --config.FIELD=VALUE` may change on a trained checkpoint.
    learns_from: "windows" (trained by `rosmo train` on windows of discrete-action data, through
      `make_loss` / `make_actor`) or "transitions" (its own learner on flat continuous transitions,
      run by `rosmo deploy`; BREMEN). A "transitions" agent has no `make_loss` / `make_actor`.
    """

    name: str
    description: str
    make_loss: Optional[Callable]
    make_actor: Optional[Callable]
    act_policies: tuple[str, ...] = ("prior",)
    config_defaults: Mapping[str, Any] = {}
    validate: Optional[Callable] = None
    acting_fields: tuple[str, ...] = ()
    learns_from: str = WINDOWS

    def make(self, networks: Networks, config) -> Agent:
        return Agent(self.name, networks, self.make_loss(networks, config), self.make_actor(networks, config))


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


def masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    """sum(x * mask) / max(1, sum(mask)) over all elements."""
    mask = mask.astype(x.dtype)
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)
