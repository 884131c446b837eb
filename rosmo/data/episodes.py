"""Reading episodes of an RLDS dataset with TFDS: in file order, a subset of them, decoded a whole episode at a time;
flat transitions of continuous-action datasets (`load_transitions`)."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from rosmo.data import rlds
from rosmo.data.schema import OUTPUT_DTYPES, check_split, check_step_values, read_error, value_error, with_value_checks
from rosmo.data.transitions import Transitions, concatenate, from_episodes

tf = rlds.tf
tfds = rlds.tfds

ENCODED_EXPANSION = 8
"""Assumed decoded/serialised size ratio of encoded (PNG/JPEG) observations, for the size estimate."""


def raw_episodes(builder: tfds.core.DatasetBuilder, split: str) -> tf.data.Dataset:
    """Episodes in file order (shards read one after another) with `steps` as parsed, undecoded tensors [T, ...].

    Skipping TFDS's per-step nested-dataset decoding lets every step field be
    decoded for a whole episode at once (`decode_batch_example`), and lets
    unkept episodes be dropped before any observation is decoded.
    """
    return builder.as_dataset(
        split=split,
        shuffle_files=False,
        decoders={"steps": tfds.decode.SkipDecoding()},
        read_config=tfds.ReadConfig(interleave_cycle_length=1),  # shard after shard: true file order
    )


def _kept_indexed(indexed: tf.data.Dataset, keep: Optional[np.ndarray], num_episodes: int) -> tf.data.Dataset:
    """(index, episode) elements whose index (in file order) is in `keep` (None keeps all)."""
    if keep is None or len(keep) == num_episodes:
        return indexed
    mask = np.zeros((num_episodes,), bool)
    mask[keep] = True
    mask_t = tf.constant(mask)
    return indexed.filter(lambda i, _: tf.gather(mask_t, tf.minimum(i, num_episodes - 1)) & (i < num_episodes))


def select_dataset(episodes: tf.data.Dataset, keep: Optional[np.ndarray], num_episodes: int) -> tf.data.Dataset:
    """Keep only the episodes whose index (in file order) is in `keep` (None keeps all)."""
    if keep is None or len(keep) == num_episodes:
        return episodes
    return _kept_indexed(episodes.enumerate(), keep, num_episodes).map(lambda _, ep: ep)


def episode_steps(
    builder: tfds.core.DatasetBuilder,
    split: str,
    keep: Optional[np.ndarray],
    num_episodes: int,
    num_actions: Optional[int] = None,
    check_values: bool = True,
) -> tf.data.Dataset:
    """The kept episodes in episode order, each one element `{field: [T, ...]}` with output dtypes applied.

    With `check_values`, each episode's values are checked as it is decoded
    (`rosmo.data.schema.value_check`: finite rewards and observations, actions in
    `[0, num_actions)`); a failure is a TensorFlow error that `schema.read_error` names.
    """
    step_features = builder.info.features["steps"].feature

    def decode(index, episode):
        steps = episode["steps"]
        out = {"observation": step_features["observation"].decode_batch_example(steps["observation"])}
        for k, dtype in OUTPUT_DTYPES.items():
            out[k] = tf.cast(step_features[k].decode_batch_example(steps[k]), dtype)
        return with_value_checks(out, index, num_actions) if check_values else out

    indexed = _kept_indexed(raw_episodes(builder, split).enumerate(), keep, num_episodes)
    return indexed.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def load_steps(
    builder: tfds.core.DatasetBuilder,
    split: str = "train",
    episodes: Optional[np.ndarray] = None,
    num_actions: Optional[int] = None,
) -> dict[str, np.ndarray]:
    """All steps of the given episodes (all when None) as numpy arrays [N, ...], in episode order.

    Values are checked as `episode_steps` does, here vectorised in numpy once all are
    read (`schema.check_step_values`); a bad value, a truncated shard or undecodable data
    raise `DatasetError` naming the dataset, field and episode.
    """
    num_episodes = check_split(builder, split)
    keep = np.arange(num_episodes) if episodes is None else np.asarray(episodes)
    episodes_ds = episode_steps(builder, split, keep, num_episodes, check_values=False)
    spec = episodes_ds.element_spec
    chunks: dict[str, list] = {k: [] for k in spec}
    try:
        for i, episode in enumerate(tfds.as_numpy(episodes_ds.prefetch(2))):
            if len(episode["observation"]) != len(episode["reward"]):
                raise value_error(
                    builder,
                    split,
                    "observation-count",
                    int(keep[i]),
                    len(episode["observation"]),
                    len(episode["reward"]),
                    num_actions,
                )
            for k, v in episode.items():
                chunks[k].append(v)
    except tf.errors.OpError as err:
        raise read_error(err, builder, split, num_actions) from None
    steps = {
        k: np.concatenate(chunks[k]) if chunks[k] else np.zeros((0, *s.shape[1:]), s.dtype.as_numpy_dtype)
        for k, s in spec.items()
    }
    check_step_values(steps, [len(r) for r in chunks["reward"]], keep, builder, split, num_actions)
    return steps


def concatenate_steps(
    parts: Sequence[Mapping[str, np.ndarray]], fields: Optional[Sequence[str]] = None
) -> dict[str, np.ndarray]:
    """Step arrays of several episodes (or runs of episodes) joined in order: `{field: [N_1 + ... + N_k, ...]}` for
    the given fields (default: the first part's). `parts` must not be empty."""
    return {k: np.concatenate([p[k] for p in parts]) for k in (parts[0] if fields is None else fields)}


def count_steps(builder: tfds.core.DatasetBuilder, split: str = "train", episodes: Optional[np.ndarray] = None) -> int:
    """Total number of steps of `split` (of the given episode indices only, when given).

    Uses `metadata["num_steps"]` when present and no subset is asked for;
    otherwise reads the episodes with observation decoding skipped.
    """
    meta = rlds.metadata(builder)
    if episodes is None and "num_steps" in meta:
        return int(meta["num_steps"])
    ds = select_dataset(raw_episodes(builder, split), episodes, check_split(builder, split))
    lengths = ds.map(lambda ep: tf.shape(ep["steps"]["is_last"], out_type=tf.int64)[0])
    try:
        return int(lengths.reduce(np.int64(0), lambda total, n: total + n).numpy())
    except tf.errors.OpError as err:
        raise read_error(err, builder, split) from None


def estimated_bytes(builder: tfds.core.DatasetBuilder, split: str = "train", data_percentage: float = 100.0) -> int:
    """Estimated memory of the kept steps once decoded, from dataset_info's sizes (no data read).

    With `metadata["num_steps"]`: steps * (observation bytes + 16 bytes of other fields).
    Otherwise the split's serialised size, times `ENCODED_EXPANSION` for compressed
    (PNG/JPEG Image, zlib Tensor) observations. Scaled by `data_percentage / 100`.
    """
    obs = builder.info.features["steps"]["observation"]
    meta = rlds.metadata(builder)
    if "num_steps" in meta:
        per_step = int(np.prod(obs.shape, dtype=np.int64)) * np.dtype(obs.np_dtype).itemsize + 16
        total = int(meta["num_steps"]) * per_step
    else:
        total = int(builder.info.splits[split].num_bytes)
        compressed = (
            isinstance(obs, tfds.features.Image) or getattr(obs, "_encoding", None) == tfds.features.Encoding.ZLIB
        )
        if compressed:
            total *= ENCODED_EXPANSION
    return int(total * float(data_percentage) / 100.0)


def load_transitions(paths: Sequence[str]) -> Transitions:
    """Every transition of the RLDS datasets at `paths` (continuous actions), in dataset order.

    Raises `rlds.DatasetError` naming a path that is missing, not a dataset, or has no transition.
    """
    parts = []
    for path in paths:
        builder = rlds.load_builder(path)
        episodes = [e for e in rlds.iterate_episodes_numpy(builder) if len(e["steps"]["reward"]) > 1]
        if not episodes:
            raise rlds.DatasetError(f"{path}: the dataset holds no transition (every episode has < 2 steps)")
        if np.asarray(episodes[0]["steps"]["action"]).ndim != 2:
            raise rlds.DatasetError(
                f"{path}: steps/action has shape {np.asarray(episodes[0]['steps']['action']).shape[1:]} per step; "
                "expected a continuous action vector [act_dim] (a MuJoCo dataset)"
            )
        parts.append(from_episodes(episodes))
    return concatenate(parts)
