"""RLDS datasets on disk in TFDS format: the schema, a writer and a reader.

An RLDS dataset is a TFDS dataset of episodes; each episode holds a nested
`steps` dataset. Step `t` carries the observation `o_t`, the action `a_t`
taken there, the reward `r_t` received after it, the discount, and the flags
`is_first`, `is_last`, `is_terminal`. The last step of an episode carries the
final observation with `is_last=True`; its action and reward are padding (0).

Datasets are written with TFDS's own `SequentialWriter` (the path envlogger
uses) into a temporary directory that is renamed into place at the end, so a
reader never sees a half-written dataset. They are read back with
`tfds.builder_from_directory`. The metadata carries a content fingerprint
(`fingerprint`: per-shard sizes and CRC32s, and an id over them) that runs
record to notice a dataset replaced under them. Overwriting replaces only a
directory that is a dataset of ours (`check_replaceable`).

The temporary directory (`.<name>.tmp-*` next to the dataset) records its owner
(`.rosmo-owner.json`: pid, host, start time). A maker that is killed cannot remove
it; the next writer of the same dataset removes those whose owner no longer runs
and names, in a warning, those it cannot judge.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import sys
import tempfile
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

from rosmo.data.fingerprint import FINGERPRINT_KEY, fingerprint_files
from rosmo.data.paths import check_dataset_directory
from rosmo.errors import DatasetError, UserError  # noqa: F401  (rlds.DatasetError)
from rosmo.owner import describe, on_this_host, owner_alive, owner_record
from rosmo.tf_cpu import tf  # noqa: F401  (rlds.tf: the CPU-only TensorFlow every data module uses)
import tensorflow_datasets as tfds  # noqa: E402  (after TF is pinned to CPU)

STEP_FIELDS = ("observation", "action", "reward", "discount", "is_first", "is_last", "is_terminal")
WINDOW_FIELDS = ("observation", "action", "reward", "is_first", "is_last")
VERSION = "1.0.0"
OWNER_FILE = ".rosmo-owner.json"


# The files a dataset written by `RldsWriter` holds (TFDS's info files and its shards); `--overwrite` removes
# a directory only when it holds nothing else.
_DATASET_FILE = re.compile(r"^(dataset_info\.json|features\.json|metadata\.json|[^/]*\.tfrecord(-\d+)*(-of-\d+)?)$")


def check_replaceable(path: str, flag: str = "--overwrite") -> None:
    """DatasetError (one line naming what is there) unless `path` is absent or a dataset our writers made.

    A dataset of ours holds a metadata.json with a fingerprint (or, from older makers, `rosmo_version`)
    and only TFDS's info files and shards; anything else (a run directory, a user's notes, another
    program's data) is never removed.
    """
    if not os.path.lexists(path):
        return
    refuse = f"{flag} replaces only a dataset made by rosmo; move it away or choose another --out"
    if os.path.islink(path) or not os.path.isdir(path):
        raise DatasetError(f"{path} is {'a link' if os.path.islink(path) else 'a file'}, not a rosmo dataset: {refuse}")
    try:
        names = sorted(os.listdir(path))
    except OSError as err:
        raise DatasetError(f"{path} cannot be listed ({err.strerror or err}): {refuse}") from None
    try:
        with open(os.path.join(path, "metadata.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        meta = None
    others = [n + ("/" if os.path.isdir(os.path.join(path, n)) else "") for n in names if not _DATASET_FILE.match(n)]
    ours = isinstance(meta, dict) and (FINGERPRINT_KEY in meta or "rosmo_version" in meta)
    if not ours or others:
        shown = others or names
        what = (
            ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
            if shown
            else "nothing readable"
        )
        kind = (
            "holds files that are not part of a dataset"
            if ours
            else "is not a rosmo dataset (no metadata.json of ours)"
        )
        raise DatasetError(f"{path} {kind} ({what}): {refuse}")


def step_features(
    observation: tfds.features.FeatureConnector, action: Optional[tfds.features.FeatureConnector] = None
) -> tfds.features.FeaturesDict:
    """The RLDS step schema shared by all our datasets; the action is an int64 scalar unless given."""
    return tfds.features.FeaturesDict(
        {
            "observation": observation,
            "action": tfds.features.Scalar(dtype=np.int64) if action is None else action,
            "reward": tfds.features.Scalar(dtype=np.float32),
            "discount": tfds.features.Scalar(dtype=np.float32),
            "is_first": tfds.features.Scalar(dtype=np.bool_),
            "is_last": tfds.features.Scalar(dtype=np.bool_),
            "is_terminal": tfds.features.Scalar(dtype=np.bool_),
        }
    )


def bsuite_features(observation_shape: Sequence[int]) -> tfds.features.FeaturesDict:
    """Episode schema of our BSuite datasets: float32 observations of the env's shape."""
    return tfds.features.FeaturesDict(
        {
            "steps": tfds.features.Dataset(
                step_features(tfds.features.Tensor(shape=tuple(observation_shape), dtype=np.float32))
            ),
            "episode_id": tfds.features.Scalar(dtype=np.int64),
            "episode_return": tfds.features.Scalar(dtype=np.float32),
        }
    )


