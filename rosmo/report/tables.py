"""Groups of runs and their tables: final-score IQM [95% CI] per group and env, probability of improvement.

A group is the runs that share every group field (by default the fields the
sweep varies, except `seed`; `config` too when it only picks the env); its
label is `field=value,...` ("all" when nothing but seeds varies). Arrays for
rliable: per group and env, the final scores of its finished runs [seeds, 1];
over envs, the seeds every env of the group has [seeds, envs].
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from rosmo.report.collect import ReportError, RunRecord
from rosmo.report.stats import interval_estimates, probability_of_improvement
from rosmo.sweep.naming import CONFIG_AXIS, value_labels

ALL_ENVS = "all envs"


def default_group_fields(records: Sequence[RunRecord]) -> list[str]:
    """Every varied field in first-seen order but `env` (a column of its own);
    `config` only when it is not just the env."""
    fields: list[str] = []
    for r in records:
        fields.extend(f for f in r.fields if f not in fields and f != "env")
    if CONFIG_AXIS in fields:
        pairs = {(r.fields.get(CONFIG_AXIS), r.env) for r in records}
        if len({c for c, _ in pairs}) == len(pairs) == len({e for _, e in pairs}):
            fields.remove(CONFIG_AXIS)
    return fields


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool) or value is None:
        return (2, str(value))
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value))


class Grouping:
    """Runs grouped by `fields`: `label(run)` = "field=value,..." (values as in run names; "all" when no field),
    `groups` in the order of their field values (numbers as numbers), `members(group)` the group's runs."""

    def __init__(self, records: Sequence[RunRecord], fields: Sequence[str]):
        self.records = list(records)
        self.fields = list(fields)
        self._labels = {f: value_labels(f, [r.fields[f] for r in records if f in r.fields]) for f in self.fields}
        keyed: dict[str, tuple] = {}
        self._members: dict[str, list[RunRecord]] = {}
        for r in self.records:
            g = self.label(r)
            keyed.setdefault(g, tuple(_sort_key(r.fields[f]) if f in r.fields else (3, "") for f in self.fields))
            self._members.setdefault(g, []).append(r)
        self.groups = sorted(keyed, key=lambda g: keyed[g])

    def label(self, record: RunRecord) -> str:
        parts = [f"{f}={self._labels[f][repr(record.fields[f])]}" for f in self.fields if f in record.fields]
        return ",".join(parts) or "all"

    def members(self, group: str) -> list[RunRecord]:
        return self._members.get(group, [])


def ordered_envs(records: Sequence[RunRecord]) -> list[str]:
    return sorted({r.env for r in records})


def final_matrix(records: Sequence[RunRecord], envs: Sequence[str]) -> Optional[np.ndarray]:
    """Final scores [seeds, envs] over the seeds finished in every env of `envs` (None if there are none)."""
    by_env = {
        e: {r.seed: r.final_score for r in records if r.env == e and r.finished and r.final_score is not None}
        for e in envs
    }
    seeds = sorted(set.intersection(*(set(v) for v in by_env.values())), key=_sort_key) if by_env else []
    if not seeds:
        return None
    return np.array([[by_env[e][s] for e in envs] for s in seeds], np.float64)


