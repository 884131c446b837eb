"""Atari ResNet networks (MuZero family), two architectures.

`architecture="original"` (default, presets `full`): a port of the ROSMO
authors' Atari networks (sail-sg/rosmo, rosmo/agent/network.py) to this
package's `Networks`. Every convolution is bias-free; every LayerNorm
normalises over (H, W, C) with per-channel scale/offset. Residual block,
pre-activation::

    block(x) = x' + conv3x3(relu(LN(conv3x3_stride(relu(LN(x))))))
    x'       = x, or conv3x3_stride(relu(LN(x))) when `projection` (3x3, as the original)

representation h(o), o uint8 [B, 84, 84, S] (scaled by 1/255):

    conv3x3 stride 2, C/2        -> [B, 42, 42, C/2]
    block(C/2)
    block(C, stride 2, proj)     -> [B, 21, 21, C]
    block(C)
    avg-pool 3x3 stride 2 SAME   -> [B, 11, 11, C]
    block(C)                        (between the two pools)
    avg-pool 3x3 stride 2 SAME   -> [B,  6,  6, C]
    `representation_blocks` blocks -> state [B, 6, 6, C]

dynamics g(s, a)::

    planes = one_hot(a, A) broadcast to [B, 6, 6, A]
    s'     = s + conv3x3(concat(relu(LN(s)), planes), C)       (residual link)
    s'     = `dynamics_blocks` blocks (s')

prediction f(s); the reward head reads `s` BEFORE the prediction blocks::

    head(x, n) = Linear_n(mlp(flatten(relu(LN(conv1x1(relu(LN(x)), head_channels))))))
    mlp        = [Linear_h (no bias) -> LN -> relu] for h in head_hidden_sizes
    reward_logits = head(s, bins)
    x = `prediction_blocks` blocks (s)
    value_logits = head(x, bins),  policy_logits = head(x, A)

Original sizes (its Atari config): C=64, blocks 6/2/2, head_channels 128,
head_hidden_sizes (128, 128), 601 bins. The final Linear of each head
starts at zero (the original's VarianceScaling(scale=0)), so the initial
policy is uniform and value/reward logits are 0.
:func:`original_atari_param_count` gives the parameter count by formula.

`architecture="light"` (presets `light`, `small`): this package's earlier,
lighter network: 1x1 projection, convs with bias, no block between the
pools, heads `Linear(flatten(relu(LN(conv1x1(relu(LN(x)))))))` (no MLP),
all three heads after the prediction blocks. `small` (C=16, blocks 1/1/1,
head_channels 4) is the CPU preset for tests and smoke runs.
"""

from __future__ import annotations

from typing import Sequence

import haiku as hk
import jax
import jax.numpy as jnp

from rosmo.errors import ConfigError
from rosmo.networks.base import Networks, build_networks

ARCHITECTURES = ("original", "light")

PRESETS: dict[str, dict] = {
    "full": dict(
        architecture="original",
        channels=64,
        representation_blocks=6,
        dynamics_blocks=2,
        prediction_blocks=2,
        head_channels=128,
        head_hidden_sizes=(128, 128),
    ),
    "light": dict(
        architecture="light",
        channels=64,
        representation_blocks=6,
        dynamics_blocks=2,
        prediction_blocks=2,
        head_channels=16,
        head_hidden_sizes=(),
    ),
    "small": dict(
        architecture="light",
        channels=16,
        representation_blocks=1,
        dynamics_blocks=1,
        prediction_blocks=1,
        head_channels=4,
        head_hidden_sizes=(),
    ),
}


def _layer_norm(name: str, axis=(-3, -2, -1)) -> hk.LayerNorm:
    return hk.LayerNorm(axis=axis, create_scale=True, create_offset=True, param_axis=-1, name=name)


