"""The RLDS step schema every loader reads: field names, output dtypes, and validation of a dataset's features.

A step holds `observation, action, reward, discount, is_first, is_last, is_terminal`
(`rosmo.data.rlds.STEP_FIELDS`). Loaders output every field except `observation`
in `OUTPUT_DTYPES`; `observation` keeps the dataset's dtype. Problems are raised as
`DatasetError` naming the dataset path and the field.

Values are checked while reading (`value_check`, a few reductions per episode in
the tf.data graph): rewards and floating observations must be finite, actions in
`[0, num_actions)`. A failed check, a truncated shard (`DataLossError`) or data
that does not decode as `features.json` says all surface as TensorFlow errors from
the reading iterator; `read_error` turns them into one-line `DatasetError`s naming
the dataset, the field, the episode and its shard file.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from rosmo.data import rlds

tf = rlds.tf
tfds = rlds.tfds
DatasetError = rlds.DatasetError
STEP_FIELDS = rlds.STEP_FIELDS

OUTPUT_DTYPES = {
    "action": np.int32,
    "reward": np.float32,
    "discount": np.float32,
    "is_first": np.bool_,
    "is_last": np.bool_,
    "is_terminal": np.bool_,
}
"""Output dtype of every step field except `observation`, which keeps the dataset's dtype."""
FLAG_FIELDS = ("is_first", "is_last", "is_terminal")
"""The episode-boundary flags of a step."""


def dataset_path(builder: tfds.core.DatasetBuilder) -> str:
    return str(builder.data_dir)


def validate_features(
    builder: tfds.core.DatasetBuilder,
    expected_observation_shape: Optional[Sequence[int]] = None,
) -> tfds.features.FeaturesDict:
    """Check the RLDS step schema from `builder.info.features`; return the step features.

    Requires an episode feature `steps` (a nested dataset) holding every field
    of `rlds.STEP_FIELDS`: a scalar integer `action`, scalar floating `reward`
    and `discount`, scalar bool flags, and a fixed-shape numeric `observation`
    (equal to `expected_observation_shape` when given).

    Raises:
      DatasetError: naming the dataset path and the offending field.
    """
    path = dataset_path(builder)
    features = builder.info.features
    if features is None or "steps" not in features.keys():
        have = sorted(features.keys()) if features is not None else []
        raise DatasetError(
            f"{path}: episode feature 'steps' is missing (episode features: {have}); not an RLDS dataset"
        )
    steps = features["steps"]
    if not isinstance(steps, tfds.features.Dataset):
        raise DatasetError(
            f"{path}: episode feature 'steps' is a {type(steps).__name__}, expected a nested tfds Dataset"
        )
    step_features = steps.feature
    missing = [k for k in rlds.STEP_FIELDS if k not in step_features.keys()]
    if missing:
        raise DatasetError(
            f"{path}: step field(s) {missing} missing from steps features "
            f"(has {sorted(step_features.keys())}, expected {list(rlds.STEP_FIELDS)})"
        )

    def check(field: str, kind: str, kind_name: str) -> None:
        feat = step_features[field]
        if not isinstance(feat, tfds.features.Tensor):
            raise DatasetError(f"{path}: step field '{field}' is a {type(feat).__name__}, expected a scalar tensor")
        dtype = np.dtype(feat.np_dtype)
        if dtype.kind not in kind:
            raise DatasetError(f"{path}: step field '{field}' has dtype {dtype.name}, expected {kind_name}")
        if tuple(feat.shape) != ():
            raise DatasetError(f"{path}: step field '{field}' has shape {tuple(feat.shape)}, expected a scalar ()")

    check("action", "iu", "an integer dtype")
    check("reward", "f", "a floating dtype")
    check("discount", "f", "a floating dtype")
    for flag in FLAG_FIELDS:
        check(flag, "b", "bool")

    obs = step_features["observation"]
    if not isinstance(obs, (tfds.features.Tensor, tfds.features.Image)):
        raise DatasetError(
            f"{path}: step field 'observation' is a {type(obs).__name__}, expected a single Tensor or Image "
            "(nested observations are not supported)"
        )
    shape = tuple(obs.shape)
    if any(d is None or d < 0 for d in shape):
        raise DatasetError(f"{path}: step field 'observation' has shape {shape}, expected a fully defined shape")
    if np.dtype(obs.np_dtype).kind not in "biuf":
        raise DatasetError(
            f"{path}: step field 'observation' has dtype {np.dtype(obs.np_dtype).name}, expected numeric"
        )
    if expected_observation_shape is not None and shape != tuple(expected_observation_shape):
        raise DatasetError(
            f"{path}: step field 'observation' has shape {shape}, expected {tuple(expected_observation_shape)}"
        )
    return step_features


