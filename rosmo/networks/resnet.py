"""Atari ResNet networks (MuZero family; the ROSMO / MuZero Unplugged Atari networks, DESIGN section 2).

Every residual block is pre-activation with LayerNorm (normalised over H, W, C)::

    block(x) = x' + conv3x3(relu(LN(conv3x3_stride(relu(LN(x))))))
    x'       = x, or conv1x1_stride(relu(LN(x))) when the shape changes (projection)

representation h(o), o uint8 [B, 84, 84, 4] (scaled by 1/255):

    conv3x3 stride 2, C/2   -> [B, 42, 42, C/2]
    block(C/2)              -> [B, 42, 42, C/2]
    block(C, stride 2, proj)-> [B, 21, 21, C]
    block(C)
    avg-pool 3x3 stride 2   -> [B, 11, 11, C]
    avg-pool 3x3 stride 2   -> [B,  6,  6, C]   (SAME padding: 84 -> 42 -> 21 -> 11 -> 6)
    `representation_blocks` blocks              -> state [B, 6, 6, C]

dynamics g(s, a) with a residual link (recurrent information keeps flowing)::

    planes = one_hot(a, A) broadcast to [B, 6, 6, A]
    s'     = s + conv3x3(concat(relu(LN(s)), planes), C)
    s'     = `dynamics_blocks` blocks (s')                    -> [B, 6, 6, C]

prediction f(s)::

    x = `prediction_blocks` blocks (s)
    head(x, n) = Linear_n(flatten(relu(LN(conv1x1(relu(LN(x)), head_channels)))))
    policy_logits [B, A], value_logits [B, bins], reward_logits [B, bins]

The three final Linear layers start at zero (uniform policy, value and reward
0). Presets: `full` (C=64, blocks 6/2/2, head_channels 16, the paper's sizes)
and `small` (C=16, blocks 1/1/1, head_channels 4, for CPU tests and runs).
"""

from __future__ import annotations

from typing import Dict

import haiku as hk
import jax
import jax.numpy as jnp

from rosmo.networks.base import Networks, build_networks

PRESETS: Dict[str, Dict[str, int]] = {
    "full": dict(channels=64, representation_blocks=6, dynamics_blocks=2, prediction_blocks=2, head_channels=16),
    "small": dict(channels=16, representation_blocks=1, dynamics_blocks=1, prediction_blocks=1, head_channels=4),
}


def _layer_norm(name: str) -> hk.LayerNorm:
    return hk.LayerNorm(axis=(-3, -2, -1), create_scale=True, create_offset=True, name=name)


class ResidualBlock(hk.Module):
    """Pre-activation residual block with LayerNorm: x [B, H, W, Cin] -> [B, H/stride, W/stride, channels]."""

    def __init__(self, channels: int, stride: int = 1, name: str | None = None):
        super().__init__(name=name)
        self.channels = channels
        self.stride = stride

    def __call__(self, x: jax.Array) -> jax.Array:
        pre = jax.nn.relu(_layer_norm("ln_0")(x))
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.channels:
            shortcut = hk.Conv2D(self.channels, 1, stride=self.stride, name="projection")(pre)
        out = hk.Conv2D(self.channels, 3, stride=self.stride, name="conv_0")(pre)
        out = jax.nn.relu(_layer_norm("ln_1")(out))
        out = hk.Conv2D(self.channels, 3, name="conv_1")(out)
        return shortcut + out


def _blocks(x: jax.Array, channels: int, count: int, prefix: str) -> jax.Array:
    for i in range(count):
        x = ResidualBlock(channels, name=f"{prefix}_{i}")(x)
    return x


def downsample(obs: jax.Array, channels: int) -> jax.Array:
    """uint8 [B, 84, 84, S] -> float [B, 6, 6, channels] (see the module docstring)."""
    x = obs.astype(jnp.float32) / 255.0
    x = hk.Conv2D(channels // 2, 3, stride=2, name="stem")(x)
    x = ResidualBlock(channels // 2, name="down_block_0")(x)
    x = ResidualBlock(channels, stride=2, name="down_block_1")(x)
    x = ResidualBlock(channels, name="down_block_2")(x)
    x = hk.avg_pool(x, window_shape=(1, 3, 3, 1), strides=(1, 2, 2, 1), padding="SAME")
    x = hk.avg_pool(x, window_shape=(1, 3, 3, 1), strides=(1, 2, 2, 1), padding="SAME")
    return x


def _head(x: jax.Array, head_channels: int, size: int, name: str) -> jax.Array:
    with hk.experimental.name_scope(name):
        h = jax.nn.relu(_layer_norm("ln_0")(x))
        h = hk.Conv2D(head_channels, 1, name="conv")(h)
        h = jax.nn.relu(_layer_norm("ln_1")(h))
        h = h.reshape(h.shape[0], -1)
        return hk.Linear(size, w_init=hk.initializers.Constant(0.0), name="out")(h)


def make_resnet_networks(
    num_actions: int,
    num_bins: int,
    channels: int = 64,
    representation_blocks: int = 6,
    dynamics_blocks: int = 2,
    prediction_blocks: int = 2,
    head_channels: int = 16,
) -> Networks:
    """The Atari ResNet triple (module docstring) as `Networks`; state [B, 6, 6, channels] for 84x84 inputs."""
    if channels < 2 or channels % 2:
        raise ValueError(f"ResNet channels must be an even integer >= 2, got {channels}")
    for name, value in (("representation_blocks", representation_blocks), ("dynamics_blocks", dynamics_blocks),
                        ("prediction_blocks", prediction_blocks)):
        if value < 0:
            raise ValueError(f"ResNet {name} must be >= 0, got {value}")
    if head_channels < 1:
        raise ValueError(f"ResNet head_channels must be >= 1, got {head_channels}")

    def modules():
        def represent(obs):
            with hk.experimental.name_scope("representation"):
                x = downsample(obs, channels)
                return _blocks(x, channels, representation_blocks, "block")

        def dynamics(state, action):
            with hk.experimental.name_scope("dynamics"):
                planes = jax.nn.one_hot(action, num_actions, dtype=state.dtype)[:, None, None, :]
                planes = jnp.broadcast_to(planes, state.shape[:3] + (num_actions,))
                pre = jax.nn.relu(_layer_norm("ln_in")(state))
                x = state + hk.Conv2D(channels, 3, name="conv_in")(jnp.concatenate([pre, planes], axis=-1))
                return _blocks(x, channels, dynamics_blocks, "block")

        def predict(state):
            with hk.experimental.name_scope("prediction"):
                x = _blocks(state, channels, prediction_blocks, "block")
                return (
                    _head(x, head_channels, num_actions, "policy_head"),
                    _head(x, head_channels, num_bins, "value_head"),
                    _head(x, head_channels, num_bins, "reward_head"),
                )

        return represent, dynamics, predict

    return build_networks(modules, num_actions, num_bins)


def resnet_preset(preset: str) -> Dict[str, int]:
    """Keyword arguments of `make_resnet_networks` for a preset name ("full" or "small")."""
    if preset not in PRESETS:
        raise ValueError(f"--config.network_preset={preset!r} is not available; expected one of {sorted(PRESETS)}")
    return dict(PRESETS[preset])
