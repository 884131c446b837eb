"""BSuite MLP networks (the ROSMO paper's sizes).

representation: flatten(obs) -> MLP 64-64-32 -> state[32]              (linear last layer)
dynamics:       concat(state, one_hot(a)) -> MLP 32-32 -> next_state[32] (linear last layer)
prediction:     state -> MLP 32 (ReLU) -> heads: policy[A], value[bins], reward[bins]

The states are left un-squashed and the three heads start at zero (uniform
policy, value and reward 0), as in the paper's BSuite networks.
"""

from __future__ import annotations

from typing import Sequence

import haiku as hk
import jax
import jax.numpy as jnp

from rosmo.networks.base import Networks, build_networks


def _mlp(sizes: Sequence[int], name: str, activate_final: bool = True) -> hk.Module:
    return hk.nets.MLP(list(sizes), activation=jax.nn.relu, activate_final=activate_final, name=name)


def make_mlp_networks(
    num_actions: int,
    num_bins: int,
    representation_sizes: Sequence[int] = (64, 64, 32),
    dynamics_sizes: Sequence[int] = (32, 32),
    prediction_sizes: Sequence[int] = (32,),
) -> Networks:
    """MuZero networks for vector observations."""
    state_size = representation_sizes[-1]

    def modules():
        repr_mlp = _mlp(representation_sizes, "representation", activate_final=False)
        dyn_mlp = _mlp(list(dynamics_sizes[:-1]) + [state_size], "dynamics", activate_final=False)
        torso = _mlp(prediction_sizes, "prediction_torso")
        zeros = hk.initializers.Constant(0.0)
        policy_head = hk.Linear(num_actions, w_init=zeros, name="policy_head")
        value_head = hk.Linear(num_bins, w_init=zeros, name="value_head")
        reward_head = hk.Linear(num_bins, w_init=zeros, name="reward_head")

        def represent(obs):
            return repr_mlp(obs.reshape(obs.shape[0], -1).astype(jnp.float32))

        def dynamics(state, action):
            one_hot = jax.nn.one_hot(action, num_actions, dtype=state.dtype)
            return dyn_mlp(jnp.concatenate([state, one_hot], axis=-1))

        def predict(state):
            h = torso(state)
            return policy_head(h), value_head(h), reward_head(h)

        return represent, dynamics, predict

    return build_networks(modules, num_actions, num_bins)
