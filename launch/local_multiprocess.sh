#!/bin/bash
# N processes on this machine, each with its own CPU device, forming one JAX mesh:
# a local rehearsal of a multi-host run.
#   launch/local_multiprocess.sh 2 bsuite:catch runs/catch-mp [--config.x=y ...]
set -euo pipefail
N=${1:?number of processes}
CONFIG=${2:?config}
WORKDIR=${3:?workdir}
shift 3
PORT=${ROSMO_PORT:-12355}
pids=()
for ((i = 0; i < N; i++)); do
  ROSMO_COORDINATOR="127.0.0.1:$PORT" ROSMO_NUM_PROCESSES=$N ROSMO_PROCESS_ID=$i JAX_PLATFORMS=cpu \
    .venv/bin/python -m rosmo.cli train --config="$CONFIG" --workdir="$WORKDIR" --no-progress "$@" \
    > "$WORKDIR.process$i.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit $status
