"""MCTS policy improvement with a learned model, around `mctx.muzero_policy` and `mctx.gumbel_muzero_policy`.

A learned model is given to the search as one pure function

    model_step(params, embedding[M, ...], action int[M])
        -> (reward f[M], value f[M], prior_logits f[M, A], next_embedding[M, ...])

(raw-scale reward of the transition into the next state, the next state's
value and prior). :func:`make_recurrent_fn` turns it into mctx's
``recurrent_fn`` with a constant per-step ``discount``. :func:`muzero_search`
runs MuZero's PUCT search from ``M`` roots and returns, per root,

    action_weights[m, a] = N(root_m, a) / sum_b N(root_m, b)   (visit distribution)
    root_value[m]        = the search value of the root: the mean of the
                           root's value estimate and the discounted returns
                           backed up through it by the simulations
    visit_counts[m, a]   = N(root_m, a)

Dirichlet noise at the root is ``prior <- (1 - fraction) * prior + fraction *
Dir(alpha)``; ``fraction = 0`` turns it off (evaluation).

:func:`gumbel_search` runs Gumbel MuZero (Danihelka et al., 2022) instead:
Sequential Halving with Gumbel noise over ``max_num_considered_actions``
root actions; its ``action_weights`` is the completed-Q improved policy

    pi'[m, :] = softmax(prior_logits[m] + sigma(completedQ[m]))

(``sigma`` = ``mctx.qtransform_completed_by_mix_value``: unvisited actions
get the mixed value, Q rescaled to [0, 1] and scaled by
``(50 + max_a N(a)) * 0.1``), and ``sampled_action`` is the action Sequential
Halving selects (deterministic when ``gumbel_scale = 0``).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import functools

import jax
import jax.numpy as jnp
import mctx

from rosmo.errors import ConfigError

Array = jax.Array
QTRANSFORMS = {
    "parent_and_siblings": mctx.qtransform_by_parent_and_siblings,  # mctx's muzero_policy default
    "completed_by_mix_value": mctx.qtransform_completed_by_mix_value,  # Gumbel MuZero's
}
ModelStep = (
    Callable  # (params, embedding[M, ...], action int[M]) -> (reward[M], value[M], prior_logits[M, A], next_embedding)
)


class SearchResult(NamedTuple):
    action_weights: Array  # f32[M, A] visit distribution at the root
    root_value: Array  # f32[M] search value of the root
    visit_counts: Array  # int32[M, A]
    sampled_action: Array  # int32[M] drawn with probability ∝ visit counts


def make_recurrent_fn(model_step: ModelStep, discount: float):
    """mctx ``recurrent_fn(params, key, action[M], embedding) -> (RecurrentFnOutput, next_embedding)``.

    ``discount`` (scalar) is the per-step discount of every model transition.
    """

    def recurrent_fn(params, rng_key, action, embedding):
        del rng_key
        reward, value, prior_logits, next_embedding = model_step(params, embedding, action)
        output = mctx.RecurrentFnOutput(
            reward=reward,
            discount=jnp.full_like(value, discount),
            prior_logits=prior_logits,
            value=value,
        )
        return output, next_embedding

    return recurrent_fn


def muzero_search(
    params,
    key: Array,
    prior_logits: Array,
    value: Array,
    embedding,
    model_step: ModelStep,
    discount: float,
    num_simulations: int,
    max_depth: Optional[int] = None,
    dirichlet_fraction: float = 0.0,
    dirichlet_alpha: float = 0.3,
    qtransform: str = "parent_and_siblings",
) -> SearchResult:
    """MuZero search from ``M`` roots.

    Args:
      params: passed through to ``model_step``.
      key: PRNG key (Dirichlet noise, tie-breaking, the sampled action).
      prior_logits: f[M, A] prior policy logits at the roots.
      value: f[M] raw-scale value estimates of the roots.
      embedding: [M, ...] root states.
      model_step: the learned model (see module docstring).
      discount: per-step discount.
      num_simulations: ``N >= 1`` (static).
      max_depth: deepest tree level a simulation may expand (``None``:
        limited only by ``N``).
      dirichlet_fraction, dirichlet_alpha: root exploration noise (0: none).
      qtransform: the Q normalisation in PUCT, a key of ``QTRANSFORMS``:
        "parent_and_siblings" (default; min-max over the node's value and its
        visited children, unvisited children count as the minimum) or
        "completed_by_mix_value" (Gumbel MuZero's completed Q).

    Returns:
      :class:`SearchResult` with f32[M, A], f32[M], int32[M, A], int32[M].
    """
    if qtransform not in QTRANSFORMS:
        raise ConfigError(
            f"mcts_qtransform={qtransform!r}: expected one of {sorted(QTRANSFORMS)}", field="mcts_qtransform"
        )
    root = mctx.RootFnOutput(prior_logits=prior_logits, value=value, embedding=embedding)
    output = mctx.muzero_policy(
        params,
        key,
        root,
        make_recurrent_fn(model_step, discount),
        num_simulations=num_simulations,
        max_depth=max_depth,
        dirichlet_fraction=dirichlet_fraction,
        dirichlet_alpha=dirichlet_alpha,
        qtransform=QTRANSFORMS[qtransform],
    )
    return _result(output)


def gumbel_search(
    params,
    key: Array,
    prior_logits: Array,
    value: Array,
    embedding,
    model_step: ModelStep,
    discount: float,
    num_simulations: int,
    max_depth: Optional[int] = None,
    max_num_considered_actions: int = 16,
    gumbel_scale: float = 1.0,
    rescale_values: bool = True,
) -> SearchResult:
    """Gumbel MuZero search from ``M`` roots (``mctx.gumbel_muzero_policy``).

    Arguments as :func:`muzero_search`; ``max_num_considered_actions`` root
    actions enter Sequential Halving; ``gumbel_scale`` scales the root Gumbel
    noise (0: deterministic, e.g. for evaluation). ``rescale_values`` (mctx's
    default) min-max rescales the completed Q-values over a node's actions
    to [0, 1] before ``sigma``, so any Q difference, however small, becomes a
    full-range preference; ``False`` keeps the raw scale,
    ``sigma(q) = (50 + max N) * 0.1 * q``, so preferences follow the size of
    the Q differences (suits rewards of order 1).

    Returns:
      :class:`SearchResult`: ``action_weights`` f32[M, A] the completed-Q
      improved policy ``softmax(prior_logits + sigma(completedQ))`` (a
      distribution, also over unvisited actions), ``root_value`` f32[M],
      ``visit_counts`` int32[M, A], ``sampled_action`` int32[M] the action
      Sequential Halving selects.
    """
    root = mctx.RootFnOutput(prior_logits=prior_logits, value=value, embedding=embedding)
    output = mctx.gumbel_muzero_policy(
        params,
        key,
        root,
        make_recurrent_fn(model_step, discount),
        num_simulations=num_simulations,
        max_depth=max_depth,
        max_num_considered_actions=max_num_considered_actions,
        gumbel_scale=gumbel_scale,
        qtransform=functools.partial(mctx.qtransform_completed_by_mix_value, rescale_values=rescale_values),
    )
    return _result(output)


def _result(output: mctx.PolicyOutput) -> SearchResult:
    tree = output.search_tree
    return SearchResult(
        action_weights=output.action_weights,
        root_value=tree.node_values[:, mctx.Tree.ROOT_INDEX],
        visit_counts=tree.summary().visit_counts.astype(jnp.int32),
        sampled_action=output.action.astype(jnp.int32),
    )


def most_visited_action(visit_counts: Array, prior_logits: Array) -> Array:
    """Greedy action of a search: ``argmax_a N(a)``, ties broken by the prior.

        score[m, a] = N(m, a) + 0.5 * softmax(prior_logits)[m, a]

    (visit counts are integers, so the prior term in [0, 0.5] only orders
    actions with equal counts). visit_counts int[M, A], prior_logits f[M, A]
    -> int32[M].
    """
    score = visit_counts.astype(jnp.float32) + 0.5 * jax.nn.softmax(prior_logits, axis=-1)
    return jnp.argmax(score, axis=-1).astype(jnp.int32)
