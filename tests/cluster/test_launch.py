"""Launchers that work as written: the sbatch scripts run against fake SLURM commands, submitit's job arrays
carry the requested resources and the evaluator's dependency, and a task stops its process on preemption."""

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from rosmo.cluster.jobs import CommandTask, RunRequest, learner_task, process_per, submit_learners_and_evaluators
from rosmo.sweep.executors import SlurmResources
from rosmo.training.distributed import local_device_ids

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAUNCH = os.path.join(REPO, "launch")


def _fake(bin_dir, **scripts):
    os.makedirs(bin_dir, exist_ok=True)
    for name, text in scripts.items():
        path = os.path.join(bin_dir, name)
        with open(path, "w") as f:
            f.write("#!/bin/bash\n" + text)
        os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)


def _env(tmp_path, **extra):
    return dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", **extra)


def _sbatch_lines(path):
    return [line for line in open(path).read().splitlines() if line.startswith("#SBATCH")]


def test_slurm_submit_starts_a_learner_and_an_evaluator_after_it(tmp_path):
    log = tmp_path / "sbatch.log"
    _fake(str(tmp_path / "bin"), sbatch=f'echo "$@" >> {log}\nn=$(wc -l < {log}); echo "$((100 + n));cluster"\n')
    out = subprocess.run(
        [os.path.join(LAUNCH, "slurm_submit.sh"), "atari:Pong", "runs/pong", "--config.seed=1"],
        env=_env(tmp_path, LEARNER_SBATCH="--nodes=2 --partition=gpu", EVALUATOR_SBATCH="--partition=cpu"),
        capture_output=True,
        text=True,
        check=True,
    )
    learner, evaluator = log.read_text().splitlines()
    assert learner == f"--parsable --nodes=2 --partition=gpu {LAUNCH}/slurm.sbatch atari:Pong runs/pong --config.seed=1"
    assert evaluator == f"--parsable --dependency=after:101 --partition=cpu {LAUNCH}/slurm_evaluator.sbatch runs/pong"
    assert "learner job 101, evaluator job 102 (after:101)" in out.stdout


@pytest.mark.parametrize("exit_code, requeued", [(0, False), (140, True), (143, False)])
def test_learner_sbatch_runs_every_process_and_requeues_after_the_time_limit_signal(tmp_path, exit_code, requeued):
    srun_log, scontrol_log = tmp_path / "srun.log", tmp_path / "scontrol.log"
    _fake(
        str(tmp_path / "bin"),
        srun=f'echo "ROSMO_PROCESS_PER=$ROSMO_PROCESS_PER $@" >> {srun_log}\nexit {exit_code}\n',
        scontrol=f'echo "$@" >> {scontrol_log}\n',
    )
    script = os.path.join(LAUNCH, "slurm.sbatch")
    for line in (
        "#SBATCH --signal=USR2@300",
        "#SBATCH --requeue",
        "#SBATCH --ntasks-per-node=8",
        "#SBATCH --gpus-per-node=8",
        "#SBATCH --open-mode=append",
    ):
        assert line in _sbatch_lines(script), line
    done = subprocess.run(
        ["bash", script, "atari:Pong", "/shared/runs/pong", "--config.seed=1"],
        capture_output=True,
        text=True,
        env=_env(tmp_path, PYTHON="/venv/bin/python", SLURM_JOB_ID="77", SLURM_NTASKS="16"),
    )
    assert done.returncode == exit_code
    assert srun_log.read_text().splitlines() == [
        "ROSMO_PROCESS_PER=gpu --kill-on-bad-exit=1 /venv/bin/python -m rosmo.cli train --config=atari:Pong "
        "--workdir=/shared/runs/pong --no-progress --config.eval_every=0 --config.seed=1"
    ]
    assert (scontrol_log.read_text().splitlines() if scontrol_log.exists() else []) == (
        ["requeue 77"] if requeued else []
    )


def test_evaluator_sbatch_watches_the_run(tmp_path):
    srun_log = tmp_path / "srun.log"
    _fake(str(tmp_path / "bin"), srun=f'echo "$@" >> {srun_log}\n', scontrol="exit 1\n")
    script = os.path.join(LAUNCH, "slurm_evaluator.sbatch")
    assert "#SBATCH --requeue" in _sbatch_lines(script) and "#SBATCH --ntasks=1" in _sbatch_lines(script)
    subprocess.run(
        ["bash", script, "/shared/runs/pong", "--episodes", "30"], env=_env(tmp_path, PYTHON="py"), check=True
    )
    assert (
        srun_log.read_text().strip() == "py -m rosmo.cli evaluate --watch /shared/runs/pong --no-progress --episodes 30"
    )


