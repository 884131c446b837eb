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

from rosmo.data import loader, rlds, rlu_episodes
from rosmo.data.episodes import concatenate_steps
from rosmo.data.schema import validate_features


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
    try:
        episodes = [
            {k: episode["frames" if k == "observation" else k] for k in STEP_FIELDS}
            for episode in rlu_episodes.tfds.as_numpy(stream.prefetch(2))
        ]
    except rlu_episodes.tf.errors.OpError as err:
        raise rlds.DatasetError(f"{builder.data_dir}: {err.message.splitlines()[0]}") from None
    if not episodes:
        raise rlds.DatasetError(f"{builder.data_dir}: no episode kept (data_percentage={data_percentage})")
    return concatenate_steps(episodes)


def load_kept_steps(
    datasets: Sequence[str], data_percentage: float, seed: int, num_actions=None
) -> dict[str, np.ndarray]:
    """The steps a run trained on: the episodes `select_episodes(E, data_percentage, seed)` keeps of the
    datasets read together (dataset order, then episode order), as `rosmo.data.loader.make_loader` keeps them
    (`loader.load_kept_steps`; actions checked against `num_actions`, default each dataset's metadata's); for one
    dataset split by checkpoint, `load_pool_steps` (the episode pool's rule).

    Raises `rlds.DatasetError` naming a dataset that is missing or malformed.
    """
    if len(datasets) == 1:
        builder = rlds.load_builder(datasets[0])
        if split_by_checkpoint(builder):
            validate_features(builder)
            return load_pool_steps(builder, data_percentage, seed, num_actions)
    return loader.load_kept_steps(datasets, data_percentage=data_percentage, seed=seed, num_actions=num_actions)
