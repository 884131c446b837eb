#!/usr/bin/env bash
# The first accelerator day's check (benchmarks/device_check.py): Atari ROSMO / MZU N=20 updates/s at batch 512 on the
# full ResNet, the RL Unplugged loader feeding the learner (data-wait fraction), MinAtar updates/s, peak device memory.
#   bash benchmarks/device_check.sh                       # one GPU, full sizes, within 8 minutes
#   DEVICE_CHECK_SIZE=tiny bash benchmarks/device_check.sh   # CPU, tiny sizes
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"  # peak memory is the peak in use
exec timeout "${DEVICE_CHECK_TIMEOUT:-480}" "$PYTHON" benchmarks/device_check.py "$@"
