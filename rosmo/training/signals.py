"""SIGINT / SIGTERM / SIGUSR2 during training: stop at a safe point, save, exit with the conventional code.

    with StopSignals() as signals:          # main thread only; elsewhere a no-op
        while ...:
            batch = next(batches)            # a signal here raises Stopped at once
            with signals.deferred():         # ... but not in here: raised when the block ends
                state = update(state, batch)

A batch scheduler's preemption (SLURM sends SIGTERM, then SIGKILL after a grace
period) and Ctrl-C both raise `Stopped`, a `KeyboardInterrupt`, so code that
handles Ctrl-C handles both. Its exit code is 128 + the signal number (130 for
SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator, Optional

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)  # Ctrl-C; SLURM preemption / time limit


class Stopped(KeyboardInterrupt):
    """Training was stopped by a signal; `exit_code` is 128 + signum; str() is the one line to print."""

    def __init__(self, signum: int = signal.SIGINT, message: Optional[str] = None):
        super().__init__(message or f"stopped by {signal.Signals(signum).name}")
        self.signum = int(signum)
        self.message = message or f"stopped by {signal.Signals(signum).name}"

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    def __str__(self) -> str:
        return self.message


class StopSignals:
    """Installs SIGINT/SIGTERM handlers that raise `Stopped`, except inside `deferred()` blocks.

    A signal the process was started ignoring (a background job's SIGINT, `nohup`) stays ignored.
    With `immediate=False` (multi-host training) a signal only sets `pending`: the processes
    must agree on the step at which they all stop (rosmo.training.distributed.agreed_stop).
    """

    def __init__(self, signals=STOP_SIGNALS, immediate: bool = True):
        self.signals = tuple(signals)
        self.immediate = bool(immediate)
        self.pending: Optional[int] = None
        self._depth = 0
        self._swallow = False
        self._previous = {}

    def _handle(self, signum, frame) -> None:
        del frame
        if self._depth or not self.immediate:
            if self.pending is None and not self._swallow:
                self.pending = signum
            return
        raise Stopped(signum)

    @contextlib.contextmanager
    def deferred(self, swallow: bool = False) -> Iterator[None]:
        """A block a signal does not interrupt; it is raised when the block ends (dropped with `swallow=True`)."""
        self._depth += 1
        previous_swallow = self._swallow
        self._swallow = self._swallow or swallow
        try:
            yield
        finally:
            self._depth -= 1
            self._swallow = previous_swallow
            if not self._depth and self.pending is not None and self.immediate:
                signum, self.pending = self.pending, None
                raise Stopped(signum)

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                if signal.getsignal(sig) is not signal.SIG_IGN:  # e.g. SIGINT of a background job stays ignored
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
