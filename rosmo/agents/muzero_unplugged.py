"""MuZero Unplugged: MCTS policy targets and Reanalyse value bootstrap on fixed data.

Per window of L = K + n + 1 logged steps (DESIGN section 2):

    search   at every real observation o_t (t = 0..L-1), with the TARGET net:
             root = (prior, value, h(o_t)); model step a -> (r from f(g(s,a)), v, prior, g(s,a));
             N = num_simulations, mctx max_depth = search_depth
    policy   pi*_k = visit distribution at o_k (k = 0..K); uniform at/after the episode end
    value    z_k = n-step return of the logged rewards, bootstrapped with the ROOT SEARCH
             VALUE at o_{k+n} (Reanalyse); 0 at and after a terminal
    unroll   as ROSMO (`unroll_model`): s_0 = h(o_0), s_{k+1} = g(s_k, a_k), grad x0.5 per step
    loss     = reward CE + 0.25 value CE + 1.0 policy CE   (no BC term)
               + mzu_bc_loss_weight * BC, BC = mean over the real steps k = 0..K of
               -log pi_k(a_k) (the logged action; `mzu_bc_loss_weight` 0 = the paper's MZU)

Search runs at all L positions: the K+1 policy targets need o_0..o_K, the
bootstraps need o_n..o_{K+n} (and earlier positions when an episode is
truncated inside the horizon), which together cover the window when n <= K+1.

Search (`search`): "muzero" (default; `mctx.muzero_policy`, PUCT with the
Q normalisation `mcts_qtransform`, visit-count policy target) or "gumbel"
(`mctx.gumbel_muzero_policy`, Sequential Halving over
`gumbel_considered_actions` root actions; the policy target is the
completed-Q improved policy softmax(prior_logits + sigma(completedQ)),
Danihelka et al. 2022). The root search value is the value bootstrap in both.

Acting (`act_policy`): "mcts" (or "improved") searches from the current
observation with the online params. MuZero search: the most visited action
(greedy) or a sample ∝ visits; root Dirichlet noise only with
`act_exploration_noise=True` (the original code acts by sampling ∝ visits
with root noise: act_greedy=False, act_exploration_noise=True). Gumbel
search: the action Sequential Halving selects, with Gumbel noise
`gumbel_scale` unless greedy (then noise 0). "prior" uses the policy head
alone. The learner's MuZero searches use `mcts_dirichlet_fraction` /
`mcts_dirichlet_alpha` as in the paper's code (mctx defaults 0.25 / 0.3);
its Gumbel searches use `gumbel_scale`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from rosmo import ops
from rosmo.agents.base import AgentSpec, flatten_time, masked_mean, select_actions
from rosmo.agents.muzero import FLAG_KEYS, model_unroll_actions, target_network_outputs, unroll_model
from rosmo.errors import ConfigError, check_field
from rosmo.networks.base import Networks
from rosmo.ops.mcts import SearchResult, gumbel_search, most_visited_action, muzero_search

MCTS_ACT_POLICIES = ("mcts", "improved")
ACT_POLICIES = ("prior", "mcts", "improved")
SEARCHES = ("muzero", "gumbel")
QTRANSFORMS = ("parent_and_siblings", "completed_by_mix_value")
CONFIG_DEFAULTS = {
    "num_simulations": 20,  # simulations per search (learner targets and MCTS acting)
    "search_depth": ml_collections.config_dict.placeholder(int),  # mctx max_depth; None: limited by num_simulations
    # max_depth of the acting search only (None: search_depth). 1 = one model step: on BSuite the model's deeper
    # steps mislead acting (results/bsuite/mzu_acting_depth/); the learner's targets keep search_depth.
    "act_search_depth": ml_collections.config_dict.placeholder(int),
    "mcts_dirichlet_fraction": 0.25,  # root noise weight in the learner's searches (and when acting with noise)
    "mcts_dirichlet_alpha": 0.3,  # root Dirichlet concentration
    "act_exploration_noise": False,  # acting with MCTS: add root Dirichlet noise (off for evaluation)
    # muzero (mctx.muzero_policy, visit-count target) | gumbel (mctx.gumbel_muzero_policy, completed-Q)
    "search": "muzero",
    # PUCT Q normalisation of search=muzero (mctx's default) | completed_by_mix_value
    "mcts_qtransform": "parent_and_siblings",
    "gumbel_scale": 1.0,  # Gumbel noise of search=gumbel in the learner and when sampling actions (greedy acting: 0)
    "gumbel_considered_actions": 16,  # root actions entering Sequential Halving (search=gumbel)
    "gumbel_rescale_values": True,  # search=gumbel: min-max rescale completed Q to [0, 1] (mctx's default); False: raw
    # behaviour-cloning term on the logged actions (0: off, the paper's MZU). MZU's policy learns only from the
    # search, so where the model cannot rank actions (BSuite cartpole: one step is 0.01 s of
    # dynamics; the model's Q argmax matches the data only at chance) the search targets are noise and the prior
    # collapses onto one action; the BC term ties the prior to the data (as ROSMO's, unfiltered).
    "mzu_bc_loss_weight": 0.0,
}


def model_step_fn(networks: Networks):
    """The networks' dynamics + prediction as an `ops.mcts` model step.

    (params, state[M, *S], action int[M]) -> (reward[M], value[M], prior_logits[M, A], next_state[M, *S]);
    the reward of the transition into s' = g(s, a) is read from f(s').
    """

    def step(params, state, action):
        next_state = networks.dynamics(params, state, action)
        pred = networks.predict(params, next_state)
        reward = ops.logits_to_scalar(pred.reward_logits, networks.num_bins)
        value = ops.logits_to_scalar(pred.value_logits, networks.num_bins)
        return reward, value, pred.policy_logits, next_state

    return step


def search_from_states(
    networks: Networks,
    params,
    key: jax.Array,
    states: jax.Array,
    prior_logits: jax.Array,
    values: jax.Array,
    discount: float,
    num_simulations: int,
    max_depth=None,
    dirichlet_fraction: float = 0.0,
    dirichlet_alpha: float = 0.3,
    qtransform: str = "parent_and_siblings",
    search: str = "muzero",
    gumbel_scale: float = 1.0,
    gumbel_considered_actions: int = 16,
    gumbel_rescale_values: bool = True,
) -> SearchResult:
    """MuZero (or Gumbel MuZero, `search="gumbel"`) search with `networks` from M root states.

    states [M, *S], prior_logits [M, A], values [M] -> SearchResult ([M, A], [M], [M, A], [M]).
    Dirichlet noise and `qtransform` apply to MuZero search, `gumbel_*` to Gumbel search.
    """
    if search not in SEARCHES:
        raise ConfigError(f"search={search!r}: expected one of {SEARCHES}", field="search")
    if search == "gumbel":
        return gumbel_search(
            params,
            key,
            prior_logits,
            values,
            states,
            model_step_fn(networks),
            discount,
            num_simulations,
            max_depth=max_depth,
            max_num_considered_actions=gumbel_considered_actions,
            gumbel_scale=gumbel_scale,
            rescale_values=gumbel_rescale_values,
        )
    return muzero_search(
        params,
        key,
        prior_logits,
        values,
        states,
        model_step_fn(networks),
        discount,
        num_simulations,
        max_depth=max_depth,
        dirichlet_fraction=dirichlet_fraction,
        dirichlet_alpha=dirichlet_alpha,
        qtransform=qtransform,
    )


def search_options(config) -> dict:
    """The search keyword arguments of `search_from_states` named by `config` (defaults for older configs)."""
    return dict(
        qtransform=config.get("mcts_qtransform", "parent_and_siblings"),
        search=config.get("search", "muzero"),
        gumbel_scale=config.get("gumbel_scale", 1.0),
        gumbel_considered_actions=config.get("gumbel_considered_actions", 16),
        gumbel_rescale_values=config.get("gumbel_rescale_values", True),
    )


class MzuTargets(NamedTuple):
    # [B, K+1, A] search policies at o_0..o_K (visits, or Gumbel's completed-Q policy; uniform at/after the episode end)
    policy: jax.Array
    value: jax.Array  # [B, K+1] n-step returns bootstrapped with root search values
    reward: jax.Array  # [B, K] logged rewards (0 after the episode end)
    search_value: jax.Array  # [B, L] root search value at every o_t
    network_value: jax.Array  # [B, L] target-net value at every o_t


def mzu_targets(networks: Networks, target_params, batch, key, config) -> MzuTargets:
    """Reanalyse a batch of windows [B, L]: search with the target net at every o_t, then the targets."""
    num_unroll, td_steps, discount = config.unroll_steps, config.td_steps, config.discount
    num_targets = num_unroll + 1
    rewards = batch["reward"]
    flags = tuple(batch[k] for k in FLAG_KEYS)
    batch_size, length = rewards.shape
    tgt_states, tgt_prior, tgt_values = target_network_outputs(networks, target_params, batch["observation"])
    search = search_from_states(
        networks,
        target_params,
        key,
        flatten_time(tgt_states),
        flatten_time(tgt_prior),
        flatten_time(tgt_values),
        discount,
        config.num_simulations,
        config.search_depth,
        config.mcts_dirichlet_fraction,
        config.mcts_dirichlet_alpha,
        **search_options(config),
    )
    search = jax.tree.map(jax.lax.stop_gradient, search)
    search_values = search.root_value.reshape(batch_size, length)
    visit_probs = search.action_weights.reshape(batch_size, length, networks.num_actions)[:, :num_targets]
    value_targets = jax.vmap(
        lambda r, v, f, l, t: ops.n_step_value_targets(r, v, f, l, t, discount, td_steps, num_targets)
    )(rewards, search_values, *flags)
    reward_targets = jax.vmap(lambda r, f, l: ops.reward_targets(r, f, l, num_unroll))(rewards, flags[0], flags[1])
    _, valid_step = jax.vmap(ops.episode_masks)(flags[0], flags[1])
    policy_targets = ops.uniform_where(valid_step[:, :num_targets], visit_probs)
    return MzuTargets(policy_targets, value_targets, reward_targets, search_values, jax.lax.stop_gradient(tgt_values))


def mzu_bc_loss(policy_logits: jax.Array, actions: jax.Array, is_first: jax.Array, is_last: jax.Array) -> jax.Array:
    """Behaviour cloning along the unroll: mean over real steps of -log pi_k(a_k).

    policy_logits [B, K+1, A] (the unroll's), actions int[B, L], is_first / is_last bool[B, L] (L >= K+1)
    -> scalar; a step counts where `ops.episode_masks` marks a logged transition of the root episode.
    """
    num_targets = policy_logits.shape[1]
    _, valid = jax.vmap(ops.episode_masks)(is_first, is_last)
    nll = optax.softmax_cross_entropy_with_integer_labels(policy_logits, actions[:, :num_targets].astype(jnp.int32))
    return masked_mean(nll, valid[:, :num_targets])


def make_mzu_loss(networks: Networks, config):
    """The MuZero Unplugged loss for `config` (unroll_steps, td_steps, discount, num_simulations, search_depth)."""
    num_unroll = config.unroll_steps
    num_bins = networks.num_bins
    num_actions = networks.num_actions

    def loss(params, target_params, batch, key) -> tuple[jax.Array, dict[str, jax.Array]]:
        obs = batch["observation"]
        key_random, key_search = jax.random.split(key)
        targets = mzu_targets(networks, target_params, batch, key_search, config)

        # ---- online unroll (shared with ROSMO)
        unroll_actions = model_unroll_actions(batch, key_random, num_unroll, num_actions)
        pred = unroll_model(networks, params, obs[:, 0], unroll_actions, config.dynamics_gradient_scale)

        # ---- losses
        reward_ce = optax.softmax_cross_entropy(
            pred.reward_logits[:, 1:], ops.value_to_target_probs(targets.reward, num_bins)
        )
        value_ce = optax.softmax_cross_entropy(pred.value_logits, ops.value_to_target_probs(targets.value, num_bins))
        policy_ce = optax.softmax_cross_entropy(pred.policy_logits, targets.policy)
        reward_loss, value_loss, policy_loss = jnp.mean(reward_ce), jnp.mean(value_ce), jnp.mean(policy_ce)
        bc_loss = mzu_bc_loss(pred.policy_logits, batch["action"], batch["is_first"], batch["is_last"])
        total = (
            config.reward_loss_weight * reward_loss
            + config.value_loss_weight * value_loss
            + config.policy_loss_weight * policy_loss
            + config.get("mzu_bc_loss_weight", 0.0) * bc_loss
        )
        entropy = -jnp.sum(targets.policy * jnp.log(targets.policy + 1e-12), axis=-1)
        metrics = {
            "loss": total,
            "reward_loss": reward_loss,
            "value_loss": value_loss,
            "policy_loss": policy_loss,
            "bc_loss": bc_loss,
            "value_target_mean": jnp.mean(targets.value),
            "search_value_mean": jnp.mean(targets.search_value),
            "network_value_mean": jnp.mean(targets.network_value),
            "policy_target_entropy": jnp.mean(entropy),
        }
        return total, metrics

    return loss


def make_mzu_state_actor(networks: Networks, config):
    """`act(params, states[B, *S], key) -> int32[B]`: `make_mzu_actor`'s rule from latent states (OPE rollouts)."""
    mode = config.act_policy
    greedy = config.act_greedy
    noise_fraction = config.mcts_dirichlet_fraction if config.act_exploration_noise else 0.0
    depth = config.get("act_search_depth")
    depth = config.search_depth if depth is None else depth
    options = search_options(config)
    gumbel = options["search"] == "gumbel"
    if gumbel and greedy:
        options["gumbel_scale"] = 0.0

    def act(params, states, key):
        pred = networks.predict(params, states)
        if mode == "prior":
            return select_actions(pred.policy_logits, key, greedy)
        values = ops.logits_to_scalar(pred.value_logits, networks.num_bins)
        result = search_from_states(
            networks,
            params,
            key,
            states,
            pred.policy_logits,
            values,
            config.discount,
            config.num_simulations,
            depth,
            noise_fraction,
            config.mcts_dirichlet_alpha,
            **options,
        )
        if greedy and not gumbel:
            return most_visited_action(result.visit_counts, pred.policy_logits)
        return result.sampled_action

    return act


def make_mzu_actor(networks: Networks, config):
    """Acting rule: search ("mcts" / "improved") or the prior ("prior"); argmax / sample.

    MuZero search: greedy -> most visited root action (ties by the prior),
    otherwise a sample ∝ visit counts; root noise only if `act_exploration_noise`.
    The acting search's max_depth is `act_search_depth`, or `search_depth` when that is None.
    Gumbel search: the action Sequential Halving selects (Gumbel noise off when greedy).
    """
    act_from_states = make_mzu_state_actor(networks, config)

    def act(params, obs, key):
        return act_from_states(params, networks.represent(params, obs), key)

    return act


def validate(config) -> None:
    """MuZero Unplugged's own fields."""
    check_field(
        isinstance(config.num_simulations, int) and config.num_simulations >= 1,
        "num_simulations",
        "an integer >= 1",
        config.num_simulations,
    )
    check_field(
        config.search_depth is None or (isinstance(config.search_depth, int) and config.search_depth >= 1),
        "search_depth",
        "None (unlimited) or an integer >= 1",
        config.search_depth,
    )
    act_depth = config.get("act_search_depth")  # absent from configs saved before it existed
    check_field(
        act_depth is None or (isinstance(act_depth, int) and act_depth >= 1),
        "act_search_depth",
        "None (search_depth) or an integer >= 1",
        act_depth,
    )
    check_field(
        0.0 <= config.mcts_dirichlet_fraction <= 1.0,
        "mcts_dirichlet_fraction",
        "a number in [0, 1]",
        config.mcts_dirichlet_fraction,
    )
    check_field(
        config.mcts_dirichlet_alpha > 0.0, "mcts_dirichlet_alpha", "a positive number", config.mcts_dirichlet_alpha
    )
    check_field(config.search in SEARCHES, "search", f"one of {SEARCHES}", config.search)
    check_field(
        config.mcts_qtransform in QTRANSFORMS, "mcts_qtransform", f"one of {QTRANSFORMS}", config.mcts_qtransform
    )
    check_field(config.gumbel_scale >= 0.0, "gumbel_scale", "a number >= 0", config.gumbel_scale)
    check_field(
        isinstance(config.gumbel_considered_actions, int) and config.gumbel_considered_actions >= 1,
        "gumbel_considered_actions",
        "an integer >= 1",
        config.gumbel_considered_actions,
    )
    check_field(config.mzu_bc_loss_weight >= 0.0, "mzu_bc_loss_weight", "a number >= 0", config.mzu_bc_loss_weight)


SPEC = AgentSpec(
    name="mzu",
    description="MuZero Unplugged: MCTS policy targets and Reanalyse value bootstrap (mctx)",
    make_loss=make_mzu_loss,
    make_actor=make_mzu_actor,
    act_policies=ACT_POLICIES,
    config_defaults=CONFIG_DEFAULTS,
    validate=validate,
    acting_fields=(
        "num_simulations",
        "search_depth",
        "act_search_depth",
        "search",
        "mcts_qtransform",
        "act_exploration_noise",
        "mcts_dirichlet_fraction",
        "mcts_dirichlet_alpha",
        "gumbel_scale",
        "gumbel_considered_actions",
        "gumbel_rescale_values",
    ),
)