def test_submitit_learner_array_and_dependent_evaluator_array(tmp_path, monkeypatch):
    capture = tmp_path / "scripts"
    capture.mkdir()
    _fake(
        str(tmp_path / "bin"),
        sbatch=f'n=$(ls {capture} | wc -l); cp "$1" {capture}/$n.sh; echo "Submitted batch job $((4242 + n))"\n',
        srun="exit 0\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    learner = SlurmResources(
        nodes=2,
        tasks_per_node=4,
        gpus_per_node=4,
        cpus_per_task=8,
        time_min=600,
        partition="gpu",
        job_name="rosmo-learner",
        signal_delay_s=300,
        setup=["module load cuda"],
    )
    evaluator = SlurmResources(cpus_per_task=16, time_min=600, partition="cpu", job_name="rosmo-eval")
    runs = [RunRequest("atari:Pong", str(tmp_path / f"pong-s{s}"), [f"--config.seed={s}"]) for s in (0, 1)]
    learners, evaluators = submit_learners_and_evaluators(
        runs, learner, evaluator, str(tmp_path / ".submitit"), python="/venv/bin/python"
    )
    assert [j.job_id for j in learners] == ["4242_0", "4242_1"] and [j.job_id for j in evaluators] == [
        "4243_0",
        "4243_1",
    ]
    learner_lines, evaluator_lines = _sbatch_lines(capture / "0.sh"), _sbatch_lines(capture / "1.sh")
    for line in (
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --partition=gpu",
        "#SBATCH --array=0-1%2",
        "#SBATCH --requeue",
        "#SBATCH --signal=USR2@300",
        "#SBATCH --job-name=rosmo-learner",
    ):
        assert line in learner_lines, line
    assert "module load cuda" in open(capture / "0.sh").read()
    for line in (
        "#SBATCH --dependency=after:4242",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --partition=cpu",
        "#SBATCH --array=0-1%2",
    ):
        assert line in evaluator_lines, line
    assert not any("--gpus" in line for line in evaluator_lines)
    task = learner_task(runs[1], learner, "/venv/bin/python")
    assert task.command == [
        "/venv/bin/python",
        "-m",
        "rosmo.cli",
        "train",
        "--config=atari:Pong",
        f"--workdir={runs[1].workdir}",
        "--no-progress",
        "--config.eval_every=0",
        "--config.seed=1",
    ]
    assert task.env == {"ROSMO_PROCESS_PER": "gpu"}
    assert process_per(SlurmResources(tasks_per_node=1, gpus_per_node=8)) == "node"


def test_a_task_stops_its_process_with_sigint_and_requeues_the_same_command(tmp_path):
    marker = tmp_path / "saved"
    child = (
        "import signal, sys, time\n"
        f"def stop(*_):\n    open({str(marker)!r}, 'w').write('checkpoint'); sys.exit(130)\n"
        "signal.signal(signal.SIGINT, stop)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    )
    task = CommandTask([sys.executable, "-c", child])
    task._process = subprocess.Popen(task.command, stdout=subprocess.PIPE, text=True)
    assert task._process.stdout.readline().strip() == "ready"
    started = time.time()
    again = task.checkpoint()
    assert marker.read_text() == "checkpoint" and time.time() - started < 30
    assert again.function.command == task.command and again.function._process is None
    with pytest.raises(RuntimeError, match="exited with 3"):
        CommandTask([sys.executable, "-c", "raise SystemExit(3)"])()


def test_local_device_ids_per_gpu_or_per_node():
    assert local_device_ids({}) is None  # JAX's SLURM default: GPU SLURM_LOCALID
    assert local_device_ids({"ROSMO_PROCESS_PER": "node", "CUDA_VISIBLE_DEVICES": "4,5,6,7"}) == [0, 1, 2, 3]
    assert local_device_ids({"ROSMO_PROCESS_PER": "node", "SLURM_GPUS_ON_NODE": "2"}) == [0, 1]
    with pytest.raises(ValueError, match="ROSMO_PROCESS_PER='host'"):
        local_device_ids({"ROSMO_PROCESS_PER": "host"})


def test_a_task_started_with_sigint_ignored_gives_its_child_the_default_sigint():
    probe = "import signal, sys; sys.exit(0 if signal.getsignal(signal.SIGINT) is signal.default_int_handler else 5)"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a job started with `nohup ... &`
    try:
        assert subprocess.run([sys.executable, "-c", probe]).returncode == 5  # what a plain child inherits
        assert CommandTask([sys.executable, "-c", probe])() == 0  # the task's child can be stopped with SIGINT
    finally:
        signal.signal(signal.SIGINT, previous)
