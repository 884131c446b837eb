"""Window maths: which episodes are kept, and windows of `L` consecutive steps cut from a stream of steps.

One training sample is a window of `L = K + n + 1` consecutive logged steps. The
kept episodes are concatenated, in episode order, into one stream of steps and
windows are cut from that stream; a window MAY cross an episode boundary (the
learner masks what follows an `is_last`, `rosmo.ops.episode_masks`). The valid
windows of a stream of N steps start at `0 <= s <= N - L`.

numpy (in memory): `window_indices`, `gather_windows`; tf.data (streaming, and the
RL Unplugged loader): `window_dataset`, `windows_from_chunks`, `padded_windows`.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from rosmo.data import rlds

tf = rlds.tf

CHUNK_STEPS = 1024  # most steps per windowing chunk
WINDOW_CHUNK_BYTES = 64 * 1024**2  # windowing chunk size cap: chunk * L * step bytes


def select_episodes(num_episodes: int, data_percentage: float, seed: int) -> np.ndarray:
    """Indices of the kept episodes, sorted ascending.

    keep = max(1, round(N * p / 100)) episodes: the first `keep` entries of
    `np.random.default_rng(seed).permutation(N)`, sorted so the stream stays
    in episode order.

    Raises:
      ValueError: naming `data_percentage` when p is outside (0, 100].
    """
    p = float(data_percentage)
    if not (0.0 < p <= 100.0) or math.isnan(p):
        raise ValueError(f"data_percentage must be in (0, 100], got {data_percentage}")
    if num_episodes <= 0:
        return np.zeros((0,), np.int64)
    keep = max(1, int(round(num_episodes * p / 100.0)))
    if keep >= num_episodes:
        return np.arange(num_episodes, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).permutation(num_episodes)[:keep]).astype(np.int64)


def window_indices(starts: np.ndarray, length: int) -> np.ndarray:
    """Step indices of windows: `idx[b, l] = starts[b] + l`; shapes [B] -> [B, L]."""
    return np.asarray(starts, np.int64)[:, None] + np.arange(length, dtype=np.int64)[None, :]


def gather_windows(steps: dict[str, np.ndarray], starts: np.ndarray, length: int) -> dict[str, np.ndarray]:
    """Windows `steps[f][s : s + L]` for every start: each field [N, ...] -> [B, L, ...]."""
    idx = window_indices(starts, length)
    return {k: v[idx] for k, v in steps.items()}


def window_dataset(steps: tf.data.Dataset, length: int, chunk_steps: Optional[int] = None) -> tf.data.Dataset:
    """All windows `steps[s : s + L]`, s = 0..N-L, in order; vectorised per chunk of steps.

    Steps are batched into chunks; a `scan` carries the last `L - 1` steps of
    the stream so far (with how many of them are real) and prepends them to the
    next chunk, whose windows are then one `tf.gather` with indices
    `start + arange(L)`. By default a chunk holds as many steps as keep its
    windows under 64 MB (16 to 1024 steps).
    """
    if chunk_steps is None:
        chunk_steps = window_chunk_steps(steps.element_spec, length)
    return windows_from_chunks(steps.batch(chunk_steps), length)


def window_chunk_steps(step_spec, length: int) -> int:
    """Steps per chunk so that a chunk's windows stay under 64 MB (16 to 1024 steps)."""
    step_bytes = sum(int(np.prod(s.shape, dtype=np.int64)) * s.dtype.size for s in tf.nest.flatten(step_spec))
    return int(np.clip(WINDOW_CHUNK_BYTES // max(1, length * step_bytes), 16, CHUNK_STEPS))


def windows_from_chunks(chunks: tf.data.Dataset, length: int) -> tf.data.Dataset:
    """All windows of length `L` of the stream formed by concatenating `chunks` (dicts of [C_i, ...]).

    See `window_dataset`; chunk sizes may vary (e.g. whole episodes, rebatched).
    """
    tail_len = length - 1
    spec = chunks.element_spec
    init_tail = {k: tf.zeros([tail_len, *s.shape[1:]], s.dtype) for k, s in spec.items()}

    def step(state, chunk):
        tail, num_real = state
        joined = {k: tf.concat([tail[k], chunk[k]], axis=0) for k in chunk}
        total = tf.shape(joined["action"])[0]
        first = tail_len - num_real  # the padding before real steps is never a window's start
        starts = tf.range(first, tf.maximum(first, total - length + 1))
        idx = starts[:, None] + tf.range(length)[None, :]
        windows = {k: tf.gather(v, idx) for k, v in joined.items()}
        new_tail = {k: v[total - tail_len :] for k, v in joined.items()}
        new_real = tf.minimum(tail_len, num_real + tf.shape(chunk["action"])[0])
        return (new_tail, new_real), windows

    return chunks.scan((init_tail, tf.constant(0, tf.int32)), step).unbatch()


def padded_windows(steps: tf.data.Dataset, width: int, num_real: int) -> tf.data.Dataset:
    """Windows of `width` consecutive steps of `width - num_real` zero steps followed by `steps`, in order.

    Window k covers steps k + num_real - width .. k + num_real - 1 of `steps`
    (negative indices: zero padding, all flags False), so the first window ends
    at step num_real - 1. Vectorised per chunk by `window_dataset`.
    """
    pad = width - num_real
    if pad > 0:
        zeros = {k: tf.zeros(s.shape, s.dtype) for k, s in steps.element_spec.items()}
        steps = tf.data.Dataset.from_tensors(zeros).repeat(pad).concatenate(steps)
    return window_dataset(steps, width)
