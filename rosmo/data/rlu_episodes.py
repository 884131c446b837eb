"""RL Unplugged Atari episodes as a tf.data stream of decoded whole episodes, mixed across files.

    episodes = episode_stream(builder, seed=0, process_index=0, process_count=1)
    # elements: frames uint8 [T, 84, 84], action int32 [T], reward float32 [T] (clipped),
    #           discount float32 [T], is_first/is_last/is_terminal bool [T],
    #           episode_id, checkpoint_id, position int64 []

Reading (all TFDS, `tfds.ReadConfig`):

- splits: all of the builder's (for `rlu_atari_checkpoints_ordered`, the 50
  `checkpoint_<i>` splits read as one: their files are shuffled and interleaved
  together, so a batch samples across the DQN's learning history), or `ordered=True`:
  file after file, split after split (curriculum studies);
- hosts: process p of P reads `tfds.even_splits(split, P)[p]` of every split, a
  disjoint share of the episodes (the union over p is every episode once);
- epochs: the stream repeats; each epoch reads the host's files in a new order
  (`shuffle_files`, `shuffle_seed=seed`, reshuffled every iteration: epoch k's
  order is a function of (seed, k)) and interleaves `cycle_length` files episode by
  episode; `position` numbers the stream's episodes from 0 across epochs;
- `data_percentage`: episode (checkpoint_id, episode_id) is kept when
  `stateless_uniform(seed=[seed, hash(ids)]) < p / 100`, a function of its ids only
  (the same on every host, in any file order); about p% of the episodes;
- decode: PNG frames decoded per episode, episodes decoded in parallel; rewards
  clipped to [-1, 1] (RL Unplugged's `reward` field holds the unclipped reward);
  values checked (`schema.with_value_checks`: finite rewards, actions in
  `[0, num_actions)`).

Resume (`episode_index_stream`, `episode_stream(resume=...)`): the same stream as
lengths and ids only (records read, PNGs not decoded), and the stream decoding only
the given positions and those from a given one on (the others read and dropped).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from rosmo.data import rlds, schema

tf = rlds.tf
tfds = rlds.tfds
DatasetError = rlds.DatasetError

FRAME_SIZE = 84
MAX_EPISODE_STEPS = 1 << 30  # batch size that holds any episode's steps in one batch


def split_names(builder: tfds.core.DatasetBuilder, splits: Optional[Sequence[str]] = None) -> list[str]:
    """The builder's splits in name order (checkpoint_00, checkpoint_01, ...), or `splits` after checking them."""
    available = sorted(builder.info.splits.keys())
    if splits is None:
        return available
    missing = [s for s in splits if s not in available]
    if missing:
        raise DatasetError(f"{builder.data_dir}: split(s) {missing} not found (available: {available})")
    return list(splits)


def host_split(builder, splits: Sequence[str], process_index: int, process_count: int):
    """Process `process_index`'s share of `splits`: `even_splits(split, process_count)[index]` summed over splits."""
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index must be in [0, {process_count}), got {process_index}")
    parts = []
    for split in splits:
        num = int(builder.info.splits[split].num_examples)
        if num < process_count:
            raise DatasetError(
                f"{builder.data_dir}: split {split!r} has {num} episodes, fewer than the "
                f"{process_count} processes reading it (each reads a disjoint share)"
            )
        parts.append(tfds.even_splits(split, n=process_count, drop_remainder=False)[process_index])
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def keep_episode(checkpoint_id, episode_id, seed: int, data_percentage: float):
    """bool []: whether the episode (checkpoint_id, episode_id) is among the kept `data_percentage` %.

    u = stateless_uniform([], seed=[seed, checkpoint_id * 2^20 + episode_id]); keep = u < p / 100.
    """
    if data_percentage >= 100.0:
        return tf.constant(True)
    key = tf.cast(checkpoint_id, tf.int64) * (1 << 20) + tf.cast(episode_id, tf.int64)
    u = tf.random.stateless_uniform([], seed=tf.stack([tf.constant(seed, tf.int64), key]))
    return u < tf.constant(float(data_percentage) / 100.0)


def _episode_name(episode):
    """ "checkpoint_id/episode_id=<c>/<e>": how a failed value check names the episode (ids, not a file position)."""
    return tf.strings.join(
        [
            "checkpoint_id/episode_id=",
            tf.strings.as_string(episode["checkpoint_id"]),
            "/",
            tf.strings.as_string(episode["episode_id"]),
        ]
    )


def decode_png_frames(observation):
    """PNG strings [T] -> uint8 frames [T, 84, 84] (a wrong size is named by the reshape)."""
    return tf.map_fn(
        lambda png: tf.reshape(tf.io.decode_png(png, channels=1), [FRAME_SIZE, FRAME_SIZE]),
        observation,
        fn_output_signature=tf.TensorSpec([FRAME_SIZE, FRAME_SIZE], tf.uint8),
        parallel_iterations=32,
    )


def decode_episode(episode, num_actions: Optional[int] = None, decode_frames: Optional[Callable] = decode_png_frames):
    """One TFDS episode (observations still PNG) -> dict of whole-episode tensors, see the module docstring.

    `decode_frames` maps the episode's stored observations [T] to its frames [T, ...]; None: the
    observations are already decoded (datasets read without `SkipDecoding`, e.g. MinAtar's grids).
    """
    steps = episode["steps"].batch(MAX_EPISODE_STEPS).get_single_element()
    frames = steps["observation"] if decode_frames is None else decode_frames(steps["observation"])
    out = {k: tf.cast(steps[k], dtype) for k, dtype in schema.OUTPUT_DTYPES.items()}
    out["reward"] = tf.clip_by_value(out["reward"], -1.0, 1.0)
    out["frames"] = frames
    checked = schema.with_value_checks(
        {"observation": out["frames"], "reward": out["reward"], "action": steps["action"]},
        _episode_name(episode),
        num_actions,
    )
    out["reward"] = checked["reward"]
    out["episode_id"] = tf.cast(episode["episode_id"], tf.int64)
    out["checkpoint_id"] = tf.cast(episode["checkpoint_id"], tf.int64)
    return out


