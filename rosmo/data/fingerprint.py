"""A dataset's content fingerprint: per-shard sizes and CRC32s, and an id over them (no TensorFlow).

Recorded in a dataset's `metadata.json` under `fingerprint` when it is written (`rosmo.data.rlds`);
runs record the id to notice a dataset replaced under them (`rosmo.training.dataset_record`). Apart
from the reader: comparing ids and shard files needs no TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from typing import Any, Mapping, Optional

FINGERPRINT_KEY = "fingerprint"


def crc32_file(path: str) -> int:
    """zlib's CRC32 of a file's bytes, read in 1 MiB chunks."""
    crc = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            crc = zlib.crc32(chunk, crc)
    return crc


def file_difference(path: str, size: int, crc32: Optional[int] = None) -> Optional[tuple[str, int]]:
    """How the file at `path` differs from a recorded size and CRC32 (the CRC only when given, and only when
    the size matches): ("missing", 0), ("size", its bytes), ("crc32", its CRC32), or None when it matches."""
    if not os.path.isfile(path):
        return ("missing", 0)
    actual_size = os.path.getsize(path)
    if actual_size != size:
        return ("size", actual_size)
    if crc32 is not None:
        actual_crc = crc32_file(path)
        if actual_crc != crc32:
            return ("crc32", actual_crc)
    return None


def fingerprint_files(directory: str) -> dict[str, Any]:
    """The content fingerprint of a dataset directory's shards: {"id", "shards": {name: [bytes, crc32 hex]}}.

    `id` is the first 16 hex digits of the SHA-256 of the sorted shard list, so two datasets with the
    same shard bytes have the same id and any changed, added or missing shard changes it. CRC32 is
    zlib's (about 1 GB/s); `verify_fingerprint` checks sizes only unless asked for the CRCs.
    """
    shards = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if ".tfrecord" in name and os.path.isfile(path):
            shards[name] = [os.path.getsize(path), f"{crc32_file(path):08x}"]
    digest = hashlib.sha256(json.dumps(shards, sort_keys=True).encode()).hexdigest()[:16]
    return {"id": digest, "shards": shards}


def dataset_fingerprint(path: str) -> Optional[str]:
    """The fingerprint id recorded in a dataset's metadata.json; None when it has none (made by an older rosmo)."""
    try:
        with open(os.path.join(path, "metadata.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    fingerprint = meta.get(FINGERPRINT_KEY) if isinstance(meta, dict) else None
    return fingerprint.get("id") if isinstance(fingerprint, dict) else None


def verify_fingerprint(path: str, recorded: Mapping[str, Any], crc: bool = False) -> list[str]:
    """The shards of `path` that differ from the `recorded` fingerprint (sizes; CRC32 too with `crc`); [] if none."""
    problems = []
    shards = recorded.get("shards") or {}
    present = {n for n in os.listdir(path) if ".tfrecord" in n}
    for name in sorted(present - set(shards)):
        problems.append(f"{name}: not in the fingerprint")
    for name, (size, crc32) in sorted(shards.items()):
        difference = file_difference(os.path.join(path, name), size, int(crc32, 16) if crc else None)
        if difference is None:
            continue
        kind, actual = difference
        if kind == "missing":
            problems.append(f"{name}: missing")
        elif kind == "size":
            problems.append(f"{name}: {actual} bytes, recorded {size}")
        else:
            problems.append(f"{name}: CRC32 {actual:08x}, recorded {crc32}")
    return problems
