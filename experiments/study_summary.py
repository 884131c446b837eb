"""Collect `rosmo report` outputs of a study into one `summary.csv`.

    python experiments/study_summary.py --out results/bsuite/summary.csv \
        coverage=runs/coverage_catch@results/bsuite/coverage_catch unroll=runs/unroll_catch ...
    python experiments/study_summary.py --minatar --out results/minatar/summary.csv \
        coverage=runs/minatar/coverage@results/minatar/coverage ...

Each `STUDY=SWEEP_DIR[@REPORT_DIR]` names a sweep directory and the directory
`rosmo report` wrote its `groups.csv` into (default: the sweep directory). \
One row per group (the varied fields but the seed):
study, algo, env, data_percentage, num_simulations, unroll_steps, n_seeds,
iqm, ci_low, ci_high, mean, median (normalised final scores, IQM with its 95%
stratified-bootstrap CI from rliable, as in the report), then search (MZU's
muzero | gumbel) and options (other fields the report grouped by, e.g.
`mzu_bc_loss_weight=3.0`). Fields the report did not group by are read from the
group's first run's `config.json` (the run named in the report's results.csv);
num_simulations and search are left empty for agents that do not search.
`--minatar` adds `game` (after env), `sticky_action_prob` (from the metadata of
the dataset the group's first run read) and `train_seconds` (mean training
seconds per run, the report's) at the end, and keeps the report's aggregate over
games (`game` = all: IQM over games x seeds, stratified bootstrap CI) where a
study has more than one game.
`--previous SUMMARY_CSV` (an earlier summary of the same studies): where a
group's first run directory is gone (a report built with `rosmo report
--previous`), the fields read from run directories are taken from the earlier
summary's row of the same study, env and group fields; a group with no such
row, or more than one, is an error (exit 2) rather than a row with empty fields.
`--update SUMMARY_CSV` rewrites that summary in place: the named studies' rows
are replaced by the new ones (where the first of them stood), every other row is
kept as it is, and the file is also the `--previous`:

    python experiments/study_summary.py --minatar --update results/minatar/summary.csv \
        compute=runs/minatar/compute@results/minatar/compute
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from typing import Optional

COLUMNS = (
    "study",
    "algo",
    "env",
    "data_percentage",
    "num_simulations",
    "unroll_steps",
    "n_seeds",
    "iqm",
    "ci_low",
    "ci_high",
    "mean",
    "median",
    "search",
    "options",
)
CONFIG_FIELDS = ("algo", "env", "data_percentage", "num_simulations", "unroll_steps", "search")
MINATAR_COLUMNS = COLUMNS[:3] + ("game",) + COLUMNS[3:] + ("sticky_action_prob", "train_seconds")
GROUP_COLUMNS = (
    "group",
    "env",
    "seeds",
    "unfinished",
    "num_steps",
    "train_seconds",
)  # groups.csv columns that are not fields


def _first_runs(report_dir: str) -> dict[str, str]:
    """group label -> the name of its first run, from the report's results.csv."""
    runs: dict[str, str] = {}
    with open(os.path.join(report_dir, "results.csv")) as f:
        for row in csv.DictReader(f):
            runs.setdefault(row["group"], row["run"])
    return runs


