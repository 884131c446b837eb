"""Which process owns a file or directory: a small record (pid, host, start time) and a liveness test.

Used by the workdir lock (`rosmo.training.workdir`), the dataset writer's temp directories
(`rosmo.data.rlds`), the evaluator's step claims, the sweep's run status and CPU claims to tell a
live owner from one that was killed. The one liveness check of the package: `pid_alive`.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any, Optional


def process_start_time(pid: int) -> Optional[str]:
    """The kernel's start time of `pid` (field 22 of /proc/<pid>/stat), to tell a reused pid apart; None if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_record() -> dict[str, Any]:
    """This process: {"pid", "host", "since" (unix time), "start_time" (kernel ticks, or None)}."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "since": time.time(), "start_time": process_start_time(pid)}


def on_this_host(record: dict[str, Any]) -> bool:
    return record.get("host") == socket.gethostname()


def pid_alive(pid: Any, start_time: Optional[str] = None) -> bool:
    """Whether process `pid` of this host runs (and, with `start_time`, is the same process, not a reused pid).

    Args:
      pid: a process id (anything `int` takes); None or <= 0: not alive.
      start_time: the process's `process_start_time` when it was recorded, or None (not checked).
    """
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = process_start_time(pid)
    return start_time is None or now is None or str(start_time) == now


def owner_alive(record: dict[str, Any]) -> bool:
    """Whether the process a record names still runs; True when that cannot be decided (another host)."""
    if not on_this_host(record):
        return True
    return pid_alive(record.get("pid", -1), record.get("start_time"))


def describe(record: dict[str, Any]) -> str:
    """ "pid 123 on host, since 2025-01-01 12:00:00"."""
    since = record.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(since, (int, float)) else "?"
    return f"pid {record.get('pid', '?')} on {record.get('host', '?')}, since {when}"
