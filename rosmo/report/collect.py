"""Read a sweep's runs from disk: their varied fields, env, seed, learning curve and final score.

A run is any directory under the sweep directory holding `config.json` (a
run of `rosmo train`) or `sweep_run.json` (planned by `rosmo sweep`); hidden
directories are skipped. Its fields are the sweep's point (sweep_run.json);
for runs made otherwise, the config fields that differ across the runs.
Scores are what the runs report (`normalized_score`: the dataset's
references on BSuite, RL Unplugged's on Atari); nothing is recomputed.

    runs = load_runs("runs/unroll")            # [RunRecord, ...]
    table = results_table(runs)                # one row per run and evaluation
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from rosmo.agents import AGENTS
from rosmo.errors import UserError
from rosmo.jsonio import flatten_dict, read_json_if_present
from rosmo.sweep.naming import CONFIG_AXIS, config_label

METRIC = "normalized_score"
RUN_MARKERS = ("config.json", "sweep_run.json")
UNREADABLE = "unreadable"  # the state of a run the report cannot read (listed with the reason)
DUPLICATE = "duplicate"  # the state of a second run of one group, env and seed (listed, not scored)
SKIP_FIELDS = ("workdir", "seed")  # never a group field when fields are derived from config.json


class ReportError(UserError):
    """A sweep directory or run that cannot be reported (the message names it)."""


@dataclasses.dataclass
class RunRecord:
    """One run: `fields` (varied config fields, `config` as its label), env, seed, curve, final score."""

    name: str
    run_dir: str
    fields: dict[str, Any]
    env: str
    seed: Any
    finished: bool
    final_score: Optional[float]
    final_return: Optional[float]
    num_steps: Optional[int]
    train_seconds: Optional[float]  # the whole run's training wall-clock, evaluations not included
    curve: pd.DataFrame  # step, score, mean_return, train_seconds, train_seconds_estimated
    state: str = ""
    error: Optional[str] = None
    notes: list[str] = dataclasses.field(default_factory=list)  # what was read around (e.g. malformed eval.csv rows)
    recorded: bool = False  # read back from an earlier report's results.csv (`run_dir` is that file)
    eval_seconds: Optional[float] = None  # the whole run's evaluation wall-clock


def _read_json(path: str) -> Optional[dict[str, Any]]:
    """The run file's JSON (None when absent); ReportError naming the file when broken or unreadable."""
    return read_json_if_present(path, ReportError, name=os.path.basename(path))


@dataclasses.dataclass
class Unreadable:
    """A path under the sweep directory the report could not read as a run, and why."""

    path: str
    reason: str


def find_run_dirs(root: str, unreadable: Optional[list[Unreadable]] = None) -> list[str]:
    """Run directories under `root` (sorted), not descending into a run or a hidden directory.

    Symbolic links are followed (a directory of links to the runs of several sweeps is a
    report of them all); a directory reached twice is read once. A directory that cannot be
    listed and a link to nothing are appended to `unreadable` with the reason (never skipped silently).
    """
    if not os.path.isdir(root):
        raise ReportError(f"{root}: no such directory (expected a sweep directory made by `rosmo sweep`)")
    problems = unreadable if unreadable is not None else []
    found = []
    seen = set()

    def cannot_list(err: OSError) -> None:
        problems.append(Unreadable(err.filename or "?", f"cannot list it ({err.strerror or err})"))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=cannot_list):
        real = os.path.realpath(dirpath)
        if real in seen:  # a link cycle, or two links to one run
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if any(marker in filenames for marker in RUN_MARKERS):
            found.append(dirpath)
            dirnames[:] = []  # a run's checkpoints/ and tb/ hold no runs
            continue
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if not name.startswith(".") and os.path.islink(path) and not os.path.exists(path):
                problems.append(Unreadable(path, f"a link to {os.readlink(path)}, which does not exist"))
    return found


