"""In-memory batches: every kept step held in numpy, windows drawn by a seeded sampler on a prefetch thread."""

from __future__ import annotations

import queue
import threading
from typing import Any, Optional

import numpy as np

from rosmo.data.windows import gather_windows


class WindowSampler:
    """Draws batches of windows from steps held in numpy; batch `i` is a pure function of `(seed, i)`.

    Batch `i`: starts ~ Uniform{0..N-L} from `np.random.default_rng([seed, 1, i])`
    (stream 0 of `seed` chooses the episodes), then `gather_windows`. Shard `p > 0`
    (another host's share of a global batch) draws from `[seed, 1, i, p]` instead.
    """

    def __init__(
        self,
        steps: dict[str, np.ndarray],
        length: int,
        batch_size: int,
        seed: int = 0,
        start_batch: int = 0,
        shard: int = 0,
    ):
        self.steps = steps
        self.length = int(length)
        self.batch_size = int(batch_size)
        self.num_steps = len(steps["action"])
        self.num_windows = self.num_steps - self.length + 1
        self.seed = int(seed)
        self.next_batch = int(start_batch)
        self.shard = int(shard)

    def batch(self, index: int) -> dict[str, np.ndarray]:
        """Batch number `index`: fields [B, L, ...]."""
        key = [self.seed, 1, int(index)] + ([self.shard] if self.shard else [])
        rng = np.random.default_rng(key)
        starts = rng.integers(0, self.num_windows, size=self.batch_size)
        return gather_windows(self.steps, starts, self.length)

    def sample(self) -> dict[str, np.ndarray]:
        """The next batch of the sequence."""
        out = self.batch(self.next_batch)
        self.next_batch += 1
        return out


def _produce(sampler: WindowSampler, out: queue.Queue, stop: threading.Event) -> None:
    """Prefetch thread: fill `out` with batches (or the exception that stopped it) until `stop` is set."""
    try:
        while not stop.is_set():
            item: Any = sampler.sample()
            _put(out, item, stop)
    except BaseException as err:  # hand the failure to the consumer
        _put(out, err, stop)


def _put(out: queue.Queue, item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


class InMemoryLoader:
    """Infinite iterator of batches from steps held in numpy (see `WindowSampler`).

    Window starts are drawn uniformly from `[0, N - L]` and gathered by fancy
    indexing; batch `i` comes from its own generator seeded `(seed, 1, i)`, so
    the stream from `start_batch` on is the same whether or not a run was
    interrupted (exact resume). A daemon thread keeps up to `prefetch` batches
    ready in a queue (`prefetch=0`: synchronous). The thread holds only the
    sampler, so dropping the loader (or `close()`, or leaving a `with` block)
    stops it.
    """

    def __init__(
        self,
        steps: dict[str, np.ndarray],
        length: int,
        batch_size: int,
        seed: int = 0,
        prefetch: int = 2,
        start_batch: int = 0,
        shard: int = 0,
    ):
        self.sampler = WindowSampler(steps, length, batch_size, seed=seed, start_batch=start_batch, shard=shard)
        self.steps = steps
        self.length = self.sampler.length
        self.batch_size = self.sampler.batch_size
        self.num_steps = self.sampler.num_steps
        self.num_windows = self.sampler.num_windows
        self._queue: Optional[queue.Queue] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        if prefetch > 0:
            self._queue = queue.Queue(maxsize=prefetch)
            self._thread = threading.Thread(
                target=_produce, args=(self.sampler, self._queue, self._stop), name="rosmo-loader", daemon=True
            )
            self._thread.start()

    def __iter__(self) -> InMemoryLoader:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        if self._queue is None:
            return self.sampler.sample()
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop the prefetch thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> InMemoryLoader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self._stop.set()
