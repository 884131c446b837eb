"""Scores of a report's runs at one training step: IQM with its 95% stratified-bootstrap CI per group and env,
and over all envs, from the per-evaluation rows of a `rosmo report` results.csv.

    python experiments/score_at_step.py results/minatar/games12k/results.csv 6000

`rosmo report` tables the final evaluation; this asks how far the same runs had got earlier (e.g. halfway
through a doubled budget), with the report's statistics (`rosmo.report.stats.interval_estimates`). A run
without an evaluation at STEP is left out and named; the all-envs row needs the same number of runs per env.
"""

from __future__ import annotations

import argparse
import collections
import csv
import sys

import numpy as np

from rosmo.report.stats import interval_estimates


def scores_at_step(rows: list[dict[str, str]], step: int, metric: str = "score") -> dict[str, dict[str, list]]:
    """results.csv rows -> {group: {env: [score of each run at `step`]}} (runs in file order)."""
    found: dict[str, dict[str, list]] = collections.defaultdict(lambda: collections.defaultdict(list))
    for row in rows:
        if int(float(row["step"])) == step and row.get(metric, "") != "":
            found[row["group"]][row["env"]].append(float(row[metric]))
    return {group: dict(envs) for group, envs in found.items()}


def table(scores: dict[str, dict[str, list]], reps: int = 5_000) -> list[dict]:
    """One row per group and env, plus each group's `all envs` row when every env has the same number of runs."""
    rows = []
    for group, envs in sorted(scores.items()):
        named = {env: np.asarray(values)[:, None] for env, values in sorted(envs.items())}
        if len(envs) > 1 and len({len(v) for v in envs.values()}) == 1:
            named["all envs"] = np.stack([np.asarray(envs[env]) for env in sorted(envs)], axis=1)
        for env, estimate in interval_estimates(named, reps=reps).items():
            rows.append({"group": group, "env": env, "runs": estimate["runs"], **estimate})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results_csv", help="a `rosmo report` results.csv (one row per run and evaluation)")
    parser.add_argument("step", type=int, help="the training step whose evaluations are read")
    parser.add_argument("--metric", default="score", help="results.csv column (default: score)")
    parser.add_argument("--reps", type=int, default=5_000, help="bootstrap resamples (default 5000)")
    args = parser.parse_args(argv)
    try:
        with open(args.results_csv, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        print(f"score_at_step.py: error: {args.results_csv}: cannot read it ({err.strerror})", file=sys.stderr)
        return 2
    missing = [name for name in ("run", "group", "env", "step", args.metric) if rows and name not in rows[0]]
    if not rows or missing:
        print(
            f"score_at_step.py: error: {args.results_csv}: expected a report's results.csv with columns "
            f"run, group, env, step, {args.metric}",
            file=sys.stderr,
        )
        return 2
    runs = {row["run"] for row in rows}
    at_step = {row["run"] for row in rows if int(float(row["step"])) == args.step}
    if not at_step:
        print(f"score_at_step.py: error: {args.results_csv}: no run evaluated at step {args.step}", file=sys.stderr)
        return 2
    print(f"| group | env | runs | IQM [95% CI] at step {args.step} |\n|---|---|---|---|")
    for row in table(scores_at_step(rows, args.step, args.metric), args.reps):
        print(
            f"| {row['group']} | {row['env']} | {row['runs']} | "
            f"{row['iqm']:.2f} [{row['iqm_low']:.2f}, {row['iqm_high']:.2f}] |"
        )
    for run in sorted(runs - at_step):
        print(f"(no evaluation at step {args.step}: {run})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
