"""ROSMO: one-step look-ahead policy targets + filtered behaviour cloning.

Per window of L = K + n + 1 logged steps (DESIGN section 2):

    unroll   s_0 = h(o_0), s_{k+1} = g(s_k, a_k)  (grad x0.5 per step; random a_k after an episode end)
    value    z_k = n-step return, bootstrapped with the target net's v(o_{k+n})
    policy   pi*_k ∝ pi_prior(a|o_k) exp(adv(o_k, a)),  adv = r_g(s,a) + gamma v(g(s,a)) - v(s)  (target net)
             (sampled: N actions from the prior, CMPO leave-one-out weights)
    BC       -log pi(a_k|s_k) * 1[r_k + gamma v(o_{k+1}) - v(o_k) >= 0]          (target net, real next obs)
    loss     = reward CE + 0.25 value CE + 1.0 policy CE + 0.2 filtered BC   (each averaged over k and batch)
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import optax

from rosmo import ops
from rosmo.agents.base import AgentSpec, flatten_time, select_actions
from rosmo.agents.muzero import FLAG_KEYS, look_ahead, model_unroll_actions, target_network_outputs, unroll_model
from rosmo.errors import check_field
from rosmo.networks.base import Networks

ACT_POLICIES = ("prior", "improved")
BC_ADVANTAGES = ("data", "model")
CONFIG_DEFAULTS = {
    "policy_samples": 0,  # 0: exact one-step target over all actions; N > 0: sampled (CMPO leave-one-out)
    "bc_loss_weight": 0.2,  # weight of the filtered behaviour-cloning term
    # options (defaults: ROSMO as published, with our filtered-BC advantage)
    "policy_temperature": 1.0,  # pi* ∝ prior * exp(adv / T); T > 1: smaller improvement steps
    "policy_adv_clip": 0.0,  # > 0: clip adv to [-c, c] in the policy target (Muesli-style stabiliser, off)
    # filtered-BC advantage: "data" (logged r, terminal-aware, adv >= 0) | "model" (the original's)
    "bc_advantage": "data",
}


def exact_one_step_target(
    networks: Networks, params, states, prior_logits, values, discount, adv_clip=None, temperature: float = 1.0
):
    """pi* over all actions. states [M, *S], prior_logits [M, A], values [M] -> (probs [M, A], adv [M, A])."""
    num_actions = networks.num_actions
    all_actions = jnp.broadcast_to(jnp.arange(num_actions, dtype=jnp.int32), (states.shape[0], num_actions))
    rewards, next_values = look_ahead(networks, params, states, all_actions)
    return ops.one_step_policy_target(prior_logits, rewards, next_values, values, discount, adv_clip, temperature)


def _options(config):
    """(adv_clip or None, temperature, bc_advantage); defaults for configs saved before these fields existed."""
    return (
        config.get("policy_adv_clip", 0.0) or None,
        config.get("policy_temperature", 1.0),
        config.get("bc_advantage", "data"),
    )


def make_rosmo_loss(networks: Networks, config):
    """The ROSMO loss for `config` (unroll_steps, td_steps, discount, policy_samples, loss weights).

    Options (defaults = ROSMO as published, with our filtered-BC advantage):
      policy_adv_clip (0: off), policy_temperature (1.0): `ops.shape_advantages` in the policy target;
      bc_advantage: "data" (ours: logged reward, terminal-aware, keep adv >= 0) or "model" (the
      original code's: target-net reward head at the real next observation, keep adv > 0;
      `ops.one_step_advantage_model`).
    """
    adv_clip, temperature, bc_advantage = _options(config)
    num_unroll = config.unroll_steps
    td_steps = config.td_steps
    discount = config.discount
    num_samples = config.policy_samples  # 0 = exact target over all actions
    num_bins = networks.num_bins
    num_actions = networks.num_actions
    num_targets = num_unroll + 1

    def loss(params, target_params, batch, key) -> tuple[jax.Array, dict[str, jax.Array]]:
        obs, actions, rewards = batch["observation"], batch["action"], batch["reward"]
        flags = tuple(batch[k] for k in FLAG_KEYS)
        batch_size = actions.shape[0]
        key_random, key_sample = jax.random.split(key)

        # ---- targets from the target network (no gradient flows into `params` here)
        tgt_states, tgt_prior, tgt_values, tgt_rewards = target_network_outputs(
            networks, target_params, obs, with_rewards=True
        )
        value_targets = jax.vmap(
            lambda r, v, f, l, t: ops.n_step_value_targets(r, v, f, l, t, discount, td_steps, num_targets)
        )(rewards, tgt_values, *flags)  # [B, K+1]
        reward_targets = jax.vmap(lambda r, f, l: ops.reward_targets(r, f, l, num_unroll))(
            rewards, flags[0], flags[1]
        )  # [B, K]
        _, valid_step = jax.vmap(ops.episode_masks)(flags[0], flags[1])  # [B, L]
        policy_mask = valid_step[:, :num_targets]
        if bc_advantage == "model":  # the original code's advantage
            adv_data, bc_mask = ops.one_step_advantage_model(
                tgt_rewards, tgt_values, flags[0], flags[1], discount, num_targets
            )
        else:
            adv_data, bc_mask = ops.one_step_advantage_data(
                rewards, tgt_values, *flags, discount, num_targets
            )  # [B, K+1]

        root_states = flatten_time(tgt_states[:, :num_targets])
        root_prior = flatten_time(tgt_prior[:, :num_targets])
        root_values = flatten_time(tgt_values[:, :num_targets])

        # ---- online unroll
        unroll_actions = model_unroll_actions(batch, key_random, num_unroll, num_actions)
        pred = unroll_model(networks, params, obs[:, 0], unroll_actions, config.dynamics_gradient_scale)
        policy_logits = pred.policy_logits  # [B, K+1, A]

        # ---- losses
        reward_ce = optax.softmax_cross_entropy(
            pred.reward_logits[:, 1:], ops.value_to_target_probs(reward_targets, num_bins)
        )
        value_ce = optax.softmax_cross_entropy(pred.value_logits, ops.value_to_target_probs(value_targets, num_bins))
        uniform = jnp.full(policy_logits.shape, 1.0 / num_actions)
        if num_samples:
            sampled = jax.random.categorical(
                key_sample, root_prior[:, None, :], shape=(root_prior.shape[0], num_samples)
            )
            adv = _sampled_advantages(networks, target_params, root_states, sampled, root_values, discount)
            shaped = ops.shape_advantages(adv, None, temperature)
            weights = ops.sampled_policy_weights(shaped, adv_clip and adv_clip / temperature)
            weights = weights.reshape(batch_size, num_targets, num_samples)
            sampled_ce = ops.sampled_policy_loss(
                policy_logits, sampled.reshape(batch_size, num_targets, num_samples), jax.lax.stop_gradient(weights)
            )
            policy_ce = jnp.where(policy_mask, sampled_ce, optax.softmax_cross_entropy(policy_logits, uniform))
            target_entropy = jnp.zeros(())
        else:
            target, adv = exact_one_step_target(
                networks, target_params, root_states, root_prior, root_values, discount, adv_clip, temperature
            )
            target = ops.uniform_where(policy_mask, target.reshape(batch_size, num_targets, num_actions))
            policy_ce = optax.softmax_cross_entropy(policy_logits, jax.lax.stop_gradient(target))
            target_entropy = jnp.mean(-jnp.sum(target * jnp.log(target + 1e-12), axis=-1))
        strict = bc_advantage == "model"
        bc = ops.filtered_bc_loss(policy_logits, actions[:, :num_targets], adv_data, bc_mask, strict=strict)
        kept = (adv_data > 0) if strict else (adv_data >= 0)

        reward_loss = jnp.mean(reward_ce)
        value_loss = jnp.mean(value_ce)
        policy_loss = jnp.mean(policy_ce)
        bc_loss = jnp.mean(bc)
        total = (
            config.reward_loss_weight * reward_loss
            + config.value_loss_weight * value_loss
            + config.policy_loss_weight * policy_loss
            + config.bc_loss_weight * bc_loss
        )
        metrics = {
            "loss": total,
            "reward_loss": reward_loss,
            "value_loss": value_loss,
            "policy_loss": policy_loss,
            "bc_loss": bc_loss,
            "value_target_mean": jnp.mean(value_targets),
            "bc_kept_fraction": jnp.sum(kept * bc_mask) / jnp.maximum(jnp.sum(bc_mask), 1.0),
            "policy_target_entropy": target_entropy,
            # spread of the (unshaped) look-ahead advantages over the actions at a state: how sharp pi* gets
            "policy_adv_spread": jnp.mean(jnp.max(adv, axis=-1) - jnp.min(adv, axis=-1)),
            "policy_entropy": jnp.mean(
                -jnp.sum(jax.nn.softmax(policy_logits) * jax.nn.log_softmax(policy_logits), axis=-1)
            ),
        }
        return total, metrics

    return loss


def _sampled_advantages(networks, params, states, sampled_actions, values, discount):
    rewards, next_values = look_ahead(networks, params, states, sampled_actions)
    return rewards + discount * next_values - values[:, None]


def make_rosmo_actor(networks: Networks, config):
    """Acting rule: from the prior or the one-step improved policy, argmax or sample.

    config.act_policy in {"prior", "improved"}, config.act_greedy bool. Our
    default is the greedy prior (argmax of the policy head); the original
    code samples from the one-step improved policy (act_policy="improved",
    act_greedy=False). The improved policy here is the plain `prior * exp(adv)`.
    """
    mode = config.act_policy
    greedy = config.act_greedy
    adv_clip, temperature, _ = _options(config)

    def act(params, obs, key):
        state = networks.represent(params, obs)
        pred = networks.predict(params, state)
        logits = pred.policy_logits
        if mode == "improved":
            values = ops.logits_to_scalar(pred.value_logits, networks.num_bins)
            probs, _ = exact_one_step_target(
                networks, params, state, logits, values, config.discount, adv_clip, temperature
            )
            logits = jnp.log(probs + 1e-12)
        return select_actions(logits, key, greedy)

    return act


def validate(config) -> None:
    """ROSMO's own fields."""
    check_field(
        config.policy_samples >= 0,
        "policy_samples",
        "0 (exact target) or a number of sampled actions >= 1",
        config.policy_samples,
    )
    check_field(config.bc_loss_weight >= 0, "bc_loss_weight", "a number >= 0", config.bc_loss_weight)
    check_field(
        config.policy_temperature > 0,
        "policy_temperature",
        "a number > 0 (1: the paper's target)",
        config.policy_temperature,
    )
    check_field(config.policy_adv_clip >= 0, "policy_adv_clip", "0 (off) or a clip > 0", config.policy_adv_clip)
    check_field(config.bc_advantage in BC_ADVANTAGES, "bc_advantage", f"one of {BC_ADVANTAGES}", config.bc_advantage)


SPEC = AgentSpec(
    name="rosmo",
    description="ROSMO: one-step look-ahead policy targets with the learned model + filtered BC",
    make_loss=make_rosmo_loss,
    make_actor=make_rosmo_actor,
    act_policies=ACT_POLICIES,
    config_defaults=CONFIG_DEFAULTS,
    validate=validate,
    acting_fields=("policy_temperature", "policy_adv_clip"),  # read by act_policy="improved"
)
