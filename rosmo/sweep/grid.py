"""A sweep's runs: grid points in run order, each resolved to a checked config and a name.

    points = expand(spec)       # [{"config": "bsuite:catch", "unroll_steps": 1, "seed": 0}, ...]
    runs = plan_runs(spec)      # [RunPlan(name="unroll_steps=1,seed=0", point=..., config=...), ...]

Order: seeds outermost, then the grids in order, then each grid's product in
its field order, so a sweep cut short still has every group with the seeds it
reached. A run's config = base config -> `set` -> its grid values -> seed,
then string values naming other fields (`{env}`) are filled in, then
`validate_config`. The name holds the fields whose value differs across the
sweep (`rosmo.sweep.naming.run_name`).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Mapping

import ml_collections

from rosmo.configs.loading import load_config, update_config
from rosmo.configs.validation import validate_config
from rosmo.errors import ConfigError
from rosmo.sweep.naming import CONFIG_AXIS, run_name, value_labels
from rosmo.sweep.spec import SEED_AXIS, SweepError, SweepSpec


@dataclasses.dataclass
class RunPlan:
    """One run of a sweep: `point` = its varied fields (typed, `config` as a spec), `config` resolved."""

    name: str
    point: dict[str, Any]
    config_spec: str
    config: ml_collections.ConfigDict

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "point": dict(self.point),
            "config_spec": self.config_spec,
            "config": self.config.to_dict(),
        }


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """Grid points (field -> raw value, with `config` and `seed`) in run order; no config is loaded."""
    configs = spec.config if isinstance(spec.config, list) else [spec.config]
    points = []
    for seed in spec.seeds:
        for grid in spec.grids:
            axes = dict(grid)
            if CONFIG_AXIS not in axes:
                axes = {CONFIG_AXIS: configs, **axes}
            fields = list(axes)
            for values in itertools.product(*(axes[f] for f in fields)):
                points.append({**dict(zip(fields, values)), SEED_AXIS: seed})
    return points


def varied_fields(points: list[Mapping[str, Any]]) -> list[str]:
    """Fields (in first-seen order) that take more than one value across `points` or are missing from some."""
    fields: list[str] = []
    for p in points:
        fields.extend(f for f in p if f not in fields)
    out = []
    for field in fields:
        values = {repr(p[field]) if field in p else "<missing>" for p in points}
        if len(values) > 1:
            out.append(field)
    return out


def _get(config: ml_collections.ConfigDict, field: str) -> Any:
    node = config
    for part in field.split("."):
        node = node[part]
    return node


def _fill_templates(config: ml_collections.ConfigDict, fields: list[str], where: str) -> None:
    """Format string values holding `{field}` with the run's config (e.g. dataset_dir: /data/{env})."""
    values = config.to_dict()
    for field in fields:
        value = _get(config, field)
        if isinstance(value, str) and "{" in value:
            try:
                filled = value.format(**values)
            except (KeyError, IndexError, ValueError) as err:
                raise SweepError(f"{where}: {field}={value!r}: cannot fill in {err} from the run's config") from None
            update_config(config, {field: filled})


def resolve(
    config_spec: str, fixed: Mapping[str, Any], values: Mapping[str, Any], where: str
) -> ml_collections.ConfigDict:
    """The checked config of one run: base -> fixed -> grid values (incl. seed) -> templates -> validate."""
    try:
        config = load_config(config_spec)
        update_config(config, fixed)
        update_config(config, values)
        _fill_templates(config, list(fixed) + list(values), where)
        validate_config(config)
    except SweepError:
        raise
    except ConfigError as err:
        raise SweepError(f"{where}: {err}", field=err.field, spec=err.spec) from None
    return config


def plan_runs(spec: SweepSpec) -> list[RunPlan]:
    """Every run of `spec`, resolved and named; SweepError on a bad field or two runs with one name."""
    points = expand(spec)
    varied = varied_fields(points)
    if spec.seed_in_names and SEED_AXIS not in varied:
        varied.append(SEED_AXIS)
    varied = [f for f in varied if f != SEED_AXIS] + [f for f in varied if f == SEED_AXIS]  # seed last in names
    resolved = []
    for raw in points:
        config_spec = raw[CONFIG_AXIS]
        values = {k: v for k, v in raw.items() if k != CONFIG_AXIS}
        where = f"{spec.source}: run " + ", ".join(f"{k}={v}" for k, v in raw.items())
        config = resolve(config_spec, spec.fixed, values, where)
        point = {f: (config_spec if f == CONFIG_AXIS else _get(config, f)) for f in varied if f in raw}
        resolved.append((raw, point, config_spec, config))
    labels = {f: value_labels(f, [p[f] for _, p, _, _ in resolved if f in p]) for f in varied}
    runs: list[RunPlan] = []
    by_name: dict[str, dict[str, Any]] = {}
    for raw, point, config_spec, config in resolved:
        name = run_name(point, labels)
        if name in by_name:
            raise SweepError(
                f"{spec.source}: two runs named {name!r} ({by_name[name]} and {raw}); vary a field only once"
            )
        by_name[name] = raw
        runs.append(RunPlan(name=name, point=point, config_spec=config_spec, config=config))
    return runs


_MISSING = object()


def _same_value(actual: Any, wanted: str) -> bool:
    """Whether a config value reads as `wanted` (numbers compared as numbers: 10 matches 10.0)."""
    if actual is _MISSING:
        return False
    if isinstance(actual, bool) or actual is None:
        return str(actual).lower() == wanted.lower()
    if isinstance(actual, (int, float)):
        try:
            return float(actual) == float(wanted)
        except ValueError:
            return False
    return str(actual) == wanted


def _config_value(run: RunPlan, field: str) -> Any:
    """The run's value of a config field (`config`: its config spec), `_MISSING` when it has none."""
    if field == CONFIG_AXIS:
        return run.config_spec
    try:
        return _get(run.config, field)
    except (KeyError, AttributeError):
        return _MISSING


def select_runs(runs: list[RunPlan], only: list[str]) -> list[RunPlan]:
    """The runs whose config matches every `FIELD=V1,V2,...` of `only` (one of the values), in run order.

    `config=SPEC` matches the run's config spec (e.g. `config=minatar:breakout`). SweepError names the
    filter when it is malformed, names a field no run has, or keeps no run.
    """
    selected = list(runs)
    for item in only:
        field, sep, values_text = item.partition("=")
        field = field.strip()
        values = [v.strip() for v in values_text.split(",") if v.strip()]
        if not sep or not field or not values:
            raise SweepError(f"--only {item!r}: expected FIELD=V1,V2,... (e.g. --only algo=rosmo,mzu)")

        if runs and all(_config_value(run, field) is _MISSING for run in runs):
            raise SweepError(f"--only {item!r}: no run has a config field {field!r}")
        selected = [run for run in selected if any(_same_value(_config_value(run, field), v) for v in values)]
    if not selected:
        raise SweepError(f"--only {' '.join(only)}: no run of the sweep matches")
    return selected
