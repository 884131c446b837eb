"""RL Unplugged Atari (`rlu_atari`, `rlu_atari_checkpoints_ordered`) as batches of stacked windows.

Reads `tfds.builder(f"{dataset}/{game}_run_{run}", data_dir=...)` from any
`data_dir` holding it (the real bucket copy, or `rosmo dataset atari` output).

Pipeline (tf.data on the CPU)::

    episodes (each split; keep data_percentage of them, seeded)
      -> shuffle episodes (buffer `shuffle_episodes`) -> repeat
      -> steps, PNG decoded to single frames uint8 [84, 84]
      -> sliding windows of W = L + S - 1 steps (L = K + n + 1, S = stack size)
      -> shuffle windows (buffer `shuffle_buffer`) -> batch
      -> stack frames per window (`stack_frames`) -> prefetch

Windows are cut from the concatenated stream of episodes, so they may cross
an episode boundary; the flags say where. Each window carries `S - 1` extra
leading steps, used only as frame history: the observation at step t is the
frames t-S+1 .. t (oldest first), with every frame from before the start of
t's episode replaced by zeros. Zero padding is the RL Unplugged convention:
its evaluation env stacks with Acme's `FrameStacker` (blank frames at reset),
Dopamine's replay buffer (the source of the data) pads each episode start with
zero frames, and `ale_py.AtariVectorEnv` / `rosmo.envs.atari` do the same.
Keeping single frames in the shuffle buffer costs W frames per window instead
of 4 L.

Batches are dicts of numpy arrays, like the BSuite loader's::

    observation  uint8   [B, L, 84, 84, S]
    action       int32   [B, L]
    reward       float32 [B, L]   (clipped to [-1, 1] in rlu_atari)
    discount     float32 [B, L]
    is_first, is_last, is_terminal  bool [B, L]
"""

from __future__ import annotations

import sys
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from rosmo.data import rlds
from rosmo.data.rlu_names import builder_name
from rosmo.data.schema import OUTPUT_DTYPES, CheckedIterator
from rosmo.data.windows import padded_windows, select_episodes

tf = rlds.tf
tfds = rlds.tfds
DatasetError = rlds.DatasetError

STACK_SIZE = 4


# ---------------------------------------------------------------------------
# Pure pieces
# ---------------------------------------------------------------------------


def stack_frames(frames, is_first, stack_size: int = STACK_SIZE):
    """Stack single frames within episodes, zeros before an episode's first frame.

    With W = L + S - 1 steps per window and e[w] = sum_{u <= w} is_first[u] (the
    episode index inside the window)::

        out[..., t, :, :, j] = frames[..., t + j, :, :] * (e[t + j] == e[t + S - 1])
        for t in [0, L), j in [0, S)    (j = S - 1 is the newest frame, at step t + S - 1)

    Args:
      frames: uint8 [..., W, H, W'] single frames.
      is_first: bool [..., W].
      stack_size: S.

    Returns:
      uint8 [..., L, H, W', S] (a tf.Tensor).
    """
    frames = tf.convert_to_tensor(frames)
    is_first = tf.convert_to_tensor(is_first)
    width = frames.shape[-3]
    length = width - stack_size + 1
    if length < 1:
        raise ValueError(f"stack_frames: {width} frames cannot hold one stack of {stack_size}")
    episode = tf.cumsum(tf.cast(is_first, tf.int32), axis=-1)  # [..., W]
    current = episode[..., stack_size - 1 :]  # [..., L]: episode of each output step

    def same(j):  # [..., L, 1, 1]: frame t + j belongs to step t's episode
        return tf.equal(episode[..., j : j + length], current)[..., None, None]

    if stack_size == 4 and frames.dtype == tf.uint8 and sys.byteorder == "little":
        # Fast path: pack the 4 masked frames as the bytes of one uint32 (byte j = frame j),
        # then view it as uint8 [..., 4]; avoids strided channels-last writes (~4x faster).
        wide = tf.cast(frames, tf.uint32)
        packed = None
        for j in range(stack_size):
            weight = tf.cast(same(j), tf.uint32) * tf.constant(1 << (8 * j), tf.uint32)
            term = wide[..., j : j + length, :, :] * weight
            packed = term if packed is None else tf.bitwise.bitwise_or(packed, term)
        return tf.bitcast(packed, tf.uint8)
    planes = [frames[..., j : j + length, :, :] * tf.cast(same(j), frames.dtype) for j in range(stack_size)]
    return tf.stack(planes, axis=-1)


# ---------------------------------------------------------------------------
# The dataset
# ---------------------------------------------------------------------------


def load_rlu_builder(game: str, run: int, data_dir: str, dataset: str = "rlu_atari") -> "tfds.core.DatasetBuilder":
    """The TFDS builder of one game/run under `data_dir`; DatasetError when it is not there."""
    name = builder_name(game, run, dataset)
    builder = rlds.load_builder(name, data_dir)
    if not builder.info.splits:
        raise DatasetError(
            f"{name} has no data under data_dir {data_dir} (expected {builder.data_dir}/dataset_info.json; "
            "make it with `rosmo dataset atari` or copy RL Unplugged there)"
        )
    return builder


def _split_names(builder: "tfds.core.DatasetBuilder", splits: Optional[Sequence[str]]) -> List[str]:
    available = sorted(builder.info.splits.keys())
    if splits is None:
        return available
    missing = [s for s in splits if s not in available]
    if missing:
        raise DatasetError(f"{builder.data_dir}: split(s) {missing} not found (available: {available})")
    return list(splits)


