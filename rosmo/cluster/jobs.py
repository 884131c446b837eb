"""Cluster jobs through submitit: a (multi-host) learner job array and an evaluator job array depending on it.

    learners, evaluators = submit_learners_and_evaluators(
        [RunRequest("atari:Pong", "runs/pong-s0", ["--config.seed=0"]), ...],
        learner=SlurmResources(nodes=2, tasks_per_node=8, gpus_per_node=8, cpus_per_task=8, time_min=24 * 60,
                               partition="gpu", job_name="rosmo-learner"),
        evaluator=SlurmResources(cpus_per_task=16, time_min=24 * 60, partition="cpu", job_name="rosmo-eval"),
        folder="runs/.submitit")

Task i of the learner array trains run i (`rosmo train ... --config.eval_every=0`)
on `nodes x tasks_per_node` processes (one per GPU when tasks_per_node equals
gpus_per_node, one per node when it is 1: `ROSMO_PROCESS_PER`, see
rosmo.training.distributed); task i of the evaluator array (submitted with
`--dependency=after:<learner array>`, so it starts once the learners have started) runs
`rosmo evaluate --watch` on run i and ends when that run's summary.json appears.

Preemption contract (shared with `rosmo sweep`, whose `make_submitit_executor` and
`SlurmResources` these jobs use): SLURM sends USR2 `signal_delay_s` before the time
limit and SIGTERM on preemption; submitit calls `checkpoint()` of task rank 0, which
stops its `rosmo` process with SIGINT (train() saves a checkpoint; an evaluator releases
its claim) and requeues the job; the requeued job resumes from the run's latest
checkpoint, and the evaluator skips the steps already evaluated.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from typing import Any, Optional, Sequence

import submitit

from rosmo.sweep.executors import SlurmResources, make_submitit_executor

STOP_TIMEOUT_S = 600.0  # how long a stopped process may take to save its checkpoint


@dataclasses.dataclass
class RunRequest:
    """One learner run: `rosmo train --config=<config> --workdir=<workdir> <overrides>`."""

    config: str
    workdir: str
    overrides: Sequence[str] = ()


def process_per(resources: SlurmResources) -> str:
    """ "node" when one task drives all GPUs of its node, else "gpu" (one process per GPU, JAX's SLURM default)."""
    return "node" if resources.tasks_per_node == 1 and resources.gpus_per_node > 1 else "gpu"


def learner_command(run: RunRequest, python: Optional[str] = None) -> list[str]:
    return [
        python or sys.executable,
        "-m",
        "rosmo.cli",
        "train",
        f"--config={run.config}",
        f"--workdir={os.path.abspath(run.workdir)}",
        "--no-progress",
        "--config.eval_every=0",
        *run.overrides,
    ]


def evaluator_command(run: RunRequest, python: Optional[str] = None, extra: Sequence[str] = ()) -> list[str]:
    return [
        python or sys.executable,
        "-m",
        "rosmo.cli",
        "evaluate",
        "--watch",
        os.path.abspath(run.workdir),
        "--no-progress",
        *extra,
    ]


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default, since `checkpoint` stops the child with it
    (a job step started in the background would otherwise pass SIG_IGN down)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class CommandTask(submitit.helpers.Checkpointable):
    """A submitit task that runs one `rosmo` command in a child process and requeues it on preemption.

    Every task of a multi-node job runs the command (jax.distributed reads SLURM_*); on
    USR2/SIGTERM submitit calls `checkpoint` on rank 0, which stops the child with SIGINT
    and returns the same task for the requeued job.
    """

    def __init__(self, command: Sequence[str], env: Optional[dict[str, str]] = None):
        self.command = list(command)
        self.env = dict(env or {})
        self._process: Optional[subprocess.Popen] = None

    def __getstate__(self) -> dict[str, Any]:  # the running child is not part of a requeued task
        return {"command": self.command, "env": self.env, "_process": None}

    def __call__(self) -> int:
        self._process = subprocess.Popen(
            self.command, env=dict(os.environ, **self.env), stdin=subprocess.DEVNULL, preexec_fn=_default_sigint
        )
        code = self._process.wait()
        self._process = None
        if code != 0:
            raise RuntimeError(f"{' '.join(self.command)} exited with {code}")
        return code

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """Stop the child (it saves / releases what it holds) and resubmit the same command."""
        del args, kwargs
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
        return submitit.helpers.DelayedSubmission(CommandTask(self.command, self.env))


def learner_task(run: RunRequest, resources: SlurmResources, python: Optional[str] = None) -> CommandTask:
    return CommandTask(learner_command(run, python), env={"ROSMO_PROCESS_PER": process_per(resources)})


def evaluator_task(run: RunRequest, python: Optional[str] = None, extra: Sequence[str] = ()) -> CommandTask:
    return CommandTask(evaluator_command(run, python, extra))


def submit_learners_and_evaluators(
    runs: Sequence[RunRequest],
    learner: SlurmResources,
    evaluator: SlurmResources,
    folder: str,
    cluster: Optional[str] = "slurm",
    python: Optional[str] = None,
    evaluator_flags: Sequence[str] = (),
) -> tuple[list[Any], list[Any]]:
    """Submit the learner array, then the evaluator array depending on it; (learner jobs, evaluator jobs) in run order.

    `cluster="local"` / `"debug"` rehearse with submitit's local executors (no dependency there:
    an evaluator that starts first waits for its run's config.json).
    """
    if not runs:
        return [], []
    learner_executor = make_submitit_executor(os.path.join(folder, "learner"), learner, cluster)
    with learner_executor.batch():
        learner_jobs = [learner_executor.submit(learner_task(run, learner, python)) for run in runs]
    if cluster == "slurm":
        array_id = str(learner_jobs[0].job_id).split("_")[0]
        evaluator = dataclasses.replace(evaluator, dependency=f"after:{array_id}")
    evaluator_executor = make_submitit_executor(os.path.join(folder, "evaluator"), evaluator, cluster)
    with evaluator_executor.batch():
        evaluator_jobs = [evaluator_executor.submit(evaluator_task(run, python, evaluator_flags)) for run in runs]
    return learner_jobs, evaluator_jobs
