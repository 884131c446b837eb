"""The live line of a sweep: runs done / running / failed / queued, elapsed time and ETA.

    sweep: 4/9 done, 2 running, 1 failed, 2 queued | 5m12s elapsed, eta 6m30s

On a terminal the line is redrawn in place; in a log file it is printed when
the counts change and at least every `interval` seconds. Each finished run
also gets its own line (`[done] name 123s`, `[failed] name: error`).
"""

from __future__ import annotations

import heapq
import os
import sys
import time
from typing import Any, Mapping, Optional, Sequence

MIN_FRACTION = 0.05  # below this, a running run's own progress is too little to extrapolate from


def format_seconds(seconds: Optional[float]) -> str:
    """3725 -> "1h02m05s", 312 -> "5m12s", 9 -> "9s", None -> "?"."""
    if seconds is None:
        return "?"
    seconds = int(round(max(0.0, seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m:02d}m{s:02d}s"
    return f"{m}m{s:02d}s" if m else f"{s}s"


def estimate_eta(
    queued: int, running: Sequence[tuple[float, float]], finished_walls: Sequence[float], workers: int
) -> Optional[float]:
    """Seconds until the sweep ends, or None while nothing is known.

    running: (elapsed seconds, fraction of steps done) per running run.
    Run time T = mean wall time of finished runs, else the mean over running
    runs of elapsed / fraction (fractions >= MIN_FRACTION). A running run
    needs elapsed / fraction - elapsed more (T - elapsed when its fraction is
    too small); queued runs of T each go to the earliest free of `workers`
    workers; the ETA is when the last worker is free.
    """
    extrapolated = [e / f for e, f in running if f >= MIN_FRACTION]
    if finished_walls:
        typical = sum(finished_walls) / len(finished_walls)
    elif extrapolated:
        typical = sum(extrapolated) / len(extrapolated)
    else:
        return None if (queued or running) else 0.0
    free = [max(0.0, (e / f if f >= MIN_FRACTION else typical) - e) for e, f in running]
    free += [0.0] * max(0, workers - len(free))
    heapq.heapify(free)
    for _ in range(queued):
        heapq.heappush(free, heapq.heappop(free) + typical)
    return max(free) if free else 0.0


class SweepProgress:
    """Prints the sweep's live line and one line per finished run (to stdout by default)."""

    def __init__(self, file=None, enabled: bool = True, interval: float = 60.0, live: Optional[bool] = None):
        self.file = file if file is not None else sys.stdout
        self.enabled = enabled
        self.interval = interval
        isatty = getattr(self.file, "isatty", None)
        self.live = bool(isatty and isatty()) if live is None else live
        self.total = 0
        self.workers = 1
        self.done = 0
        self.failed = 0
        self.walls: list[float] = []
        self.started = time.time()
        self._last_line = ""
        self._last_print = 0.0
        self._drawn = False

    def start(self, total: int, skipped: int = 0, workers: int = 1) -> None:
        self.total, self.done, self.failed, self.workers = total, skipped, 0, max(1, workers)
        self.started = time.time()
        if skipped:
            self._print(f"sweep: {skipped} of {total} runs already done, skipped")

    def finished(self, run_dir: str, status: Mapping[str, Any]) -> None:
        name = os.path.basename(run_dir.rstrip(os.sep))
        state = status.get("state")
        wall = status.get("wall_seconds")
        if state == "done":
            self.done += 1
            if wall is not None:
                self.walls.append(float(wall))
            self._print(f"[done] {name} ({format_seconds(wall)})")
        elif state == "failed":
            self.failed += 1
            self._print(f"[failed] {name}: {status.get('error')}  (log: {os.path.join(run_dir, 'worker.log')})")
        else:
            self._print(f"[{state}] {name}: {status.get('error') or status.get('note') or ''}".rstrip(": "))

    def line(self, queued: int, running: Mapping[str, tuple[float, float]]) -> str:
        eta = estimate_eta(queued, list(running.values()), self.walls, self.workers)
        return (
            f"sweep: {self.done}/{self.total} done, {len(running)} running, {self.failed} failed, {queued} queued"
            f" | {format_seconds(time.time() - self.started)} elapsed, eta {format_seconds(eta)}"
        )

    def update(self, queued: int, running: Mapping[str, tuple[float, float]]) -> None:
        if not self.enabled:
            return
        text = self.line(queued, running)
        now = time.time()
        counts = text.split(" | ")[0]
        if self.live:
            self.file.write("\r\033[K" + text)
            self.file.flush()
            self._drawn = True
        elif counts != self._last_line.split(" | ")[0] or now - self._last_print >= self.interval:
            print(text, file=self.file, flush=True)
            self._last_print = now
        self._last_line = text

    def _print(self, text: str) -> None:
        if not self.enabled:
            return
        if self._drawn:
            self.file.write("\r\033[K")
            self._drawn = False
        print(text, file=self.file, flush=True)
        if self.live and self._last_line:
            self.file.write(self._last_line)
            self.file.flush()
            self._drawn = True

    def close(self) -> None:
        if not self.enabled:
            return
        if self._drawn:
            self.file.write("\n")
            self.file.flush()
            self._drawn = False
        print(
            f"sweep: {self.done}/{self.total} done, {self.failed} failed, "
            f"{format_seconds(time.time() - self.started)} elapsed",
            file=self.file,
            flush=True,
        )