def read_eval_rows(path: str, notes: list[str]) -> pd.DataFrame:
    """eval.csv's well-formed rows; each malformed one (field count, a value that is not a number, a last line
    cut short by an interrupted write) is left out and described in `notes`."""
    try:
        with open(path, newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ReportError(f"eval.csv: cannot read it ({getattr(err, 'strerror', None) or err})") from None
    lines = text.split("\n")
    complete = text.endswith("\n")
    if complete:
        lines = lines[:-1]
    rows = list(csv.reader(lines))
    if not rows:
        return pd.DataFrame()
    header, good = rows[0], []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        why = None
        if number == len(rows) and not complete:
            why = "the last line has no line end (a write cut short)"
        elif len(row) != len(header):
            why = f"{len(row)} fields, the header has {len(header)}"
        else:
            bad = [name for name, value in zip(header, row) if value.strip() and not _is_number(value)]
            if bad:
                why = f"{bad[0]}={row[header.index(bad[0])]!r} is not a number"
            elif "step" in header and not row[header.index("step")].strip().isdigit():
                why = f"step={row[header.index('step')]!r} is not an integer"
        if why:
            notes.append(f"eval.csv line {number} left out: {why}")
        else:
            good.append(row)
    frame = pd.DataFrame(good, columns=header)
    return frame.apply(pd.to_numeric, errors="coerce") if len(good) else frame


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def training_seconds(summary: Optional[dict[str, Any]]) -> Optional[float]:
    """A run's training wall-clock without its evaluations, from its summary.json (None when not recorded).

    Summaries with `wall_seconds_total` keep training and evaluation apart; older ones recorded the
    wall-clock with evaluations under `train_seconds_total`, so their `eval_seconds_total` is taken off.
    """
    if not summary or summary.get("train_seconds_total") is None:
        return None
    total = float(summary["train_seconds_total"])
    if "wall_seconds_total" in summary:
        return total
    return total - float(summary.get("eval_seconds_total") or 0.0)


def _curve(
    run_dir: str, metric: str, summary: Optional[dict[str, Any]], notes: Optional[list[str]] = None
) -> pd.DataFrame:
    """eval.csv as step, score, mean_return, train_seconds (interpolated from the summary when not logged)."""
    path = os.path.join(run_dir, "eval.csv")
    columns = ["step", "score", "mean_return", "train_seconds", "train_seconds_estimated"]
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return pd.DataFrame(columns=columns)
    raw = read_eval_rows(path, notes if notes is not None else [])
    if raw.empty and not len(raw.columns):
        return pd.DataFrame(columns=columns)
    if "step" not in raw:
        raise ReportError("eval.csv: no 'step' column (expected the eval.csv of a run)")
    if metric not in raw and "mean_return" not in raw:
        raise ReportError(f"eval.csv: neither {metric!r} nor 'mean_return' (columns: {', '.join(raw.columns)})")
    out = pd.DataFrame({"step": raw["step"].astype(int)})
    out["score"] = raw[metric].astype(float) if metric in raw else np.nan
    out["mean_return"] = raw["mean_return"].astype(float) if "mean_return" in raw else np.nan
    if "train_seconds" in raw:
        out["train_seconds"] = raw["train_seconds"].astype(float)
        out["train_seconds_estimated"] = False
    else:  # older runs: spread the run's total training time over its steps
        total, steps = training_seconds(summary), (summary or {}).get("num_steps")
        out["train_seconds"] = out["step"] / steps * total if total and steps else np.nan
        out["train_seconds_estimated"] = True
    # rows of one step are merged, the last non-empty value of each column winning (an evaluator's rows of
    # off-policy estimates, written with --no-online, carry no score)
    return out.groupby("step", sort=True).last().reset_index()[columns]


def _load_one(run_dir: str, root: str, metric: str) -> RunRecord:
    plan = _read_json(os.path.join(run_dir, "sweep_run.json"))
    config = _read_json(os.path.join(run_dir, "config.json")) or (plan or {}).get("config") or {}
    summary = _read_json(os.path.join(run_dir, "summary.json"))
    status = _read_json(os.path.join(run_dir, "sweep_status.json")) or {}
    planned_steps = config.get("num_steps")
    finished = summary is not None and (planned_steps is None or summary.get("num_steps") == planned_steps)
    notes: list[str] = []
    curve = _curve(run_dir, metric, summary, notes)
    final = (summary or {}).get("final_eval") or {}
    if finished:
        final_score = final.get(metric)
        final_score = float(final_score) if final_score is not None else None
    else:
        final_score = None
    fields = dict((plan or {}).get("point") or {})
    if CONFIG_AXIS in fields:
        fields[CONFIG_AXIS] = config_label(fields[CONFIG_AXIS])
    fields.pop("seed", None)
    env = (summary or {}).get("env") or config.get("env") or "?"
    return RunRecord(
        name=os.path.relpath(run_dir, root),
        run_dir=run_dir,
        fields=fields,
        env=str(env),
        seed=config.get("seed"),
        finished=finished,
        final_score=final_score,
        final_return=final.get("mean_return") if finished else None,
        num_steps=(summary or {}).get("num_steps") if finished else planned_steps,
        train_seconds=training_seconds(summary) if finished else None,
        eval_seconds=(summary or {}).get("eval_seconds_total") if finished else None,
        curve=curve,
        state="done" if finished else (status.get("state") or ("partial" if len(curve) else "new")),
        error=status.get("error"),
        notes=notes,
    )


def unreadable_record(path: str, root: str, reason: str) -> RunRecord:
    """A run (or a path that should have been one) the report cannot read: listed with `reason`, never scored."""
    columns = ["step", "score", "mean_return", "train_seconds", "train_seconds_estimated"]
    return RunRecord(
        name=os.path.relpath(path, root),
        run_dir=path,
        fields={},
        env="?",
        seed=None,
        finished=False,
        final_score=None,
        final_return=None,
        num_steps=None,
        train_seconds=None,
        curve=pd.DataFrame(columns=columns),
        state=UNREADABLE,
        error=reason,
    )


def _derive_fields(records: list[RunRecord]) -> None:
    """Runs not planned by a sweep: their fields are the config fields that differ across the runs."""
    configs = {}
    for r in records:
        if not r.fields and r.state != UNREADABLE and not r.recorded:
            configs[r.run_dir] = flatten_dict(_read_json(os.path.join(r.run_dir, "config.json")) or {})
    if len(configs) < 2:
        return
    keys = sorted(set().union(*configs.values()) - set(SKIP_FIELDS))
    varied = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in configs.values()}) > 1]
    for r in records:
        if r.run_dir in configs:
            r.fields = {k: configs[r.run_dir].get(k) for k in varied if k != "env"}


