"""Batches on device ahead of the learner: the next `size` batches are put on the mesh before they are used.

    batches = DevicePrefetcher(suite.make_batches(config), learner.put_batch, size=2)
    batch = next(batches)            # already a sharded jax.Array dict; waits only when the data is late
    learner.step(batch)
    batches.refill()                 # the next batches' copies overlap the update just dispatched
    batches.take_wait_seconds()      # seconds next() blocked since the last call (the learner's data wait)
    batches.close()

A background thread reads host batches (the tf.data / numpy pipeline) into a queue;
the consumer's thread puts them on the device (`Learner.put_batch`:
`jax.make_array_from_process_local_data`, asynchronous on accelerators) `size`
batches ahead, so the copy of batch k+1 and k+2 overlaps update k. Device transfers
are issued from the consumer's thread on purpose: issued from a second thread they
interleave with the jitted updates' launches, and XLA:CPU's multi-device all-reduce
then deadlocks (its rendezvous waits for a device whose thread is busy; seen with 2
host devices on 2 cores). Written here rather than taken from `flax.jax_utils.prefetch_to_device`
(which wants pmap-style leading device axes, not a `NamedSharding`) or Acme's
`device_put` iterators (which bring Acme's `multi_thread` utilities and reverb's
dependency tree). A producer error (e.g. a DatasetError) is raised by `next()`.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from typing import Any, Callable, Iterator, Optional

_DONE = object()


class DevicePrefetcher:
    """Iterator of device batches with `size` in flight; host batches are read by a daemon thread."""

    def __init__(
        self, batches: Iterator[dict[str, Any]], put: Callable[[dict[str, Any]], dict[str, Any]], size: int = 2
    ):
        if size < 1:
            raise ValueError(f"prefetch size must be >= 1, got {size}")
        self._batches = batches
        self._put = put
        self._size = int(size)
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._on_device: collections.deque = collections.deque()
        self._ended: Optional[BaseException] = None
        self._stop = threading.Event()
        self._wait = 0.0
        self._thread = threading.Thread(target=self._produce, name="rosmo-device-prefetch", daemon=True)
        self._thread.start()

    def _offer(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for batch in self._batches:
                if not self._offer(("batch", batch)):
                    return
            self._offer(("done", _DONE))
        except BaseException as err:  # handed to the consumer, raised by next()
            self._offer(("error", err))

    def __iter__(self) -> DevicePrefetcher:
        return self

    def _fill(self) -> None:
        """Put host batches on the device until `size` are there (or the source ended)."""
        while len(self._on_device) < self._size and self._ended is None:
            kind, item = self._queue.get()
            if kind == "batch":
                self._on_device.append(self._put(item))
            else:
                self._ended = item if kind == "error" else StopIteration()

    def __next__(self) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            self._fill()
            if not self._on_device:
                raise self._ended
            return self._on_device.popleft()
        finally:
            self._wait += time.perf_counter() - start  # waiting for host data, and issuing the copies

    def refill(self) -> None:
        """Issue the copies of the next batches now (call it right after dispatching an update)."""
        start = time.perf_counter()
        self._fill()
        self._wait += time.perf_counter() - start

    def take_wait_seconds(self) -> float:
        """Seconds spent in next() / refill() since the previous call (then reset): waiting for data, issuing copies."""
        wait, self._wait = self._wait, 0.0
        return wait

    def close(self) -> None:
        """Stop the producer thread (the batches in flight are dropped)."""
        self._stop.set()
        self._thread.join(timeout=5.0)