def check_split(builder: tfds.core.DatasetBuilder, split: str) -> int:
    splits = builder.info.splits
    if split not in splits:
        raise DatasetError(f"{dataset_path(builder)}: split {split!r} not found (available: {sorted(splits.keys())})")
    return int(splits[split].num_examples)


# ---------------------------------------------------------------------------
# Values, checked while reading
# ---------------------------------------------------------------------------
CHECK_TAG = "rosmo-data-check"
"""First item of a failed value check's message: `[rosmo-data-check] [<field>] [<episode>] [<value>]`."""


CHECKED_FIELDS = ("observation-count", "reward", "observation", "action")
"""What `value_check` tests, in order; a failure reports the first that fails."""


def value_check(steps: dict[str, Any], episode: Any, num_actions: Optional[int] = None) -> Any:
    """One tf.debugging.Assert op over one episode's decoded steps `{field: [T, ...]}`.

    Checks: one observation per step (a features.json whose observation shape does not
    match the data decodes to another count); `reward` finite; `observation` finite
    when floating; `0 <= action < num_actions` (only `>= 0` when `num_actions` is None).
    On failure the message holds `[rosmo-data-check] [<field>] [<episode>] [<value>] [<steps>]`;
    `episode` (int64 scalar tensor) is the episode's index in file order. One op with
    scalar reductions keeps the cost per episode small.
    """
    reward, observation = steps["reward"], steps["observation"]
    count, length = tf.shape(observation, out_type=tf.int64)[0], tf.shape(reward, out_type=tf.int64)[0]
    action = tf.cast(steps["action"], tf.int64)
    lowest, highest = tf.reduce_min(action), tf.reduce_max(action)
    action_ok = lowest >= 0 if num_actions is None else (lowest >= 0) & (highest < int(num_actions))
    observation_ok = (
        tf.reduce_all(tf.math.is_finite(observation)) if observation.dtype.is_floating else tf.constant(True)
    )
    oks = tf.stack([tf.equal(count, length), tf.reduce_all(tf.math.is_finite(reward)), observation_ok, action_ok])
    first_bad = tf.argmin(tf.cast(oks, tf.int32))
    value = tf.where(first_bad == 0, count, tf.where(lowest < 0, lowest, highest))
    return tf.debugging.Assert(
        tf.reduce_all(oks), [CHECK_TAG, tf.gather(tf.constant(CHECKED_FIELDS), first_bad), episode, value, length]
    )


def with_value_checks(steps: dict[str, Any], episode: Any, num_actions: Optional[int] = None) -> dict[str, Any]:
    """`steps` whose `reward` depends on `value_check` (so the check runs wherever the steps are used)."""
    with tf.control_dependencies([value_check(steps, episode, num_actions)]):
        return dict(steps, reward=tf.identity(steps["reward"]))


def shard_of_episode(builder: tfds.core.DatasetBuilder, split: str, episode: int) -> Optional[str]:
    """The file holding episode `episode` (index in file order) of `split`, or None when unknown."""
    try:
        info = builder.info.splits[split]
        bounds = np.cumsum([int(n) for n in info.shard_lengths])
        return str(info.filenames[int(np.searchsorted(bounds, episode, side="right"))])
    except Exception:  # an older TFDS layout: the file cannot be named
        return None