def _agent_fields() -> frozenset:
    """The config fields of one agent or another (the registry's light rows: no agent module is imported)."""
    return frozenset(f for entry in AGENTS.entries().values() for f in entry.config_fields)


def _fill_missing_fields(records: list[RunRecord]) -> None:
    """Runs of several sweeps in one report: a field that only other sweeps vary is read from this run's config.

    (A CQL-only sweep's runs do not vary `algo`; next to a ROSMO/BC sweep they still group under algo=cql.)
    """

    def sweep_of(r: RunRecord) -> str:
        return os.path.dirname(os.path.realpath(r.run_dir))

    fields = {f for r in records for f in r.fields}
    own: dict[str, set] = {}  # the fields some run of each sweep varies: left as they are ("–") there
    for r in records:
        own.setdefault(sweep_of(r), set()).update(r.fields)
    for r in records:
        if r.state == UNREADABLE or r.recorded:
            continue
        missing = [f for f in fields if f not in own[sweep_of(r)]]
        if not missing:
            continue
        _fields_from_config(r, missing)


def _fields_from_config(r: RunRecord, names: Sequence[str]) -> None:
    """Set `r.fields[f]` from the run's config.json for each f it holds (not another agent's field)."""
    config = flatten_dict(_read_json(os.path.join(r.run_dir, "config.json")) or {})
    entry = AGENTS.entries().get(config.get("algo"))
    agent_fields = _agent_fields()
    for f in names:
        if f in config and not (entry is not None and f in agent_fields and f not in entry.config_fields):
            r.fields[f] = config[f]  # (another agent's field, e.g. ROSMO's num_simulations, stays "–")