class ResidualBlock(hk.Module):
    """Pre-activation residual block with LayerNorm: x [B, H, W, Cin] -> [B, H/stride, W/stride, channels].

    `original=True`: bias-free convs and a 3x3 projection (the ROSMO code);
    otherwise convs with bias and a 1x1 projection. A projection is used
    whenever the stride or the channel count changes.
    """

    def __init__(self, channels: int, stride: int = 1, original: bool = True, name: str | None = None):
        super().__init__(name=name)
        self.channels = channels
        self.stride = stride
        self.original = original

    def __call__(self, x: jax.Array) -> jax.Array:
        bias = not self.original
        pre = jax.nn.relu(_layer_norm("ln_0")(x))
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.channels:
            kernel = 3 if self.original else 1
            shortcut = hk.Conv2D(self.channels, kernel, stride=self.stride, with_bias=bias, name="projection")(pre)
        out = hk.Conv2D(self.channels, 3, stride=self.stride, with_bias=bias, name="conv_0")(pre)
        out = jax.nn.relu(_layer_norm("ln_1")(out))
        out = hk.Conv2D(self.channels, 3, with_bias=bias, name="conv_1")(out)
        return shortcut + out


def _blocks(x: jax.Array, channels: int, count: int, prefix: str, original: bool) -> jax.Array:
    for i in range(count):
        x = ResidualBlock(channels, original=original, name=f"{prefix}_{i}")(x)
    return x


def _avg_pool(x: jax.Array) -> jax.Array:
    return hk.avg_pool(x, window_shape=(1, 3, 3, 1), strides=(1, 2, 2, 1), padding="SAME")


