"""Which dataset a run trained on: its absolute path and content fingerprint, checked on resume and evaluation.

    current = identify(spec.path)                          # {"path": ..., "fingerprint": ... or None}
    change = check_same_dataset(workdir, current, allow)   # DatasetChangedError, or (old, new) when allowed
    write_record(workdir, current)                         # <workdir>/dataset.json

A dataset's fingerprint (`rosmo.data.fingerprint.fingerprint_files`: per-shard sizes and CRC32s
and an id over them) is written into its metadata by the dataset writer, so comparing two
ids costs one small JSON read. A dataset remade at the same path (`--overwrite` with
another seed) gets another id; a resume on it is refused unless `--allow-config-change`,
which records the change in `config_changes.jsonl`. Datasets made before fingerprints
existed have none and are not compared.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from rosmo.data.fingerprint import dataset_fingerprint
from rosmo.errors import ConfigError
from rosmo.jsonio import read_json_or_none
from rosmo.training.run_logging import write_json_atomic

RECORD_FILE = "dataset.json"
CHANGE_FIELD = "dataset.fingerprint"  # the name a dataset change carries in config_changes.jsonl


class DatasetChangedError(ConfigError):
    """The dataset at a run's data path is not the one the run (or checkpoint) trained on."""


def identify(paths: str) -> dict[str, Any]:
    """{"path": absolute path(s), comma-joined as given; "fingerprint": the id(s), or None when one has none}."""
    parts = [os.path.abspath(p) for p in str(paths).split(",") if p]
    ids = [dataset_fingerprint(p) for p in parts]
    return {"path": ",".join(parts), "fingerprint": None if None in ids or not ids else ",".join(ids)}


def read_record(workdir: str) -> Optional[dict[str, Any]]:
    """The run's `dataset.json` ({"path", "fingerprint"}), None when absent or unreadable."""
    record = read_json_or_none(os.path.join(workdir, RECORD_FILE))
    return record if isinstance(record, dict) else None


def write_record(workdir: str, current: dict[str, Any]) -> None:
    write_json_atomic(
        os.path.join(workdir, RECORD_FILE), {"path": current["path"], "fingerprint": current["fingerprint"]}
    )


def check_same_dataset(workdir: str, current: dict[str, Any], allow: bool) -> Optional[tuple[Any, Any]]:
    """None when the run's recorded dataset is `current` (or either has no fingerprint); (old id, new id) when it
    differs and `allow`; DatasetChangedError naming both otherwise."""
    recorded = read_record(workdir)
    old = (recorded or {}).get("fingerprint")
    new = current.get("fingerprint")
    if not old or not new or old == new:
        return None
    if allow:
        return old, new
    raise DatasetChangedError(
        f"--workdir {workdir}: the dataset {current['path']} (fingerprint {new}) is not the one this run trained on "
        f"({recorded.get('path')}, fingerprint {old}); it was remade or replaced since. Restore it, use another "
        "--workdir, or pass --allow-config-change to go on with it (recorded in config_changes.jsonl)"
    )


def run_allows(run_dir: str, old: str, new: str) -> bool:
    """Whether the run's config_changes.jsonl records the change old -> new of its dataset as intended."""
    try:
        with open(os.path.join(run_dir, "config_changes.jsonl")) as f:
            lines = f.readlines()
    except OSError:
        return False
    for line in lines:
        try:
            change = (json.loads(line).get("changes") or {}).get(CHANGE_FIELD)
        except (ValueError, AttributeError):
            continue
        if change and list(change) == [old, new]:
            return True
    return False


def checkpoint_dataset_problem(run_dir: Optional[str], extra: dict[str, Any]) -> Optional[str]:
    """Why a checkpoint's data no longer matches its run ("" / None when it does or cannot be told).

    The checkpoint records the dataset's metadata (with its fingerprint) and path. When the dataset
    now at that path, or the run's `dataset.json`, names another fingerprint and the run did not
    record the change as intended, the checkpoint's scores would be normalised against references
    of other data than the run's later checkpoints.
    """
    meta = extra.get("dataset_metadata") or {}
    fingerprint = meta.get("fingerprint") if isinstance(meta, dict) else None
    trained = fingerprint.get("id") if isinstance(fingerprint, dict) else None
    path = extra.get("dataset_path")
    if not trained or not path:
        return None
    now = identify(path)["fingerprint"] if all(os.path.isdir(p) for p in str(path).split(",")) else None
    recorded = (read_record(run_dir) or {}).get("fingerprint") if run_dir else None
    for label, other in (("the dataset now at " + str(path), now), ("the run's " + RECORD_FILE, recorded)):
        if other and other != trained and not (run_dir and run_allows(run_dir, trained, other)):
            return (
                f"the checkpoint was trained on dataset fingerprint {trained} but {label} has fingerprint {other} "
                "(remade or replaced since)"
            )
    return None
