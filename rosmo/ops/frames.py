"""Frame stacks built on the device from single frames (the Atari suite's batch transform)."""

from __future__ import annotations

import jax.numpy as jnp


def stack_frames(frames, stack: int):
    """Sliding-window frame stacks: [..., L + S - 1, H, W] -> [..., L, H, W, S].

        out[..., t, :, :, j] = frames[..., t + j, :, :]    (j = S - 1: the newest frame, at t + S - 1)

    The loader gives every window `S - 1` leading frames (zeros before an
    episode's first frame), so no mask is needed here.
    """
    frames = jnp.asarray(frames)
    length = frames.shape[-3] - stack + 1
    if length < 1:
        raise ValueError(f"rosmo.ops.frames.stack_frames: {frames.shape[-3]} frames cannot hold a stack of {stack}")
    return jnp.stack([frames[..., j : j + length, :, :] for j in range(stack)], axis=-1)
