"""Where sweep runs execute: local worker processes, or a SLURM job array through submitit.

Every run is one `python -m rosmo.sweep.worker RUN_DIR` process with its
thread counts set in its environment (`thread_env`) and, locally, pinned to
its own `threads` CPUs (`cpu_slots`): XLA sizes its CPU thread pool by the
CPUs a process may use, whatever XLA_FLAGS say, so pinning is what keeps N
workers on C cores at C busy threads. Runs that are done are skipped; the others start
(train() resumes an interrupted one from its latest checkpoint). A failed run
is recorded (status file + worker.log) and the sweep goes on.

    statuses = run_local(run_dirs, workers=2, threads=1, progress=SweepProgress(...))
    jobs = submit_slurm(run_dirs, SlurmResources(partition="gpu", gpus_per_node=1, time_min=240), folder)

On SLURM each array task runs `SweepTask(run_dir)`: the same worker process.
On preemption or time-out submitit calls `SweepTask.checkpoint`, which stops
the worker with SIGINT (train() saves a checkpoint) and requeues the task;
the requeued task resumes from that checkpoint. `make_submitit_executor`
builds the executor from `SlurmResources` and is meant to be shared by other
cluster launchers.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import dataclasses
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Iterator, Optional

import psutil
import submitit

from rosmo.owner import describe, pid_alive
from rosmo.signals import stop_sleep
from rosmo.sweep.progress import SweepProgress
from rosmo.sweep.runs import (
    ERROR_PREFIX,
    LOG_FILE,
    is_done,
    last_logged_step,
    read_status,
    requested_steps,
    write_status,
)
from rosmo.training.workdir import live_holder

EXIT_INTERRUPTED = 130
WORKER_MODULE = "rosmo.sweep.worker"
DEFAULT_MEMORY_PER_RUN_GB = 3.0
CLAIMS_DIR = os.path.join(tempfile.gettempdir(), f"rosmo-cpu-claims-{os.getuid()}")  # CPUs pinned by live sweeps


# ---------------------------------------------------------------------------
# Threads and workers
# ---------------------------------------------------------------------------
def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, which SLURM and taskset restrict)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(
    threads_per_run: int = 1,
    memory_per_run_gb: float = DEFAULT_MEMORY_PER_RUN_GB,
    cpus: Optional[int] = None,
    memory_gb: Optional[float] = None,
) -> int:
    """As many workers as fit: min(cpus // threads_per_run, available memory // memory per run), at least 1."""
    cpus = available_cpus() if cpus is None else cpus
    memory_gb = psutil.virtual_memory().available / 2**30 if memory_gb is None else memory_gb
    return max(1, min(cpus // max(1, threads_per_run), int(memory_gb // memory_per_run_gb)))


def threads_per_worker(workers: int, cpus: Optional[int] = None) -> int:
    """Cores per worker so that `workers` workers do not oversubscribe the CPUs: max(1, cpus // workers)."""
    cpus = available_cpus() if cpus is None else cpus
    return max(1, cpus // max(1, workers))


def cpu_slots(
    workers: int,
    threads: int,
    cpus: Optional[list[int]] = None,
    busy: Optional[dict[int, float]] = None,
    claimed: Optional[set[int]] = None,
) -> list[Optional[list[int]]]:
    """Disjoint CPU sets of `threads` CPUs, one per worker slot; None (no pinning) when they do not all fit.

    When the slots leave CPUs over, they take CPUs no other sweep has claimed (`claimed`, see
    `pinned_slots`) first, then the least busy ones (`busy`: CPU -> percent in use, measured now
    when not given), so two sweeps started side by side do not share one core.
    """
    cpus = sorted(os.sched_getaffinity(0)) if cpus is None else list(cpus)
    if workers * threads > len(cpus):
        return [None] * workers
    if workers * threads < len(cpus):
        claimed = claimed or set()
        if busy is None:
            percents = psutil.cpu_percent(interval=0.3, percpu=True)
            busy = {c: percents[c] for c in cpus if c < len(percents)}
        cpus = sorted(cpus, key=lambda c: (c in claimed, busy.get(c, 0.0) > 50.0, c))  # free, then idle CPUs first
    return [sorted(cpus[i * threads : (i + 1) * threads]) for i in range(workers)]


def claimed_cpus(claims_dir: str = CLAIMS_DIR) -> set[int]:
    """CPUs that other live sweeps on this machine pinned their workers to (`<pid>.json` claim files).

    A claim whose process has exited is stale and removed. (A busy-CPU reading alone misses a sweep
    started a second earlier whose first worker is still starting.)
    """
    cpus: set[int] = set()
    if not os.path.isdir(claims_dir):
        return cpus
    for name in os.listdir(claims_dir):
        if not name.endswith(".json"):
            continue
        path = os.path.join(claims_dir, name)
        try:
            with open(path) as f:
                claim = json.load(f)
            pid = int(claim["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid == os.getpid():
            continue
        if not pid_alive(pid):
            with contextlib.suppress(OSError):
                os.remove(path)
            continue
        cpus.update(int(c) for c in claim.get("cpus", []))
    return cpus


@contextlib.contextmanager
def pinned_slots(workers: int, threads: int, claims_dir: str = CLAIMS_DIR) -> Iterator[list[Optional[list[int]]]]:
    """`cpu_slots` avoiding other sweeps' claimed CPUs, claimed for this process until the block ends."""
    path = os.path.join(claims_dir, f"{os.getpid()}.json")
    try:
        os.makedirs(claims_dir, exist_ok=True)
        with open(os.path.join(claims_dir, ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # choose and claim in one step: two sweeps cannot pick together
            slots = cpu_slots(workers, threads, claimed=claimed_cpus(claims_dir))
            cpus = sorted({c for slot in slots if slot for c in slot})
            fd, tmp = tempfile.mkstemp(prefix=".claim.", dir=claims_dir)
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "cpus": cpus}, f)
            os.replace(tmp, path)
    except OSError:  # no writable temp dir: pin without claims
        slots = cpu_slots(workers, threads)
    try:
        yield slots
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)


def thread_env(
    threads: int, compile_cache: Optional[str] = None, base: Optional[dict[str, str]] = None
) -> dict[str, str]:
    """The environment of a worker: JAX/XLA, TensorFlow and BLAS thread counts, and a shared JAX compile cache.

    XLA's CPU backend gets one Eigen thread pool of `threads` (single-threaded
    when 1); TensorFlow (data feeding) `threads` intra-op and 1 inter-op
    threads; OpenMP/MKL/OpenBLAS `threads`. `compile_cache` (a directory)
    lets runs of one sweep reuse each other's compiled XLA programs. Flags
    already in the user's XLA_FLAGS come after ours and win; XLA_FLAGS that already
    hold ours are left as they are (JAX keys compiled programs by the flags' text).
    """
    env = dict(os.environ if base is None else base)
    threads = max(1, int(threads))
    ours = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} intra_op_parallelism_threads={threads}"
    inherited = env.get("XLA_FLAGS", "")
    env["XLA_FLAGS"] = inherited if inherited.startswith(ours) else f"{ours} {inherited}".strip()
    env["TF_NUM_INTRAOP_THREADS"] = str(threads)
    env["TF_NUM_INTEROP_THREADS"] = "1"
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    env["TF_CPP_MIN_LOG_LEVEL"] = env.get("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    if compile_cache:
        env["JAX_COMPILATION_CACHE_DIR"] = os.path.abspath(compile_cache)
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    return env


# ---------------------------------------------------------------------------
# One worker process
# ---------------------------------------------------------------------------
def _error_line(log_text: str) -> str:
    """The worker's one-line error (its last ERROR_PREFIX line), else the last non-empty log line."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(ERROR_PREFIX):
            return line[len(ERROR_PREFIX) :]
    return lines[-1][-500:] if lines else "no output"


PR_SET_PDEATHSIG = 1  # prctl(2)


def _child_setup(parent: int, cpus: Optional[list[int]]) -> Callable[[], None]:
    """The worker's preexec_fn: SIGTERM when the sweep process dies (even by kill -9), and its CPUs.

    prctl(PR_SET_PDEATHSIG) is Linux's; elsewhere the worker outlives a killed sweep. If the sweep
    died before the call, the worker exits at once.
    """

    def setup() -> None:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:
            os._exit(1)
        if cpus:
            os.sched_setaffinity(0, cpus)

    return setup


class WorkerProcess:
    """`python -m rosmo.sweep.worker RUN_DIR` with the thread environment, logging to RUN_DIR/worker.log."""

    def __init__(
        self,
        run_dir: str,
        threads: int = 1,
        compile_cache: Optional[str] = None,
        python: Optional[str] = None,
        cpus: Optional[list[int]] = None,
    ):
        self.run_dir = os.path.abspath(run_dir)
        self.log_path = os.path.join(self.run_dir, LOG_FILE)
        attempts = int(read_status(self.run_dir).get("attempts", 0)) + 1
        os.makedirs(self.run_dir, exist_ok=True)
        with open(self.log_path, "a") as log:  # the worker dies with this process (`_child_setup`)
            log.write(
                f"\n=== attempt {attempts} on {os.uname().nodename} at {time.strftime('%Y-%m-%d %H:%M:%S')}, "
                f"{threads} thread(s), cpus {cpus or 'any'} ===\n"
            )
            self._log_offset = log.tell()
            self.started = time.time()
            self.process = subprocess.Popen(
                [python or sys.executable, "-m", WORKER_MODULE, self.run_dir],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=thread_env(threads, compile_cache),
                start_new_session=True,  # Ctrl-C is forwarded by us
                preexec_fn=_child_setup(os.getpid(), cpus),
            )
        self.num_steps = requested_steps(self.run_dir) or 0
        write_status(
            self.run_dir,
            state="running",
            attempts=attempts,
            started=self.started,
            pid=self.process.pid,
            threads=threads,
            cpus=cpus,
            error=None,
            returncode=None,
        )

    def poll(self) -> Optional[int]:
        return self.process.poll()

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def interrupt(self) -> None:
        """SIGINT: train() saves a checkpoint and the worker exits with 130."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def fraction_done(self) -> float:
        return min(1.0, last_logged_step(self.run_dir) / self.num_steps) if self.num_steps else 0.0

    def finish(self) -> dict[str, Any]:
        """Record how the process ended: done, interrupted or failed (with its one-line error)."""
        returncode = self.process.wait()
        wall = time.time() - self.started
        if returncode == 0 and is_done(self.run_dir):
            return write_status(self.run_dir, state="done", returncode=0, wall_seconds=wall, error=None)
        with open(self.log_path, errors="replace") as f:
            f.seek(self._log_offset)
            text = f.read()
        if returncode in (EXIT_INTERRUPTED, -signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGUSR2):
            return write_status(
                self.run_dir,
                state="interrupted",
                returncode=returncode,
                wall_seconds=wall,
                error="interrupted; the next `rosmo sweep` resumes it from its checkpoint",
            )
        error = (
            _error_line(text) if returncode != 0 else "the worker exited without a summary.json for the planned steps"
        )
        if returncode < 0:
            error = f"killed by signal {-returncode} ({signal.Signals(-returncode).name}); last output: {error}"
        return write_status(self.run_dir, state="failed", returncode=returncode, wall_seconds=wall, error=error)


# ---------------------------------------------------------------------------
# Local executor
# ---------------------------------------------------------------------------
def run_local(
    run_dirs: list[str],
    workers: int,
    threads: int = 1,
    compile_cache: Optional[str] = None,
    progress: Optional[SweepProgress] = None,
    poll_seconds: float = 0.5,
    interrupt_timeout: float = 300.0,
    pin: bool = True,
) -> dict[str, dict[str, Any]]:
    """Run every not-done run in `run_dirs` with at most `workers` worker processes; returns run_dir -> status.

    With `pin`, worker slot i runs on its own `threads` CPUs (`cpu_slots`) when workers x threads fit,
    away from CPUs other sweeps on the machine have claimed (`pinned_slots`).
    Done runs are skipped (status "done", `skipped`: True). On Ctrl-C the
    running workers are interrupted (each saves a checkpoint), recorded as
    interrupted, and KeyboardInterrupt is raised again.
    """
    statuses: dict[str, dict[str, Any]] = {}
    queue = collections.deque()
    for run_dir in run_dirs:
        if is_done(run_dir):
            statuses[run_dir] = dict(read_status(run_dir), state="done", skipped=True)
        else:
            queue.append(run_dir)
    with pinned_slots(workers, threads) if pin else contextlib.nullcontext([None] * workers) as slots:
        return _run_queue(
            queue,
            statuses,
            slots,
            threads,
            compile_cache,
            progress,
            poll_seconds,
            interrupt_timeout,
            total=len(run_dirs),
        )


def _run_queue(
    queue: collections.deque[str],
    statuses: dict[str, dict[str, Any]],
    slots: list[Optional[list[int]]],
    threads: int,
    compile_cache: Optional[str],
    progress: Optional[SweepProgress],
    poll_seconds: float,
    interrupt_timeout: float,
    total: int,
) -> dict[str, dict[str, Any]]:
    """`run_local`'s loop: start queued runs on free slots, collect finished ones, interrupt all on Ctrl-C."""
    workers = len(slots)
    running: dict[str, WorkerProcess] = {}
    free_slots = list(range(workers))
    slot_of: dict[str, int] = {}
    if progress is not None:
        progress.start(total=total, skipped=len(statuses), workers=workers)
    try:
        while queue or running:
            while queue and free_slots:
                run_dir = queue.popleft()
                holder = live_holder(run_dir)
                if holder is not None:  # a trainer from an earlier (killed) sweep still runs it: not ours to start
                    statuses[run_dir] = write_status(
                        run_dir,
                        state="running",
                        error=None,
                        pid=holder.get("pid"),
                        note=f"running in another process ({describe(holder)})",
                    )
                    if progress is not None:
                        progress.finished(run_dir, statuses[run_dir])
                    continue
                slot_of[run_dir] = free_slots.pop(0)
                running[run_dir] = WorkerProcess(run_dir, threads, compile_cache, cpus=slots[slot_of[run_dir]])
            for run_dir, worker in list(running.items()):
                if worker.poll() is not None:
                    statuses[run_dir] = worker.finish()
                    del running[run_dir]
                    free_slots.append(slot_of.pop(run_dir))
                    if progress is not None:
                        progress.finished(run_dir, statuses[run_dir])
            if progress is not None:
                progress.update(
                    queued=len(queue),
                    running={d: (time.time() - w.started, w.fraction_done()) for d, w in running.items()},
                )
            if queue or running:
                stop_sleep(poll_seconds)  # SIGINT/SIGTERM: Stopped (a KeyboardInterrupt) here, workers stopped below
    except KeyboardInterrupt:
        for worker in running.values():
            worker.interrupt()
        for run_dir, worker in running.items():
            if worker.wait(interrupt_timeout) is None:
                worker.process.kill()
            statuses[run_dir] = worker.finish()
        raise
    finally:
        if progress is not None:
            progress.close()
    return statuses


# ---------------------------------------------------------------------------
# SLURM through submitit
# ---------------------------------------------------------------------------
@dataclasses.dataclass
class SlurmResources:
    """One array task's resources (`sbatch` flags) and how the array runs."""

    partition: Optional[str] = None
    time_min: int = 240
    gpus_per_node: int = 0
    cpus_per_task: int = 4
    mem_gb: Optional[float] = None
    array_parallelism: int = 64
    account: Optional[str] = None
    qos: Optional[str] = None
    constraint: Optional[str] = None
    setup: list[str] = dataclasses.field(default_factory=list)  # shell lines run before the task (module load, ...)
    job_name: str = "rosmo-sweep"
    signal_delay_s: int = 120  # USR2 this long before the time limit: checkpoint and requeue
    max_timeouts: int = 5  # requeues after time-outs (preemptions requeue without limit)
    nodes: int = 1  # a multi-host learner (rosmo.cluster.jobs): nodes x tasks_per_node processes
    tasks_per_node: int = 1  # 1: one process per node (all its GPUs); gpus_per_node: one process per GPU
    dependency: Optional[str] = None  # e.g. "after:4242" (an evaluator that starts once its learner has started)


def _slurm_extra(resources: SlurmResources) -> dict[str, Any]:
    extra: dict[str, Any] = {"requeue": True}
    if resources.dependency:
        extra["dependency"] = resources.dependency
    return extra


def make_submitit_executor(
    folder: str, resources: SlurmResources, cluster: Optional[str] = "slurm"
) -> submitit.AutoExecutor:
    """A submitit executor for `resources`: cluster "slurm" (needs sbatch/srun), or "local" / "debug" to rehearse."""
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster, slurm_max_num_timeout=resources.max_timeouts)
    params: dict[str, Any] = dict(
        name=resources.job_name,
        timeout_min=int(resources.time_min),
        nodes=int(resources.nodes),
        tasks_per_node=int(resources.tasks_per_node),
        cpus_per_task=int(resources.cpus_per_task),
        slurm_array_parallelism=int(resources.array_parallelism),
        slurm_signal_delay_s=int(resources.signal_delay_s),
        slurm_additional_parameters=_slurm_extra(resources),
    )
    if resources.gpus_per_node:
        params["gpus_per_node"] = int(resources.gpus_per_node)
    if resources.mem_gb:
        params["mem_gb"] = resources.mem_gb
    for name in ("partition", "account", "qos", "constraint"):
        if getattr(resources, name):
            params[f"slurm_{name}"] = getattr(resources, name)
    if resources.setup:
        params["slurm_setup"] = list(resources.setup)
    executor.update_parameters(**params)
    return executor


class SweepTask(submitit.helpers.Checkpointable):
    """A SLURM array task: one sweep run in a worker process; checkpoint-and-requeue on preemption."""

    def __init__(self, threads: int = 1, compile_cache: Optional[str] = None):
        self.threads = int(threads)
        self.compile_cache = compile_cache
        self._worker: Optional[WorkerProcess] = None

    def __getstate__(self) -> dict[str, Any]:  # the running process is not part of a requeued task
        return {"threads": self.threads, "compile_cache": self.compile_cache, "_worker": None}

    def __call__(self, run_dir: str) -> dict[str, Any]:
        if is_done(run_dir):
            return dict(read_status(run_dir), state="done", skipped=True)
        self._worker = WorkerProcess(run_dir, self.threads, self.compile_cache)
        status = self._worker.finish()
        self._worker = None
        if status["state"] == "failed":
            raise RuntimeError(f"{run_dir}: {status['error']}")
        return status

    def checkpoint(self, run_dir: str, interrupt_timeout: float = 600.0) -> submitit.helpers.DelayedSubmission:
        """Called by submitit on preemption/time-out: stop the worker (it saves a checkpoint), requeue the run."""
        worker = self._worker
        if worker is not None:
            worker.interrupt()
            if worker.wait(interrupt_timeout) is None:
                worker.process.kill()
            worker.finish()
            self._worker = None
        return submitit.helpers.DelayedSubmission(SweepTask(self.threads, self.compile_cache), run_dir)


def submit_slurm(
    run_dirs: list[str],
    resources: SlurmResources,
    folder: str,
    cluster: Optional[str] = "slurm",
    compile_cache: Optional[str] = None,
) -> list[Any]:
    """Submit the not-done runs as one job array (one run per task); returns submitit jobs (in run order)."""
    todo = [d for d in run_dirs if not is_done(d)]
    if not todo:
        return []
    executor = make_submitit_executor(folder, resources, cluster)
    task = SweepTask(threads=max(1, int(resources.cpus_per_task)), compile_cache=compile_cache)
    with executor.batch():
        jobs = [executor.submit(task, run_dir) for run_dir in todo]
    for run_dir, job in zip(todo, jobs):
        write_status(run_dir, state="queued", job_id=str(job.job_id), error=None)
    return jobs


def sbatch_script(resources: SlurmResources, folder: str, num_tasks: int) -> str:
    """The sbatch script `submit_slurm` would submit for `num_tasks` runs (for --dry-run).

    Rendered by submitit's own template function (`_make_sbatch_string`, private
    in submitit 1.5.4, pinned), so it is the script the real submission writes.
    """
    from submitit.slurm import slurm as submitit_slurm  # a private submitit module: only for the preview

    params: dict[str, Any] = dict(
        job_name=resources.job_name,
        time=int(resources.time_min),
        nodes=int(resources.nodes),
        ntasks_per_node=int(resources.tasks_per_node),
        cpus_per_task=int(resources.cpus_per_task),
        array_parallelism=int(resources.array_parallelism),
        signal_delay_s=int(resources.signal_delay_s),
        additional_parameters=_slurm_extra(resources),
    )
    if resources.gpus_per_node:
        params["gpus_per_node"] = int(resources.gpus_per_node)
    if resources.mem_gb:
        params["mem"] = submitit_slurm._convert_mem(resources.mem_gb)
    for name in ("partition", "account", "qos", "constraint"):
        if getattr(resources, name):
            params[name] = getattr(resources, name)
    if resources.setup:
        params["setup"] = list(resources.setup)
    command = " ".join([sys.executable, "-u -m submitit.core._submit", os.path.abspath(folder)])
    return submitit_slurm._make_sbatch_string(
        command=command, folder=os.path.abspath(folder), map_count=max(1, num_tasks), **params
    )


def monitor(
    run_dirs: list[str], jobs: list[Any], progress: Optional[SweepProgress] = None, poll_seconds: float = 30.0
) -> dict[str, dict[str, Any]]:
    """Follow submitted jobs until all have ended, showing the sweep's progress read from the run directories."""
    reported = {d for d in run_dirs if is_done(d)}
    if progress is not None:
        progress.start(total=len(run_dirs), skipped=len(reported), workers=max(1, len(jobs)))
    try:
        while True:
            ended = all(job.done() for job in jobs)
            running: dict[str, Any] = {}
            for run_dir in run_dirs:
                status = read_status(run_dir)
                state = "done" if is_done(run_dir) else status.get("state")
                if run_dir not in reported and state in ("done", "failed"):
                    reported.add(run_dir)
                    if progress is not None:
                        progress.finished(run_dir, dict(status, state=state))
                elif state == "running" and run_dir not in reported:
                    steps = requested_steps(run_dir) or 0
                    fraction = min(1.0, last_logged_step(run_dir) / steps) if steps else 0.0
                    running[run_dir] = (time.time() - float(status.get("started") or time.time()), fraction)
            if progress is not None:
                progress.update(queued=len(run_dirs) - len(reported) - len(running), running=running)
            if ended:
                break
            stop_sleep(poll_seconds)
    finally:
        if progress is not None:
            progress.close()
    return {d: read_status(d) for d in run_dirs}