def downsample(obs: jax.Array, channels: int, original: bool = True) -> jax.Array:
    """uint8 [B, 84, 84, S] -> float [B, 6, 6, channels] (see the module docstring)."""
    x = obs.astype(jnp.float32) / 255.0
    x = hk.Conv2D(channels // 2, 3, stride=2, with_bias=not original, name="stem")(x)
    x = ResidualBlock(channels // 2, original=original, name="down_block_0")(x)
    x = ResidualBlock(channels, stride=2, original=original, name="down_block_1")(x)
    x = ResidualBlock(channels, original=original, name="down_block_2")(x)
    x = _avg_pool(x)
    if original:
        x = ResidualBlock(channels, original=True, name="down_block_3")(x)
    return _avg_pool(x)


def _head(
    x: jax.Array, head_channels: int, hidden_sizes: Sequence[int], size: int, name: str, original: bool
) -> jax.Array:
    with hk.experimental.name_scope(name):
        h = jax.nn.relu(_layer_norm("ln_0")(x))
        h = hk.Conv2D(head_channels, 1, with_bias=not original, name="conv")(h)
        h = jax.nn.relu(_layer_norm("ln_1")(h))
        h = h.reshape(h.shape[0], -1)
        for i, width in enumerate(hidden_sizes):
            h = hk.Linear(width, with_bias=False, name=f"hidden_{i}")(h)
            h = jax.nn.relu(_layer_norm(f"hidden_ln_{i}", axis=-1)(h))
        return hk.Linear(size, w_init=hk.initializers.Constant(0.0), name="out")(h)


def make_resnet_networks(
    num_actions: int,
    num_bins: int,
    channels: int = 64,
    representation_blocks: int = 6,
    dynamics_blocks: int = 2,
    prediction_blocks: int = 2,
    head_channels: int = 128,
    head_hidden_sizes: Sequence[int] = (128, 128),
    architecture: str = "original",
) -> Networks:
    """The Atari ResNet triple (module docstring) as `Networks`; state [B, 6, 6, channels] for 84x84 inputs.

    Defaults: the original's Atari network. `head_hidden_sizes` must be empty for `architecture="light"`.
    """
    if architecture not in ARCHITECTURES:
        raise ConfigError(f"architecture={architecture!r}: expected one of {ARCHITECTURES}", field="architecture")
    if channels < 2 or channels % 2:
        raise ValueError(f"ResNet channels must be an even integer >= 2, got {channels}")
    for name, value in (
        ("representation_blocks", representation_blocks),
        ("dynamics_blocks", dynamics_blocks),
        ("prediction_blocks", prediction_blocks),
    ):
        if value < 0:
            raise ValueError(f"ResNet {name} must be >= 0, got {value}")
    if head_channels < 1:
        raise ValueError(f"ResNet head_channels must be >= 1, got {head_channels}")
    hidden = tuple(int(h) for h in (head_hidden_sizes or ()))
    if any(h < 1 for h in hidden):
        raise ValueError(f"ResNet head_hidden_sizes must be positive integers, got {head_hidden_sizes}")
    original = architecture == "original"
    if hidden and not original:
        raise ValueError(
            f"ResNet head_hidden_sizes={hidden} needs architecture='original' (the light heads have no MLP)"
        )

    def modules():
        def represent(obs):
            with hk.experimental.name_scope("representation"):
                x = downsample(obs, channels, original)
                return _blocks(x, channels, representation_blocks, "block", original)

        def dynamics(state, action):
            with hk.experimental.name_scope("dynamics"):
                planes = jax.nn.one_hot(action, num_actions, dtype=state.dtype)[:, None, None, :]
                planes = jnp.broadcast_to(planes, state.shape[:3] + (num_actions,))
                pre = jax.nn.relu(_layer_norm("ln_in")(state))
                conv = hk.Conv2D(channels, 3, with_bias=not original, name="conv_in")
                x = state + conv(jnp.concatenate([pre, planes], axis=-1))
                return _blocks(x, channels, dynamics_blocks, "block", original)

        def predict(state):
            with hk.experimental.name_scope("prediction"):
                if original:  # the reward head reads the state before the prediction blocks
                    reward = _head(state, head_channels, hidden, num_bins, "reward_head", original)
                x = _blocks(state, channels, prediction_blocks, "block", original)
                if not original:
                    reward = _head(x, head_channels, hidden, num_bins, "reward_head", original)
                return (
                    _head(x, head_channels, hidden, num_actions, "policy_head", original),
                    _head(x, head_channels, hidden, num_bins, "value_head", original),
                    reward,
                )

        return represent, dynamics, predict

    return build_networks(modules, num_actions, num_bins)


def original_atari_param_count(
    num_actions: int,
    num_bins: int,
    channels: int = 64,
    representation_blocks: int = 6,
    dynamics_blocks: int = 2,
    prediction_blocks: int = 2,
    head_channels: int = 128,
    head_hidden_sizes: Sequence[int] = (128, 128),
    stack: int = 4,
    spatial: int = 6,
) -> int:
    """Parameters of the ROSMO authors' Atari networks, by formula (their rosmo/agent/network.py).

    With C = channels, c = C/2, A = actions, B = bins, S = frame stack, Hc =
    head_channels, hidden sizes h_1..h_m, P = spatial**2 (6x6 states for 84x84
    frames); convs are bias-free, a LayerNorm has 2 params per channel:

        block(cin -> cout, proj) = 2 cin + 9 cin cout [proj] + 9 cin cout + 2 cout + 9 cout^2
        representation = 9 S c + block(c->c) + block(c->C, proj) + (2 + r) block(C->C)
        dynamics       = 2 C + 9 (C + A) C + d block(C->C)
        head(n)        = 2 C + C Hc + 2 Hc + sum_i (h_{i-1} h_i + 2 h_i) + h_m n + n,  h_0 = P Hc
        prediction     = p block(C->C) + head(B) [reward] + head(B) [value] + head(A) [policy]
    """
    C, c, A, B = channels, channels // 2, num_actions, num_bins

    def block(cin: int, cout: int, proj: bool = False) -> int:
        return 2 * cin + (9 * cin * cout if proj else 0) + 9 * cin * cout + 2 * cout + 9 * cout * cout

    def head(n: int) -> int:
        total = 2 * C + C * head_channels + 2 * head_channels
        prev = spatial * spatial * head_channels
        for h in head_hidden_sizes:
            total += prev * h + 2 * h
            prev = h
        return total + prev * n + n

    representation = 9 * stack * c + block(c, c) + block(c, C, proj=True) + (2 + representation_blocks) * block(C, C)
    dynamics = 2 * C + 9 * (C + A) * C + dynamics_blocks * block(C, C)
    prediction = prediction_blocks * block(C, C) + 2 * head(B) + head(A)
    return representation + dynamics + prediction


def resnet_preset(preset: str) -> dict:
    """Keyword arguments of `make_resnet_networks` for a preset name ("full", "light" or "small")."""
    if preset not in PRESETS:
        raise ConfigError(
            f"network_preset={preset!r} is not available; expected one of {sorted(PRESETS)}", field="network_preset"
        )
    return dict(PRESETS[preset])
