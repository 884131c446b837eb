"""Trajectory windows from RLDS datasets: the learner's input pipeline.

One training sample is a window of `L = K + n + 1` consecutive logged steps
(`K` unroll steps, `n` TD steps). The kept episodes are concatenated, in
episode order, into one stream of steps and windows are cut from that stream;
a window MAY cross an episode boundary (the learner masks what follows an
`is_last`). The valid windows are exactly those starting at `s` with
`0 <= s <= num_steps - L`.

A batch is a dict of numpy arrays (`B` = batch size)::

    observation  [B, L, *obs_shape]  dataset dtype
    action       [B, L]              int32
    reward       [B, L]              float32
    discount     [B, L]              float32
    is_first     [B, L]              bool
    is_last      [B, L]              bool
    is_terminal  [B, L]              bool

Two modes give the same batches structurally:

- in-memory (default for datasets under ~2 GB): all kept steps are loaded into
  numpy once; window starts are drawn uniformly with a seeded numpy Generator
  and gathered by fancy indexing on a background thread;
- streaming: a `tf.data` pipeline on the CPU (episodes -> steps -> overlapping
  windows -> shuffle -> batch -> prefetch), for data that does not fit.

The dataset's feature spec is validated before any data is read; problems are
raised as `rlds.DatasetError` naming the dataset path and the field.
"""

from __future__ import annotations

import math
import queue
import threading
from typing import Any, Dict, Iterator, Optional, Sequence

import numpy as np

from rosmo.data import rlds

tf = rlds.tf
tfds = rlds.tfds

DatasetError = rlds.DatasetError

IN_MEMORY_MAX_BYTES = 2 * 1024**3
"""Datasets whose kept steps are estimated below this size are loaded into memory."""

ENCODED_EXPANSION = 8
"""Assumed decoded/serialised size ratio of encoded (PNG/JPEG) observations, for the size estimate."""

OUTPUT_DTYPES = {
    "action": np.int32,
    "reward": np.float32,
    "discount": np.float32,
    "is_first": np.bool_,
    "is_last": np.bool_,
    "is_terminal": np.bool_,
}
"""Output dtype of every step field except `observation`, which keeps the dataset's dtype."""

_FLAG_FIELDS = ("is_first", "is_last", "is_terminal")
_CHUNK_STEPS = 1024  # most steps per windowing chunk
_WINDOW_CHUNK_BYTES = 64 * 1024**2  # windowing chunk size cap: chunk * L * step bytes


# ---------------------------------------------------------------------------
# Validation and dataset description
# ---------------------------------------------------------------------------


def _path(builder: tfds.core.DatasetBuilder) -> str:
    return str(builder.data_dir)


def validate_features(
    builder: tfds.core.DatasetBuilder,
    expected_observation_shape: Optional[Sequence[int]] = None,
) -> tfds.features.FeaturesDict:
    """Check the RLDS step schema from `builder.info.features`; return the step features.

    Requires an episode feature `steps` (a nested dataset) holding every field
    of `rlds.STEP_FIELDS`: a scalar integer `action`, scalar floating `reward`
    and `discount`, scalar bool flags, and a fixed-shape numeric `observation`
    (equal to `expected_observation_shape` when given).

    Raises:
      DatasetError: naming the dataset path and the offending field.
    """
    path = _path(builder)
    features = builder.info.features
    if features is None or "steps" not in features.keys():
        have = sorted(features.keys()) if features is not None else []
        raise DatasetError(f"{path}: episode feature 'steps' is missing (episode features: {have}); not an RLDS dataset")
    steps = features["steps"]
    if not isinstance(steps, tfds.features.Dataset):
        raise DatasetError(f"{path}: episode feature 'steps' is a {type(steps).__name__}, expected a nested tfds Dataset")
    step_features = steps.feature
    missing = [k for k in rlds.STEP_FIELDS if k not in step_features.keys()]
    if missing:
        raise DatasetError(
            f"{path}: step field(s) {missing} missing from steps features "
            f"(has {sorted(step_features.keys())}, expected {list(rlds.STEP_FIELDS)})"
        )

    def check(field: str, kind: str, kind_name: str) -> None:
        feat = step_features[field]
        if not isinstance(feat, tfds.features.Tensor):
            raise DatasetError(f"{path}: step field '{field}' is a {type(feat).__name__}, expected a scalar tensor")
        dtype = np.dtype(feat.np_dtype)
        if dtype.kind not in kind:
            raise DatasetError(f"{path}: step field '{field}' has dtype {dtype.name}, expected {kind_name}")
        if tuple(feat.shape) != ():
            raise DatasetError(f"{path}: step field '{field}' has shape {tuple(feat.shape)}, expected a scalar ()")

    check("action", "iu", "an integer dtype")
    check("reward", "f", "a floating dtype")
    check("discount", "f", "a floating dtype")
    for flag in _FLAG_FIELDS:
        check(flag, "b", "bool")

    obs = step_features["observation"]
    if not isinstance(obs, (tfds.features.Tensor, tfds.features.Image)):
        raise DatasetError(
            f"{path}: step field 'observation' is a {type(obs).__name__}, expected a single Tensor or Image "
            "(nested observations are not supported)"
        )
    shape = tuple(obs.shape)
    if any(d is None or d < 0 for d in shape):
        raise DatasetError(f"{path}: step field 'observation' has shape {shape}, expected a fully defined shape")
    if np.dtype(obs.np_dtype).kind not in "biuf":
        raise DatasetError(f"{path}: step field 'observation' has dtype {np.dtype(obs.np_dtype).name}, expected numeric")
    if expected_observation_shape is not None and shape != tuple(expected_observation_shape):
        raise DatasetError(
            f"{path}: step field 'observation' has shape {shape}, expected {tuple(expected_observation_shape)}"
        )
    return step_features