def value_error(
    builder: tfds.core.DatasetBuilder,
    split: str,
    field: str,
    episode: Any,
    value: Any,
    steps: Any,
    num_actions: Optional[int] = None,
) -> rlds.DatasetError:
    """The one-line DatasetError of a failed value check (`field` one of CHECKED_FIELDS) in episode `episode`."""
    path = dataset_path(builder)
    episode_no = int(episode) if str(episode).lstrip("-").isdigit() else -1
    shard = shard_of_episode(builder, split, episode_no) if episode_no >= 0 else None
    where = f"episode {episode} (in file order{', file ' + shard if shard else ''})"
    if field == "observation-count":
        shape = tuple(builder.info.features["steps"]["observation"].shape)
        return rlds.DatasetError(
            f"{path}: step field 'observation' decodes to {value} observations for {steps} steps "
            f"in {where}: the data was not written with features.json's observation shape {shape}"
        )
    if field == "action":
        expected = f"[0, {num_actions}) (num_actions={num_actions} in the metadata)" if num_actions else ">= 0"
        return rlds.DatasetError(
            f"{path}: step field 'action' holds {value} in {where}; expected actions in {expected}"
        )
    return rlds.DatasetError(
        f"{path}: step field '{field}' holds a non-finite value (NaN or inf) in {where}; expected finite {field}s"
    )


def check_step_values(
    steps: dict[str, np.ndarray],
    lengths: Sequence[int],
    episodes: Sequence[int],
    builder: tfds.core.DatasetBuilder,
    split: str = "train",
    num_actions: Optional[int] = None,
) -> None:
    """`value_check` on steps held in numpy (the in-memory loader: vectorised over all steps at once).

    `steps` are the concatenated episodes `{field: [N, ...]}`, `lengths` their step counts and
    `episodes` their indices in file order. Raises `value_error`'s DatasetError.
    """
    ends = np.cumsum(lengths)

    def fail(field: str, index: int, value: Any) -> None:
        i = int(np.searchsorted(ends, index, side="right"))
        raise value_error(builder, split, field, int(episodes[i]), value, int(lengths[i]), num_actions)

    bad = np.flatnonzero(~np.isfinite(steps["reward"]))
    if bad.size:
        fail("reward", bad[0], "")
    observation = steps["observation"]
    if np.issubdtype(observation.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(observation.reshape(len(observation), -1)).all(axis=1))
        if bad.size:
            fail("observation", bad[0], "")
    action = steps["action"].astype(np.int64)
    out_of_range = (action < 0) | (action >= num_actions) if num_actions is not None else action < 0
    bad = np.flatnonzero(out_of_range)
    if bad.size:
        fail("action", bad[0], int(action[bad[0]]))


def read_error(
    err: Exception, builder: tfds.core.DatasetBuilder, split: str = "train", num_actions: Optional[int] = None
) -> rlds.DatasetError:
    """A one-line DatasetError for a TensorFlow error raised while reading `builder`'s data."""
    path = dataset_path(builder)
    text = " ".join(str(getattr(err, "message", err)).split())
    if CHECK_TAG in text:
        items = re.findall(r"\[([^\[\]]*)\]", text[text.index(CHECK_TAG) - 1 :])
        field, episode, value, steps = (items[1:5] + ["?"] * 4)[:4]
        return value_error(builder, split, field, episode, value, steps, num_actions)
    first = _tf_message(text)
    if isinstance(err, tf.errors.DataLossError) or "expected to contain" in first:
        return rlds.DatasetError(
            f"{path}: a data file is truncated or corrupt ({first}); remake or re-copy the dataset"
        )
    return rlds.DatasetError(
        f"{path}: the data cannot be decoded as the dataset's features (features.json) describe "
        f"({type(err).__name__}: {first})"
    )


def _tf_message(text: str, limit: int = 300) -> str:
    """The informative part of a TensorFlow op error: no `{{function_node ...}}`, iterator path or `[[node]]` tail."""
    text = re.sub(r"\{\{[^{}]*\}\}", "", text)
    text = re.split(r"\s\[\[|\s\[Op:", text)[0]
    match = re.search(r"transformation with iterator: \S+: (.*)", text)
    text = " ".join((match.group(1) if match else text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class CheckedIterator:
    """An iterator over a tf.data pipeline whose TensorFlow read errors become `read_error`'s DatasetError."""

    def __init__(
        self,
        iterator: Iterator,
        builder: tfds.core.DatasetBuilder,
        split: str = "train",
        num_actions: Optional[int] = None,
    ):
        self._iterator = iterator
        self._builder, self._split, self._num_actions = builder, split, num_actions

    def __iter__(self) -> CheckedIterator:
        return self

    def __next__(self):
        try:
            return next(self._iterator)
        except tf.errors.OpError as err:
            raise read_error(err, self._builder, self._split, self._num_actions) from None
