"""The MuZero-family network triple as pure functions over one parameter tree.

    represent(params, obs[B, ...])           -> state[B, ...]
    dynamics(params, state[B, ...], a[B])    -> next_state[B, ...]
    predict(params, state[B, ...])           -> Prediction(policy_logits[B, A],
                                                           value_logits[B, bins],
                                                           reward_logits[B, bins])

The reward of the transition into `s'` is read from `predict(s')`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp


class Prediction(NamedTuple):
    policy_logits: jax.Array
    value_logits: jax.Array
    reward_logits: jax.Array


class Networks(NamedTuple):
    init: Callable  # (key, obs[1, ...]) -> params
    represent: Callable  # (params, obs) -> state
    dynamics: Callable  # (params, state, action) -> next_state
    predict: Callable  # (params, state) -> Prediction
    num_actions: int
    num_bins: int


def build_networks(
    make_modules: Callable[[], tuple],
    num_actions: int,
    num_bins: int,
) -> Networks:
    """Wrap haiku module factories `() -> (represent, dynamics, predict)` as `Networks`.

    `make_modules` is called inside a haiku transform; the three callables it
    returns are the module calls (`represent(obs)`, `dynamics(state, action)`,
    `predict(state)`).
    """

    def fns():
        represent, dynamics, predict = make_modules()

        def init(obs):
            state = represent(obs)
            next_state = dynamics(state, jnp.zeros(obs.shape[:1], jnp.int32))
            return predict(next_state)

        return init, (represent, dynamics, predict)

    transformed = hk.without_apply_rng(hk.multi_transform(fns))
    represent_apply, dynamics_apply, predict_apply = transformed.apply
    return Networks(
        init=transformed.init,
        represent=represent_apply,
        dynamics=dynamics_apply,
        predict=lambda params, state: Prediction(*predict_apply(params, state)),
        num_actions=num_actions,
        num_bins=num_bins,
    )