def _check_split(builder: tfds.core.DatasetBuilder, split: str) -> int:
    splits = builder.info.splits
    if split not in splits:
        raise DatasetError(f"{_path(builder)}: split {split!r} not found (available: {sorted(splits.keys())})")
    return int(splits[split].num_examples)


def _raw_episodes(builder: tfds.core.DatasetBuilder, split: str) -> "tf.data.Dataset":
    """Episodes in file order (shards read one after another) with `steps` as parsed, undecoded tensors [T, ...].

    Skipping TFDS's per-step nested-dataset decoding lets every step field be
    decoded for a whole episode at once (`decode_batch_example`), and lets
    unkept episodes be dropped before any observation is decoded.
    """
    return builder.as_dataset(
        split=split,
        shuffle_files=False,
        decoders={"steps": tfds.decode.SkipDecoding()},
        read_config=tfds.ReadConfig(interleave_cycle_length=1),  # shard after shard: true file order
    )


def count_steps(builder: tfds.core.DatasetBuilder, split: str = "train", episodes: Optional[np.ndarray] = None) -> int:
    """Total number of steps of `split` (of the given episode indices only, when given).

    Uses `metadata["num_steps"]` when present and no subset is asked for;
    otherwise reads the episodes with observation decoding skipped.
    """
    meta = rlds.metadata(builder)
    if episodes is None and "num_steps" in meta:
        return int(meta["num_steps"])
    ds = _select(_raw_episodes(builder, split), episodes, _check_split(builder, split))
    lengths = ds.map(lambda ep: tf.shape(ep["steps"]["is_last"], out_type=tf.int64)[0])
    return int(lengths.reduce(np.int64(0), lambda total, n: total + n).numpy())


def dataset_spec(dataset: str, data_dir: Optional[str] = None, split: str = "train") -> Dict[str, Any]:
    """What a learner needs to build its networks, read from the dataset's spec and metadata.

    Returns:
      {"path", "observation_shape": tuple, "observation_dtype": np.dtype,
       "num_actions": int | None (from metadata), "num_episodes": int,
       "num_steps": int, "metadata": dict}
    """
    builder = rlds.load_builder(dataset, data_dir)
    step_features = validate_features(builder)
    num_episodes = _check_split(builder, split)
    meta = rlds.metadata(builder)
    obs = step_features["observation"]
    num_actions = meta.get("num_actions")
    return {
        "path": _path(builder),
        "observation_shape": tuple(obs.shape),
        "observation_dtype": np.dtype(obs.np_dtype),
        "num_actions": int(num_actions) if num_actions is not None else None,
        "num_episodes": num_episodes,
        "num_steps": count_steps(builder, split),
        "metadata": meta,
    }


# ---------------------------------------------------------------------------
# Pure helpers: episode subsampling and window indices
# ---------------------------------------------------------------------------


def select_episodes(num_episodes: int, data_percentage: float, seed: int) -> np.ndarray:
    """Indices of the kept episodes, sorted ascending.

    keep = max(1, round(N * p / 100)) episodes: the first `keep` entries of
    `np.random.default_rng(seed).permutation(N)`, sorted so the stream stays
    in episode order.

    Raises:
      ValueError: naming `data_percentage` when p is outside (0, 100].
    """
    p = float(data_percentage)
    if not (0.0 < p <= 100.0) or math.isnan(p):
        raise ValueError(f"data_percentage must be in (0, 100], got {data_percentage}")
    if num_episodes <= 0:
        return np.zeros((0,), np.int64)
    keep = max(1, int(round(num_episodes * p / 100.0)))
    if keep >= num_episodes:
        return np.arange(num_episodes, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).permutation(num_episodes)[:keep]).astype(np.int64)


