"""Run names from the fields a sweep varies: `unroll_steps=3,seed=0`.

    format_value(0.1) -> "0.1"     format_value(100.0) -> "100"    format_value(True) -> "true"
    config_label("bsuite:catch") -> "catch"
    config_label("experiments/bsuite/config.py:cartpole") -> "cartpole"
    run_name({"config": "catch", "unroll_steps": 3, "seed": 0}) -> "config=catch,unroll_steps=3,seed=0"

A name is a directory name: characters other than letters, digits and `._+-`
in a value become `-`; a name longer than `MAX_NAME` is cut and ends with a
short hash of the full name, so it stays unique.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any, Iterable, Mapping, Optional

MAX_NAME = 200
CONFIG_AXIS = "config"  # the grid axis over base configs ("bsuite:catch", "bsuite:cartpole", ...)
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def format_value(value: Any) -> str:
    """A short, file-name-safe text for one field value (bool, int, float, None, str, tuple)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "none"
    elif isinstance(value, float):
        text = format(value, "g") if value != int(value) or abs(value) >= 1e16 else str(int(value))
    elif isinstance(value, (list, tuple)):
        text = "-".join(format_value(v) for v in value)
    else:
        text = str(value)
    return _UNSAFE.sub("-", text).strip("-") or "empty"


def config_label(spec: str) -> str:
    """The short name of a config spec: its argument, else the file's stem ("bsuite:catch" -> "catch")."""
    head, sep, arg = str(spec).partition(":")
    if sep and arg:
        return format_value(arg)
    return format_value(os.path.splitext(os.path.basename(head))[0])


def value_labels(field: str, values: Iterable[Any]) -> dict[str, str]:
    """repr(value) -> its label in names: configs by `config_label`, paths by the fewest trailing components
    that tell them apart (/data/a/catch, /data/b/catch -> a-catch, b-catch), other values by `format_value`."""
    values = list({repr(v): v for v in values}.values())
    if field == CONFIG_AXIS:
        return {repr(v): config_label(v) for v in values}
    paths = [v for v in values if isinstance(v, str) and "/" in v]
    labels = {repr(v): format_value(v) for v in values if v not in paths}
    parts = {p: [c for c in os.path.normpath(p).split(os.sep) if c] for p in paths}
    for depth in range(1, max((len(c) for c in parts.values()), default=0) + 1):
        tails = {p: "-".join(c[-depth:]) for p, c in parts.items()}
        if len(set(tails.values())) == len(tails) or depth == max(len(c) for c in parts.values()):
            labels.update({repr(p): format_value(t) for p, t in tails.items()})
            break
    return labels


def run_name(point: Mapping[str, Any], labels: Optional[Mapping[str, Mapping[str, str]]] = None) -> str:
    """`field=value,...` in the order of `point` (the fields that vary across the sweep).

    `labels`: field -> {repr(value): label} (`value_labels` over the whole sweep); without it,
    configs by `config_label` and other values by `format_value`.
    """
    if not point:
        return "run"
    labels = labels or {}

    def label(field: str, value: Any) -> str:
        if field in labels and repr(value) in labels[field]:
            return labels[field][repr(value)]
        return config_label(value) if field == CONFIG_AXIS else format_value(value)

    name = ",".join(f"{field}={label(field, value)}" for field, value in point.items())
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = f"{name[: MAX_NAME - 11]}~{digest}"
    return name
