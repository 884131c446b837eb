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


import jax
import jax.numpy as jnp

from rosmo import ops
from rosmo.agents.base import AgentSpec, masked_mean, select_actions
from rosmo.agents.muzero import policy_logits_of_observations
from rosmo.networks.base import Networks


def make_bc_loss(networks: Networks, config):
    del config

    def loss(params, target_params, batch, key) -> tuple[jax.Array, dict[str, jax.Array]]:
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


def make_bc_actor(networks: Networks, config):
    """Argmax (act_greedy) or a sample of the policy head's logits."""
    greedy = config.act_greedy

    def act(params, obs, key):
        logits = networks.predict(params, networks.represent(params, obs)).policy_logits
        return select_actions(logits, key, greedy)

    return act


SPEC = AgentSpec(
    name="bc",
    description="behaviour cloning of the logged actions on the MuZero torso",
    make_loss=make_bc_loss,
    make_actor=make_bc_actor,
)
