"""The SLURM path: the sbatch script submitit writes carries the requested resources; array tasks run through
submitit's local executor; a preempted task stops its run with a checkpoint and its requeued copy resumes it."""

import json
import os
import signal
import stat
import threading
import time

import pytest
import submitit

from rosmo.sweep.executors import SlurmResources, SweepTask, sbatch_script, submit_slurm
from rosmo.sweep.grid import plan_runs
from rosmo.sweep.runs import RUN_FILE, is_done, last_logged_step, prepare, read_status
from rosmo.sweep.spec import amend
from tests.sweep.conftest import TINY_SETTINGS

RESOURCES = SlurmResources(
    partition="gpu",
    time_min=90,
    gpus_per_node=1,
    cpus_per_task=3,
    mem_gb=8,
    array_parallelism=2,
    account="rl",
    setup=["module load cuda", "source .venv/bin/activate"],
)


def _fake_slurm(bin_dir, capture_dir):
    """`sbatch` that keeps the script it is given and answers like SLURM; `srun` so submitit sees a cluster."""
    os.makedirs(bin_dir)
    scripts = {
        "sbatch": f'#!/bin/bash\ncp "$1" {capture_dir}/submitted.sh\necho "Submitted batch job 4242"\n',
        "srun": "#!/bin/bash\nexit 0\n",
    }
    for name, text in scripts.items():
        path = os.path.join(bin_dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)


def _plan(out, *overrides, grid=()):
    spec = amend(None, config="bsuite:catch", grid=list(grid), fixed=[*TINY_SETTINGS, *overrides])
    return prepare(str(out), spec, plan_runs(spec))


def test_sbatch_script_carries_the_requested_resources(tmp_path, monkeypatch):
    _fake_slurm(str(tmp_path / "bin"), str(tmp_path))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    run_dirs = _plan(tmp_path / "sweep", "num_steps=3", grid=["learning_rate=0.001,0.002,0.003"])
    done = run_dirs[2]  # a finished run is not submitted again
    with open(os.path.join(done, "summary.json"), "w") as f:
        json.dump({"num_steps": 3}, f)
    jobs = submit_slurm(run_dirs, RESOURCES, str(tmp_path / "sweep" / ".submitit"))
    assert [job.job_id for job in jobs] == ["4242_0", "4242_1"]
    assert [read_status(d).get("job_id") for d in run_dirs] == ["4242_0", "4242_1", None]
    script = open(tmp_path / "submitted.sh").read()
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --cpus-per-task=3",
        "#SBATCH --time=90",
        "#SBATCH --mem=8GB",
        "#SBATCH --account=rl",
        "#SBATCH --array=0-1%2",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --requeue",
        "#SBATCH --signal=USR2@120",
        "module load cuda",
        "source .venv/bin/activate",
    ):
        assert line in script.splitlines(), line
    assert "-m submitit.core._submit" in script and "srun" in script
    # --dry-run's preview is the same script
    preview = sbatch_script(RESOURCES, str(tmp_path / "sweep" / ".submitit"), 2)
    assert [l for l in preview.splitlines() if l.startswith("#SBATCH")] == [
        l for l in script.splitlines() if l.startswith("#SBATCH")
    ]


@pytest.mark.slow
def test_job_array_through_submitits_local_executor(tmp_path, tiny_root, compile_cache):
    # one finished run (skipped inside its task) and one whose dataset is missing (fails, recorded)
    run_dirs = _plan(tmp_path / "sweep", "num_steps=3", f"dataset_dir={tiny_root}/{{env}}", grid=["env=catch,cartpole"])
    with open(os.path.join(run_dirs[0], "summary.json"), "w") as f:
        json.dump({"num_steps": 3}, f)
    jobs = submit_slurm(
        run_dirs,
        SlurmResources(cpus_per_task=1, time_min=10),
        str(tmp_path / "submitit"),
        cluster="local",
        compile_cache=compile_cache,
    )
    assert len(jobs) == 1  # the finished run is not submitted
    try:
        jobs[0].result()
        raise AssertionError("the run without a dataset should fail")
    except submitit.core.utils.FailedJobError as err:
        assert "DatasetError" in str(err)
    status = read_status(run_dirs[1])
    assert status["state"] == "failed" and "cartpole" in status["error"] and status["threads"] == 1


@pytest.mark.slow
def test_preempted_task_saves_a_checkpoint_and_its_requeued_copy_resumes(tmp_path, tiny_root, compile_cache):
    # a budget the run cannot reach before it is preempted, however fast the machine
    run_dir = _plan(
        tmp_path / "sweep",
        "num_steps=1000000",
        "log_every=10",
        "checkpoint_every=1000000",
        "eval_every=1000000",
        f"dataset_dir={tiny_root}/catch",
    )[0]
    task = SweepTask(threads=1, compile_cache=compile_cache)
    outcome = []

    def run():
        try:
            outcome.append(task(run_dir))
        except Exception as err:  # reported by the assertions below
            outcome.append(err)

    thread = threading.Thread(target=run)
    # started as a background job is (`nohup ... &`): SIGINT ignored, and the worker must still stop on it
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        thread.start()
        deadline = time.time() + 600
        while last_logged_step(run_dir) < 10 and thread.is_alive() and time.time() < deadline:
            time.sleep(0.2)
    finally:
        signal.signal(signal.SIGINT, previous)
    delayed = task.checkpoint(
        run_dir, interrupt_timeout=120
    )  # what submitit calls on SIGUSR2 (preemption or time limit)
    thread.join(120)
    status = read_status(run_dir)
    log_tail = open(os.path.join(run_dir, "worker.log")).read()[-3000:]
    assert status["state"] == "interrupted" and status["returncode"] == 130, (status, outcome, log_tail)
    assert outcome and outcome[0]["state"] == "interrupted"
    saved = [int(d) for d in os.listdir(os.path.join(run_dir, "checkpoints")) if d.isdigit()]
    assert len(saved) == 1 and saved[0] >= 10 and not is_done(run_dir)  # the checkpoint the interruption saved
    # a shorter budget for the rest of the test: the requeued run resumes and ends 20 steps later
    plan_path = os.path.join(run_dir, RUN_FILE)
    plan = json.load(open(plan_path))
    plan["config"]["num_steps"] = saved[0] + 20
    json.dump(plan, open(plan_path, "w"))
    # submitit pickles the requeued call and runs it in the next job
    path = str(tmp_path / "requeued.pkl")
    delayed.dump(path)
    result = submitit.helpers.DelayedSubmission.load(path).result()
    assert result["state"] == "done" and is_done(run_dir) and read_status(run_dir)["attempts"] == 2
    log = open(os.path.join(run_dir, "worker.log")).read()
    assert f"resuming {run_dir} from step {saved[0]}" in log
    assert json.load(open(os.path.join(run_dir, "summary.json")))["num_steps"] == saved[0] + 20
