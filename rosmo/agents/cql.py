"""Discrete CQL(H) on the MuZero torso.

The Q-network is the same torso: Q(o, ·) = f(h(o)).policy_logits, the
policy head read as one Q-value per action (the value/reward heads and the
dynamics are unused). Over the transitions t = 0..L-2 of each window:

    a*_t   = argmax_a Q_online(o_{t+1}, a)                                 (double DQN)
    y_t    = r_t + gamma * (1 - terminal_{t+1}) * Q_target(o_{t+1}, a*_t)  (no gradient)
    td_t   = huber(y_t - Q_online(o_t, a_t))   (delta 1)
    cql_t  = logsumexp_a Q_online(o_t, a) - Q_online(o_t, a_t)
    loss   = mean over valid t of (td_t + alpha * cql_t)

terminal_{t+1} = is_last[t+1] and is_terminal[t+1]; valid[t] = a logged
transition of the root episode (`ops.episode_masks`), so o_{t+1} is in the
same episode. gamma = `config.discount`, alpha = `config.cql_alpha`.
The TD error is `rlax.double_q_learning`, the loss `rlax.huber_loss`.
Acting: argmax_a Q (act_greedy) or a sample of softmax(Q).
"""

from __future__ import annotations


import jax
import jax.numpy as jnp

from rosmo.rl_libs import rlax

from rosmo import ops
from rosmo.agents.base import AgentSpec, masked_mean, select_actions
from rosmo.agents.muzero import policy_logits_of_observations
from rosmo.errors import check_field
from rosmo.networks.base import Networks

CONFIG_DEFAULTS = {
    "cql_alpha": 1.0,  # weight of the CQL(H) regulariser logsumexp_a Q(s,a) - Q(s,a_data)
}


def double_q_td_errors(q, actions, rewards, discounts, q_target_next, q_online_next) -> jax.Array:
    """td = rewards + discounts * Q_target(s', argmax_a Q_online(s', a)) - Q(s, a), targets without gradient.

    `rlax.double_q_learning` over every leading dim: q / q_target_next / q_online_next f[..., A],
    actions int[...], rewards / discounts f[...] (discount 0 where s' is terminal) -> f[...].
    """
    fn = rlax.double_q_learning
    for _ in range(actions.ndim):
        fn = jax.vmap(fn)
    return fn(q, actions, rewards, discounts, q_target_next, q_online_next)


def cql_regulariser(q: jax.Array, actions: jax.Array) -> jax.Array:
    """CQL(H): logsumexp_a Q(s, a) - Q(s, a_data). q f[..., A], actions int[...] -> f[...] (>= 0)."""
    q_data = jnp.take_along_axis(q, actions[..., None], axis=-1)[..., 0]
    return jax.nn.logsumexp(q, axis=-1) - q_data


def make_cql_loss(networks: Networks, config):
    discount = config.discount
    alpha = config.cql_alpha

    def loss(params, target_params, batch, key) -> tuple[jax.Array, dict[str, jax.Array]]:
        del key
        obs = batch["observation"]
        actions = batch["action"].astype(jnp.int32)[:, :-1]  # [B, L-1]
        rewards = batch["reward"].astype(jnp.float32)[:, :-1]
        _, valid = jax.vmap(ops.episode_masks)(batch["is_first"], batch["is_last"])
        valid = valid[:, :-1]
        terminal_next = (batch["is_last"] & batch["is_terminal"])[:, 1:]

        q_all = policy_logits_of_observations(networks, params, obs)  # [B, L, A]
        q_target_next = policy_logits_of_observations(networks, target_params, obs[:, 1:])
        q = q_all[:, :-1]
        discounts = jnp.where(terminal_next, 0.0, discount)
        td = double_q_td_errors(q, actions, rewards, discounts, q_target_next, q_all[:, 1:])
        q_data = jnp.take_along_axis(q, actions[..., None], axis=-1)[..., 0]
        targets = jax.lax.stop_gradient(q_data + td)
        td_loss = masked_mean(rlax.huber_loss(td, 1.0), valid)
        cql_loss = masked_mean(cql_regulariser(q, actions), valid)
        total = td_loss + alpha * cql_loss
        metrics = {
            "loss": total,
            "td_loss": td_loss,
            "cql_loss": cql_loss,
            "q_data_mean": masked_mean(q_data, valid),
            "q_target_mean": masked_mean(targets, valid),
        }
        return total, metrics

    return loss


def make_cql_actor(networks: Networks, config):
    """argmax_a Q(o, a) (act_greedy) or a sample of softmax(Q)."""
    greedy = config.act_greedy

    def act(params, obs, key):
        q = networks.predict(params, networks.represent(params, obs)).policy_logits
        return select_actions(q, key, greedy)

    return act


def validate(config) -> None:
    check_field(config.cql_alpha >= 0.0, "cql_alpha", "a number >= 0", config.cql_alpha)


SPEC = AgentSpec(
    name="cql",
    description="discrete CQL(H): double-DQN TD loss + conservative regulariser, policy head read as Q",
    make_loss=make_cql_loss,
    make_actor=make_cql_actor,
    config_defaults=CONFIG_DEFAULTS,
    validate=validate,
)
