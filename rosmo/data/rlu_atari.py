"""RL Unplugged Atari (`rlu_atari`, `rlu_atari_checkpoints_ordered`) as batches of windows.

Reads `tfds.builder(f"{dataset}/{game}_run_{run}", data_dir=...)` from any
`data_dir` holding it (the real bucket copy prepared by TFDS, or `rosmo dataset atari` output).

Pipeline::

    this host's share of the episodes, files shuffled per epoch and interleaved,
    PNGs decoded per episode in parallel, rewards clipped   (rosmo.data.rlu_episodes, tf.data)
      -> a pool of `episodes_in_flight` whole episodes; each batch is B windows drawn
         without replacement from all of the pool's remaining windows
                                                            (rosmo.data.episode_pool, numpy)
      -> prefetch thread

A resumed loader (`start_batch` = b > 0) gives the batches b, b + 1, ... of an
uninterrupted one: it replays the pool's draws of batches 0 .. b-1 on the episodes'
lengths (`rlu_episodes.episode_index_stream`, `EpisodePool.skip`), then decodes the
episodes still in the pool and goes on with the stream (`EpisodePool.resume`).

Every window lies inside one episode: steps after `is_last` are zero padding
(masked by the learner), and the observation at step t is the frames t-S+1 .. t
(oldest first) with zeros for frames before the episode's first. Zero padding is the
RL Unplugged convention: its evaluation env stacks with Acme's `FrameStacker`
(blank frames at reset), Dopamine's replay buffer (the source of the data) pads each
episode start with zero frames, and `ale_py.AtariVectorEnv` / `rosmo.envs.atari` do
the same.

Batches are dicts of numpy arrays, like the BSuite loader's::

    observation  uint8   [B, L, 84, 84, S]      (stack_on_host, the default)
      or frames  uint8   [B, L + S - 1, 84, 84] (single frames; `stack_windows` / the
                                                 Atari suite's device transform stack them)
    action       int32   [B, L]
    reward       float32 [B, L]   (clipped to [-1, 1])
    discount     float32 [B, L]
    is_first, is_last, is_terminal  bool [B, L]
"""

from __future__ import annotations

from typing import Optional, Sequence

from rosmo.data import rlds, rlu_episodes
from rosmo.data.episode_pool import EpisodePool, Prefetcher
from rosmo.data.rlu_names import builder_name
from rosmo.data.schema import CheckedIterator

tf = rlds.tf
tfds = rlds.tfds
DatasetError = rlds.DatasetError

STACK_SIZE = 4


# ---------------------------------------------------------------------------
# The dataset
# ---------------------------------------------------------------------------


def load_rlu_builder(game: str, run: int, data_dir: str, dataset: str = "rlu_atari") -> tfds.core.DatasetBuilder:
    """The TFDS builder of one game/run under `data_dir`; DatasetError when it is not there."""
    name = builder_name(game, run, dataset)
    builder = rlds.load_builder(name, data_dir)
    if not builder.info.splits:
        raise DatasetError(
            f"{name} has no data under data_dir {data_dir} (expected {builder.data_dir}/dataset_info.json; "
            "make it with `rosmo dataset atari` or copy RL Unplugged there)"
        )
    return builder