def window_indices(starts: np.ndarray, length: int) -> np.ndarray:
    """Step indices of windows: `idx[b, l] = starts[b] + l`; shapes [B] -> [B, L]."""
    return np.asarray(starts, np.int64)[:, None] + np.arange(length, dtype=np.int64)[None, :]


def gather_windows(steps: Dict[str, np.ndarray], starts: np.ndarray, length: int) -> Dict[str, np.ndarray]:
    """Windows `steps[f][s : s + L]` for every start: each field [N, ...] -> [B, L, ...]."""
    idx = window_indices(starts, length)
    return {k: v[idx] for k, v in steps.items()}


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def _select(episodes: "tf.data.Dataset", keep: Optional[np.ndarray], num_episodes: int) -> "tf.data.Dataset":
    """Keep only the episodes whose index (in file order) is in `keep` (None keeps all)."""
    if keep is None or len(keep) == num_episodes:
        return episodes
    mask = np.zeros((num_episodes,), bool)
    mask[keep] = True
    mask_t = tf.constant(mask)

    def kept(i, _):
        return tf.gather(mask_t, tf.minimum(i, num_episodes - 1)) & (i < num_episodes)

    def drop_index(_, ep):
        return ep

    return episodes.enumerate().filter(kept).map(drop_index)


def episode_steps(
    builder: tfds.core.DatasetBuilder, split: str, keep: Optional[np.ndarray], num_episodes: int
) -> "tf.data.Dataset":
    """The kept episodes in episode order, each one element `{field: [T, ...]}` with output dtypes applied."""
    step_features = builder.info.features["steps"].feature

    def decode(episode):
        steps = episode["steps"]
        out = {"observation": step_features["observation"].decode_batch_example(steps["observation"])}
        for k, dtype in OUTPUT_DTYPES.items():
            out[k] = tf.cast(step_features[k].decode_batch_example(steps[k]), dtype)
        return out

    selected = _select(_raw_episodes(builder, split), keep, num_episodes)
    return selected.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def load_steps(
    builder: tfds.core.DatasetBuilder, split: str = "train", episodes: Optional[np.ndarray] = None
) -> Dict[str, np.ndarray]:
    """All steps of the given episodes (all when None) as numpy arrays [N, ...], in episode order."""
    num_episodes = _check_split(builder, split)
    keep = np.arange(num_episodes) if episodes is None else np.asarray(episodes)
    episodes_ds = episode_steps(builder, split, keep, num_episodes)
    spec = episodes_ds.element_spec
    chunks: Dict[str, list] = {k: [] for k in spec}
    for episode in tfds.as_numpy(episodes_ds.prefetch(2)):
        for k, v in episode.items():
            chunks[k].append(v)
    return {
        k: np.concatenate(chunks[k]) if chunks[k] else np.zeros((0, *s.shape[1:]), s.dtype.as_numpy_dtype)
        for k, s in spec.items()
    }


def estimated_bytes(builder: tfds.core.DatasetBuilder, split: str = "train", data_percentage: float = 100.0) -> int:
    """Estimated memory of the kept steps once decoded, from dataset_info's sizes (no data read).

    With `metadata["num_steps"]`: steps * (observation bytes + 16 bytes of other fields).
    Otherwise the split's serialised size, times `ENCODED_EXPANSION` for compressed
    (PNG/JPEG Image, zlib Tensor) observations. Scaled by `data_percentage / 100`.
    """
    obs = builder.info.features["steps"]["observation"]
    meta = rlds.metadata(builder)
    if "num_steps" in meta:
        per_step = int(np.prod(obs.shape, dtype=np.int64)) * np.dtype(obs.np_dtype).itemsize + 16
        total = int(meta["num_steps"]) * per_step
    else:
        total = int(builder.info.splits[split].num_bytes)
        compressed = isinstance(obs, tfds.features.Image) or getattr(obs, "_encoding", None) == tfds.features.Encoding.ZLIB
        if compressed:
            total *= ENCODED_EXPANSION
    return int(total * float(data_percentage) / 100.0)


# ---------------------------------------------------------------------------
# Iterators
# ---------------------------------------------------------------------------


