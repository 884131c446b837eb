"""Dataset directories as a user names them, checked without TensorFlow.

A missing or foreign directory is reported before `rosmo.data.rlds` loads TensorFlow (several seconds), so a run
or a sweep worker pointed at the wrong place fails at once.
"""

from __future__ import annotations

import os
from typing import Sequence, Union

from rosmo.errors import DatasetError

Datasets = Union[str, Sequence[str]]
"""One dataset directory (or TFDS name), or several read together as one (e.g. a deployment run's D_1 .. D_i)."""


def dataset_list(dataset: Datasets) -> list[str]:
    """`dataset` as a list: a sequence as is; a string split on commas ("a,b" -> ["a", "b"])."""
    items = [dataset] if isinstance(dataset, str) else list(dataset)
    out = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
    if not out:
        raise DatasetError(f"no dataset given ({dataset!r}); expected a dataset directory or several, comma-separated")
    return out


def check_dataset_directory(path: str) -> str:
    """The absolute path of a TFDS dataset directory; DatasetError naming it when it is missing or holds no
    `dataset_info.json`."""
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise DatasetError(f"dataset directory {path} does not exist")
    if not os.path.exists(os.path.join(path, "dataset_info.json")):
        raise DatasetError(
            f"{path} is not an RLDS/TFDS dataset directory: it has no dataset_info.json "
            "(expected the directory written by `rosmo dataset ...` or by TFDS)"
        )
    return path
