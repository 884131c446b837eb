"""A trained agent rebuilt from a checkpoint: its saved config, its networks, its acting rule.

    agent, params, config, extra = load_agent(run_dir)        # agent.act(params, obs, key) -> actions
    policy_fn = load_policy(run_dir, num_actions)             # obs [N, ...] -> actions int32 [N]

Storage (orbax save/restore, step listing, fallback past damaged steps) is `rosmo.training.checkpoint`.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import ml_collections
import numpy as np

from rosmo.agents import agent_spec, make_agent
from rosmo.configs.loading import apply_override
from rosmo.errors import ConfigError
from rosmo.networks.factory import make_networks
from rosmo.suites.configs.base import get_base_config
from rosmo.training.checkpoint import CheckpointError, load_params


def apply_acting_overrides(config: ml_collections.ConfigDict, overrides, flag: str = "--set") -> None:
    """Set acting-only fields of a saved config from "FIELD=VALUE" items, in place.

    Only the agent's `AgentSpec.acting_fields` may change (e.g. `num_simulations`, `search_depth`
    of mzu): the trained parameters do not depend on them. Values are typed as in the current
    config; the agent's own validation runs on the result. CheckpointError names `flag` and the item.
    """
    spec = agent_spec(config.algo)
    typed = get_base_config()
    try:  # ConfigError messages start with "FIELD=..."; here the flag in front of it is `flag`
        for item in overrides:
            field, sep, text = str(item).partition("=")
            if not sep or not field:
                raise CheckpointError(f"{flag} {item}: expected FIELD=VALUE")
            if field not in spec.acting_fields:
                allowed = ", ".join(spec.acting_fields) or "none"
                raise CheckpointError(
                    f"{flag} {item}: {field!r} is not an acting field of algo {spec.name} (expected one of: {allowed})"
                )
            apply_override(typed, field, text)
            config[field] = typed[field]
        if overrides and spec.validate is not None:
            spec.validate(config)
    except ConfigError as err:
        raise CheckpointError(f"{flag} {err}") from None


def load_agent(
    checkpoint: str,
    step: Optional[int] = None,
    act_policy: Optional[str] = None,
    greedy: Optional[bool] = None,
    flag: str = "--checkpoint",
    overrides=(),
):
    """Rebuild a trained agent from a run (or checkpoint) directory.

    Returns (agent, params, config, extra): `agent.act(params, obs[B, ...], key) -> int32[B]`
    with the saved config's acting rule, overridden by `act_policy` / `greedy`
    and the "FIELD=VALUE" `overrides` of acting-only fields (`apply_acting_overrides`)
    when given; `extra` holds `num_actions`, `observation_shape`, `dataset_metadata`.

    Raises:
      FileNotFoundError: no run/checkpoint directory or no complete checkpoint in it.
      CheckpointError: the checkpoint carries no config (not written by `rosmo train`),
        or the acting rule does not fit the agent.
    Messages start with `flag` (the command-line flag that named the checkpoint).
    """
    try:
        params, extra = load_params(checkpoint, step=step)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{flag} {checkpoint}: {err}") from None
    if "config" not in extra or "num_actions" not in extra:
        raise CheckpointError(
            f"{flag} {checkpoint}: the checkpoint has no saved 'config'/'num_actions' "
            "(expected a run directory written by `rosmo train`)"
        )
    config = ml_collections.ConfigDict(extra["config"])
    if act_policy is not None:
        config.act_policy = act_policy
    if greedy is not None:
        config.act_greedy = bool(greedy)
    apply_acting_overrides(config, overrides)
    networks = make_networks(config, int(extra["num_actions"]))
    try:
        agent = make_agent(config, networks)
    except ValueError as err:
        raise CheckpointError(f"--act-policy {config.act_policy}: {err}") from None
    return agent, params, config, extra


def load_policy(
    checkpoint: str,
    num_actions: int,
    observation_shape: Optional[tuple[int, ...]] = None,
    seed: int = 0,
    flag: str = "--policy",
) -> Callable[[np.ndarray], np.ndarray]:
    """A trained agent as `policy_fn(obs [N, ...]) -> actions int32 [N]` (its saved acting rule).

    One jitted call per batch of observations, keys from `seed`. Raises CheckpointError
    naming `flag` when the agent was trained for another number of actions or
    observation shape.
    """
    agent, params, _, extra = load_agent(checkpoint, flag=flag)
    if int(extra["num_actions"]) != int(num_actions):
        raise CheckpointError(
            f"{flag} {checkpoint}: the agent has {extra['num_actions']} actions, the env has {num_actions}"
        )
    shape = tuple(extra.get("observation_shape") or ())
    if observation_shape is not None and shape and shape != tuple(observation_shape):
        raise CheckpointError(
            f"{flag} {checkpoint}: the agent takes observations {shape}, the env gives {tuple(observation_shape)}"
        )
    act = jax.jit(agent.act)
    params = jax.device_put(params)
    key = jax.random.PRNGKey(seed)

    def policy_fn(obs: np.ndarray) -> np.ndarray:
        nonlocal key
        key, act_key = jax.random.split(key)
        return np.asarray(act(params, obs, act_key)).astype(np.int32)

    return policy_fn
