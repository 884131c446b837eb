"""What a sweep runs: a base config, fixed overrides, a grid over config fields, seeds.

A sweep file is YAML (`.yaml`/`.yml`), JSON, or Python with `get_sweep()`
(`file.py:arg` calls `get_sweep("arg")`), all describing the same dict:

    config: bsuite:catch                   # a config spec (rosmo.configs.loading), or a list: an axis
    set: {num_steps: 3000, eval_every: 500}   # fixed overrides for every run
    grid: {unroll_steps: [1, 3, 5, 10]}    # the product of the lists; a list of such dicts
                                           # is their union (e.g. rosmo alone + mzu x num_simulations)
    seeds: 0-2                             # "0-4", "0,2,5", or a list of ints; sets `seed`
    description: one line shown by --dry-run

Command-line flags build the same thing or amend a file: `--config` replaces
its base config, `--config.FIELD=VALUE` (or `--set FIELD=VALUE`) adds fixed overrides,
`--grid FIELD=V1,V2` adds an axis to every grid, `--seeds` replaces its seeds. A string value may name
other fields of the run's config: `dataset_dir: /data/bsuite/{env}`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from typing import Any, Mapping, Optional, Sequence

import yaml

from rosmo.errors import ConfigError
from rosmo.sweep.naming import CONFIG_AXIS

SEED_AXIS = "seed"
KEYS = ("config", "set", "grid", "seeds", "description")


class SweepError(ConfigError):
    """A sweep file or flag that cannot be used; the message names it and what was expected."""


@dataclasses.dataclass
class SweepSpec:
    """A sweep: base config(s), fixed overrides, a union of product grids, seeds.

    `config` is one spec or a list (an axis over base configs); `grids` is a
    list of {field: [values]} (their union; each expands to its product);
    `fixed` applies to every run; `seeds` become the `seed` axis. `seed_in_names`: run names
    keep `seed=N` even when one seed is run (the sweep file had several; `--seeds 2` runs then
    carry the names of that file's seed-2 runs).
    """

    config: Any
    fixed: dict[str, Any] = dataclasses.field(default_factory=dict)
    grids: list[dict[str, list[Any]]] = dataclasses.field(default_factory=lambda: [{}])
    seeds: list[int] = dataclasses.field(default_factory=lambda: [0])
    description: str = ""
    source: str = "flags"
    seed_in_names: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "set": dict(self.fixed),
            "grid": [dict(g) for g in self.grids],
            "seeds": list(self.seeds),
            "description": self.description,
        }


def parse_seeds(text: Any, where: str = "--seeds") -> list[int]:
    """ "0-4" -> [0, 1, 2, 3, 4]; "0,2,5" -> [0, 2, 5]; "0-1,7" -> [0, 1, 7]; a list of ints as is."""
    if isinstance(text, bool):
        raise SweepError(f"{where}: expected seeds like 0-4, 0,2,5 or a list of integers, got {text!r}")
    if isinstance(text, int):
        return [text]
    if isinstance(text, (list, tuple)):
        if not text or not all(isinstance(s, int) and not isinstance(s, bool) for s in text):
            raise SweepError(f"{where}: expected a non-empty list of integers, got {list(text)!r}")
        seeds = list(text)
    else:
        seeds = []
        try:
            for part in str(text).split(","):
                part = part.strip()
                if not part:
                    continue
                low, dash, high = part.partition("-")
                if dash and low:
                    if int(high) < int(low):
                        raise ValueError
                    seeds.extend(range(int(low), int(high) + 1))
                else:
                    seeds.append(int(part))
        except ValueError:
            raise SweepError(f"{where}: expected seeds like 0-4, 0,2,5 or 0-1,7, got {text!r}") from None
        if not seeds:
            raise SweepError(f"{where}: expected at least one seed, got {text!r}")
    if len(set(seeds)) != len(seeds):
        raise SweepError(f"{where}: seed listed twice in {text!r}")
    return seeds


def split_values(text: str) -> list[str]:
    """ "1,3,5" -> ["1", "3", "5"]; commas inside (), [] or {} do not split: "(64,64),(32,)" -> 2 values."""
    values, depth, current = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += ch
    values.append(current.strip())
    return [v for v in values if v != ""]


def _check_grid(grid: Any, where: str) -> dict[str, list[Any]]:
    if not isinstance(grid, Mapping):
        raise SweepError(f"{where}: expected a mapping of config field -> list of values, got {type(grid).__name__}")
    out: dict[str, list[Any]] = {}
    for field, values in grid.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise SweepError(f"{where}.{field}: expected a non-empty list of values, got {values!r}")
        if field == SEED_AXIS:
            raise SweepError(f"{where}.{field}: give seeds with `seeds:` (or --seeds), not as a grid field")
        out[str(field)] = list(values)
    return out


def sweep_from_dict(data: Any, source: str) -> SweepSpec:
    """Check a sweep dict (the file format above) and return its SweepSpec; SweepError names the bad key."""
    if not isinstance(data, Mapping):
        raise SweepError(f"{source}: expected a mapping with keys {', '.join(KEYS)}, got {type(data).__name__}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise SweepError(f"{source}: unknown key {unknown[0]!r}; expected some of {', '.join(KEYS)}")
    config = data.get("config")
    if isinstance(config, (list, tuple)):
        if not config or not all(isinstance(c, str) and c for c in config):
            raise SweepError(f"{source}: config: expected a config spec or a non-empty list of them, got {config!r}")
        config = list(config)
    elif config is not None and not (isinstance(config, str) and config):
        raise SweepError(f"{source}: config: expected a config spec like bsuite:catch, got {config!r}")
    fixed = data.get("set") or {}
    if not isinstance(fixed, Mapping):
        raise SweepError(f"{source}: set: expected a mapping of config field -> value, got {type(fixed).__name__}")
    grid = data.get("grid") or {}
    grids = [grid] if isinstance(grid, Mapping) else grid
    if not isinstance(grids, (list, tuple)) or not grids:
        raise SweepError(f"{source}: grid: expected a mapping field -> [values] or a non-empty list of them")
    grids = [_check_grid(g, f"{source}: grid" + (f"[{i}]" if len(grids) > 1 else "")) for i, g in enumerate(grids)]
    seeds = parse_seeds(data.get("seeds", [0]), f"{source}: seeds")
    spec = SweepSpec(
        config=config,
        fixed=dict(fixed),
        grids=grids,
        seeds=seeds,
        description=str(data.get("description") or ""),
        source=source,
    )
    check_spec(spec)
    return spec


def check_spec(spec: SweepSpec) -> None:
    """A base config is named somewhere, and no field is both fixed and swept."""
    if SEED_AXIS in spec.fixed:
        raise SweepError(f"{spec.source}: set seed: give seeds with `seeds:` (or --seeds)")
    for grid in spec.grids:
        if spec.config is None and CONFIG_AXIS not in grid:
            raise SweepError(f"{spec.source}: no config: give `config:` (e.g. bsuite:catch) or --config")
        both = sorted(set(grid) & set(spec.fixed))
        if both:
            raise SweepError(f"{spec.source}: field {both[0]!r} is both fixed (set / --set) and swept (grid / --grid)")


def _load_python(path: str, arg: Optional[str], where: str) -> Any:
    module_spec = importlib.util.spec_from_file_location(f"rosmo_sweep_{abs(hash(os.path.abspath(path)))}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:  # the user's file: say which and why
        raise SweepError(f"{where}: cannot load {path}: {type(err).__name__}: {err}") from err
    if not hasattr(module, "get_sweep"):
        raise SweepError(f"{where}: {path} defines no get_sweep()")
    try:
        return module.get_sweep(arg) if arg is not None else module.get_sweep()
    except (TypeError, ValueError, KeyError) as err:
        raise SweepError(f"{where}: get_sweep({'' if arg is None else repr(arg)}): {err}") from None


def load_sweep_file(spec: str) -> SweepSpec:
    """A sweep file: "path.yaml", "path.json" or "path.py[:arg]" (Python with get_sweep([arg]))."""
    path, sep, arg = str(spec).partition(":") if str(spec).split(":")[0].endswith(".py") else (str(spec), "", "")
    if not os.path.isfile(path):
        raise SweepError(f"sweep file {path!r}: no such file (expected .yaml, .json or .py with get_sweep())")
    if path.endswith(".py"):
        data = _load_python(path, arg if sep else None, f"sweep file {spec}")
    else:
        try:
            with open(path) as f:
                data = json.load(f) if path.endswith(".json") else yaml.safe_load(f)
        except json.JSONDecodeError as err:
            raise SweepError(f"sweep file {path}: line {err.lineno}, column {err.colno}: {err.msg}") from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
            what = (
                " ".join(filter(None, [getattr(err, "context", None), getattr(err, "problem", None)]))
                or str(err).splitlines()[0]
            )
            raise SweepError(f"sweep file {path}: {where}{what}") from None
        except (OSError, UnicodeDecodeError) as err:
            raise SweepError(f"sweep file {path}: cannot read it ({getattr(err, 'strerror', None) or err})") from None
    return sweep_from_dict(data, f"sweep file {spec}")


def parse_assignments(items: Sequence[str], flag: str) -> dict[str, str]:
    """["field=value", ...] -> {field: value}; SweepError naming the flag otherwise."""
    out: dict[str, str] = {}
    for item in items:
        field, sep, value = str(item).partition("=")
        if not sep or not field.strip():
            raise SweepError(f"{flag} {item}: expected FIELD=VALUE")
        out[field.strip()] = value
    return out


def amend(
    spec: Optional[SweepSpec],
    config: Optional[str] = None,
    grid: Sequence[str] = (),
    seeds: Optional[str] = None,
    fixed: Sequence[str] = (),
) -> SweepSpec:
    """`spec` (or an empty sweep) amended by command-line flags (--config, --grid, --seeds, --set)."""
    out = (
        dataclasses.replace(spec, fixed=dict(spec.fixed), grids=[dict(g) for g in spec.grids])
        if spec
        else SweepSpec(config=None)
    )
    if config:
        out.config = config
    for field, text in parse_assignments(grid, "--grid").items():
        values = split_values(text)
        if not values:
            raise SweepError(f"--grid {field}={text}: expected comma-separated values")
        if field == SEED_AXIS:
            raise SweepError(f"--grid {field}=...: give seeds with --seeds")
        out.fixed.pop(field, None)  # a swept field is no longer fixed
        for g in out.grids:
            g[field] = values
    if seeds is not None:
        out.seed_in_names = out.seed_in_names or len(out.seeds) > 1
        out.seeds = parse_seeds(seeds, "--seeds")
    out.fixed.update(parse_assignments(fixed, "--set"))
    if spec is not None and (config or grid or seeds is not None or fixed):
        out.source = f"{spec.source} with flags"
        flags = (
            ([f"--config {config}"] if config else [])
            + [f"--grid {g}" for g in grid]
            + ([f"--seeds {seeds}"] if seeds is not None else [])
            + [f"--set {f}" for f in fixed]
        )
        out.description = f"{out.description} (amended: {' '.join(flags)})".strip()
    check_spec(out)
    return out
