"""MinAtar datasets on disk: names, the episode schema, checkpoint splits, and batches of windows.

A MinAtar dataset (`rosmo dataset minatar`, `rosmo.data.minatar_maker`) is one TFDS
directory, `<out>/<name>` with `name = dataset_name(game, sticky_action_prob, minimal_actions)`
("breakout", "breakout_sticky0.25", "breakout_minimal"), laid out as RL Unplugged's
`rlu_atari_checkpoints_ordered`: the behaviour DQN's run is cut into `num_checkpoints`
consecutive segments of equal frame budgets, and split `checkpoint_<i>` holds the episodes
that ended during segment i (`checkpoint_id` = i). Episode features::

    steps/observation  uint8 [10, 10, C] (0/1; zlib-encoded)    o_t
    steps/action       int64   a_t (0 on the last step)
    steps/reward       float32 r_t, the game's reward (0 on the last step)
    steps/discount     float32 1; 0 on the last step of a game over
    steps/is_first, is_last, is_terminal   bool
    episode_id         int64   0, 1, ... in order of completion over the whole run
    checkpoint_id      int64   the segment (split) the episode ended in
    episode_return     float32 sum of the rewards

Data collected online (`rosmo deploy --env minatar:<game>`) is written in the generic layout
instead (`write_collected_episodes`: one `train` split, the same step features, no
`checkpoint_id`), so that several such datasets are read together by `rosmo.data.loader`;
`is_checkpoint_layout` tells the two apart.

Batches come from the Atari path's machinery (`rosmo.data.rlu_atari.make_pool_loader`:
this host's `even_splits` share of every split, files shuffled per epoch and interleaved,
`data_percentage` chosen by (checkpoint_id, episode_id), a pool of whole episodes, windows
drawn without replacement, `ordered` = checkpoint after checkpoint), with no frame stack::

    observation  uint8   [B, L, 10, 10, C]
    action int32, reward float32 (clipped to [-1, 1], as rlu_atari's loader does), discount float32,
    is_first / is_last / is_terminal bool                            [B, L]
"""

from __future__ import annotations

import os
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from rosmo.data import rlds, rlu_atari
from rosmo.data.episode_pool import Prefetcher
from rosmo.envs import minatar as minatar_env

tfds = rlds.tfds
DatasetError = rlds.DatasetError

DEFAULT_CHECKPOINTS = 50  # as rlu_atari_checkpoints_ordered


def dataset_name(
    game: str, sticky_action_prob: float = minatar_env.STICKY_ACTION_PROB, minimal_actions: bool = False
) -> str:
    """Directory name: the game, then `_sticky<p>` when p is not the default 0.1, `_minimal` for minimal sets."""
    name = minatar_env.game_name(game)
    if float(sticky_action_prob) != minatar_env.STICKY_ACTION_PROB:
        name += f"_sticky{float(sticky_action_prob):g}"
    if minimal_actions:
        name += "_minimal"
    return name


def split_name(checkpoint: int) -> str:
    """ "checkpoint_07": the split of the episodes that ended during segment 7."""
    return f"checkpoint_{int(checkpoint):02d}"


def features(num_channels: int, checkpoint_ids: bool = True) -> tfds.features.FeaturesDict:
    """The episode schema (module docstring) for grids of `num_channels` channels; `checkpoint_ids=False`: the
    schema of data collected online (no `checkpoint_id`)."""
    observation = tfds.features.Tensor(
        shape=(minatar_env.GRID, minatar_env.GRID, int(num_channels)),
        dtype=np.uint8,
        encoding=tfds.features.Encoding.ZLIB,
    )
    episode = {
        "steps": tfds.features.Dataset(rlds.step_features(observation)),
        "episode_id": tfds.features.Scalar(dtype=np.int64),
    }
    if checkpoint_ids:
        episode["checkpoint_id"] = tfds.features.Scalar(dtype=np.int64)
    episode["episode_return"] = tfds.features.Scalar(dtype=np.float32)
    return tfds.features.FeaturesDict(episode)


def collected_features(num_channels: int) -> tfds.features.FeaturesDict:
    """The episode schema of data collected online: the steps of `features`, episode_id and episode_return."""
    return features(num_channels, checkpoint_ids=False)