RESULTS_COLUMNS = ("run", "group", "env", "seed", "step", "score", "mean_return", "train_seconds", "final")


def _float_or_none(value) -> Optional[float]:
    """A CSV cell as a float; None for an empty one (NaN)."""
    return None if pd.isna(value) else float(value)


def recorded_runs(path: str, metric: str = METRIC) -> list[RunRecord]:
    """The runs an earlier report's results.csv holds (`results_table`'s rows), as RunRecords.

    A study's run directories need not outlive it; its committed results.csv keeps every run's fields,
    curve and final score, so a later report can put new runs beside them. `score` is the earlier
    report's metric (`mean_return` is read from its own column); a run's training seconds (without
    evaluations, as for a run read from its directory) are its `run_train_seconds`; tables without
    `run_eval_seconds` counted the evaluations in that column, so theirs are those of its last evaluation.
    ReportError naming the file when it is not such a table.
    """
    try:
        table = pd.read_csv(path, keep_default_na=True)
    except (OSError, ValueError) as err:
        raise ReportError(f"--previous {path}: cannot read it as a CSV ({err})") from None
    missing = [c for c in RESULTS_COLUMNS if c not in table.columns]
    if missing:
        raise ReportError(f"--previous {path}: no column {', '.join(missing)} (expected a results.csv of rosmo report)")
    columns = list(table.columns)
    field_names = columns[columns.index("group") + 1 : columns.index("env")]
    value = "mean_return" if metric == "mean_return" else "score"
    estimated = table["train_seconds_estimated"] if "train_seconds_estimated" in table else False
    table = table.assign(train_seconds_estimated=estimated)
    split_clocks = "run_eval_seconds" in table and "run_train_seconds" in table
    records = []
    for name, rows in table.groupby("run", sort=False):
        rows = rows.sort_values("step")
        last = rows.iloc[-1]
        finished = bool(rows["final"].astype(str).str.lower().eq("true").any())
        first = rows.iloc[0]
        curve = pd.DataFrame(
            {
                "step": rows["step"].astype(int).to_numpy(),
                "score": rows[value].astype(float).to_numpy(),
                "mean_return": rows["mean_return"].astype(float).to_numpy(),
                "train_seconds": rows["train_seconds"].astype(float).to_numpy(),
                "train_seconds_estimated": rows["train_seconds_estimated"].astype(bool).to_numpy(),
            }
        )
        seed = first["seed"]
        records.append(
            RunRecord(
                name=str(name),
                run_dir=path,
                fields={f: first[f] for f in field_names if not pd.isna(first[f])},
                env=str(first["env"]),
                seed=None if pd.isna(seed) else int(seed),
                finished=finished,
                final_score=_float_or_none(last[value]) if finished else None,
                final_return=_float_or_none(last["mean_return"]) if finished else None,
                num_steps=int(last["step"]),
                train_seconds=_float_or_none(last["run_train_seconds" if split_clocks else "train_seconds"])
                if finished
                else None,
                eval_seconds=_float_or_none(last["run_eval_seconds"]) if finished and split_clocks else None,
                curve=curve,
                state="done" if finished else "partial",
                recorded=True,
            )
        )
    return records


def _not_started(record: RunRecord) -> bool:
    """A readable run directory with no evaluation in it yet."""
    return record.state != UNREADABLE and not record.finished and len(record.curve) == 0