def make_rlu_atari_loader(
    game: str,
    run: int = 1,
    *,
    data_dir: str,
    unroll_steps: int,
    td_steps: int,
    batch_size: int,
    data_percentage: float = 100.0,
    seed: int = 0,
    dataset: str = "rlu_atari",
    splits: Optional[Sequence[str]] = None,
    stack_size: int = STACK_SIZE,
    episodes_in_flight: int = 256,
    cycle_length: int = 16,
    ordered: bool = False,
    process_index: int = 0,
    process_count: int = 1,
    start_batch: int = 0,
    num_actions: Optional[int] = None,
    stack_on_host: bool = True,
    with_ids: bool = False,
    repeat: bool = True,
    prefetch: int = 2,
    gather_threads: int = 2,
) -> Prefetcher:
    """Infinite iterator of numpy batches of windows of L = unroll_steps + td_steps + 1 steps.

    Args:
      game, run: e.g. "Pong", 1 -> `rlu_atari/Pong_run_1` under `data_dir`.
      data_dir: the TFDS data_dir holding `<dataset>/<Game>_run_<run>/<version>/`.
      unroll_steps, td_steps: K and n.
      batch_size: B (this process's share of the global batch).
      data_percentage: share of episodes kept, chosen by their ids (`rlu_episodes.keep_episode`).
      seed: seeds the episode choice, the file order of every epoch and the draws: the batches
        are a function of the arguments (less `start_batch`, `prefetch`).
      dataset: "rlu_atari" (split "train") or "rlu_atari_checkpoints_ordered"
        (splits "checkpoint_00" .. "checkpoint_49", mixed unless `ordered`).
      splits: read only these splits (default: all).
      stack_size: S, frames per observation (4).
      episodes_in_flight: P, whole episodes held at once (memory: P x episode frames).
      cycle_length: files read at once, interleaved.
      ordered: files (and checkpoint splits) in order, one at a time: a curriculum.
      process_index, process_count: this host's disjoint share of every split.
      start_batch: a resumed run's step: the batches from `start_batch` on equal those of an
        uninterrupted loader (same arguments). The draws of the batches before it are replayed on
        the episodes' lengths (read again, not decoded: see `benchmarks/rlu_resume.py` for the cost),
        then the episodes still in the pool are decoded.
      num_actions: actions must be below it (checked while reading).
      stack_on_host: `observation` [B, L, 84, 84, S]; False: `frames` [B, L + S - 1, 84, 84].
      with_ids: add `episode_id`, `checkpoint_id`, `start` [B] (tests, diversity benchmark).
      repeat: False: one epoch, then StopIteration (the last partial batch is dropped).
      prefetch: batches prepared ahead on a thread (0: synchronous).
      gather_threads: threads copying each batch's windows out of the pool (the batches do not
        depend on it).

    Raises:
      DatasetError: the builder's data is not under `data_dir`, or a split is missing; while
        iterating, data that fails a read or value check.
      ValueError: a bad argument, naming it.
    """
    if unroll_steps < 0 or td_steps < 0:
        raise ValueError(f"unroll_steps and td_steps must be >= 0, got {unroll_steps}, {td_steps}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if stack_size < 1:
        raise ValueError(f"stack_size must be >= 1, got {stack_size}")
    if episodes_in_flight < 1:
        raise ValueError(f"episodes_in_flight must be >= 1, got {episodes_in_flight}")
    builder = load_rlu_builder(game, run, data_dir, dataset)
    return make_pool_loader(
        builder,
        unroll_steps=unroll_steps,
        td_steps=td_steps,
        batch_size=batch_size,
        data_percentage=data_percentage,
        seed=seed,
        splits=splits,
        history=stack_size - 1,
        stack=stack_size if stack_on_host else 0,
        episodes_in_flight=episodes_in_flight,
        cycle_length=cycle_length,
        ordered=ordered,
        process_index=process_index,
        process_count=process_count,
        start_batch=start_batch,
        num_actions=num_actions,
        with_ids=with_ids,
        repeat=repeat,
        prefetch=prefetch,
        gather_threads=gather_threads,
    )


def make_pool_loader(
    builder: tfds.core.DatasetBuilder,
    *,
    unroll_steps: int,
    td_steps: int,
    batch_size: int,
    data_percentage: float = 100.0,
    seed: int = 0,
    splits: Optional[Sequence[str]] = None,
    history: int = STACK_SIZE - 1,
    stack: int = STACK_SIZE,
    episodes_in_flight: int = 256,
    cycle_length: int = 16,
    ordered: bool = False,
    process_index: int = 0,
    process_count: int = 1,
    start_batch: int = 0,
    num_actions: Optional[int] = None,
    with_ids: bool = False,
    repeat: bool = True,
    prefetch: int = 2,
    gather_threads: int = 2,
    decode_frames=rlu_episodes.decode_png_frames,
) -> Prefetcher:
    """`make_rlu_atari_loader` on any builder of episodes with `episode_id` / `checkpoint_id` (RL Unplugged's
    layout): `history` frames before each window, `stack` > 0 stacks them on the host (0: `frames`
    [B, L + history, ...]), `decode_frames` decodes the stored observations (None: the features' own decoder).
    """
    if start_batch < 0:
        raise ValueError(f"start_batch must be >= 0, got {start_batch}")
    stream_args = dict(
        seed=seed,
        splits=splits,
        data_percentage=data_percentage,
        process_index=process_index,
        process_count=process_count,
        cycle_length=cycle_length,
        ordered=ordered,
        repeat=repeat,
    )

    def checked(ds):  # read errors (a truncated shard, undecodable frames, failed value checks) -> DatasetError
        return CheckedIterator(iter(tfds.as_numpy(ds.prefetch(2))), builder, num_actions=num_actions)

    length = unroll_steps + td_steps + 1
    pool_args = dict(
        length=length,
        history=history,
        batch_size=batch_size,
        pool_size=episodes_in_flight,
        seed=[seed, process_index, 0],
        with_ids=with_ids,
        stack=stack,
        gather_threads=gather_threads,
    )
    if start_batch == 0:
        episodes = checked(
            rlu_episodes.episode_stream(builder, num_actions=num_actions, decode_frames=decode_frames, **stream_args)
        )
        return Prefetcher(EpisodePool(episodes, **pool_args).sample, prefetch)
    # resume: replay the draws of batches 0 .. start_batch - 1 on the episodes' lengths (no decode), then
    # decode the episodes still in the pool and go on with the stream from where the replay left it
    pool = EpisodePool(checked(rlu_episodes.episode_index_stream(builder, **stream_args)), **pool_args)
    try:
        pool.skip(start_batch)
    except StopIteration:  # one epoch (`repeat=False`) holds fewer batches: the resumed loader is done too
        return Prefetcher(_exhausted, prefetch)
    pool.resume(
        checked(
            rlu_episodes.episode_stream(
                builder,
                num_actions=num_actions,
                resume=([e.position for e in pool.pool], pool.next_position),
                decode_frames=decode_frames,
                **stream_args,
            )
        )
    )
    return Prefetcher(pool.sample, prefetch)


def _exhausted():
    raise StopIteration
