"""The tests' JAX compilation cache is kept under its size limit by deleting its oldest entries, and only those."""

import os

from tests.conftest import _prune_cache


def _write(path, size, mtime):
    with open(path, "wb") as f:
        f.write(b"x" * size)
    os.utime(path, (mtime, mtime))


def test_prune_deletes_the_oldest_jax_entries_and_nothing_else(tmp_path):
    key = "0123456789abcdef" * 4  # a sha256 in hex
    entries = [tmp_path / f"jit_update{i}-{key}-cache" for i in range(6)]
    for i, path in enumerate(entries):
        _write(path, 100, mtime=1000 + i)  # entry 0 is the oldest
    user_files = [tmp_path / "notes.txt", tmp_path / "jit_update-not-a-key-cache"]
    for path in user_files:
        _write(path, 10_000, mtime=1)  # older and larger than every entry
    _prune_cache(str(tmp_path), max_bytes=500)  # 600 bytes of entries: delete the oldest down to 250
    assert [p.exists() for p in entries] == [False, False, False, False, True, True]
    assert all(p.exists() for p in user_files)
    _prune_cache(str(tmp_path), max_bytes=500)  # under the limit: nothing more goes
    assert [p.exists() for p in entries] == [False, False, False, False, True, True]