def load_runs(
    root: Optional[str], metric: str = METRIC, fields: Sequence[str] = (), previous: Sequence[str] = ()
) -> list[RunRecord]:
    """Every run under `root` and in the `previous` reports' results.csv files; ReportError when there is none.

    A run under `root` replaces a recorded run of the same name (its path relative to `root`), once it has
    evaluated at least once.
    `fields`: group-by fields; one that no sweep varies (e.g. `search`, set with --set in one of the
    sweeps linked together) is read from each run's config.
    """
    unreadable: list[Unreadable] = []
    run_dirs = find_run_dirs(root, unreadable) if root is not None else []
    recorded = [r for path in previous for r in recorded_runs(path, metric)]
    if not run_dirs and not recorded:
        also = "; " + "; ".join(f"{u.path}: {u.reason}" for u in unreadable[:3]) if unreadable else ""
        raise ReportError(f"{root}: no runs found (expected run directories with config.json or sweep_run.json){also}")
    records = []
    for d in run_dirs:
        try:
            records.append(_load_one(d, root, metric))
        except ReportError as err:  # one run's unreadable file: that run is listed with the reason
            records.append(unreadable_record(d, root, str(err)))
    records += [unreadable_record(u.path, root, u.reason) for u in unreadable]
    recorded_names = {r.name for r in recorded}
    # a run planned on disk (e.g. by `rosmo sweep --only` for other runs) but not evaluated yet does not hide
    # the recorded run of its name
    records = [r for r in records if not (r.name in recorded_names and _not_started(r))]
    on_disk = {r.name for r in records}
    latest = {r.name: r for r in recorded if r.name not in on_disk}  # a later --previous file wins
    records += list(latest.values())
    try:
        planned = (_read_json(os.path.join(root, "sweep.json")) or {}).get("runs") or [] if root else []
    except ReportError as err:
        raise ReportError(f"{root}: {err}") from None
    order = {name: i for i, name in enumerate(planned)}  # a sweep's run order (its fields' order too)
    records.sort(key=lambda r: order.get(r.name, len(order)))
    _derive_fields(records)
    _fill_missing_fields(records)
    unvaried = [f for f in fields if not any(f in r.fields for r in records)]
    if unvaried:
        for r in records:
            if r.state != UNREADABLE and not r.recorded:
                _fields_from_config(r, unvaried)
    return records


def results_table(records: list[RunRecord], group_of) -> pd.DataFrame:
    """One row per run and evaluation: run, group, its fields, env, seed, step, score, mean_return, train_seconds
    (at that evaluation), train_seconds_estimated, run_train_seconds and run_eval_seconds (the whole run's
    training without evaluations and its evaluations, on each of its rows; empty while it has not finished),
    final."""
    field_names: list[str] = []
    for r in records:
        field_names.extend(f for f in r.fields if f not in field_names)
    rows = []
    for r in records:
        last_step = int(r.curve["step"].iloc[-1]) if len(r.curve) else None
        for row in r.curve.itertuples(index=False):
            rows.append(
                {
                    "run": r.name,
                    "group": group_of(r),
                    **{f: r.fields.get(f) for f in field_names},
                    "env": r.env,
                    "seed": r.seed,
                    "step": int(row.step),
                    "score": row.score,
                    "mean_return": row.mean_return,
                    "train_seconds": row.train_seconds,
                    "train_seconds_estimated": bool(row.train_seconds_estimated),
                    "run_train_seconds": r.train_seconds,
                    "run_eval_seconds": r.eval_seconds,
                    "final": bool(r.finished and int(row.step) == last_step),
                }
            )
    columns = [
        "run",
        "group",
        *field_names,
        "env",
        "seed",
        "step",
        "score",
        "mean_return",
        "train_seconds",
        "train_seconds_estimated",
        "run_train_seconds",
        "run_eval_seconds",
        "final",
    ]
    return pd.DataFrame(rows, columns=columns)
