"""Configs by name or file, and FIELD=VALUE overrides (the CLI's `--config.FIELD=VALUE`) with clear errors.

    load_config("bsuite:catch")                    # a suite's shipped config (rosmo.suites.SUITES)
    load_config("atari:Pong,small")                # a suite config with its argument
    load_config("experiments/bsuite/config.py:cartpole")   # any file with get_config(arg)
    apply_overrides(config, ["unroll_steps=5", "search_depth=None", "act_greedy=false"])

A value is parsed by the type of the field it replaces (bool: true/false/1/0/yes/no;
int; float; str; `None` for fields that may be empty). A field that does not exist
is an error naming the field and the closest field names (`ConfigError.field`; the CLI spells it as its flag).
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import os
from typing import Any, Iterable, Mapping

import ml_collections

from rosmo.errors import ConfigError
from rosmo.suites import SUITES

_KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
_TRUE = ("true", "1", "yes", "y", "on")
_FALSE = ("false", "0", "no", "n", "off")


def _config_module(path: str, spec: str):
    if not os.path.isfile(path):
        raise ConfigError(
            f"{spec}: no config file {path!r} (expected a file with get_config(), or one of "
            f"{', '.join(f'{name}:<arg>' for name in SUITES)})",
            spec=spec,
        )
    module_spec = importlib.util.spec_from_file_location(f"rosmo_config_{abs(hash(os.path.abspath(path)))}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:  # the user's file: say which and why
        raise ConfigError(f"{spec}: cannot load {path}: {type(err).__name__}: {err}", spec=spec) from err
    return module


def load_config(spec: str) -> ml_collections.ConfigDict:
    """The ConfigDict named by `spec`: "<suite>:<arg>" or "<file.py>[:<arg>]"; ConfigError otherwise."""
    spec = str(spec)
    head, sep, arg = spec.partition(":")
    if head in SUITES:
        get_config = SUITES[head].get_config
    else:
        get_config = getattr(_config_module(head, spec), "get_config", None)
        if get_config is None:
            raise ConfigError(f"{spec}: {head} defines no get_config()", spec=spec)
    try:
        config = get_config(arg) if sep else get_config()
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{spec}: {err}", spec=spec) from None
    except Exception as err:  # the user's get_config failed: say where, in one line
        raise ConfigError(
            f"{spec}: get_config() in {head} raised {type(err).__name__}: "
            f"{' '.join(str(err).split()) or '(no message)'}",
            spec=spec,
        ) from None
    if not isinstance(config, ml_collections.ConfigDict):
        raise ConfigError(f"{spec}: get_config() returned {type(config).__name__}, expected a ConfigDict", spec=spec)
    return config


def parse_value(field: str, text: str, kind: type, nullable: bool) -> Any:
    """`text` as a value of type `kind` for config field `field`; ConfigError naming the field otherwise."""
    flag = f"{field}={text}"
    lowered = text.strip().lower()
    if lowered == "none" and (nullable or kind is type(None)):
        return None
    if lowered == "none":
        raise ConfigError(
            f"{flag}: expected {_KIND_NAMES.get(kind, kind.__name__)}; this field cannot be empty", field=field
        )
    try:
        if kind is bool:
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind is str:
            return text
        if kind in (tuple, list):
            value = ast.literal_eval(text)
            return kind(value if isinstance(value, (tuple, list)) else (value,))
        if kind is type(None):
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return text
    except (ValueError, SyntaxError):
        raise ConfigError(f"{flag}: expected {_KIND_NAMES.get(kind, kind.__name__)}", field=field) from None
    raise ConfigError(f"{flag}: fields of type {kind.__name__} cannot be set from text", field=field)


def _parent(config: ml_collections.ConfigDict, field: str):
    parts = field.split(".")
    node = config
    for depth, part in enumerate(parts):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            known = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
            close = difflib.get_close_matches(part, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"{field}: the config has no field {'.'.join(parts[: depth + 1])!r}{hint}", field=field)
        if depth < len(parts) - 1:
            node = node[part]
    return node, parts[-1]


def _nullable(node: ml_collections.ConfigDict, key: str) -> bool:
    """Whether a field may hold None: it does now, or it is a typed placeholder (a FieldReference)."""
    return node[key] is None or isinstance(node._fields.get(key), ml_collections.FieldReference)  # noqa: SLF001


def apply_override(config: ml_collections.ConfigDict, field: str, text: str) -> None:
    """Set `config.<field>` (dotted for nested fields) from its command-line text."""
    node, key = _parent(config, field)
    kind = node.get_type(key)
    value = parse_value(field, text, kind, _nullable(node, key))
    try:
        node[key] = value
    except TypeError as err:
        raise ConfigError(f"{field}={text}: {err}", field=field) from None


def apply_overrides(config: ml_collections.ConfigDict, overrides: Iterable[str]) -> dict[str, str]:
    """Apply "field=value" items in order; returns {field: text} of what was set."""
    applied: dict[str, str] = {}
    for item in overrides:
        field, sep, text = str(item).partition("=")
        if not sep or not field:
            raise ConfigError(f"{item}: expected FIELD=VALUE", field=str(item))
        apply_override(config, field, text)
        applied[field] = text
    return applied


def update_config(config: ml_collections.ConfigDict, values: Mapping[str, Any]) -> ml_collections.ConfigDict:
    """Set already-typed values (e.g. from a sweep grid), checking each field exists; returns `config`."""
    for field, value in values.items():
        node, key = _parent(config, field)
        if isinstance(value, str) and node.get_type(key) is not str:
            value = parse_value(field, value, node.get_type(key), _nullable(node, key))
        try:
            node[key] = value
        except TypeError as err:
            raise ConfigError(f"{field}={value!r}: {err}", field=field) from None
    return config
