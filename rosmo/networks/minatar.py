"""MinAtar networks: a lean convolutional torso for 10x10xC binary grids (MuZero family).

The MinAtar paper's DQN reads the grid with one 3x3 convolution of 16 channels and
128 hidden units; the same torso feeds the latent model here (sizes are config
fields, `torso_channels` and `hidden_size`)::

    representation h(o), o [B, 10, 10, C] (0/1):
        conv3x3(torso_channels, SAME) -> relu -> flatten -> Linear(hidden) -> LN   -> s [B, hidden]
    dynamics g(s, a):
        s' = LN(s + MLP[hidden, hidden](concat(s, one_hot(a, A))))   (residual, linear last layer)
    prediction f(s):
        x = relu(Linear(hidden)(s)); policy_logits = Linear_A(x), value_logits = Linear_bins(x),
        reward_logits = Linear_bins(x)    (the three heads start at zero)

LayerNorm keeps the latent states at one scale across the K unroll steps (the
Atari ResNet's LayerNorms do the same). Cost per observation at C = 10 and the
default sizes: the convolution 0.14 MMAC, the flatten -> hidden layer 0.2 MMAC, a
dynamics step 0.03 MMAC: an update is dominated by the L = K + n + 1 representations.
BC and CQL read `f(h(o))`'s policy logits, so they share this torso.
"""

from __future__ import annotations

from typing import Optional

import haiku as hk
import jax
import jax.numpy as jnp

from rosmo.networks.base import Networks, build_networks

DEFAULT_CHANNELS = 16
DEFAULT_HIDDEN = 128


class GridConv(hk.Module):
    """3x3 SAME convolution as one matmul over the 9 shifted copies of the grid (im2col).

    out[b, y, x] = sum_{i,j,c} pad(o)[b, y + i, x + j, c] W[i, j, c] + bias: the same map as
    `hk.Conv2D(channels, 3, padding="SAME")`, written out because XLA's CPU convolution with
    4-10 input channels ran its forward and backward 2.2x slower than this matmul.
    """

    def __init__(self, channels: int, name: Optional[str] = None):
        super().__init__(name=name)
        self.channels = int(channels)

    def __call__(self, x: jax.Array) -> jax.Array:
        height, width, in_channels = x.shape[-3:]
        padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        columns = jnp.concatenate(
            [padded[:, i : i + height, j : j + width, :] for i in range(3) for j in range(3)], axis=-1
        )  # [B, H, W, 9 C]
        fan_in = 9 * in_channels
        w = hk.get_parameter(
            "w", (3, 3, in_channels, self.channels), x.dtype, init=hk.initializers.TruncatedNormal(1.0 / fan_in**0.5)
        )
        b = hk.get_parameter("b", (self.channels,), x.dtype, init=jnp.zeros)
        return columns @ w.reshape(fan_in, self.channels) + b


def _layer_norm(name: str) -> hk.LayerNorm:
    return hk.LayerNorm(axis=-1, create_scale=True, create_offset=True, name=name)


def make_minatar_networks(
    num_actions: int, num_bins: int, torso_channels: int = DEFAULT_CHANNELS, hidden_size: int = DEFAULT_HIDDEN
) -> Networks:
    """MuZero networks for MinAtar grids (see the module docstring); sizes must be >= 1."""
    if int(torso_channels) < 1 or int(hidden_size) < 1:
        raise ValueError(f"torso_channels and hidden_size must be >= 1, got {torso_channels}, {hidden_size}")

    def modules():
        conv = GridConv(torso_channels, name="representation_conv")
        embed = hk.Linear(hidden_size, name="representation_linear")
        repr_norm = _layer_norm("representation_norm")
        dyn_mlp = hk.nets.MLP([hidden_size, hidden_size], activation=jax.nn.relu, activate_final=False, name="dynamics")
        dyn_norm = _layer_norm("dynamics_norm")
        torso = hk.Linear(hidden_size, name="prediction_torso")
        zeros = hk.initializers.Constant(0.0)
        policy_head = hk.Linear(num_actions, w_init=zeros, name="policy_head")
        value_head = hk.Linear(num_bins, w_init=zeros, name="value_head")
        reward_head = hk.Linear(num_bins, w_init=zeros, name="reward_head")

        def represent(obs):
            x = jax.nn.relu(conv(obs.astype(jnp.float32)))
            return repr_norm(embed(x.reshape(x.shape[0], -1)))

        def dynamics(state, action):
            one_hot = jax.nn.one_hot(action, num_actions, dtype=state.dtype)
            return dyn_norm(state + dyn_mlp(jnp.concatenate([state, one_hot], axis=-1)))

        def predict(state):
            h = jax.nn.relu(torso(state))
            return policy_head(h), value_head(h), reward_head(h)

        return represent, dynamics, predict

    return build_networks(modules, num_actions, num_bins)