def _read_config(sweep_dir: str, run: str) -> dict:
    try:
        with open(os.path.join(sweep_dir, run, "config.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def _sticky_action_prob(config: dict, sweep_dir: str, run: str) -> object:
    """The sticky-action probability of the dataset a run read (its metadata), or "" when unknown."""
    dataset_dir = config.get("dataset_dir", "")
    try:
        with open(os.path.join(sweep_dir, run, "dataset.json")) as f:
            dataset_dir = json.load(f).get("path") or dataset_dir
    except FileNotFoundError:
        pass
    try:
        with open(os.path.join(dataset_dir, "metadata.json")) as f:
            return json.load(f).get("sticky_action_prob", "")
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return ""


class SummaryError(Exception):
    """A summary that cannot be made right; the message names the study and group."""


def _previous_row(previous: list[dict], study: str, env: str, known: dict, group: str) -> dict:
    """The earlier summary's row of `study` and `env` whose fields agree with `known` (the report's group
    fields); {} without an earlier summary; SummaryError when it has no such row or more than one."""
    if not previous:
        return {}
    matches = [
        r
        for r in previous
        if r.get("study") == study
        and r.get("env") == env
        and all(str(r.get(k, "")) == str(v) or _same_number(r.get(k, ""), v) for k, v in known.items())
    ]
    if len(matches) != 1:
        raise SummaryError(
            f"study {study!r}, group {group!r} on {env}: its first run directory is gone and the previous summary "
            f"has {len(matches)} rows of it (expected 1), so the fields read from run directories are unknown"
        )
    return matches[0]


def updated_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """`old` with each study of `new` replaced by its new rows, where that study's first old row stood; studies
    new to the summary at the end."""
    studies = {r["study"] for r in new}
    out, placed = [], set()
    for r in old:
        study = r.get("study")
        if study not in studies:
            out.append(r)
        elif study not in placed:
            out += [n for n in new if n["study"] == study]
            placed.add(study)
    return out + [n for n in new if n["study"] not in placed]


def _same_number(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def study_rows(
    study: str, sweep_dir: str, report_dir: str, minatar: bool = False, previous: Optional[list[dict]] = None
) -> list[dict]:
    path = os.path.join(report_dir, "groups.csv")
    if not os.path.exists(path):
        raise SystemExit(f"study_summary: {path} not found; run `rosmo report {sweep_dir}` first")
    first_runs = _first_runs(report_dir)
    rows = []
    with open(path) as f:
        reader = csv.DictReader(f)
        fields = [c for c in reader.fieldnames[: reader.fieldnames.index("env")] if c not in GROUP_COLUMNS]
        for group in reader:
            if group["group"] == "all":
                continue
            if group["env"] == "all envs" and not minatar:  # one row per env (MinAtar: also the aggregate over games)
                continue
            first_run = first_runs.get(group["group"], "")
            config = _read_config(sweep_dir, first_run)
            known = {f: group[f] for f in CONFIG_FIELDS if group.get(f) not in (None, "", "–")}
            earlier = _previous_row(previous or [], study, group["env"], known, group["group"]) if not config else {}
            row = {"study": study}
            for field in CONFIG_FIELDS:
                row[field] = known.get(field, config.get(field, earlier.get(field, "")))
            for field in ("num_simulations", "unroll_steps"):  # counts: "20", not "20.0"
                if row[field] not in ("", None):
                    row[field] = int(float(row[field]))
            if row["algo"] != "mzu":
                row["num_simulations"] = row["search"] = ""  # only MuZero Unplugged searches
            row["options"] = ",".join(
                f"{k}={group[k]}" for k in fields if k not in CONFIG_FIELDS and group[k] not in ("", "–")
            )
            row.update(
                n_seeds=group["seeds"],
                iqm=group["iqm"],
                ci_low=group["iqm_low"],
                ci_high=group["iqm_high"],
                mean=group["mean"],
                median=group["median"],
            )
            if minatar:
                row.update(
                    game="all" if group["env"] == "all envs" else row["env"],
                    sticky_action_prob=_sticky_action_prob(config, sweep_dir, first_run)
                    if config
                    else earlier.get("sticky_action_prob", ""),
                    train_seconds=group.get("train_seconds", ""),
                )
            rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "studies", nargs="+", help="STUDY=SWEEP_DIR[@REPORT_DIR] (REPORT_DIR holds rosmo report's groups.csv)"
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", help="summary CSV to write")
    target.add_argument(
        "--update",
        metavar="SUMMARY_CSV",
        help="replace the named studies' rows of this summary in place (the file is also the --previous)",
    )
    parser.add_argument("--minatar", action="store_true", help="add game, sticky_action_prob and train_seconds")
    parser.add_argument(
        "--previous",
        metavar="SUMMARY_CSV",
        help="an earlier summary: fields of groups whose run directories are gone (none when the file is absent)",
    )
    args = parser.parse_args(argv)
    if args.update and args.previous:
        parser.error("--update SUMMARY_CSV is its own --previous; give one of them")
    previous = []
    previous_path = args.update or args.previous
    if previous_path and os.path.exists(previous_path):
        with open(previous_path) as f:
            previous = list(csv.DictReader(f))
    rows = []
    for item in args.studies:
        study, sep, dirs = item.partition("=")
        if not sep:
            print(f"study_summary: expected STUDY=SWEEP_DIR[@REPORT_DIR], got {item!r}", file=sys.stderr)
            return 2
        sweep_dir, _, report_dir = dirs.partition("@")
        try:
            rows += study_rows(study, sweep_dir, report_dir or sweep_dir, minatar=args.minatar, previous=previous)
        except SummaryError as err:
            print(f"study_summary: {err}", file=sys.stderr)
            return 2
    out = args.update or args.out
    if args.update:
        rows = updated_rows(previous, rows)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MINATAR_COLUMNS if args.minatar else COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out)
    print(f"{len(rows)} groups -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
