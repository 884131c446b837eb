"""A sweep on disk: the sweep's plan, each run's plan and status, and what state a run is in.

    <sweep_dir>/sweep.json                 the sweep (spec) and its run names, in run order
    <sweep_dir>/<run>/sweep_run.json       the run's plan: name, varied fields, config spec, resolved config
    <sweep_dir>/<run>/sweep_status.json    running | done | failed | interrupted, error, wall seconds, attempts
    <sweep_dir>/<run>/worker.log           the worker's stdout and stderr (appended per attempt)
    <sweep_dir>/<run>/...                  an ordinary run directory (config.json, checkpoints/, eval.csv, summary.json)

A run is done when its summary.json holds the requested `num_steps`; a run
with checkpoints but no such summary resumes (train() does that by itself).
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any, Optional

from rosmo.jsonio import MISSING, config_changes, read_json_if_present, to_jsonable, write_json_atomic
from rosmo.owner import describe as describe_owner
from rosmo.owner import on_this_host, pid_alive
from rosmo.sweep.grid import RunPlan
from rosmo.sweep.spec import SweepError, SweepSpec
from rosmo.training.workdir import WorkdirLock

SWEEP_FILE = "sweep.json"
RUN_FILE = "sweep_run.json"
STATUS_FILE = "sweep_status.json"
LOG_FILE = "worker.log"
ERROR_PREFIX = "rosmo-sweep-error: "  # the worker's last stderr line when a run fails


def _read_json(path: str) -> Optional[dict[str, Any]]:
    return read_json_if_present(path, lambda message: SweepError(f"{message}; move it away to start this run again"))


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Fields whose values differ between two config dicts: ["num_steps: 3000 -> 6000", ...]."""
    return [f"{k}: {_shown(a)!r} -> {_shown(b)!r}" for k, (a, b) in config_changes(old, new).items()]


def _shown(value: Any) -> Any:
    return "<missing>" if value is MISSING else value


def read_run_plan(run_dir: str) -> Optional[dict[str, Any]]:
    return _read_json(os.path.join(run_dir, RUN_FILE))


SWEEP_LOCK = "sweep.lock"


class SweepLock(WorkdirLock):
    """One `rosmo sweep` per sweep directory (`<out>/sweep.lock`, held for the sweep's lifetime)."""

    flag = "--out"

    def __init__(self, sweep_dir: str):
        super().__init__(sweep_dir, filename=SWEEP_LOCK)

    def _busy(self, holder: dict[str, Any]) -> str:
        who = describe_owner(holder) if holder else "another process"
        return (
            f"--out {self.workdir}: another `rosmo sweep` is running on this directory ({who}); "
            "wait for it to end (its progress: rosmo sweep --out ... --dry-run) or use another --out"
        )


def prepare(sweep_dir: str, spec: SweepSpec, runs: list[RunPlan]) -> list[str]:
    """Write sweep.json and each run's plan; returns the run directories in run order.

    A run directory that already holds a plan with a different config is an
    error naming the fields (nothing a user wrote is overwritten).
    """
    os.makedirs(sweep_dir, exist_ok=True)
    run_dirs = []
    for run in runs:
        run_dir = os.path.join(sweep_dir, run.name)
        new = to_jsonable(run.to_dict())
        old = read_run_plan(run_dir)
        if old is not None:
            diff = config_differences(old.get("config", {}), new["config"])
            if diff:
                shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
                raise SweepError(
                    f"{run_dir} was planned with another config ({shown}); use another --out, or move that run away"
                )
        elif os.path.isdir(run_dir) and os.listdir(run_dir):
            raise SweepError(f"{run_dir} exists and is not a run of a sweep (no {RUN_FILE}); use another --out")
        if old != new:
            write_json_atomic(os.path.join(run_dir, RUN_FILE), new)
        run_dirs.append(run_dir)
    previous = _read_json(os.path.join(sweep_dir, SWEEP_FILE)) or {}
    names = list(previous.get("runs", []))
    names += [r.name for r in runs if r.name not in names]
    write_json_atomic(
        os.path.join(sweep_dir, SWEEP_FILE), {"spec": spec.to_dict(), "source": spec.source, "runs": names}
    )
    return run_dirs


def read_sweep(sweep_dir: str) -> Optional[dict[str, Any]]:
    return _read_json(os.path.join(sweep_dir, SWEEP_FILE))


def read_status(run_dir: str) -> dict[str, Any]:
    return _read_json(os.path.join(run_dir, STATUS_FILE)) or {}


def write_status(run_dir: str, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into the run's status file (atomic) and return it."""
    status = read_status(run_dir)
    status.update(fields, host=socket.gethostname(), updated=time.time())
    write_json_atomic(os.path.join(run_dir, STATUS_FILE), status)
    return status


def requested_steps(run_dir: str) -> Optional[int]:
    plan = read_run_plan(run_dir) or {}
    return (plan.get("config") or {}).get("num_steps")


def is_done(run_dir: str) -> bool:
    """summary.json exists and holds the planned number of steps."""
    summary = _read_json(os.path.join(run_dir, "summary.json"))
    steps = requested_steps(run_dir)
    return summary is not None and steps is not None and summary.get("num_steps") == steps


def last_logged_step(run_dir: str) -> int:
    """The step of the last row of train.csv (0 if none): how far a running run is."""
    path = os.path.join(run_dir, "train.csv")
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = f.read().decode(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return 0
    for line in reversed(lines):
        head = line.split(",", 1)[0]
        if head.isdigit():
            return int(head)
    return 0


def run_state(run_dir: str) -> str:
    """new | partial (has checkpoints) | queued (SLURM) | running | done | failed | interrupted, from the files."""
    if is_done(run_dir):
        return "done"
    status = read_status(run_dir)
    state = status.get("state")
    if state == "running" and on_this_host(status) and not pid_alive(status.get("pid")):
        return "interrupted"  # its sweep was killed: nothing runs it any more
    if state in ("running", "queued", "failed", "interrupted"):
        return state
    checkpoints = os.path.join(run_dir, "checkpoints")
    if os.path.isdir(checkpoints) and any(name.isdigit() for name in os.listdir(checkpoints)):
        return "partial"
    return "new"


def describe(sweep_dir: str, runs: list[RunPlan]) -> list[dict[str, Any]]:
    """For --dry-run: each planned run's name, state on disk (new/partial/done/failed/...), steps, and any
    conflict with a run directory planned before with another config. Writes nothing."""
    rows = []
    for run in runs:
        run_dir = os.path.join(sweep_dir, run.name)
        old = read_run_plan(run_dir)
        diff = config_differences(old.get("config", {}), run.config.to_dict()) if old else []
        if diff:
            state = "conflict"
        elif old is None:
            state = "new" if not (os.path.isdir(run_dir) and os.listdir(run_dir)) else "conflict"
        else:
            state = run_state(run_dir)
        rows.append(
            {
                "name": run.name,
                "state": state,
                "num_steps": run.config.num_steps,
                "step": last_logged_step(run_dir) if state in ("partial", "failed", "interrupted", "running") else None,
                "conflict": "; ".join(diff[:3]) if diff else ("not a sweep run" if state == "conflict" else None),
            }
        )
    return rows
