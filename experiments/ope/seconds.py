"""Seconds per off-policy estimate, per env and estimator, from the `ope_*_seconds` columns of every run's eval.csv.

    python experiments/ope/seconds.py RUNS_DIR --out results/ope/seconds.csv

One row per env and estimator: checkpoints, mean / median / max seconds per checkpoint, and for FQE the
mean number of target iterations before it stopped. `policy` is the time to compute the evaluated policy's
action probabilities on the held-out episodes, shared by the estimators that need them.
"""

from __future__ import annotations

import argparse
import os
import sys

import pandas as pd

from rosmo.report.collect import load_runs


def seconds_table(runs_dir: str) -> pd.DataFrame:
    """One row per env and estimator: checkpoints, mean / median / max seconds, FQE's mean iterations."""
    rows = []
    for run in load_runs(runs_dir):
        path = os.path.join(run.run_dir, "eval.csv")
        if not os.path.isfile(path):
            continue
        frame = pd.read_csv(path)
        for column in (c for c in frame.columns if c.startswith("ope_") and c.endswith("_seconds")):
            name = column[len("ope_") : -len("_seconds")]
            timed = frame[frame[column].notna()]
            iterations = timed.get("ope_fqe_iterations") if name == "fqe" else None
            for i in timed.index:
                rows.append(
                    {
                        "env": run.env,
                        "estimator": name,
                        "seconds": timed.at[i, column],
                        "iterations": iterations.at[i] if iterations is not None else float("nan"),
                    }
                )
    if not rows:
        raise SystemExit(f"seconds.py: {runs_dir}: no eval.csv with ope_*_seconds columns")
    return (
        pd.DataFrame(rows)
        .groupby(["env", "estimator"], sort=True)
        .agg(
            checkpoints=("seconds", "size"),
            mean_s=("seconds", "mean"),
            median_s=("seconds", "median"),
            max_s=("seconds", "max"),
            fqe_iterations=("iterations", "mean"),
        )
        .reset_index()
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_dir")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    summary = seconds_table(args.runs_dir)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    tmp = args.out + ".tmp"
    summary.to_csv(tmp, index=False, float_format="%.3g")
    os.replace(tmp, args.out)
    print(summary.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
