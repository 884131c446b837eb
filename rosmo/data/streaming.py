"""Streaming batches: a `tf.data` pipeline on the CPU (episodes -> steps -> overlapping windows -> shuffle -> batch)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from rosmo.data import rlds
from rosmo.data.episodes import episode_steps
from rosmo.data.windows import window_chunk_steps, windows_from_chunks

tf = rlds.tf
tfds = rlds.tfds


def streaming_dataset(
    builder: tfds.core.DatasetBuilder,
    split: str,
    keep: np.ndarray,
    num_episodes: int,
    length: int,
    batch_size: int,
    seed: int,
    shuffle_buffer: int,
    prefetch: int,
    num_actions: Optional[int] = None,
) -> tf.data.Dataset:
    episodes = episode_steps(builder, split, keep, num_episodes, num_actions=num_actions)
    step_spec = {k: tf.TensorSpec(v.shape[1:], v.dtype) for k, v in episodes.element_spec.items()}
    windows = windows_from_chunks(episodes.rebatch(window_chunk_steps(step_spec, length)), length)
    if shuffle_buffer > 1:
        windows = windows.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = windows.repeat().batch(batch_size, drop_remainder=True)
    return ds.prefetch(prefetch if prefetch > 0 else tf.data.AUTOTUNE)
