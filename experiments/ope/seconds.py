"""Seconds per off-policy estimate, per env and estimator, from the `ope_*_seconds` columns of every run's eval.csv.

    python experiments/ope/seconds.py RUNS_DIR --out results/ope/seconds.csv

One row per env and estimator: checkpoints, mean / median / max seconds per checkpoint, and for FQE the
mean number of target iterations before it stopped. `policy` is the time to compute the evaluated policy's
action probabilities on the held-out episodes, shared by the estimators that need them.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

import pandas as pd


def seconds_table(runs_dir: str) -> pd.DataFrame:
    rows = []
    for path in sorted(glob.glob(os.path.join(runs_dir, "*", "eval.csv"))):
        run_dir = os.path.dirname(path)
        with open(os.path.join(run_dir, "config.json")) as f:
            config = json.load(f)
        env = config.get("env") or os.path.basename(run_dir)
        frame = pd.read_csv(path)
        for column in frame.columns:
            if column.startswith("ope_") and column.endswith("_seconds"):
                values = frame[column].dropna()
                name = column[len("ope_") : -len("_seconds")]
                for step, value in zip(frame.loc[values.index, "step"], values):
                    row = {"env": env, "algo": config.get("algo"), "estimator": name, "step": step, "seconds": value}
                    if name == "fqe" and "ope_fqe_iterations" in frame:
                        row["iterations"] = frame.loc[frame["step"] == step, "ope_fqe_iterations"].dropna().max()
                    rows.append(row)
    if not rows:
        raise SystemExit(f"seconds.py: {runs_dir}: no eval.csv with ope_*_seconds columns")
    table = pd.DataFrame(rows)
    summary = (
        table.groupby(["env", "estimator"], sort=True)
        .agg(
            checkpoints=("seconds", "size"),
            mean_s=("seconds", "mean"),
            median_s=("seconds", "median"),
            max_s=("seconds", "max"),
            **({"fqe_iterations": ("iterations", "mean")} if "iterations" in table else {}),
        )
        .reset_index()
    )
    return summary


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