def group_table(grouping: Grouping, reps: int = 5_000, seed: int = 0) -> pd.DataFrame:
    """One row per group and env (plus `all envs` per group when there are several envs): IQM, mean, median with
    95% CIs over the finished runs' final scores, the number of seeds, mean steps and training seconds per run."""
    envs = ordered_envs(grouping.records)
    fields = grouping.fields
    arrays, meta = {}, {}
    for g in grouping.groups:
        members = grouping.members(g)
        g_envs = [e for e in envs if any(r.env == e for r in members)]
        for env in g_envs + ([ALL_ENVS] if len(g_envs) > 1 else []):
            use_envs = g_envs if env == ALL_ENVS else [env]
            matrix = final_matrix(members, use_envs)
            if matrix is None:
                continue
            key = f"{g} | {env}"
            arrays[key] = matrix
            done = [r for r in members if r.env in use_envs and r.finished]
            meta[key] = {
                "group": g,
                **{f: members[0].fields.get(f) for f in fields},
                "env": env,
                "seeds": int(matrix.shape[0]),
                "unfinished": sum(not r.finished and r.state != "duplicate" for r in members if r.env in use_envs),
                "num_steps": _mean([r.num_steps for r in done]),
                "train_seconds": _mean([r.train_seconds for r in done]),
            }
    if not arrays:
        raise ReportError("no finished run with a final score: nothing to put in a table")
    estimates = interval_estimates(arrays, reps=reps, seed=seed)
    rows = [{**meta[k], **{m: estimates[k][m] for m in estimates[k] if m not in ("runs", "tasks")}} for k in arrays]
    return pd.DataFrame(rows)


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    values = [float(v) for v in values if v is not None]
    return float(np.mean(values)) if values else None


def improvement_table(grouping: Grouping, chosen: str, reps: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """P(chosen > other) with its 95% CI for every other group, over the envs both have."""
    groups = grouping.groups
    if chosen not in groups:
        raise ReportError(f"--compare {chosen!r}: no such group; groups are: {', '.join(groups)}")
    members = {g: grouping.members(g) for g in groups}
    rows = []
    for other in groups:
        if other == chosen:
            continue
        envs = sorted({r.env for r in members[chosen]} & {r.env for r in members[other]})
        x, y = final_matrix(members[chosen], envs), final_matrix(members[other], envs)
        if not envs or x is None or y is None:
            continue
        p, low, high = probability_of_improvement(x, y, reps=reps, seed=seed)
        rows.append({"x": chosen, "y": other, "envs": ",".join(envs), "probability": p, "low": low, "high": high})
    return pd.DataFrame(rows, columns=["x", "y", "envs", "probability", "low", "high"])


def best_group(table: pd.DataFrame) -> str:
    """The group with the highest IQM over its envs (its `all envs` row when it has several)."""
    rows = table[table["env"] == ALL_ENVS]
    single = table[~table["group"].isin(rows["group"])]
    candidates = pd.concat([rows, single])
    return str(candidates.sort_values("iqm", ascending=False, kind="stable")["group"].iloc[0])


def _cell(row: dict[str, Any], metric: str) -> str:
    return f"{row[metric]:.3f} [{row[f'{metric}_low']:.3f}, {row[f'{metric}_high']:.3f}]"


def _field_text(value: Any) -> str:
    """A field value in a table: "–" when the group has no such field; 3.0 (pandas' float column) as 3."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def markdown_table(table: pd.DataFrame, fields: Sequence[str]) -> str:
    """| fields... | env | seeds | IQM [95% CI] | mean [95% CI] | median | steps | train s/run |"""
    head = [*fields, "env", "seeds", "IQM [95% CI]", "mean [95% CI]", "median", "steps", "train s/run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table.to_dict("records"):
        values = [_field_text(row.get(f)) for f in fields]
        seeds = f"{row['seeds']}" + (f" (+{row['unfinished']} unfinished)" if row["unfinished"] else "")
        steps = "–" if row["num_steps"] is None or np.isnan(row["num_steps"]) else f"{row['num_steps']:.0f}"
        wall = "–" if row["train_seconds"] is None or np.isnan(row["train_seconds"]) else f"{row['train_seconds']:.0f}"
        lines.append(
            "| "
            + " | ".join(
                [*values, row["env"], seeds, _cell(row, "iqm"), _cell(row, "mean"), f"{row['median']:.3f}", steps, wall]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def markdown_improvement(table: pd.DataFrame) -> str:
    lines = ["| X | Y | envs | P(X > Y) [95% CI] |", "|---|---|---|---|"]
    for row in table.to_dict("records"):
        lines.append(
            f"| {row['x']} | {row['y']} | {row['envs']} | "
            f"{row['probability']:.3f} [{row['low']:.3f}, {row['high']:.3f}] |"
        )
    return "\n".join(lines) + "\n"
