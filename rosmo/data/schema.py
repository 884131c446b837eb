"""The RLDS step schema every loader reads: field names, output dtypes, and validation of a dataset's features.

A step holds `observation, action, reward, discount, is_first, is_last, is_terminal`
(`rosmo.data.rlds.STEP_FIELDS`). Loaders output every field except `observation`
in `OUTPUT_DTYPES`; `observation` keeps the dataset's dtype. Problems are raised as
`DatasetError` naming the dataset path and the field.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from rosmo.data import rlds

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
        raise DatasetError(f"{path}: episode feature 'steps' is missing (episode features: {have}); not an RLDS dataset")
    steps = features["steps"]
    if not isinstance(steps, tfds.features.Dataset):
        raise DatasetError(f"{path}: episode feature 'steps' is a {type(steps).__name__}, expected a nested tfds Dataset")
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
        raise DatasetError(f"{path}: step field 'observation' has dtype {np.dtype(obs.np_dtype).name}, expected numeric")
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
