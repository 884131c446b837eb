"""Trajectory windows from RLDS datasets: the learner's input pipeline.

One training sample is a window of `L = K + n + 1` consecutive logged steps
(`K` unroll steps, `n` TD steps). The kept episodes are concatenated, in
episode order, into one stream of steps and windows are cut from that stream;
a window MAY cross an episode boundary (the learner masks what follows an
`is_last`). The valid windows are exactly those starting at `s` with
`0 <= s <= num_steps - L`.

A batch is a dict of numpy arrays (`B` = batch size)::

    observation  [B, L, *obs_shape]  dataset dtype
    action       [B, L]              int32
    reward       [B, L]              float32
    discount     [B, L]              float32
    is_first     [B, L]              bool
    is_last      [B, L]              bool
    is_terminal  [B, L]              bool

Two modes give the same batches structurally:

- in-memory (default for datasets under ~2 GB): all kept steps are loaded into
  numpy once; window starts are drawn uniformly with a seeded numpy Generator
  and gathered by fancy indexing on a background thread;
- streaming: a `tf.data` pipeline on the CPU (episodes -> steps -> overlapping
  windows -> shuffle -> batch -> prefetch), for data that does not fit.

The dataset's feature spec is validated before any data is read, and values
while they are read (finite rewards and observations, actions below the metadata's
`num_actions`); problems are raised as `rlds.DatasetError` naming the dataset
path, the field and, for values, the episode and its file.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

import numpy as np

from rosmo.data import rlds
from rosmo.data.episodes import concatenate_steps, count_steps, episode_steps, estimated_bytes, load_steps
from rosmo.data.memory import InMemoryLoader
from rosmo.data.paths import Datasets, dataset_list
from rosmo.data.schema import CheckedIterator, DatasetError, check_split, dataset_path, read_error, validate_features
from rosmo.data.streaming import streaming_dataset
from rosmo.data.windows import select_episodes

tf = rlds.tf
tfds = rlds.tfds

IN_MEMORY_MAX_BYTES = 2 * 1024**3
"""Datasets whose kept steps are estimated below this size are loaded into memory."""


def _multi_spec(datasets: list[str], data_dir: Optional[str], split: str) -> dict[str, Any]:
    """`dataset_spec` of several datasets read together: the first's shape and metadata, summed counts."""
    specs = [dataset_spec(d, data_dir, split) for d in datasets]
    first = specs[0]
    for spec in specs[1:]:
        for key in ("observation_shape", "observation_dtype", "num_actions"):
            if spec[key] != first[key]:
                raise DatasetError(
                    f"{spec['path']}: {key} {spec[key]} differs from {first[key]} of {first['path']} "
                    "(datasets read together must hold the same env)"
                )
        if spec["metadata"].get("env") != first["metadata"].get("env"):
            raise DatasetError(
                f"{spec['path']}: env {spec['metadata'].get('env')!r} differs from "
                f"{first['metadata'].get('env')!r} of {first['path']}"
            )
    return dict(
        first,
        path=",".join(s["path"] for s in specs),
        num_episodes=sum(s["num_episodes"] for s in specs),
        num_steps=sum(s["num_steps"] for s in specs),
        metadata=dict(first["metadata"], datasets=[s["path"] for s in specs]),
    )


def dataset_spec(dataset: Datasets, data_dir: Optional[str] = None, split: str = "train") -> dict[str, Any]:
    """What a learner needs to build its networks, read from the dataset's spec and metadata.

    Several datasets (a sequence, or a comma-separated string): they must hold the same env,
    observation shape/dtype and num_actions; counts are summed, metadata is the first's plus
    `datasets` (every path), and `path` joins the paths with commas.

    Returns:
      {"path", "observation_shape": tuple, "observation_dtype": np.dtype,
       "num_actions": int | None (from metadata), "num_episodes": int,
       "num_steps": int, "metadata": dict}
    """
    datasets = dataset_list(dataset)
    if len(datasets) > 1:
        return _multi_spec(datasets, data_dir, split)
    builder = rlds.load_builder(datasets[0], data_dir)
    step_features = validate_features(builder)
    num_episodes = check_split(builder, split)
    meta = rlds.metadata(builder)
    obs = step_features["observation"]
    num_actions = _metadata_num_actions(builder)
    return {
        "path": dataset_path(builder),
        "observation_shape": tuple(obs.shape),
        "observation_dtype": np.dtype(obs.np_dtype),
        "num_actions": num_actions,
        "num_episodes": num_episodes,
        "num_steps": count_steps(builder, split),
        "metadata": meta,
    }


