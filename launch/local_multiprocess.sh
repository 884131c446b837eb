#!/bin/bash
# A local rehearsal of a cluster run: N learner processes on this machine forming one JAX mesh
# (jax.distributed over a localhost coordinator, gloo collectives on CPU), plus E evaluator
# processes that follow the checkpoints (`rosmo evaluate --watch`).
#   launch/local_multiprocess.sh N CONFIG WORKDIR [--config.x=y ...]
#   e.g. ROSMO_DEVICES_PER_PROCESS=2 launch/local_multiprocess.sh 2 bsuite:catch runs/catch-mp
# Environment:
#   PYTHON                      the interpreter (default: .venv/bin/python)
#   ROSMO_PORT                  the coordinator's port (default 12355)
#   ROSMO_DEVICES_PER_PROCESS   CPU devices per process (XLA host devices; default 1)
#   ROSMO_EVALUATORS            evaluator processes (default 1; 0: the learner evaluates inline);
#                               with evaluators the learner runs with --config.eval_every=0
# Logs: WORKDIR.process<i>.log and WORKDIR.evaluator<j>.log. The exit status is the first failure's;
# when a learner fails the evaluators are stopped (SIGTERM).
set -euo pipefail
N=${1:?number of processes}
CONFIG=${2:?config}
WORKDIR=${3:?workdir}
shift 3
PYTHON=${PYTHON:-.venv/bin/python}
PORT=${ROSMO_PORT:-12355}
DEVICES=${ROSMO_DEVICES_PER_PROCESS:-1}
EVALUATORS=${ROSMO_EVALUATORS:-1}
extra=()
if ((EVALUATORS > 0)); then extra+=(--config.eval_every=0); fi
mkdir -p "$(dirname "$WORKDIR")"
learners=()
evaluators=()
for ((i = 0; i < N; i++)); do
  ROSMO_COORDINATOR="127.0.0.1:$PORT" ROSMO_NUM_PROCESSES=$N ROSMO_PROCESS_ID=$i JAX_PLATFORMS=cpu \
    XLA_FLAGS="--xla_force_host_platform_device_count=$DEVICES ${XLA_FLAGS:-}" \
    "$PYTHON" -m rosmo.cli train --config="$CONFIG" --workdir="$WORKDIR" --no-progress "${extra[@]}" "$@" \
    > "$WORKDIR.process$i.log" 2>&1 &
  learners+=($!)
done
for ((j = 0; j < EVALUATORS; j++)); do
  JAX_PLATFORMS=cpu "$PYTHON" -m rosmo.cli evaluate --watch "$WORKDIR" --poll "${ROSMO_EVAL_POLL:-5}" --no-progress \
    > "$WORKDIR.evaluator$j.log" 2>&1 &
  evaluators+=($!)
done
status=0
for pid in "${learners[@]}"; do
  wait "$pid" || { code=$?; ((status)) || status=$code; }
done
if ((status)); then  # no summary.json will come: stop the evaluators (each releases its claim)
  for pid in "${evaluators[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
fi
for pid in "${evaluators[@]}"; do
  wait "$pid" || { code=$?; ((status)) || status=$code; }
done
exit $status
