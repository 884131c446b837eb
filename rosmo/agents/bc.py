"""Behaviour cloning on the MuZero torso.

    logits_t = f(h(o_t)).policy_logits              for every real observation o_t of the window
    loss     = sum_t valid[t] * -log softmax(logits_t)[a_t] / max(1, sum_t valid[t])

`valid` = `ops.episode_masks(...)[1]`: a logged transition of the window's
root episode (the final observation of an episode, with its padding action,
and steps of the next episode are left out). The value and reward heads and
the dynamics get no gradient. Acting: argmax (greedy) or a sample of the
logits.
"""

from __future__ import annotations

from typing import Dict, Tuple

import jax
import jax.numpy as jnp

from rosmo import ops
from rosmo.agents.base import Agent, flatten_time, select_actions
from rosmo.networks import Networks


def policy_logits_of_observations(networks: Networks, params, obs: jax.Array) -> jax.Array:
    """f(h(o)).policy_logits at every observation. obs [B, L, ...] -> [B, L, A]."""
    batch, length = obs.shape[:2]
    pred = networks.predict(params, networks.represent(params, flatten_time(obs)))
    return pred.policy_logits.reshape(batch, length, -1)


def masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    """sum(x * mask) / max(1, sum(mask)) over all elements."""
    mask = mask.astype(x.dtype)
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def make_bc_loss(networks: Networks, config):
    del config

    def loss(params, target_params, batch, key) -> Tuple[jax.Array, Dict[str, jax.Array]]:
        del target_params, key
        _, valid = jax.vmap(ops.episode_masks)(batch["is_first"], batch["is_last"])  # [B, L]
        logits = policy_logits_of_observations(networks, params, batch["observation"])
        actions = batch["action"].astype(jnp.int32)
        log_pi = jax.nn.log_softmax(logits, axis=-1)
        nll = -jnp.take_along_axis(log_pi, actions[..., None], axis=-1)[..., 0]
        total = masked_mean(nll, valid)
        accuracy = masked_mean((jnp.argmax(logits, axis=-1) == actions).astype(jnp.float32), valid)
        return total, {"loss": total, "bc_loss": total, "action_accuracy": accuracy}

    return loss


def check_policy_head_act_policy(config, algo: str) -> None:
    if config.act_policy != "prior":
        raise ValueError(
            f"--config.act_policy={config.act_policy!r}: --config.algo={algo} acts from its policy/Q head; expected 'prior'"
        )


def make_bc_actor(networks: Networks, config):
    """Argmax (act_greedy) or a sample of the policy head's logits."""
    check_policy_head_act_policy(config, "bc")
    greedy = config.act_greedy

    def act(params, obs, key):
        logits = networks.predict(params, networks.represent(params, obs)).policy_logits
        return select_actions(logits, key, greedy)

    return act


def make_bc_agent(networks: Networks, config) -> Agent:
    return Agent("bc", networks, make_bc_loss(networks, config), make_bc_actor(networks, config))
