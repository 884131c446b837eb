"""JSON files and config dicts, shared by every layer: atomic writes, tolerant reads, flattening, differences.

write_json_atomic(path, obj)        temp file + fsync + rename: readers never see half a file
read_json_or_none(path)             None when missing, unreadable or not JSON (files being written)
read_json_if_present(path, Error)   None when missing, Error("<path>: not valid JSON (...)") when broken or unreadable
flatten_dict({"a": {"b": 1}})       {"a.b": 1}: a config's fields by their dotted names
config_changes(old, new)            {"field": (old value, new value)} of the fields that differ
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable, Optional

MISSING = "<absent>"
"""`config_changes`' value of a field that one of the two configs does not have."""


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy / jax arrays and scalars
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "to_dict"):  # ml_collections.ConfigDict
        return obj.to_dict()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serializable: {obj!r}")


def to_jsonable(obj: Any) -> Any:
    """`obj` as plain JSON types (dict/list/str/int/float/bool/None).

    numpy/jax scalars and arrays become numbers/lists, tuples and sets lists,
    paths strings, ConfigDicts dicts. Raises TypeError naming the offending value.
    """
    return json.loads(json.dumps(obj, default=_json_default))


def write_json_atomic(path: str, obj: Any, indent: int = 2) -> None:
    """Write `obj` as JSON to `path` atomically: a temp file in the same directory, fsync, `os.replace`.

    Readers see either the old file or the complete new one, never a partial
    write; no temp file is left behind, even when serialisation fails.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    text = json.dumps(obj, default=_json_default, indent=indent, sort_keys=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _plain(obj: Any) -> Any:
    """Like `to_jsonable`, with any other object as its text (a config may hold anything)."""

    def default(value: Any) -> Any:
        try:
            return _json_default(value)
        except TypeError:
            return str(value)

    return json.loads(json.dumps(obj, default=default))


def read_json(path: str) -> Any:
    """The JSON value in `path`; OSError or json.JSONDecodeError (a ValueError) otherwise."""
    with open(path) as f:
        return json.load(f)


def read_json_or_none(path: str) -> Optional[Any]:
    """The JSON value in `path`, or None when it is missing, unreadable or not valid JSON (e.g. being written)."""
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def read_json_if_present(path: str, error: Callable[[str], Exception], name: Optional[str] = None) -> Optional[Any]:
    """The JSON value in `path`; None when the file does not exist; `error("<path>: not valid JSON (<why>)")` raised
    when it exists but is broken (a user's file: say which), `error("<path>: cannot read it (<why>)")` when it
    cannot be read.

    Args:
      path: the file.
      error: builds the exception from its message, e.g. an error class of the caller's layer.
      name: what the message calls the file (default: `path`).
    """
    shown = path if name is None else name
    try:
        return read_json(path)
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise error(f"{shown}: not valid JSON ({err})") from None
    except OSError as err:
        raise error(f"{shown}: cannot read it ({err.strerror or err})") from None


def flatten_dict(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> {"a.b": leaf}, e.g. a saved config's fields by their dotted `--config` names."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten_dict(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_changes(
    old: dict[str, Any], new: dict[str, Any], same: Optional[Callable[[str, Any, Any], bool]] = None
) -> dict[str, tuple[Any, Any]]:
    """{field: (old value, new value)} of the fields that differ, by dotted name, sorted; `MISSING` where absent.

    Args:
      old, new: config dicts (ConfigDicts, numpy values; other objects compare by their text).
      same: (field, old value, new value) -> whether they count as equal; default `==`.
    """
    a, b = flatten_dict(_plain(old)), flatten_dict(_plain(new))
    same = same or (lambda field, x, y: x == y)
    changes = {}
    for field in sorted(set(a) | set(b)):
        x, y = a.get(field, MISSING), b.get(field, MISSING)
        if not same(field, x, y):
            changes[field] = (x, y)
    return changes