def _undecoded_episodes(
    builder,
    *,
    seed,
    splits,
    data_percentage,
    process_index,
    process_count,
    cycle_length,
    ordered,
    repeat,
    skip_observation=True,
) -> tf.data.Dataset:
    """(position, episode) pairs, frames still PNG: the stream every reader of (seed, ...) sees in the same order.

    `position` (int64) counts the kept episodes of this host from 0, across epochs. `skip_observation=False`
    decodes the observations with the features' own decoder (small tensors, e.g. MinAtar's grids).
    """
    if not 0.0 < float(data_percentage) <= 100.0:
        raise ValueError(f"data_percentage must be in (0, 100], got {data_percentage}")
    split = host_split(builder, split_names(builder, splits), process_index, process_count)
    read_config = tfds.ReadConfig(
        shuffle_seed=None if ordered else int(seed),
        shuffle_reshuffle_each_iteration=True,  # epoch k's file order: a function of (seed, k)
        interleave_cycle_length=1 if ordered else int(cycle_length),
        interleave_block_length=1,
        try_autocache=False,
        enable_ordering_guard=False,  # the ordered builder disables shuffling; we mix its splits on purpose
        skip_prefetch=True,
    )
    ds = builder.as_dataset(
        split=split,
        shuffle_files=not ordered,
        read_config=read_config,
        # decode kept episodes only
        decoders={"steps": {"observation": tfds.decode.SkipDecoding()}} if skip_observation else None,
    )
    if data_percentage < 100.0:
        ds = ds.filter(lambda ep: keep_episode(ep["checkpoint_id"], ep["episode_id"], seed, data_percentage))
    if repeat:
        ds = ds.repeat()
    return ds.enumerate()


def episode_stream(
    builder: tfds.core.DatasetBuilder,
    *,
    seed: int = 0,
    splits: Optional[Sequence[str]] = None,
    data_percentage: float = 100.0,
    process_index: int = 0,
    process_count: int = 1,
    cycle_length: int = 16,
    ordered: bool = False,
    repeat: bool = True,
    num_actions: Optional[int] = None,
    resume: Optional[tuple[Sequence[int], int]] = None,
    decode_frames: Optional[Callable] = decode_png_frames,
) -> tf.data.Dataset:
    """Decoded episodes of this process's share, epoch after epoch (see the module docstring).

    Each element also holds `position` (int64 []): its index in this stream (from 0, across epochs).
    The stream is a function of the arguments (file order of epoch k: a function of (seed, k)).

    Args:
      builder: an `rlu_atari` or `rlu_atari_checkpoints_ordered` builder with data.
      seed: seeds `data_percentage`'s choice and the file order of every epoch.
      splits: read only these (default: all).
      data_percentage: share of episodes kept, chosen by their ids.
      process_index, process_count: this host's share (`even_splits`).
      cycle_length: files read at once, interleaved episode by episode.
      ordered: read files in order, one at a time (no file shuffle, no interleave).
      repeat: epochs forever (False: one epoch).
      num_actions: actions must be below it (checked while reading).
      resume: (positions, next): decode only the episodes at these positions and those from
        `next` on (the others are read, not decoded, and dropped): a resumed pool's episodes.
      decode_frames: stored observations [T] -> frames [T, ...] (default: RL Unplugged's PNGs);
        None reads observations decoded by their features (MinAtar).
    """
    ds = _undecoded_episodes(
        builder,
        seed=seed,
        splits=splits,
        data_percentage=data_percentage,
        process_index=process_index,
        process_count=process_count,
        cycle_length=cycle_length,
        ordered=ordered,
        repeat=repeat,
        skip_observation=decode_frames is not None,
    )
    if resume is not None:
        positions = tf.constant(np.asarray(list(resume[0]) + [-1], np.int64))
        start = tf.constant(int(resume[1]), tf.int64)
        ds = ds.filter(lambda pos, ep: (pos >= start) | tf.reduce_any(tf.equal(positions, pos)))

    def decode(pos, ep):
        out = decode_episode(ep, num_actions, decode_frames)
        out["position"] = pos
        return out

    return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def episode_index_stream(
    builder: tfds.core.DatasetBuilder,
    *,
    seed: int = 0,
    splits: Optional[Sequence[str]] = None,
    data_percentage: float = 100.0,
    process_index: int = 0,
    process_count: int = 1,
    cycle_length: int = 16,
    ordered: bool = False,
    repeat: bool = True,
) -> tf.data.Dataset:
    """`episode_stream`'s episodes without their data: `num_steps`, `episode_id`, `checkpoint_id`, `position`
    (int64 []), in the same order (no PNG decode; a resumed loader replays its draws on them)."""
    ds = _undecoded_episodes(
        builder,
        seed=seed,
        splits=splits,
        data_percentage=data_percentage,
        process_index=process_index,
        process_count=process_count,
        cycle_length=cycle_length,
        ordered=ordered,
        repeat=repeat,
    )

    def index(pos, ep):
        return {
            "num_steps": ep["steps"].cardinality(),
            "episode_id": tf.cast(ep["episode_id"], tf.int64),
            "checkpoint_id": tf.cast(ep["checkpoint_id"], tf.int64),
            "position": pos,
        }

    return ds.map(index, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
