"""The shared JSON and config helpers: tolerant reads, flattening, config differences."""

import json

import numpy as np
import pytest

from rosmo.errors import UserError
from rosmo.jsonio import (
    MISSING,
    config_changes,
    flatten_dict,
    read_json_if_present,
    read_json_or_none,
    write_json_atomic,
)


def test_reads(tmp_path):
    good, bad, missing = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "missing.json"
    write_json_atomic(str(good), {"a": np.float32(0.5), "b": (1, 2)})
    bad.write_text('{"a": ')
    assert json.loads(good.read_text()) == {"a": 0.5, "b": [1, 2]}
    assert read_json_or_none(str(good)) == {"a": 0.5, "b": [1, 2]}
    assert read_json_or_none(str(bad)) is None and read_json_or_none(str(missing)) is None
    assert read_json_if_present(str(missing), UserError) is None
    with pytest.raises(UserError, match=r"bad\.json: not valid JSON"):
        read_json_if_present(str(bad), UserError)
    with pytest.raises(UserError, match=r"^bad\.json: not valid JSON"):
        read_json_if_present(str(bad), UserError, name="bad.json")
    with pytest.raises(UserError, match=r": cannot read it \(Is a directory\)$"):
        read_json_if_present(str(tmp_path), UserError)


def test_flatten_and_changes():
    assert flatten_dict({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {"a.b": 1, "a.c.d": 2, "e": 3}
    old = {"lr": 0.1, "net": {"width": 64}, "gone": 1}
    new = {"lr": 0.1, "net": {"width": 128}, "added": np.int64(2)}
    assert config_changes(old, new) == {"added": (MISSING, 2), "gone": (1, MISSING), "net.width": (64, 128)}
    assert config_changes(old, new, same=lambda field, a, b: field != "net.width") == {"net.width": (64, 128)}
