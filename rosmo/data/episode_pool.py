"""Batches of windows drawn without replacement from many whole episodes held at once (the pool).

    pool = EpisodePool(episodes, length=L, history=S - 1, batch_size=B, pool_size=P, seed=0)
    batch = pool.sample()   # action/reward/discount/flags [B, L], frames uint8 [B, L + S - 1, H, W]

Why not a shuffle buffer of windows: windows of one episode are made together, so
a buffer of N windows holds about N / T episodes (T steps each: 2-3 episodes of
1000 steps for a buffer of 2000); a batch then holds windows of very few episodes.
Here the pool holds `P` whole episodes (frames once, not once per window), and a
batch of B windows is a draw without replacement from all windows the pool has
not yet given out: each of its windows picks an episode uniformly among those with
windows left (`draw_counts`), then that episode's next start in a seeded random order. An episode
leaves the pool when every one of its windows has been given out, and the next
episode of the stream takes its place: every window of the stream is given out
exactly once, and a batch draws from about P (1 - exp(-B / P)) episodes
(221 for P = 256, 245 for P = 300, B = 512), whatever the episode lengths.

Windows: episode steps 0..T-1, zero-padded (all flags False) by L - 1 steps
after the end and, for `frames`, by `history` zero frames before step 0. Window s
(s = 0..T-1) holds steps s..s+L-1 and frames s-history..s+L-1, so the frame stack
of step t is the plain sliding window frames[t : t + history + 1] (zeros before
the episode start, the RL Unplugged / Dopamine / Acme convention), and steps
after `is_last` are padding, masked by the learner (`rosmo.ops.episode_masks`).
Memory: P episodes' frames (P * T * 7 KB for 84x84 frames), held as given (not
copied into padded arrays: the padding rows of a window are zeroed after its gather).

Speed: a batch's frames (B x (L + history) frames, 50 MB for B = 512, L = 11, 84x84)
and its stacked observations are written into recycled arrays, ones the pool made earlier and nobody holds
any more (`sys.getrefcount`: a batch, a view of it or a JAX transfer still holding it
keeps it out of use). A fresh array of that size is a new `mmap` each time, and its
first writes page-fault: on a 2-core VM that halves the gather's speed.
"""

from __future__ import annotations

import concurrent.futures
import queue
import sys
import threading
from typing import Any, Callable, Iterator, Optional

import numpy as np

STEP_FIELDS = ("action", "reward", "discount", "is_first", "is_last", "is_terminal")
ID_FIELDS = ("episode_id", "checkpoint_id")
MAX_BUFFERS = 12  # recycled output arrays kept (prefetch queue + consumer + one in the making, x 3 kinds)


class _Episode:
    """One episode in the pool: padded arrays and the order its window starts are given out in.

    An index-only episode (`num_steps`, no step fields: a resumed pool's replay) has the
    same window order and no arrays until `attach` gives it its data.
    """

    def __init__(
        self, episode: dict[str, np.ndarray], length: int, history: int, rng: np.random.Generator, frame_field: str
    ):
        num = int(episode["num_steps"]) if "num_steps" in episode else len(episode["action"])
        if num < 1:
            raise ValueError("an episode with no steps")
        self.length, self.history, self.frame_field = length, history, frame_field
        self.position = int(episode.get("position", -1))
        self.ids = {k: episode[k] for k in ID_FIELDS if k in episode}
        self.steps: Optional[np.ndarray] = None  # structured [T + L - 1]: STEP_FIELDS, zero-padded
        self.frames: Optional[np.ndarray] = None
        if "num_steps" not in episode:
            self.attach(episode)
        self.order = rng.permutation(num)
        self.next = 0

    def attach(self, episode: dict[str, np.ndarray]) -> None:
        """Hold `episode`'s arrays (padded, see the module docstring)."""
        steps = {k: np.asarray(episode[k]) for k in STEP_FIELDS}
        # one record per step (all step fields): a window's steps are one gather, not one per field
        self.steps = np.zeros(len(steps["action"]) + self.length - 1, [(k, v.dtype) for k, v in steps.items()])
        for k, v in steps.items():
            self.steps[k][: len(v)] = v
        self.frames = np.asarray(episode[self.frame_field])  # unpadded: see `EpisodePool.sample`
        self.ids = {k: episode[k] for k in ID_FIELDS if k in episode}

    @property
    def remaining(self) -> int:
        return len(self.order) - self.next

    def take(self, count: int) -> np.ndarray:
        starts = self.order[self.next : self.next + count]
        self.next += count
        return starts


