#!/bin/bash
# Submit a learner job and an evaluator job that starts once the learner has started:
#   launch/slurm_submit.sh atari:Pong runs/pong [--config.x=y ...]
# sbatch flags for each job: LEARNER_SBATCH="--nodes=2 --partition=gpu" EVALUATOR_SBATCH="--partition=cpu".
set -euo pipefail
CONFIG=${1:?config, e.g. atari:Pong}
WORKDIR=${2:?workdir on a shared file system}
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2086  # the *_SBATCH variables are lists of flags
learner=$(sbatch --parsable ${LEARNER_SBATCH:-} "$HERE/slurm.sbatch" "$CONFIG" "$WORKDIR" "$@")
learner=${learner%%;*}  # --parsable prints "jobid[;cluster]"
# shellcheck disable=SC2086
evaluator=$(sbatch --parsable --dependency="after:$learner" ${EVALUATOR_SBATCH:-} "$HERE/slurm_evaluator.sbatch" "$WORKDIR")
evaluator=${evaluator%%;*}
echo "learner job $learner, evaluator job $evaluator (after:$learner); logs: slurm-rosmo-learner-$learner.out, slurm-rosmo-evaluator-$evaluator.out"
