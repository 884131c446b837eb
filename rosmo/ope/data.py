"""The logged data an off-policy estimate uses: the run's kept episodes, split by episode into fit / held-out.

Steps arrive as flat arrays `[N, ...]` in episode order (`rosmo.data.episodes.load_steps`).
Transitions are index pairs into them, so observations are stored once:

    transition j:  o[t_j], a[t_j], r[t_j] -> o[t_j + 1]        for every step t with is_last[t] False
    terminal_j  =  is_terminal[t_j + 1]                         (a truncated episode bootstraps)
    episode[t]  =  cumsum(is_first)[t] - 1                      (episode index within the kept ones)

`split_episodes(E, fraction, seed)` draws the held-out episodes with a seeded
permutation (at least one episode on each side when E >= 2); estimators that fit
anything (FQE) fit on the other episodes only.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from rosmo.data import rlds, rlu_episodes
from rosmo.data.episodes import load_steps
from rosmo.data.schema import check_split, validate_features
from rosmo.data.windows import select_episodes


class LoggedData(NamedTuple):
    """Kept steps and the transitions between them (see the module docstring).

    observation [N, ...], action int32[N], reward f32[N], episode int64[N], is_first bool[N]:  steps
    t, next_t int64[M], terminal bool[M]:                                                      transitions
    """

    observation: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    episode: np.ndarray
    is_first: np.ndarray
    t: np.ndarray
    next_t: np.ndarray
    terminal: np.ndarray

    @property
    def num_episodes(self) -> int:
        return int(self.episode[-1]) + 1 if len(self.episode) else 0


def logged_data(steps: dict[str, np.ndarray]) -> LoggedData:
    """`LoggedData` of flat RLDS step arrays (observation, action, reward, is_first, is_last, is_terminal) [N, ...]."""
    is_first = np.asarray(steps["is_first"], bool)
    is_last = np.asarray(steps["is_last"], bool)
    n = len(is_first)
    if n == 0 or not is_first[0]:
        raise ValueError("the steps must start an episode (is_first[0] True)")
    t = np.flatnonzero(~is_last[: n - 1]).astype(np.int64) if n > 1 else np.zeros((0,), np.int64)
    return LoggedData(
        observation=np.asarray(steps["observation"]),
        action=np.asarray(steps["action"], np.int32),
        reward=np.asarray(steps["reward"], np.float32),
        episode=(np.cumsum(is_first) - 1).astype(np.int64),
        is_first=is_first,
        t=t,
        next_t=t + 1,
        terminal=np.asarray(steps["is_terminal"], bool)[t + 1],
    )


def split_episodes(num_episodes: int, heldout_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) episode indices, each sorted: round(E * fraction) held out, clipped to [1, E - 1] when E >= 2.

    The held-out ones are the first of `np.random.default_rng(seed).permutation(E)`. With E = 1
    the single episode is in both sets (nothing can be held out).
    """
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    if num_episodes < 2:
        both = np.arange(num_episodes, dtype=np.int64)
        return both, both
    count = int(np.clip(round(num_episodes * heldout_fraction), 1, num_episodes - 1))
    perm = np.random.default_rng(seed).permutation(num_episodes)
    return np.sort(perm[count:]).astype(np.int64), np.sort(perm[:count]).astype(np.int64)


def episode_returns(data: LoggedData) -> np.ndarray:
    """Undiscounted return of every episode: sum of its rewards (the last step's padding reward is 0). -> [E]."""
    return np.bincount(data.episode, weights=data.reward.astype(np.float64), minlength=data.num_episodes)


def transitions_of(data: LoggedData, episodes: np.ndarray) -> np.ndarray:
    """Positions j (into data.t) of the transitions of the given episodes."""
    return np.flatnonzero(np.isin(data.episode[data.t], episodes))


def initial_steps_of(data: LoggedData, episodes: np.ndarray) -> np.ndarray:
    """Step indices of the first observations of the given episodes."""
    return np.flatnonzero(data.is_first & np.isin(data.episode, episodes))


STEP_FIELDS = ("observation", "action", "reward", "is_first", "is_last", "is_terminal")


def split_by_checkpoint(builder) -> bool:
    """Whether the episodes sit in `checkpoint_NN` splits (MinAtar, RL Unplugged ordered Atari), not in `train`."""
    splits = list(builder.info.splits.keys())
    return bool(splits) and all(s.startswith("checkpoint_") for s in splits)


def load_pool_steps(builder, data_percentage: float, seed: int, num_actions=None) -> dict[str, np.ndarray]:
    """The steps a run trained on from a dataset split by checkpoint: every split in name order, episode by episode,
    keeping an episode when `rlu_episodes.keep_episode(checkpoint_id, episode_id, seed, data_percentage)` does (the
    rule the training pool applies, a function of the ids only). Observations as the features decode them.
    """
    stream = rlu_episodes.episode_stream(
        builder,
        seed=seed,
        data_percentage=data_percentage,
        ordered=True,
        repeat=False,
        num_actions=num_actions,
        decode_frames=None,
    )
    chunks: dict[str, list] = {k: [] for k in STEP_FIELDS}
    try:
        for episode in rlu_episodes.tfds.as_numpy(stream.prefetch(2)):
            episode["observation"] = episode.pop("frames")
            for k in STEP_FIELDS:
                chunks[k].append(episode[k])
    except rlu_episodes.tf.errors.OpError as err:
        raise rlds.DatasetError(f"{builder.data_dir}: {err.message.splitlines()[0]}") from None
    if not chunks["reward"]:
        raise rlds.DatasetError(f"{builder.data_dir}: no episode kept (data_percentage={data_percentage})")
    return {k: np.concatenate(v) for k, v in chunks.items()}


def load_kept_steps(
    datasets: Sequence[str], data_percentage: float, seed: int, num_actions=None
) -> dict[str, np.ndarray]:
    """The steps a run trained on: the episodes `select_episodes(E, data_percentage, seed)` keeps of the
    datasets read together (dataset order, then episode order), as `rosmo.data.loader.make_loader` keeps them;
    for one dataset split by checkpoint, `load_pool_steps` (the episode pool's rule).

    Raises `rlds.DatasetError` naming a dataset that is missing or malformed.
    """
    builders = [rlds.load_builder(d) for d in datasets]
    if len(builders) == 1 and split_by_checkpoint(builders[0]):
        validate_features(builders[0])
        return load_pool_steps(builders[0], data_percentage, seed, num_actions)
    counts = []
    for builder in builders:
        validate_features(builder)
        counts.append(check_split(builder, "train"))
    offsets = np.cumsum([0] + counts)
    keep = select_episodes(int(offsets[-1]), data_percentage, seed)
    chunks = []
    for i, builder in enumerate(builders):
        mine = keep[(keep >= offsets[i]) & (keep < offsets[i + 1])] - offsets[i]
        if len(mine):
            chunks.append(load_steps(builder, "train", mine, num_actions=num_actions))
    if not chunks:
        raise rlds.DatasetError(f"{','.join(datasets)}: no episode kept")
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
