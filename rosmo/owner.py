"""Which process owns a file or directory: a small record (pid, host, start time) and a liveness test.

Used by the workdir lock (`rosmo.training.workdir`) and by the dataset writer's temp
directories (`rosmo.data.rlds`) to tell a live owner from one that was killed.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any, Dict, Optional


def process_start_time(pid: int) -> Optional[str]:
    """The kernel's start time of `pid` (field 22 of /proc/<pid>/stat), to tell a reused pid apart; None if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_record() -> Dict[str, Any]:
    """This process: {"pid", "host", "since" (unix time), "start_time" (kernel ticks, or None)}."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "since": time.time(), "start_time": process_start_time(pid)}


def on_this_host(record: Dict[str, Any]) -> bool:
    return record.get("host") == socket.gethostname()


def owner_alive(record: Dict[str, Any]) -> bool:
    """Whether the process a record names still runs; True when that cannot be decided (another host)."""
    if not on_this_host(record):
        return True
    try:
        pid = int(record.get("pid", -1))
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
    started, now = record.get("start_time"), process_start_time(pid)
    return started is None or now is None or str(started) == now


def describe(record: Dict[str, Any]) -> str:
    """"pid 123 on host, since 2025-01-01 12:00:00"."""
    since = record.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(since, (int, float)) else "?"
    return f"pid {record.get('pid', '?')} on {record.get('host', '?')}, since {when}"