def _metadata_num_actions(builder) -> Optional[int]:
    """The metadata's `num_actions` (None when absent); DatasetError unless it is an integer >= 1."""
    value = rlds.metadata(builder).get("num_actions")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < 1:
        raise DatasetError(f"{dataset_path(builder)}: metadata 'num_actions' is {value!r}, expected an integer >= 1")
    return int(value)


def make_loader(
    dataset: Datasets,
    *,
    data_dir: Optional[str] = None,
    unroll_steps: int,
    td_steps: int,
    batch_size: int,
    data_percentage: float = 100.0,
    seed: int = 0,
    in_memory: Optional[bool] = None,
    shuffle_buffer: int = 10_000,
    prefetch: int = 2,
    split: str = "train",
    expected_observation_shape: Optional[Sequence[int]] = None,
    start_batch: int = 0,
    shard: int = 0,
    num_actions: Optional[int] = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Infinite iterator of batches of windows of `L = unroll_steps + td_steps + 1` steps.

    Args:
      dataset: a dataset directory (RldsWriter / TFDS), or a TFDS builder name with `data_dir`; or several
        (a sequence or a comma-separated string), read together in memory as one stream (their episodes in
        the given order; `data_percentage` keeps that share of the episodes of all of them).
      data_dir: TFDS data directory when `dataset` is a builder name (e.g. "rlu_atari/Pong_run_1").
      unroll_steps, td_steps: K and n; windows hold L = K + n + 1 steps.
      batch_size: B, windows per batch.
      data_percentage: keep max(1, round(N * p / 100)) episodes chosen by a permutation seeded by `seed`.
      seed: seeds the episode choice and the window sampling / shuffling.
      in_memory: force the mode; None picks in-memory below `IN_MEMORY_MAX_BYTES` (from dataset_info).
      shuffle_buffer: windows in the streaming shuffle buffer (memory ~ buffer * L * observation bytes).
      prefetch: batches prepared ahead (thread queue in memory, tf.data prefetch when streaming).
      split: the TFDS split to read.
      expected_observation_shape: when given, the dataset's observation shape must equal it.
      start_batch: index of the first batch (a resumed run passes its step). In memory the
        batches from `start_batch` on equal those of an uninterrupted stream; streaming
        re-seeds its shuffle from (seed, start_batch) instead.
      shard: this process's index when each host loads its share of a global batch: the
        same episodes (chosen by `seed`), other windows.
      num_actions: actions must lie in [0, num_actions); default: the metadata's `num_actions`.

    Returns:
      An iterator of dicts of numpy arrays, see the module docstring for shapes/dtypes.

    Raises:
      ValueError: bad `data_percentage`, `unroll_steps`, `td_steps`, `batch_size`.
      DatasetError: missing / non-RLDS directory, bad schema, fewer steps than one window,
        a non-finite reward / observation or an out-of-range action (in memory: here;
        streaming: from the iterator), a truncated or undecodable data file.
    """
    if unroll_steps < 0 or td_steps < 0:
        raise ValueError(
            f"unroll_steps and td_steps must be >= 0, got unroll_steps={unroll_steps}, td_steps={td_steps}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not (0.0 < float(data_percentage) <= 100.0):
        raise ValueError(f"data_percentage must be in (0, 100], got {data_percentage}")
    length = int(unroll_steps) + int(td_steps) + 1
    datasets = dataset_list(dataset)
    if len(datasets) > 1:
        if in_memory is False:
            raise ValueError(f"several datasets ({len(datasets)}) are read in memory only; got in_memory=False")
        steps = load_kept_steps(
            datasets, data_dir, split, data_percentage, seed, expected_observation_shape, num_actions
        )
        if len(steps["action"]) < length:
            raise DatasetError(
                f"{','.join(datasets)}: {len(steps['action'])} kept steps, fewer than one window of "
                f"L = unroll_steps + td_steps + 1 = {length} steps"
            )
        return InMemoryLoader(
            steps, length, batch_size, seed=seed, prefetch=prefetch, start_batch=start_batch, shard=shard
        )

    builder = rlds.load_builder(datasets[0], data_dir)
    validate_features(builder, expected_observation_shape)
    num_episodes = check_split(builder, split)
    path = dataset_path(builder)
    if num_episodes == 0:
        raise DatasetError(f"{path}: split {split!r} has no episodes")
    keep = select_episodes(num_episodes, data_percentage, seed)
    if num_actions is None:
        num_actions = _metadata_num_actions(builder)
    if in_memory is None:
        in_memory = estimated_bytes(builder, split, data_percentage) < IN_MEMORY_MAX_BYTES

    def too_short(num_steps: int) -> DatasetError:
        return DatasetError(
            f"{path}: {num_steps} steps in the {len(keep)} kept episode(s) (data_percentage={data_percentage}), "
            f"fewer than one window of L = unroll_steps + td_steps + 1 = {length} steps"
        )

    if in_memory:
        steps = load_steps(builder, split, keep, num_actions=num_actions)
        if len(steps["action"]) < length:
            raise too_short(len(steps["action"]))
        return InMemoryLoader(
            steps, length, batch_size, seed=seed, prefetch=prefetch, start_batch=start_batch, shard=shard
        )

    # Streaming: make sure the stream holds one window, reading at most L steps.
    head = episode_steps(builder, split, keep, num_episodes, num_actions=num_actions).unbatch().take(length)
    try:
        num_head = int(head.reduce(np.int64(0), lambda n, _: n + 1).numpy())
    except tf.errors.OpError as err:
        raise read_error(err, builder, split, num_actions) from None
    if num_head < length:
        raise too_short(num_head)
    stream_seed = seed
    if start_batch or shard:
        stream_seed = int(np.random.default_rng([seed, 2, start_batch, shard]).integers(2**31))
    ds = streaming_dataset(
        builder,
        split,
        keep,
        num_episodes,
        length,
        batch_size,
        stream_seed,
        shuffle_buffer,
        prefetch,
        num_actions=num_actions,
    )
    return CheckedIterator(iter(tfds.as_numpy(ds)), builder, split, num_actions)


def load_kept_steps(
    datasets: Sequence[str],
    data_dir: Optional[str] = None,
    split: str = "train",
    data_percentage: float = 100.0,
    seed: int = 0,
    expected_observation_shape: Optional[Sequence[int]] = None,
    num_actions: Optional[int] = None,
) -> dict[str, np.ndarray]:
    """The kept steps of one or several datasets, concatenated in order: fields [N_1 + ... + N_k, ...].

    Episodes are chosen by `select_episodes` over all of them (dataset order, then episode order);
    each dataset's values are checked against `num_actions` (default: its metadata's). DatasetError
    naming the datasets when they hold no episode.
    """
    builders = [rlds.load_builder(d, data_dir) for d in datasets]
    shape = expected_observation_shape
    counts = []
    for builder in builders:
        features = validate_features(builder, shape)
        shape = tuple(features["observation"].shape)
        counts.append(check_split(builder, split))
    offsets = np.cumsum([0] + counts)
    keep = select_episodes(int(offsets[-1]), data_percentage, seed)
    chunks = []
    for i, builder in enumerate(builders):
        mine = keep[(keep >= offsets[i]) & (keep < offsets[i + 1])] - offsets[i]
        if len(mine):
            actions = num_actions if num_actions is not None else _metadata_num_actions(builder)
            chunks.append(load_steps(builder, split, mine, num_actions=actions))
    if not chunks:
        raise DatasetError(f"{','.join(datasets)}: no episode kept")
    return concatenate_steps(chunks)