def _episodes_of_split(builder, split: str, keep: np.ndarray, num_episodes: int) -> "tf.data.Dataset":
    """The kept episodes of one split, in file order, observations still PNG-encoded."""
    ds = builder.as_dataset(
        split=split,
        shuffle_files=False,  # positions index episodes
        decoders={"steps": {"observation": tfds.decode.SkipDecoding()}},  # decode kept episodes only
    )
    if len(keep) == num_episodes:
        return ds
    mask = np.zeros((num_episodes,), bool)
    mask[keep] = True
    mask_t = tf.constant(mask)
    return ds.enumerate().filter(lambda i, _: tf.gather(mask_t, i)).map(lambda _, ep: ep)


def _decode_steps(episode) -> "tf.data.Dataset":
    def decode(step):
        out = {k: tf.cast(step[k], dtype) for k, dtype in OUTPUT_DTYPES.items()}
        out["frame"] = tf.reshape(tf.io.decode_png(step["observation"], channels=1), [84, 84])
        return out

    return episode["steps"].map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def rlu_atari_dataset(
    game: str,
    run: int = 1,
    *,
    data_dir: str,
    unroll_steps: int,
    td_steps: int,
    batch_size: int,
    data_percentage: float = 100.0,
    seed: int = 0,
    dataset: str = "rlu_atari",
    splits: Optional[Sequence[str]] = None,
    stack_size: int = STACK_SIZE,
    shuffle_episodes: int = 100,
    shuffle_buffer: int = 2_000,
    repeat: bool = True,
) -> "tf.data.Dataset":
    """The tf.data pipeline (see the module docstring) before prefetch; elements are batches of tensors.

    `data_percentage` keeps that share of each split's episodes, chosen by a
    permutation seeded by (`seed`, split index). Shuffle buffers of 0 or 1 keep
    file order (windows in stream order), which tests use.
    """
    if unroll_steps < 0 or td_steps < 0:
        raise ValueError(f"unroll_steps and td_steps must be >= 0, got {unroll_steps}, {td_steps}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if stack_size < 1:
        raise ValueError(f"stack_size must be >= 1, got {stack_size}")
    length = unroll_steps + td_steps + 1
    width = length + stack_size - 1

    builder = load_rlu_builder(game, run, data_dir, dataset)
    parts = []
    for index, split in enumerate(_split_names(builder, splits)):
        num = int(builder.info.splits[split].num_examples)
        keep = select_episodes(num, data_percentage, seed * 1_000 + index)
        parts.append(_episodes_of_split(builder, split, keep, num))
    episodes = parts[0]
    for part in parts[1:]:
        episodes = episodes.concatenate(part)
    if shuffle_episodes > 1:
        episodes = episodes.shuffle(shuffle_episodes, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        episodes = episodes.repeat()

    windows = padded_windows(episodes.flat_map(_decode_steps), width, num_real=length)
    if shuffle_buffer > 1:
        windows = windows.shuffle(shuffle_buffer, seed=seed + 1, reshuffle_each_iteration=True)
    batches = windows.batch(batch_size, drop_remainder=True)

    def finish(w):
        out = {k: w[k][:, stack_size - 1 :] for k in OUTPUT_DTYPES}
        out["observation"] = stack_frames(w["frame"], w["is_first"], stack_size)
        return out

    return batches.map(finish, num_parallel_calls=tf.data.AUTOTUNE)


def make_rlu_atari_loader(
    game: str,
    run: int = 1,
    *,
    data_dir: str,
    unroll_steps: int,
    td_steps: int,
    batch_size: int,
    data_percentage: float = 100.0,
    seed: int = 0,
    dataset: str = "rlu_atari",
    splits: Optional[Sequence[str]] = None,
    stack_size: int = STACK_SIZE,
    shuffle_episodes: int = 100,
    shuffle_buffer: int = 2_000,
    prefetch: int = 2,
) -> Iterator[Dict[str, np.ndarray]]:
    """Infinite iterator of numpy batches of windows of L = unroll_steps + td_steps + 1 steps.

    Args:
      game, run: e.g. "Pong", 1 -> `rlu_atari/Pong_run_1` under `data_dir`.
      data_dir: the TFDS data_dir holding `<dataset>/<Game>_run_<run>/<version>/`.
      unroll_steps, td_steps: K and n.
      batch_size: B.
      data_percentage: share of each split's episodes kept (seeded).
      seed: seeds the episode choice and the shuffles.
      dataset: "rlu_atari" (split "train") or "rlu_atari_checkpoints_ordered"
        (splits "checkpoint_00" .. "checkpoint_49", read in order).
      splits: read only these splits (default: all).
      stack_size: frames per observation (4).
      shuffle_episodes, shuffle_buffer: buffer sizes (episodes; windows of W single frames each).
      prefetch: batches prepared ahead (0: AUTOTUNE).

    Returns:
      An iterator of dicts, see the module docstring for shapes and dtypes.

    Raises:
      DatasetError: the builder's data is not under `data_dir`, or a split is missing.
      ValueError: a bad argument, naming it.
    """
    ds = rlu_atari_dataset(
        game,
        run,
        data_dir=data_dir,
        unroll_steps=unroll_steps,
        td_steps=td_steps,
        batch_size=batch_size,
        data_percentage=data_percentage,
        seed=seed,
        dataset=dataset,
        splits=splits,
        stack_size=stack_size,
        shuffle_episodes=shuffle_episodes,
        shuffle_buffer=shuffle_buffer,
    )
    ds = ds.prefetch(prefetch if prefetch > 0 else tf.data.AUTOTUNE)
    # read errors (a truncated shard, undecodable frames) -> one-line DatasetError
    return CheckedIterator(iter(tfds.as_numpy(ds)), load_rlu_builder(game, run, data_dir, dataset))
