"""`make_report(sweep_dir)`: report.md, results.csv, groups.csv, improvement.csv and plots of a sweep.

<out>/report.md         IQM [95% CI], mean [95% CI], median of the final normalised score per group and env,
                        P(X > Y) of the chosen group over the others, the plots, failed/unfinished runs
<out>/results.csv       one row per run and evaluation step
<out>/groups.csv        the table of report.md as numbers (group fields, env, seeds, iqm, iqm_low, ...)
<out>/improvement.csv   P(X > Y) with its CI per pair
<out>/plots/*.png|svg   rosmo.report.plots
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Optional, Sequence

import pandas as pd

from rosmo.jsonio import read_json_or_none
from rosmo.report.collect import DUPLICATE, METRIC, UNREADABLE, ReportError, RunRecord, load_runs, results_table
from rosmo.report.tables import (
    ALL_ENVS,
    Grouping,
    best_group,
    default_group_fields,
    group_table,
    improvement_table,
    markdown_improvement,
    markdown_table,
)

METRIC_LABELS = {"normalized_score": "normalised score", "mean_return": "mean return"}


def _write_text(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=os.path.dirname(path))
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _write_csv(path: str, frame: pd.DataFrame) -> None:
    _write_text(path, frame.to_csv(index=False))


def _description(sweep_dir: str) -> str:
    sweep = read_json_or_none(os.path.join(sweep_dir, "sweep.json")) or {}
    return str(sweep.get("spec", {}).get("description") or "")


def _check_fields(records: Sequence[RunRecord], fields: Sequence[str]) -> None:
    known = {f for r in records for f in r.fields}
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise ReportError(
            f"--group-by {','.join(fields)}: {unknown[0]!r} is neither a field the runs vary nor in their configs "
            f"(they vary: {', '.join(sorted(known)) or 'only seeds'})"
        )


def mark_duplicates(grouping: Grouping) -> list[RunRecord]:
    """Finished runs of one group, env and seed after the first (in report order): state "duplicate", not scored.

    The statistics take one score per seed; a second run of the same seed would otherwise replace the
    first without a word. Returns the runs marked.
    """
    first: dict[Any, RunRecord] = {}
    marked = []
    for r in grouping.records:
        if not r.finished:
            continue
        key = (grouping.label(r), r.env, json.dumps(r.seed))
        if key in first:
            r.finished, r.final_score, r.state = False, None, DUPLICATE
            r.error = (
                f"same group ({key[0]}), env and seed ({r.seed}) as `{first[key].name}`, which is scored; "
                "this one is not"
            )
            marked.append(r)
        else:
            first[key] = r
    return marked


def make_report(
    sweep_dir: str,
    out_dir: Optional[str] = None,
    group_by: Optional[Sequence[str]] = None,
    compare: Optional[str] = None,
    reps: int = 5_000,
    seed: int = 0,
    make_plots: bool = True,
    metric: str = METRIC,
    previous: Sequence[str] = (),
) -> dict[str, Any]:
    """Write the report of the runs under `sweep_dir` (None: none) and those recorded in the `previous` reports'
    results.csv files into `out_dir` (default: `sweep_dir`); returns what it wrote."""
    out_dir = out_dir or sweep_dir
    if out_dir is None:
        raise ReportError("--out: required when no SWEEP_DIR is given (where to write the report)")
    records = load_runs(sweep_dir, metric, fields=group_by or (), previous=previous)
    if not any(r.finished and r.final_score is not None for r in records):
        states = ", ".join(sorted({r.state for r in records}))
        hint = "" if any(r.finished for r in records) else " (wait for a run to finish)"
        if any(r.finished for r in records):
            hint = f"; their summaries have no final {metric!r} (try --metric mean_return)"
        raise ReportError(
            f"{sweep_dir or ', '.join(previous)}: no finished run with a final {metric} among {len(records)} runs "
            f"({states}){hint}"
        )
    if group_by is not None:
        _check_fields([r for r in records if r.state != UNREADABLE], group_by)
    readable = [r for r in records if r.state != UNREADABLE]
    fields = list(group_by) if group_by is not None else default_group_fields(readable)
    grouping = Grouping(readable, fields)
    mark_duplicates(grouping)
    if compare is not None and compare not in grouping.groups:
        raise ReportError(f"--compare {compare!r}: no such group; groups are: {', '.join(grouping.groups)}")
    table = group_table(grouping, reps=reps, seed=seed)
    chosen = compare or best_group(table)
    improvement = improvement_table(grouping, chosen, reps=min(reps, 2_000), seed=seed)
    results = results_table(records, grouping.label)
    os.makedirs(out_dir, exist_ok=True)
    label = METRIC_LABELS.get(metric, metric)
    plot_paths: list[str] = []
    if make_plots:
        # matplotlib, seaborn and scipy (several CPU-seconds) load only for a report that draws
        from rosmo.report.plots import (
            numeric_fields,
            plot_final_scores,
            plot_improvement,
            plot_learning_curves,
            plot_performance_profile,
            plot_score_vs_field,
        )

        plot_dir = os.path.join(out_dir, "plots")
        plot_paths += plot_final_scores(table, plot_dir, label)
        plot_paths += plot_performance_profile(grouping, plot_dir, label, reps=min(reps, 2_000), seed=seed)
        plot_paths += plot_improvement(improvement, plot_dir)
        plot_paths += plot_learning_curves(grouping, plot_dir, label, reps=min(reps, 2_000), seed=seed)
        for field in numeric_fields(records, fields):
            plot_paths += plot_score_vs_field(table, fields, field, plot_dir, label)
    _write_csv(os.path.join(out_dir, "results.csv"), results)
    _write_csv(os.path.join(out_dir, "groups.csv"), table)
    _write_csv(os.path.join(out_dir, "improvement.csv"), improvement)
    text = report_markdown(
        sweep_dir, out_dir, records, fields, table, improvement, chosen, plot_paths, reps, seed, label
    )
    _write_text(os.path.join(out_dir, "report.md"), text)
    return {
        "report": os.path.join(out_dir, "report.md"),
        "results": os.path.join(out_dir, "results.csv"),
        "groups": os.path.join(out_dir, "groups.csv"),
        "improvement": os.path.join(out_dir, "improvement.csv"),
        "plots": plot_paths,
        "table": table,
        "compare": chosen,
        "fields": fields,
    }


def report_markdown(
    sweep_dir: str,
    out_dir: str,
    records: Sequence[RunRecord],
    fields: Sequence[str],
    table: pd.DataFrame,
    improvement: pd.DataFrame,
    chosen: str,
    plot_paths: Sequence[str],
    reps: int,
    seed: int,
    label: str,
) -> str:
    finished = [r for r in records if r.finished]
    lines = [f"# Sweep report: {os.path.basename(os.path.abspath(sweep_dir or out_dir))}", ""]
    description = _description(sweep_dir) if sweep_dir else ""
    if description:
        lines += [description, ""]
    recorded = sorted({r.run_dir for r in records if r.recorded})
    if recorded:
        n = sum(r.recorded for r in records)
        lines += [f"{n} of the runs as an earlier report recorded them: {', '.join(recorded)}.", ""]
    envs = sorted({r.env for r in records if r.state != UNREADABLE})
    lines += [
        f"{len(records)} runs ({len(finished)} finished"
        + "".join(
            f", {n} {state}" for state in (UNREADABLE, DUPLICATE) for n in [sum(r.state == state for r in records)] if n
        )
        + f") on {', '.join(envs)}; grouped by "
        f"{', '.join(fields) if fields else 'nothing (seeds only)'}. Score: the final {label} each run reports "
        "(BSuite: against its dataset's random / behaviour-DQN returns; Atari: RL Unplugged's random / online-DQN).",
        "",
        "## Final score per group and env",
        "",
        markdown_table(table, fields),
        f"IQM = mean of the middle 50% of runs; 95% CIs: stratified percentile bootstrap over seeds (rliable, {reps} "
        f"resamples, seed {seed}). Median: over seeds (for `{ALL_ENVS}`: IQM over all runs x envs, mean and median of "
        "the env means, on the seeds every env has). Seeds: finished runs; train s/run: mean training seconds per run.",
        "",
    ]
    if not improvement.empty:
        lines += [
            f"## Probability of improvement of {chosen} over the other groups",
            "",
            markdown_improvement(improvement),
            "P(X > Y): probability that a run of X scores higher than a run of Y on the same env (Mann-Whitney U, "
            "averaged over envs), 95% CI by independent stratified bootstrap (rliable).",
            "",
        ]
    if plot_paths:
        lines += ["## Plots", ""]
        for path in plot_paths:
            if path.endswith(".png"):
                rel = os.path.relpath(path, out_dir)
                lines.append(f"![{os.path.basename(path)[:-4]}]({rel})")
        lines.append("")
    problems = [r for r in records if not r.finished]
    if problems:
        lines += ["## Runs not in the table", ""]
        for r in problems:
            if r.state in (UNREADABLE, DUPLICATE):
                lines.append(f"- `{r.name}`: {r.state}: {r.error}")
                continue
            step = int(r.curve["step"].iloc[-1]) if len(r.curve) else 0
            lines.append(
                f"- `{r.name}`: {r.state}, last evaluation at step {step}" + (f": {r.error}" if r.error else "")
            )
        lines.append("")
    noted = [r for r in records if r.notes]
    if noted:
        lines += ["## Data left out", ""]
        lines += [f"- `{r.name}`: {note}" for r in noted for note in r.notes]
        lines.append("")
    return "\n".join(lines)