def write_collected_episodes(
    out: str,
    game: str,
    episodes: Sequence[dict[str, Any]],
    metadata: dict[str, Any],
    description: str,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write RLDS `episodes` (`rosmo.data.collect`; uint8 [T + 1, 10, 10, C] observations) played in `game` to
    `out` (atomically, `rlds.RldsWriter`) in the generic `train`-split layout. `metadata` must hold the
    protocol (`minimal_actions`, `sticky_action_prob`); counts are added. Returns path and counts."""
    game = minatar_env.game_name(game)
    minimal = bool(metadata.get("minimal_actions", False))
    observation_shape, num_actions = minatar_env.env_spec(game, minimal)
    meta = {
        "env": game,
        "game": game,
        "num_actions": int(num_actions),
        "observation_shape": list(observation_shape),
        **metadata,
    }
    name = os.path.basename(os.path.abspath(out)) or game
    features = collected_features(observation_shape[-1])
    with rlds.RldsWriter(out, name, features, meta, description, overwrite) as writer:
        for episode in episodes:
            observation = np.asarray(episode["steps"]["observation"])
            if observation.shape[1:] != tuple(observation_shape):
                raise ValueError(
                    f"{game}: episode {episode.get('episode_id')} has observations {observation.shape[1:]}, "
                    f"expected {tuple(observation_shape)}"
                )
            writer.add_episode(
                {
                    "steps": dict(episode["steps"], observation=observation.astype(np.uint8)),
                    "episode_id": np.int64(episode["episode_id"]),
                    "episode_return": np.float32(episode["episode_return"]),
                }
            )
        counts = writer.record_counts()
    return {"path": os.path.abspath(out), **counts}


def is_checkpoint_layout(dataset_dir: str) -> bool:
    """True for one dataset made by `rosmo dataset minatar` (checkpoint splits); False for datasets in the
    generic `train` layout (collected online), one or several (comma-separated)."""
    datasets = [d.strip() for d in str(dataset_dir).split(",") if d.strip()]
    if len(datasets) != 1:
        return False
    return "train" not in rlds.load_builder(datasets[0]).info.splits.keys()


def episode_to_rlds(
    observations: np.ndarray,
    actions: Sequence[int],
    rewards: Sequence[float],
    terminated: bool,
    episode_id: int,
    checkpoint_id: int,
) -> dict[str, Any]:
    """One episode of T transitions as T + 1 RLDS steps.

    Args:
      observations: uint8 [T + 1, 10, 10, C], o_0 .. o_T.
      actions, rewards: [T], a_t taken at o_t and r_t received after it.
      terminated: o_T is a game over (discount 0 and is_terminal on the last step); else a truncation.
    """
    num = len(actions)
    if len(observations) != num + 1 or len(rewards) != num:
        raise ValueError(
            f"episode {episode_id}: need T+1 observations for T actions/rewards, "
            f"got {len(observations)}, {num}, {len(rewards)}"
        )
    flags = np.zeros(num + 1, bool)
    is_first, is_last, is_terminal = flags.copy(), flags.copy(), flags.copy()
    is_first[0] = is_last[-1] = True
    is_terminal[-1] = bool(terminated)
    discount = np.ones(num + 1, np.float32)
    discount[-1] = 0.0 if terminated else 1.0
    reward = np.append(np.asarray(rewards, np.float32), np.float32(0.0))
    return {
        "steps": {
            "observation": np.asarray(observations, np.uint8),
            "action": np.append(np.asarray(actions, np.int64), np.int64(0)),
            "reward": reward,
            "discount": discount,
            "is_first": is_first,
            "is_last": is_last,
            "is_terminal": is_terminal,
        },
        "episode_id": np.int64(episode_id),
        "checkpoint_id": np.int64(checkpoint_id),
        "episode_return": np.float32(reward.sum(dtype=np.float64)),
    }


def load_builder(dataset_dir: str) -> tfds.core.DatasetBuilder:
    """The dataset at `dataset_dir`; DatasetError unless it is a MinAtar dataset with checkpoint splits."""
    builder = rlds.load_builder(dataset_dir)
    splits = sorted(builder.info.splits.keys())
    if not splits or not all(s.startswith("checkpoint_") for s in splits):
        raise DatasetError(
            f"{os.path.abspath(dataset_dir)}: expected splits checkpoint_00, checkpoint_01, ... "
            f"(a dataset made by `rosmo dataset minatar`), found {splits}"
        )
    if "checkpoint_id" not in builder.info.features:
        raise DatasetError(
            f"{os.path.abspath(dataset_dir)}: episodes have no 'checkpoint_id' feature "
            "(expected a dataset made by `rosmo dataset minatar`)"
        )
    return builder


def make_minatar_loader(
    dataset_dir: str,
    *,
    unroll_steps: int,
    td_steps: int,
    batch_size: int,
    data_percentage: float = 100.0,
    seed: int = 0,
    episodes_in_flight: int = 64,
    cycle_length: int = 8,
    ordered: bool = False,
    splits: Optional[Sequence[str]] = None,
    process_index: int = 0,
    process_count: int = 1,
    start_batch: int = 0,
    num_actions: Optional[int] = None,
    with_ids: bool = False,
    repeat: bool = True,
    prefetch: int = 2,
    gather_threads: int = 1,
) -> Iterator[dict[str, np.ndarray]]:
    """Infinite iterator of batches of windows of L = unroll_steps + td_steps + 1 steps (module docstring).

    The arguments mean what they mean for `rosmo.data.rlu_atari.make_rlu_atari_loader`; a resumed
    loader (`start_batch` > 0) gives the batches of an uninterrupted one from `start_batch` on.
    """
    builder = load_builder(dataset_dir)
    pool = rlu_atari.make_pool_loader(
        builder,
        unroll_steps=unroll_steps,
        td_steps=td_steps,
        batch_size=batch_size,
        data_percentage=data_percentage,
        seed=seed,
        splits=splits,
        history=0,
        stack=0,
        episodes_in_flight=episodes_in_flight,
        cycle_length=cycle_length,
        ordered=ordered,
        process_index=process_index,
        process_count=process_count,
        start_batch=start_batch,
        num_actions=num_actions,
        with_ids=with_ids,
        repeat=repeat,
        prefetch=0,
        gather_threads=gather_threads,
        decode_frames=None,
    )

    def sample() -> dict[str, np.ndarray]:
        batch = next(pool)
        batch["observation"] = batch.pop("frames")
        return batch

    return Prefetcher(sample, prefetch, name="rosmo-minatar-pool")
