"""A run directory's safety: a usable `--workdir`, one trainer at a time, no silent change of the experiment.

    workdir = prepare_workdir(path)                 # WorkdirError: a file, not creatable, not writable
    with WorkdirLock(workdir):                      # WorkdirError when another live trainer holds it
        changes = config_changes(read_run_config(workdir), config.to_dict())
        check_config_changes(workdir, changes, allow=False)   # ConfigDriftError for fields that change the experiment
        record_config_changes(workdir, changes, step, allowed=...)   # config_changes.jsonl

Files (in the run directory):

    train.lock            held (fcntl.flock) by the running trainer; holds its pid, host, process start time
    config_changes.jsonl  one JSON line per resume that changed the config: step, time, {field: [old, new]}

The lock is an advisory `flock` held for the process's lifetime: the kernel releases it
when the process dies, even by kill -9, so a lock file left by a dead trainer is stale
and is replaced (with a note). Where `flock` is not honoured (some network file
systems), a lock file naming a live process on this host still refuses a second trainer.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from typing import Any, Optional

from rosmo.errors import ConfigError, UserError
from rosmo.jsonio import MISSING, read_json_or_none
from rosmo.jsonio import config_changes as jsonio_changes
from rosmo.owner import describe, on_this_host, owner_alive, owner_record

LOCK_FILE = "train.lock"
CONFIG_FILE = "config.json"
CHANGES_FILE = "config_changes.jsonl"

HARMLESS_FIELDS = frozenset(
    {
        "num_steps",
        "eval_every",
        "eval_episodes",
        "eval_parallel",
        "eval_max_episode_frames",
        "log_every",
        "checkpoint_every",
        "keep_checkpoints",
        "use_tensorboard",
        "use_wandb",
        "wandb_project",
        "nonfinite",
    }
)
"""Fields a resumed run may change freely (budget, evaluation cadence, logging): the change is logged and recorded."""
PATH_FIELDS = frozenset({"dataset_dir", "data_dir"})
"""Fields compared as paths (the same directory spelled another way is no change)."""


class WorkdirError(UserError):
    """A `--workdir` that cannot be used: a file, not writable, or in use by another trainer."""


class ConfigDriftError(ConfigError):
    """Resuming a run with a config that changes the experiment, without `--allow-config-change`."""


def prepare_workdir(workdir: str) -> str:
    """The absolute path of `workdir`, created if missing; WorkdirError naming the flag when it cannot be used."""
    path = os.path.abspath(os.fspath(workdir))
    if os.path.exists(path) and not os.path.isdir(path):
        raise WorkdirError(f"--workdir {workdir}: is a file, expected a run directory (a new or an existing one)")
    if os.path.isfile(os.path.join(path, "dataset_info.json")):  # a run's files would land among a dataset's
        raise WorkdirError(
            f"--workdir {workdir}: is a dataset directory (it holds dataset_info.json), expected a run "
            "directory; did you mean the config field dataset_dir?"
        )
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise WorkdirError(f"--workdir {workdir}: cannot create it ({err.strerror or err})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise WorkdirError(f"--workdir {workdir}: not writable (a run writes its checkpoints and logs there)")
    return path


# ---------------------------------------------------------------------------
# The lock
# ---------------------------------------------------------------------------
def _read_holder(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode("utf-8", "replace").strip()
    if not text:
        return {}
    try:
        holder = json.loads(text)
        return holder if isinstance(holder, dict) else {}
    except ValueError:
        return {}


class WorkdirLock:
    """Exclusive use of a run directory by one trainer (`<workdir>/train.lock`); a context manager.

    `enabled=False` (e.g. processes other than 0 of a multi-host run, which share
    process 0's workdir) makes it a no-op.
    """

    flag = "--workdir"  # the flag its messages name

    def __init__(self, workdir: str, enabled: bool = True, filename: str = LOCK_FILE):
        self.workdir = workdir
        self.path = os.path.join(workdir, filename)
        self.enabled = enabled
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        if not self.enabled or self._fd is not None:
            return
        for _ in range(5):  # the file may be replaced between open and flock by a releasing trainer
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise WorkdirError(f"{self.flag} {self.workdir}: cannot write there ({err.strerror or err})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_holder(fd)
                os.close(fd)
                raise WorkdirError(self._busy(holder)) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            holder = _read_holder(fd)
            if holder and on_this_host(holder) and holder.get("pid") != os.getpid() and owner_alive(holder):
                os.close(fd)  # flock not honoured here (e.g. a network file system), but the holder runs
                raise WorkdirError(self._busy(holder))
            if holder:
                print(
                    f"rosmo: note: {self.path}: replacing the stale lock of a trainer that no longer runs "
                    f"({describe(holder)})",
                    file=sys.stderr,
                    flush=True,
                )
            me = owner_record()
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, (json.dumps(me) + "\n").encode())
            os.fsync(fd)
            self._fd = fd
            return
        raise WorkdirError(f"{self.flag} {self.workdir}: cannot take {self.path} (it keeps being replaced)")

    def _busy(self, holder: dict[str, Any]) -> str:
        who = describe(holder) if holder else "another process"
        return (
            f"--workdir {self.workdir}: another trainer is using this run directory ({who}); "
            f"wait for it to end or choose another --workdir"
        )

    def release(self) -> None:
        """Remove the lock file (if it is still ours) and release the lock."""
        if self._fd is None:
            return
        try:
            if os.fstat(self._fd).st_ino == os.stat(self.path).st_ino:
                os.remove(self.path)
        except OSError:
            pass
        os.close(self._fd)  # closing releases the flock
        self._fd = None

    def __enter__(self) -> WorkdirLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def live_holder(workdir: str, filename: str = LOCK_FILE) -> Optional[dict[str, Any]]:
    """The record of the live process holding `<workdir>/<filename>` (this host), None when none runs.

    Reads the lock file's owner record and tests the process (pid and start time); it never takes the
    lock itself, so it cannot make a trainer that is starting fail.
    """
    try:
        with open(os.path.join(workdir, filename)) as f:
            holder = json.loads(f.read() or "{}")
    except (OSError, ValueError):
        return None
    if not isinstance(holder, dict) or not holder or holder.get("pid") == os.getpid():
        return None
    return holder if owner_alive(holder) else None


# ---------------------------------------------------------------------------
# Config drift
# ---------------------------------------------------------------------------
def read_run_config(workdir: str) -> Optional[dict[str, Any]]:
    """The config a run was started (or last resumed) with, from `<workdir>/config.json`;
    None when absent/unreadable."""
    config = read_json_or_none(os.path.join(workdir, CONFIG_FILE))
    return config if isinstance(config, dict) else None


def _same(field: str, old: Any, new: Any) -> bool:
    if field.split(".")[-1] in PATH_FIELDS and isinstance(old, str) and isinstance(new, str) and old and new:
        return os.path.realpath(old) == os.path.realpath(new)
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        return list(old) == list(new)
    return old == new


def config_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{field: (old value, new value)} of the fields that differ (dotted names for nested fields; MISSING if absent)."""
    return jsonio_changes(old, new, same=_same)


def experiment_changes(changes: dict[str, tuple[Any, Any]]) -> list[str]:
    """The changed fields that change the experiment: all but `HARMLESS_FIELDS` and fields a newer/older rosmo
    added/removed (absent on one side)."""
    return [f for f, (a, b) in changes.items() if f not in HARMLESS_FIELDS and MISSING not in (a, b)]


def _format(changes: dict[str, tuple[Any, Any]], fields) -> str:
    return ", ".join(f"{f} {changes[f][0]!r} -> {changes[f][1]!r}" for f in fields)


def check_config_changes(workdir: str, changes: dict[str, tuple[Any, Any]], allow: bool) -> None:
    """ConfigDriftError naming the fields when a resume would change the experiment and `allow` is False."""
    refused = experiment_changes(changes)
    if refused and not allow:
        raise ConfigDriftError(
            f"--workdir {workdir}: resuming with another config than the run's {CONFIG_FILE}: "
            f"{_format(changes, refused)}; "
            "rerun with the run's values, use another --workdir, or pass --allow-config-change to go on "
            f"(the change is recorded in {CHANGES_FILE})"
        )


def record_config_changes(workdir: str, changes: dict[str, tuple[Any, Any]], step: int) -> Optional[str]:
    """Append the changes to `<workdir>/config_changes.jsonl`; the one line to print (None when nothing changed)."""
    if not changes:
        return None
    refused = experiment_changes(changes)
    entry = {
        "step": int(step),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "changes": {f: [a, b] for f, (a, b) in changes.items()},
        "allowed_by": "--allow-config-change" if refused else "harmless",
    }
    with open(os.path.join(workdir, CHANGES_FILE), "a") as f:
        f.write(json.dumps(entry) + "\n")
    kind = "with --allow-config-change" if refused else "harmless fields"
    return f"config changed on resume at step {step} ({kind}): {_format(changes, list(changes))}"
