#!/usr/bin/env bash
# Build results/minatar/ from the MinAtar study's run directories: one `rosmo report` per question, then
# summary.csv. Runs laid out as the sweep files under experiments/sweeps/minatar_*.yaml say:
#   RUNS/curves, RUNS/coverage/<game>, RUNS/games/<game>, RUNS/compute/<piece>, RUNS/stochasticity/<piece>,
#   RUNS/unroll/<piece>, RUNS/mzu_bc, RUNS/games12k
# Questions that share runs (the coverage sweep's breakout 100% runs are also the compute, stochasticity and
# unroll studies' reference cells) are reported from directories of links, RUNS/_links/<question>.
# The runs each committed OUT/<question>/results.csv records are reported beside those on disk, so the script
# adds new runs to the committed results on a machine that no longer holds the older run directories.
#   bash experiments/minatar/results.sh [RUNS (runs/minatar)] [OUT (results/minatar)]
set -uo pipefail
RUNS=${1:-runs/minatar}
OUT=${2:-results/minatar}
LINKS="$RUNS/_links"

link_runs() {  # link_runs QUESTION RUN_DIR...: a directory of links to run directories (made afresh);
  # FINISHED_ONLY=1: only runs that finished (a game none of whose runs ran yet would withhold the aggregate)
  local dir="$LINKS/$1"; shift
  rm -rf "$dir" && mkdir -p "$dir"
  local run
  for run in "$@"; do
    [ -d "$run" ] || continue
    [ "${FINISHED_ONLY:-0}" = 1 ] && [ ! -f "$run/summary.json" ] && continue
    local name; name=$(realpath --relative-to="$RUNS" "$run" | tr '/' '~')
    ln -s "$(realpath "$run")" "$dir/$name"
  done
}

report() {  # report NAME SWEEP_DIR ARGS...: rosmo report into OUT/NAME, or say why not. The runs that
  # OUT/NAME/results.csv records are reported too (--previous): a run directory that is gone (another machine)
  # keeps its recorded rows, one on disk replaces them.
  local name=$1 dir=$2; shift 2
  local source=() previous=()
  [ -d "$dir" ] && source=("$dir")
  [ -f "$OUT/$name/results.csv" ] && previous=(--previous "$OUT/$name/results.csv")
  if [ $((${#source[@]} + ${#previous[@]})) -gt 0 ] &&
    rosmo report "${source[@]}" "${previous[@]}" --out "$OUT/$name" "$@"; then
    STUDIES+=("$name=$dir@$OUT/$name")
  else
    echo "results.sh: $name: no report (no finished run under $dir yet)" >&2
  fi
}

STUDIES=()
BREAKOUT="$RUNS/coverage/breakout"
report curves "$RUNS/curves" --group-by algo
report coverage "$RUNS/coverage" --group-by algo,data_percentage --compare algo=rosmo,data_percentage=1
FINISHED_ONLY=1 link_runs games "$RUNS"/coverage/*/algo={rosmo,bc,cql},data_percentage=100,seed=* "$RUNS"/games/*/*
report games "$LINKS/games" --group-by algo --compare algo=rosmo
link_runs games12k "$RUNS"/games12k/config=*,algo=rosmo,seed=*  # the sweep plans bc and cql too; only rosmo ran
report games12k "$LINKS/games12k" --group-by algo
link_runs compute "$BREAKOUT"/algo=rosmo,data_percentage=100,seed=* \
  "$BREAKOUT"/algo=mzu,data_percentage=100,*,seed=* "$RUNS"/compute/*/*
report compute "$LINKS/compute" --group-by algo,num_simulations --compare algo=rosmo
link_runs stochasticity "$BREAKOUT"/algo={rosmo,mzu},data_percentage=100,*seed=* "$RUNS"/stochasticity/*/*
report stochasticity "$LINKS/stochasticity" --group-by algo,dataset_dir --compare algo=rosmo,dataset_dir=breakout
link_runs unroll "$BREAKOUT"/algo=rosmo,data_percentage=100,seed=* "$RUNS"/unroll/*/*
report unroll "$LINKS/unroll" --group-by unroll_steps
report mzu_bc "$RUNS/mzu_bc" --group-by data_percentage,mzu_bc_loss_weight

if [ ${#STUDIES[@]} -gt 0 ]; then
  python "$(dirname "$0")/../study_summary.py" --minatar --previous "$OUT/summary.csv" --out "$OUT/summary.csv" \
    "${STUDIES[@]}"
fi