def continuous_features(observation_dim: int, action_dim: int) -> tfds.features.FeaturesDict:
    """Episode schema of continuous-control datasets (MuJoCo): float32 observation [obs_dim], action [act_dim].

    Step flags, reward and discount as in `bsuite_features`; the last step's action is padding (zeros).
    """
    return tfds.features.FeaturesDict(
        {
            "steps": tfds.features.Dataset(
                step_features(
                    tfds.features.Tensor(shape=(int(observation_dim),), dtype=np.float32),
                    tfds.features.Tensor(shape=(int(action_dim),), dtype=np.float32),
                )
            ),
            "episode_id": tfds.features.Scalar(dtype=np.int64),
            "episode_return": tfds.features.Scalar(dtype=np.float32),
        }
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class RldsWriter:
    """Writes episodes to `<out_dir>` (a TFDS dataset directory) atomically.

    Usage::

        with RldsWriter(out_dir, name, features, metadata) as writer:
            writer.add_episode({"steps": {...arrays [T, ...]...}, "episode_id": 0, ...})
            writer.metadata["random_return"] = ...   # may be filled in late
            writer.record_counts()                   # num_episodes, num_steps, num_transitions

    On a clean exit the temporary directory is renamed to `out_dir`; on an
    exception it is deleted and `out_dir` is left untouched.
    """

    def __init__(
        self,
        out_dir: str,
        name: str,
        features: tfds.features.FeaturesDict,
        metadata: Optional[dict[str, Any]] = None,
        description: str = "",
        overwrite: bool = False,
        max_episodes_per_shard: int = 1000,
    ):
        self.out_dir = os.path.abspath(out_dir)
        if os.path.lexists(self.out_dir) and not overwrite:
            raise FileExistsError(
                f"dataset directory {self.out_dir} already exists; pass overwrite=True (CLI: --overwrite) to replace it"
            )
        check_replaceable(self.out_dir)
        self.name = name
        self.features = features
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.description = description
        self.overwrite = overwrite
        self.max_episodes_per_shard = max_episodes_per_shard
        self.num_episodes = 0
        self.num_steps = 0
        self._tmp_dir: Optional[str] = None
        self._writer = None

    def __enter__(self) -> RldsWriter:
        parent = os.path.dirname(self.out_dir)
        os.makedirs(parent, exist_ok=True)
        clean_stale_temp_dirs(self.out_dir)
        self._tmp_dir = tempfile.mkdtemp(prefix=_temp_prefix(self.out_dir), dir=parent)
        with open(os.path.join(self._tmp_dir, OWNER_FILE), "w") as f:
            json.dump(owner_record(), f)
        info = self._info(self._tmp_dir)
        self._writer = tfds.core.SequentialWriter(info, max_examples_per_shard=self.max_episodes_per_shard)
        self._writer.initialize_splits(["train"])
        return self

    def _info(self, data_dir: str) -> tfds.core.DatasetInfo:
        identity = tfds.core.DatasetIdentity(
            name=self.name, version=tfds.core.Version(VERSION), data_dir=data_dir, module_name=""
        )
        return tfds.core.DatasetInfo(
            builder=identity,
            description=self.description,
            features=self.features,
            metadata=tfds.core.MetadataDict(),
        )

    def add_episode(self, episode: Mapping[str, Any]) -> None:
        """Append one episode: `{"steps": {field: array[T, ...]}, <episode fields>}`."""
        steps = episode["steps"]
        lengths = {k: len(v) for k, v in steps.items()}
        if len(set(lengths.values())) != 1:
            raise DatasetError(f"episode {self.num_episodes}: step fields have different lengths {lengths}")
        self._writer.add_examples({"train": [dict(episode)]})
        self.num_episodes += 1
        self.num_steps += next(iter(lengths.values()))

    def counts(self) -> dict[str, int]:
        """{"episodes", "steps", "transitions"} written so far: an episode of T + 1 steps holds T transitions."""
        return {
            "episodes": self.num_episodes,
            "steps": self.num_steps,
            "transitions": self.num_steps - self.num_episodes,
        }

    def record_counts(self) -> dict[str, int]:
        """Set the metadata's num_episodes, num_steps and num_transitions to `counts()`; returns them."""
        counts = self.counts()
        self.metadata.update({f"num_{k}": v for k, v in counts.items()})
        return counts

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._writer.close_all()
                self._finalise()
        finally:
            if self._tmp_dir and os.path.exists(self._tmp_dir):
                shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def _finalise(self) -> None:
        # SequentialWriter writes dataset_info.json as splits close; add metadata and sizes, then swap in.
        info = self._info(self._tmp_dir)
        info.read_from_directory(self._tmp_dir)
        info.metadata.update(_jsonable(self.metadata))
        info.metadata[FINGERPRINT_KEY] = fingerprint_files(self._tmp_dir)
        self.metadata[FINGERPRINT_KEY] = info.metadata[FINGERPRINT_KEY]
        info.write_to_directory(self._tmp_dir)
        os.remove(os.path.join(self._tmp_dir, OWNER_FILE))
        os.chmod(self._tmp_dir, 0o755)  # mkdtemp makes it private
        if os.path.lexists(self.out_dir):
            check_replaceable(self.out_dir)  # again: something may have been put there while we wrote
            shutil.rmtree(self.out_dir)
        os.replace(self._tmp_dir, self.out_dir)
        self._tmp_dir = None


def _temp_prefix(out_dir: str) -> str:
    return f".{os.path.basename(out_dir)}.tmp-"


def clean_stale_temp_dirs(out_dir: str) -> list[str]:
    """Remove temp directories of `out_dir` left by writers that no longer run; returns the removed paths.

    A temp directory whose owner runs (or cannot be judged: another host, no owner
    record) is kept and named in a one-line warning.
    """
    removed = []
    for path in sorted(glob.glob(os.path.join(os.path.dirname(out_dir), glob.escape(_temp_prefix(out_dir)) + "*"))):
        if not os.path.isdir(path):
            continue
        try:
            with open(os.path.join(path, OWNER_FILE)) as f:
                owner = json.load(f)
        except (OSError, ValueError):
            owner = None
        if isinstance(owner, dict) and on_this_host(owner) and not owner_alive(owner):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
            print(
                f"rosmo: note: removed {path}, left by a dataset maker that no longer runs ({describe(owner)})",
                file=sys.stderr,
                flush=True,
            )
            continue
        why = f"its maker may still run ({describe(owner)})" if isinstance(owner, dict) else "its maker is unknown"
        print(
            f"rosmo: warning: {path} is a temporary dataset directory and {why}; "
            "remove it if no dataset maker is running",
            file=sys.stderr,
            flush=True,
        )
    return removed


def directory_size_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def load_builder(path_or_name: str, data_dir: Optional[str] = None) -> tfds.core.DatasetBuilder:
    """Open an RLDS dataset: a directory written by TFDS, or a builder name with `data_dir`.

    Raises `DatasetError` naming the path when it is missing or not a TFDS dataset.
    """
    if data_dir is None:
        path = check_dataset_directory(path_or_name)
        try:
            return tfds.builder_from_directory(path)
        except Exception as err:  # TFDS raises several types for broken metadata
            raise DatasetError(f"{path}: cannot be read as a TFDS dataset ({err})") from err
    if not os.path.isdir(data_dir):
        raise DatasetError(f"data_dir {os.path.abspath(data_dir)} does not exist")
    try:
        return tfds.builder(path_or_name, data_dir=data_dir)
    except Exception as err:
        raise DatasetError(f"TFDS dataset {path_or_name!r} not found under data_dir {data_dir} ({err})") from err


def metadata(builder: tfds.core.DatasetBuilder) -> dict[str, Any]:
    """The dataset's metadata dict (env, seed, behaviour agent, reference returns...)."""
    meta = builder.info.metadata
    if meta:
        return dict(meta)
    path = os.path.join(str(builder.data_dir), "metadata.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def iterate_episodes_numpy(builder: tfds.core.DatasetBuilder, split: str = "train") -> Iterator[dict[str, Any]]:
    """Yield episodes as numpy: `{"steps": {field: array[T, ...]}, <episode fields>}`."""
    ds = builder.as_dataset(split=split)

    def batch_steps(episode):
        out = {k: v for k, v in episode.items() if k != "steps"}
        out["steps"] = episode["steps"].batch(1_000_000).get_single_element()
        return out

    yield from tfds.as_numpy(ds.map(batch_steps))
