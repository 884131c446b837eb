"""Videos of evaluation episodes: observations -> viewable frames -> .gif (always) or .mp4 (needs imageio-ffmpeg).

Atari observations are uint8 [84, 84, 4] stacks; the video shows the newest
frame. Vector observations (BSuite catch's 10x5 board) are min-max scaled to
0..255. Frames are enlarged by an integer factor (nearest neighbour) so the
shorter side is at least `min_size` pixels.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Callable, Optional, Sequence

import imageio
import jax
import numpy as np

from rosmo.errors import UserError

VIDEO_SUFFIXES = (".gif", ".mp4")


class VideoError(UserError):
    """A --video path the installed packages cannot write."""


def observation_frame(obs: np.ndarray, min_size: int = 168) -> np.ndarray:
    """One observation -> uint8 [H', W'] grayscale image.

    uint8 [H, W, S] (frame stack) -> its newest frame [..., -1]; any other
    array -> squeezed to 2-D (1-D becomes one row) and scaled to 0..255 by its
    own min/max (constant -> 0). Then repeated by k = ceil(min_size / min(H, W)).
    """
    x = np.asarray(obs)
    if x.dtype == np.uint8 and x.ndim == 3:
        img = x[..., -1]
    else:
        x = np.squeeze(x.astype(np.float64))
        x = x.reshape(1, -1) if x.ndim <= 1 else x.reshape(x.shape[0], -1)
        lo, hi = float(x.min()), float(x.max())
        img = np.zeros(x.shape, np.uint8) if hi == lo else np.round(255 * (x - lo) / (hi - lo)).astype(np.uint8)
    k = max(1, -(-min_size // min(img.shape)))
    return np.repeat(np.repeat(img, k, axis=0), k, axis=1)


def resolve_path(path: str) -> tuple[str, Optional[str]]:
    """(path actually written, note): `.mp4` without imageio-ffmpeg becomes `.gif` beside it, with a note.

    Raises VideoError for a suffix other than .gif / .mp4, naming `--video`.
    """
    root, suffix = os.path.splitext(path)
    suffix = suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise VideoError(f"--video {path}: expected a file name ending in .mp4 or .gif")
    if suffix == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        gif = root + ".gif"
        return gif, f"--video {path}: mp4 needs the imageio-ffmpeg package, which is not installed; wrote {gif} instead"
    return path, None


def write_video(path: str, frames: Sequence[np.ndarray], fps: int = 15) -> str:
    """Write uint8 frames ([H, W] or [H, W, 3]) to `path` (.gif or .mp4, see `resolve_path`);
    returns the path written."""
    if not len(frames):
        raise VideoError(f"--video {path}: no frames to write")
    path, _ = resolve_path(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    frames = [np.asarray(f, np.uint8) for f in frames]
    if path.lower().endswith(".gif"):
        imageio.mimsave(path, frames, duration=1000.0 / fps, loop=0)
    else:
        imageio.mimsave(path, frames, fps=fps, macro_block_size=1)
    return path


def record_dm_env_episode(
    env, act: Callable, params, seed: int = 0, max_steps: int = 10_000
) -> tuple[list[np.ndarray], float]:
    """Play one episode of a dm_env with `act(params, obs[1, ...], key) -> int[1]`; returns (observations, return)."""
    key = jax.random.PRNGKey(seed)
    ts = env.reset()
    observations, total = [np.asarray(ts.observation)], 0.0
    while not ts.last() and len(observations) <= max_steps:
        key, act_key = jax.random.split(key)
        obs = np.asarray(ts.observation)
        action = int(
            np.asarray(act(params, obs[None].astype(np.float32 if obs.dtype != np.uint8 else np.uint8), act_key))[0]
        )
        ts = env.step(action)
        total += float(ts.reward or 0.0)
        observations.append(np.asarray(ts.observation))
    return observations, total