class WindowSampler:
    """Draws batches of windows from steps held in numpy; batch `i` is a pure function of `(seed, i)`.

    Batch `i`: starts ~ Uniform{0..N-L} from `np.random.default_rng([seed, 1, i])`
    (stream 0 of `seed` chooses the episodes), then `gather_windows`. Shard `p > 0`
    (another host's share of a global batch) draws from `[seed, 1, i, p]` instead.
    """

    def __init__(
        self,
        steps: Dict[str, np.ndarray],
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

    def batch(self, index: int) -> Dict[str, np.ndarray]:
        """Batch number `index`: fields [B, L, ...]."""
        key = [self.seed, 1, int(index)] + ([self.shard] if self.shard else [])
        rng = np.random.default_rng(key)
        starts = rng.integers(0, self.num_windows, size=self.batch_size)
        return gather_windows(self.steps, starts, self.length)

    def sample(self) -> Dict[str, np.ndarray]:
        """The next batch of the sequence."""
        out = self.batch(self.next_batch)
        self.next_batch += 1
        return out


def _produce(sampler: WindowSampler, out: "queue.Queue", stop: threading.Event) -> None:
    """Prefetch thread: fill `out` with batches (or the exception that stopped it) until `stop` is set."""
    try:
        while not stop.is_set():
            item: Any = sampler.sample()
            _put(out, item, stop)
    except BaseException as err:  # hand the failure to the consumer
        _put(out, err, stop)


def _put(out: "queue.Queue", item: Any, stop: threading.Event) -> None:
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
        steps: Dict[str, np.ndarray],
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

    def __iter__(self) -> "InMemoryLoader":
        return self

    def __next__(self) -> Dict[str, np.ndarray]:
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

    def __enter__(self) -> "InMemoryLoader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self._stop.set()


def window_dataset(steps: "tf.data.Dataset", length: int, chunk_steps: Optional[int] = None) -> "tf.data.Dataset":
    """All windows `steps[s : s + L]`, s = 0..N-L, in order; vectorised per chunk of steps.

    Steps are batched into chunks; a `scan` carries the last `L - 1` steps of
    the stream so far (with how many of them are real) and prepends them to the
    next chunk, whose windows are then one `tf.gather` with indices
    `start + arange(L)`. By default a chunk holds as many steps as keep its
    windows under 64 MB (16 to 1024 steps).
    """
    if chunk_steps is None:
        chunk_steps = _window_chunk_steps(steps.element_spec, length)
    return windows_from_chunks(steps.batch(chunk_steps), length)


def _window_chunk_steps(step_spec, length: int) -> int:
    """Steps per chunk so that a chunk's windows stay under 64 MB (16 to 1024 steps)."""
    step_bytes = sum(int(np.prod(s.shape, dtype=np.int64)) * s.dtype.size for s in tf.nest.flatten(step_spec))
    return int(np.clip(_WINDOW_CHUNK_BYTES // max(1, length * step_bytes), 16, _CHUNK_STEPS))


def windows_from_chunks(chunks: "tf.data.Dataset", length: int) -> "tf.data.Dataset":
    """All windows of length `L` of the stream formed by concatenating `chunks` (dicts of [C_i, ...]).

    See `window_dataset`; chunk sizes may vary (e.g. whole episodes, rebatched).
    """
    tail_len = length - 1
    spec = chunks.element_spec
    init_tail = {k: tf.zeros([tail_len, *s.shape[1:]], s.dtype) for k, s in spec.items()}

    def step(state, chunk):
        tail, num_real = state
        joined = {k: tf.concat([tail[k], chunk[k]], axis=0) for k in chunk}
        total = tf.shape(joined["action"])[0]
        first = tail_len - num_real  # the padding before real steps is never a window's start
        starts = tf.range(first, tf.maximum(first, total - length + 1))
        idx = starts[:, None] + tf.range(length)[None, :]
        windows = {k: tf.gather(v, idx) for k, v in joined.items()}
        new_tail = {k: v[total - tail_len :] for k, v in joined.items()}
        new_real = tf.minimum(tail_len, num_real + tf.shape(chunk["action"])[0])
        return (new_tail, new_real), windows

    return chunks.scan((init_tail, tf.constant(0, tf.int32)), step).unbatch()


def _streaming_dataset(
    builder: tfds.core.DatasetBuilder,
    split: str,
    keep: np.ndarray,
    num_episodes: int,
    length: int,
    batch_size: int,
    seed: int,
    shuffle_buffer: int,
    prefetch: int,
) -> "tf.data.Dataset":
    episodes = episode_steps(builder, split, keep, num_episodes)
    step_spec = {k: tf.TensorSpec(v.shape[1:], v.dtype) for k, v in episodes.element_spec.items()}
    windows = windows_from_chunks(episodes.rebatch(_window_chunk_steps(step_spec, length)), length)
    if shuffle_buffer > 1:
        windows = windows.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = windows.repeat().batch(batch_size, drop_remainder=True)
    return ds.prefetch(prefetch if prefetch > 0 else tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------


def make_loader(
    dataset: str,
    *,
    data_dir: Optional[str] = None,
    unroll_steps: int,
    td_steps: int,
    batch_size: int,
    data_percentage: float = 100.0,
    seed: int = 0,
    in_memory: Optional[bool] = None,
    shuffle_buffer: int = 10_000,
    prefetch: int = 2,
    split: str = "train",
    expected_observation_shape: Optional[Sequence[int]] = None,
    start_batch: int = 0,
    shard: int = 0,
) -> Iterator[Dict[str, np.ndarray]]:
    """Infinite iterator of batches of windows of `L = unroll_steps + td_steps + 1` steps.

    Args:
      dataset: a dataset directory (RldsWriter / TFDS), or a TFDS builder name with `data_dir`.
      data_dir: TFDS data directory when `dataset` is a builder name (e.g. "rlu_atari/Pong_run_1").
      unroll_steps, td_steps: K and n; windows hold L = K + n + 1 steps.
      batch_size: B, windows per batch.
      data_percentage: keep max(1, round(N * p / 100)) episodes chosen by a permutation seeded by `seed`.
      seed: seeds the episode choice and the window sampling / shuffling.
      in_memory: force the mode; None picks in-memory below `IN_MEMORY_MAX_BYTES` (from dataset_info).
      shuffle_buffer: windows in the streaming shuffle buffer (memory ~ buffer * L * observation bytes).
      prefetch: batches prepared ahead (thread queue in memory, tf.data prefetch when streaming).
      split: the TFDS split to read.
      expected_observation_shape: when given, the dataset's observation shape must equal it.
      start_batch: index of the first batch (a resumed run passes its step). In memory the
        batches from `start_batch` on equal those of an uninterrupted stream; streaming
        re-seeds its shuffle from (seed, start_batch) instead.
      shard: this process's index when each host loads its share of a global batch: the
        same episodes (chosen by `seed`), other windows.

    Returns:
      An iterator of dicts of numpy arrays, see the module docstring for shapes/dtypes.

    Raises:
      ValueError: bad `data_percentage`, `unroll_steps`, `td_steps`, `batch_size`.
      DatasetError: missing / non-RLDS directory, bad schema, fewer steps than one window.
    """
    if unroll_steps < 0 or td_steps < 0:
        raise ValueError(f"unroll_steps and td_steps must be >= 0, got unroll_steps={unroll_steps}, td_steps={td_steps}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not (0.0 < float(data_percentage) <= 100.0):
        raise ValueError(f"data_percentage must be in (0, 100], got {data_percentage}")
    length = int(unroll_steps) + int(td_steps) + 1

    builder = rlds.load_builder(dataset, data_dir)
    validate_features(builder, expected_observation_shape)
    num_episodes = _check_split(builder, split)
    path = _path(builder)
    if num_episodes == 0:
        raise DatasetError(f"{path}: split {split!r} has no episodes")
    keep = select_episodes(num_episodes, data_percentage, seed)
    if in_memory is None:
        in_memory = estimated_bytes(builder, split, data_percentage) < IN_MEMORY_MAX_BYTES

    def too_short(num_steps: int) -> DatasetError:
        return DatasetError(
            f"{path}: {num_steps} steps in the {len(keep)} kept episode(s) (data_percentage={data_percentage}), "
            f"fewer than one window of L = unroll_steps + td_steps + 1 = {length} steps"
        )

    if in_memory:
        steps = load_steps(builder, split, keep)
        if len(steps["action"]) < length:
            raise too_short(len(steps["action"]))
        return InMemoryLoader(
            steps, length, batch_size, seed=seed, prefetch=prefetch, start_batch=start_batch, shard=shard
        )

    # Streaming: make sure the stream holds one window, reading at most L steps.
    head = episode_steps(builder, split, keep, num_episodes).unbatch().take(length)
    num_head = int(head.reduce(np.int64(0), lambda n, _: n + 1).numpy())
    if num_head < length:
        raise too_short(num_head)
    stream_seed = seed
    if start_batch or shard:
        stream_seed = int(np.random.default_rng([seed, 2, start_batch, shard]).integers(2**31))
    ds = _streaming_dataset(builder, split, keep, num_episodes, length, batch_size, stream_seed, shuffle_buffer, prefetch)
    return iter(tfds.as_numpy(ds))
