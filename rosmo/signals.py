"""SIGINT / SIGTERM / SIGUSR2: a flag the job's loops poll; they stop at a safe point and exit 128 + signum.

    with StopSignals() as signals:          # main thread only; elsewhere a no-op
        while ...:
            signals.check()                  # raises Stopped when a signal came (not inside deferred())
            batch = next(batches)
            with signals.deferred():         # a signal here is acted on when the block ends
                state = update(state, batch)
            signals.sleep(poll_seconds)      # sleeps in short slices, checking the flag

    check_stop()                             # the same check from library loops (episodes, env steps)

The handler only records the signal: it never raises, so it cannot fire an exception inside
arbitrary code (a garbage-collection callback, a `finally`, a C extension's callback), where an
exception would be swallowed ("Exception ignored in ...") and the job would run on. `Stopped`
is raised by `check()` / `check_stop()` / the end of a `deferred()` block, in the job's own code.
It is a `KeyboardInterrupt`, so code that handles Ctrl-C handles a SLURM preemption (SIGTERM, then
SIGKILL after a grace period) too; its exit code is 128 + the signal number (130 SIGINT, 143 SIGTERM).

Before a job installs `StopSignals` (imports, JAX start-up), `exit_on_signal` makes a signal end the
process at once with one line and 128 + signum: there is nothing to save yet. Once a job has received
its stop signal, `exit_on_signal`'s handlers absorb repeats (a storm of SIGTERMs from a scheduler):
the job is already on its way out and prints its own line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from typing import Iterator, Optional

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)  # Ctrl-C; SLURM preemption / time limit
POLL_SLICE = 0.1  # seconds: `sleep` checks the flag this often

_ACTIVE: list[StopSignals] = []  # installed StopSignals, innermost last
_STOP_RECEIVED = False  # a job's StopSignals recorded a signal: the process is stopping


def stop_received() -> bool:
    """True once an installed `StopSignals` has recorded a signal (reset by `exit_on_signal`)."""
    return _STOP_RECEIVED


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
    """Installs handlers that record SIGINT/SIGTERM/SIGUSR2 in `pending`; `check()` raises `Stopped`.

    A signal the process was started ignoring (a background job's SIGINT, `nohup`) stays ignored.
    With `immediate=False` (multi-host training) `check()` never raises: the processes must agree
    on the step at which they all stop (rosmo.training.distributed.agreed_stop), reading `pending`.
    """

    def __init__(self, signals=STOP_SIGNALS, immediate: bool = True):
        self.signals = tuple(signals)
        self.immediate = bool(immediate)
        self.pending: Optional[int] = None
        self.received = 0  # signals seen (a test of the handler counts them)
        self._depth = 0
        self._swallow = False
        self._previous = {}

    def _handle(self, signum, frame) -> None:
        global _STOP_RECEIVED
        del frame
        self.received += 1
        _STOP_RECEIVED = True
        if self.pending is None and not self._swallow:
            self.pending = signum

    def check(self) -> None:
        """Raise `Stopped` when a signal is pending (outside `deferred()` blocks, and when `immediate`)."""
        if self.pending is not None and not self._depth and self.immediate:
            signum, self.pending = self.pending, None
            raise Stopped(signum)

    def sleep(self, seconds: float) -> None:
        """`time.sleep(seconds)` in slices of POLL_SLICE, raising `Stopped` as soon as a signal is pending."""
        end = time.monotonic() + max(0.0, float(seconds))
        while True:
            self.check()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL_SLICE, left))

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
            if not self._depth and sys.exc_info()[0] is None:
                self.check()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                if signal.getsignal(sig) is not signal.SIG_IGN:  # e.g. SIGINT of a background job stays ignored
                    self._previous[sig] = signal.signal(sig, self._handle)
            _ACTIVE.append(self)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        if self in _ACTIVE:
            _ACTIVE.remove(self)


def check_stop() -> None:
    """Raise `Stopped` when the innermost installed `StopSignals` has a pending signal; a no-op without one."""
    if _ACTIVE:
        _ACTIVE[-1].check()


def stop_sleep(seconds: float) -> None:
    """Sleep `seconds`, raising `Stopped` as soon as a signal is pending (plain sleep without `StopSignals`)."""
    if _ACTIVE:
        _ACTIVE[-1].sleep(seconds)
    else:
        time.sleep(seconds)


def exit_on_signal(prog: str, signals=(signal.SIGINT, signal.SIGTERM)) -> None:
    """Handlers that end the process at once with one line on stderr and exit code 128 + signum.

    For a process's start-up, before its job installs `StopSignals` (which replaces them, and puts them
    back when it ends). The handler does not raise: it writes the line and calls `os._exit`. Once a job's
    `StopSignals` has recorded a signal (`stop_received()`, cleared here), it ignores further signals: the
    job is ending with its own line and exit code, and a repeat must not cut its clean-up short.
    """
    global _STOP_RECEIVED
    if threading.current_thread() is not threading.main_thread():
        return
    _STOP_RECEIVED = False
    # the line goes to the stderr of now: importing TensorFlow points fd 2 at /dev/null for a while (rosmo.tf_cpu)
    stderr_fd = os.dup(2)

    def handler(signum, frame) -> None:
        del frame
        if _STOP_RECEIVED:
            return
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os.write(stderr_fd, f"{prog}: stopped by {signal.Signals(signum).name}\n".encode())
        os._exit(128 + signum)

    for sig in signals:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, handler)


def ignore_repeats(signals=(signal.SIGINT, signal.SIGTERM)) -> None:
    """SIG_IGN for `signals` from now on, for a process that is ending with its job's exit code.

    Interpreter shutdown puts SIG_DFL back in place of Python handlers, so a repeat arriving then (a
    scheduler's storm of SIGTERMs) would end the process with -signum instead of 128 + signum.
    """
    if threading.current_thread() is threading.main_thread():
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
