#!/usr/bin/env bash
# Build results/ope/ from the OPE study's runs (experiments/sweeps/ope_bsuite.yaml, every checkpoint evaluated
# online while training and by `rosmo evaluate --watch RUN --ope all --no-online` afterwards):
#   pooled/       every estimator per env, pooled over agents and coverages (checkpoint selection within runs)
#   by_coverage/  per env and coverage: checkpoints within a run, and runs within a sweep = algorithm selection
#                 on one dataset (the candidates of a seed are its agents)
#   by_algo/      per env and agent family (the model estimators exist for ROSMO and MZU only)
#   online/       the runs' online scores (IQM with CIs per agent and coverage)
#   seconds.csv   seconds per estimate, per env and estimator
#   bash experiments/ope/results.sh [RUNS (runs/ope_bsuite)] [OUT (results/ope)]
set -euo pipefail
RUNS=${1:-runs/ope_bsuite}
OUT=${2:-results/ope}
HERE=$(dirname "$0")
rosmo report "$RUNS" --ope --out "$OUT/pooled"
rosmo report "$RUNS" --ope --group-by data_percentage --out "$OUT/by_coverage"
rosmo report "$RUNS" --ope --group-by algo --out "$OUT/by_algo"
rosmo report "$RUNS" --group-by algo,data_percentage --out "$OUT/online"
python "$HERE/seconds.py" "$RUNS" --out "$OUT/seconds.csv"