class EpisodePool:
    """Draws batches of windows from `pool_size` episodes in flight (see the module docstring).

    Args:
      episodes: an iterator of episode dicts of numpy arrays: the step fields [T],
        `frame_field` [T, ...], optionally `episode_id`, `checkpoint_id` scalars.
      length: L, steps per window.
      history: frames before a window's first step that it also carries (S - 1 for
        stacks of S frames).
      batch_size: B.
      pool_size: P, episodes held at once (more while they hold fewer than B windows).
      seed: seeds the window order of every episode and the draws.
      with_ids: also return `episode_id`, `checkpoint_id`, `start` [B] (int64).
      stack: S > 0: return `observation` [B, L, ..., S] (frames stacked on the host)
        instead of `frames` [B, L + history, ...]; needs history = S - 1.
      gather_threads: threads copying a batch's windows (numpy's `take` runs without the GIL:
        on this 2-core VM 2 threads gave 84k windows/s against 55k for one); the batches do not depend on it.
    """

    def __init__(
        self,
        episodes: Iterator[dict[str, np.ndarray]],
        length: int,
        history: int,
        batch_size: int,
        pool_size: int,
        seed: int = 0,
        with_ids: bool = False,
        stack: int = 0,
        frame_field: str = "frames",
        gather_threads: int = 1,
    ):
        if length < 1 or history < 0 or batch_size < 1 or pool_size < 1:
            raise ValueError(
                f"EpisodePool: need length >= 1, history >= 0, batch_size >= 1, pool_size >= 1; "
                f"got {length}, {history}, {batch_size}, {pool_size}"
            )
        if stack and stack != history + 1:
            raise ValueError(f"EpisodePool: stacks of {stack} frames need history {stack - 1}, got {history}")
        self.episodes = episodes
        self.length, self.history, self.batch_size = int(length), int(history), int(batch_size)
        self.pool_size = int(pool_size)
        self.with_ids, self.stack, self.frame_field = bool(with_ids), int(stack), frame_field
        self.rng = np.random.default_rng(seed)
        self.pool: list[_Episode] = []
        self.next_position = 0  # stream position of the next episode to read (episodes with `position`)
        self.gather_threads = max(int(gather_threads), 1)
        self._threads: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._buffers: list[np.ndarray] = []  # output arrays, recycled (module docstring)

    def _fill(self) -> None:
        """Top the pool up to P episodes and to at least B windows not yet given out."""
        while len(self.pool) < self.pool_size or sum(e.remaining for e in self.pool) < self.batch_size:
            try:
                episode = next(self.episodes)
            except StopIteration:  # a finite stream: go on while the pool still holds a batch
                if sum(e.remaining for e in self.pool) >= self.batch_size:
                    return
                raise
            self.pool.append(_Episode(episode, self.length, self.history, self.rng, self.frame_field))
            self.next_position = self.pool[-1].position + 1

    def _draw(self) -> list[tuple[_Episode, np.ndarray]]:
        """The next batch's draws: (episode, window starts) pairs; finished episodes leave the pool."""
        self._fill()
        remaining = np.array([e.remaining for e in self.pool], np.int64)
        counts = draw_counts(remaining, self.batch_size, self.rng)
        draws = [(e, e.take(int(c))) for e, c in zip(self.pool, counts) if c > 0]
        self.pool = [e for e in self.pool if e.remaining > 0]
        return draws

    def skip(self, num_batches: int) -> None:
        """Advance by `num_batches` batches without gathering them (the same draws as `sample`).

        On a stream of index-only episodes (`num_steps`, `position`: a resumed run's replay)
        nothing is decoded; `resume` then gives the pool its data.
        """
        for _ in range(int(num_batches)):
            self._draw()

    def resume(self, episodes: Iterator[dict[str, np.ndarray]]) -> None:
        """After `skip` on index-only episodes: go on with `episodes`, the same stream with data.

        `episodes` must yield the episodes still in the pool (by `position`, in order), then
        those from `next_position` on.
        """
        for held in self.pool:
            episode = next(episodes)
            if int(episode["position"]) != held.position:
                raise ValueError(
                    f"EpisodePool.resume: expected the episode at position {held.position}, "
                    f"got {int(episode['position'])}"
                )
            held.attach(episode)
        self.episodes = episodes

    def sample(self) -> dict[str, np.ndarray]:
        """The next batch: windows drawn without replacement from the pool's remaining windows."""
        draws = self._draw()
        B, L, W = self.batch_size, self.length, self.length + self.history
        first = draws[0][0]
        frames = self._buffer((B, W) + first.frames.shape[1:], first.frames.dtype)
        records = np.empty((B, L), first.steps.dtype)
        counts = [len(starts) for _, starts in draws]
        bounds = np.cumsum([0] + counts).tolist()
        all_starts = np.concatenate([starts for _, starts in draws])
        window_frames = all_starts[:, None] + (np.arange(W) - self.history)  # [B, W]: clipped into the episode
        window_steps = all_starts[:, None] + np.arange(L)  # [B, L]: into the zero-padded records

        def gather(first_draw: int, end_draw: int) -> None:  # numpy's take copies without the GIL
            for d in range(first_draw, end_draw):
                lo, hi = bounds[d], bounds[d + 1]
                episode = draws[d][0]
                episode.frames.take(window_frames[lo:hi], axis=0, out=frames[lo:hi], mode="clip")  # unbuffered
                episode.steps.take(window_steps[lo:hi], axis=0, out=records[lo:hi], mode="clip")

        if self.gather_threads > 1:
            splits = np.searchsorted(bounds, np.linspace(0, B, self.gather_threads + 1)[1:-1]).tolist()
            edges = [0] + splits + [len(draws)]
            jobs = [self._executor().submit(gather, a, b) for a, b in zip(edges[1:-1], edges[2:])]
            gather(edges[0], edges[1])
            for job in jobs:
                job.result()
        else:
            gather(0, len(draws))
        lengths = np.repeat([len(episode.frames) for episode, _ in draws], counts)
        for row in np.flatnonzero((all_starts < self.history) | (all_starts + L > lengths)):
            start, T = int(all_starts[row]), int(lengths[row])  # zero frames before step 0 and after the end
            frames[row, : max(self.history - start, 0)] = 0
            frames[row, T - start + self.history :] = 0
        steps = {k: np.ascontiguousarray(records[k]) for k in STEP_FIELDS}
        ids = None
        if self.with_ids:
            ids = {k: np.repeat(np.array([e.ids.get(k, -1) for e, _ in draws], np.int64), counts) for k in ID_FIELDS}
            ids["start"] = all_starts.astype(np.int64)
        out: dict[str, np.ndarray] = dict(steps)
        if self.stack:
            shape = (B, L) + frames.shape[2:]
            out["observation"] = stack_windows(
                frames,
                self.stack,
                out=self._buffer(shape + (self.stack,), frames.dtype),
                scratch=self._buffer(shape, np.uint32),
            )
        else:
            out[self.frame_field] = frames
        if ids is not None:
            out.update(ids)
        return out

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._threads is None:
            self._threads = concurrent.futures.ThreadPoolExecutor(self.gather_threads - 1, "rosmo-gather")
        return self._threads

    def _buffer(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """An array to gather a batch into: a recycled one nobody else holds, else a new one."""
        for i in range(len(self._buffers)):
            # 2 references: the list's and getrefcount's argument; any batch, view or transfer adds one
            if sys.getrefcount(self._buffers[i]) == 2:
                buffer = self._buffers[i]
                if buffer.shape == shape and buffer.dtype == dtype:
                    return buffer
        buffer = np.empty(shape, dtype)
        if len(self._buffers) < MAX_BUFFERS:
            self._buffers.append(buffer)
        return buffer


def draw_counts(remaining: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """How many windows each pool episode gives to a batch: int64 [P], summing to B, each <= remaining.

    Every window of the batch picks an episode uniformly among those with windows left
    (not in proportion to their remaining windows: a fresh long episode would otherwise
    take most of a batch); an episode asked for more than it holds gives what it holds
    and the rest is drawn again. Needs sum(remaining) >= B.
    """
    counts = np.zeros(len(remaining), np.int64)
    need = int(batch_size)
    while need > 0:
        room = remaining - counts
        open_ = np.flatnonzero(room > 0)
        drawn = np.bincount(rng.choice(open_, size=need), minlength=len(remaining))
        counts += np.minimum(drawn, room)
        need = int(batch_size - counts.sum())
    return counts


def stack_windows(
    frames: np.ndarray, stack: int, out: Optional[np.ndarray] = None, scratch: Optional[np.ndarray] = None
) -> np.ndarray:
    """Frame stacks as sliding windows: [B, L + S - 1, H, W] -> [B, L, H, W, S].

    out[b, t, :, :, j] = frames[b, t + j]   (j = S - 1 is the newest frame).
    For uint8 stacks of 4 on a little-endian host the 4 frames are packed as the bytes
    of one uint32 (byte j = frame j; contiguous writes, ~10x faster than strided ones).
    `out` (uint8 [B, L, H, W, S]) and, for that path, `scratch` (uint32 [B, L, H, W]):
    arrays to write into instead of new ones.
    """
    length = frames.shape[1] - stack + 1
    shape = (frames.shape[0], length) + frames.shape[2:]
    if out is None:
        out = np.empty(shape + (stack,), frames.dtype)
    if stack == 4 and frames.dtype == np.uint8 and sys.byteorder == "little":
        packed = out.view(np.uint32).reshape(shape)
        term = np.empty(shape, np.uint32) if scratch is None else scratch
        np.copyto(packed, frames[:, 0:length])
        for j in range(1, 4):
            np.left_shift(frames[:, j : j + length], np.uint32(8 * j), out=term, dtype=np.uint32)
            np.bitwise_or(packed, term, out=packed)
        return out
    out[...] = np.lib.stride_tricks.sliding_window_view(frames, stack, axis=1)  # [B, L, H, W, S]
    return out


class Prefetcher:
    """Iterator over `sample()` results made on a daemon thread, up to `prefetch` ahead (0: synchronous).

    An exception in `sample` is raised by `next`. `close()` stops the thread.
    """

    def __init__(self, sample: Callable[[], Any], prefetch: int = 2, name: str = "rosmo-pool"):
        self._sample = sample
        self._stop = threading.Event()
        self._queue: Optional[queue.Queue] = None
        self._thread: Optional[threading.Thread] = None
        if prefetch > 0:
            self._queue = queue.Queue(maxsize=prefetch)
            self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
            self._thread.start()

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                self._put(self._sample())
        except BaseException as err:  # hand the failure to the consumer
            self._put(err)

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self):
        if self._queue is None:
            return self._sample()
        item = self._queue.get()
        if isinstance(item, BaseException):
            self.close()
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self._stop.set()
