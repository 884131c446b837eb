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
        file = os.path.join(path, name)
        if not os.path.isfile(file):
            problems.append(f"{name}: missing")
        elif os.path.getsize(file) != size:
            problems.append(f"{name}: {os.path.getsize(file)} bytes, recorded {size}")
        elif crc and f"{crc32_file(file):08x}" != crc32:
            problems.append(f"{name}: CRC32 {crc32_file(file):08x}, recorded {crc32}")
    return problems
