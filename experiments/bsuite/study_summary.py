"""Collect `rosmo report` outputs of the BSuite study into one `summary.csv`.

    python experiments/bsuite/study_summary.py --out results/bsuite/summary.csv \
        coverage=runs/coverage_catch@results/bsuite/coverage_catch unroll=runs/unroll_catch ...

Each `STUDY=SWEEP_DIR[@REPORT_DIR]` names a sweep directory and the directory
`rosmo report` wrote its `groups.csv` into (default: the sweep directory). One row per group (the varied fields but the seed):
study, algo, env, data_percentage, num_simulations, unroll_steps, n_seeds,
iqm, ci_low, ci_high, mean, median (normalised final scores, IQM with its 95%
stratified-bootstrap CI from rliable, as in the report). Fields the sweep did
not vary are read from the group's first run's `config.json`; num_simulations
is left empty for agents that do not search.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import sys
from typing import Dict, List

COLUMNS = ("study", "algo", "env", "data_percentage", "num_simulations", "unroll_steps", "n_seeds",
           "iqm", "ci_low", "ci_high", "mean", "median")
CONFIG_FIELDS = ("algo", "env", "data_percentage", "num_simulations", "unroll_steps")


def _group_config(sweep_dir: str, group: str) -> Dict:
    """The config.json of the first run directory of `group` (its name starts with the group's name)."""
    for run in sorted(glob.glob(os.path.join(sweep_dir, "*", "config.json"))):
        name = os.path.basename(os.path.dirname(run))
        if name == group or name.startswith(group + ","):
            with open(run) as f:
                return json.load(f)
    return {}


def study_rows(study: str, sweep_dir: str, report_dir: str) -> List[Dict]:
    path = os.path.join(report_dir, "groups.csv")
    if not os.path.exists(path):
        raise SystemExit(f"study_summary: {path} not found; run `rosmo report {sweep_dir}` first")
    rows = []
    with open(path) as f:
        for group in csv.DictReader(f):
            config = _group_config(sweep_dir, group["group"])
            row = {"study": study}
            for field in CONFIG_FIELDS:
                row[field] = group.get(field) or config.get(field, "")
            if row["algo"] != "mzu":
                row["num_simulations"] = ""  # only MuZero Unplugged searches
            row.update(n_seeds=group["seeds"], iqm=group["iqm"], ci_low=group["iqm_low"], ci_high=group["iqm_high"],
                       mean=group["mean"], median=group["median"])
            rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("studies", nargs="+", help="STUDY=SWEEP_DIR[@REPORT_DIR] (REPORT_DIR holds rosmo report's groups.csv)")
    parser.add_argument("--out", required=True, help="summary CSV to write")
    args = parser.parse_args(argv)
    rows = []
    for item in args.studies:
        study, sep, dirs = item.partition("=")
        if not sep:
            print(f"study_summary: expected STUDY=SWEEP_DIR[@REPORT_DIR], got {item!r}", file=sys.stderr)
            return 2
        sweep_dir, _, report_dir = dirs.partition("@")
        rows += study_rows(study, sweep_dir, report_dir or sweep_dir)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, args.out)
    print(f"{len(rows)} groups -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
