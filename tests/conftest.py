"""Shared pytest fixtures: tiny RLDS datasets written locally with `rlds.RldsWriter`.

Episode `e` of a tiny dataset has recognisable values at step `t`:
observation = e * 1000 + t (every element), action = (e + t) % 3,
reward = e + t / 10, discount = 0 on a terminal last step else 1,
is_first = (t == 0), is_last = (t == T - 1), is_terminal = is_last on even
episodes (odd episodes end truncated). The last step's action and reward are
padding 0, as in RLDS.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pytest

from rosmo.data import rlds

TINY_LENGTHS = (4, 7, 3, 5, 6)
TINY_OBS_SHAPE = (2, 3)
TINY_METADATA = {"env": "catch", "num_actions": 3, "seed": 7, "behaviour": "test"}


def make_episode(e: int, length: int, obs_shape: Sequence[int] = TINY_OBS_SHAPE) -> Dict[str, Any]:
    """Episode `e` of `length` steps with the recognisable values described in the module docstring."""
    t = np.arange(length)
    last = t == length - 1
    terminal = last & (e % 2 == 0)
    obs = (e * 1000 + t).astype(np.float32).reshape(length, *([1] * len(obs_shape)))
    steps = {
        "observation": np.broadcast_to(obs, (length, *obs_shape)).astype(np.float32),
        "action": np.where(last, 0, (e + t) % 3).astype(np.int64),
        "reward": np.where(last, 0.0, e + t / 10).astype(np.float32),
        "discount": np.where(terminal, 0.0, 1.0).astype(np.float32),
        "is_first": t == 0,
        "is_last": last,
        "is_terminal": terminal,
    }
    return {"steps": steps, "episode_id": e, "episode_return": np.float32(steps["reward"].sum())}


def write_dataset(
    path: str,
    episodes: List[Dict[str, Any]],
    features=None,
    metadata: Optional[Dict[str, Any]] = None,
    name: str = "tiny",
    max_episodes_per_shard: int = 1000,
) -> str:
    """Write `episodes` to `path` with `RldsWriter` (BSuite schema of the first episode's obs shape by default)."""
    if features is None:
        features = rlds.bsuite_features(episodes[0]["steps"]["observation"].shape[1:])
    meta = metadata if metadata is not None else dict(TINY_METADATA)
    with rlds.RldsWriter(str(path), name, features, meta, max_episodes_per_shard=max_episodes_per_shard) as w:
        for ep in episodes:
            w.add_episode(ep)
    return str(path)


@pytest.fixture(scope="session")
def tiny_episodes() -> List[Dict[str, Any]]:
    """The episodes of `tiny_dataset`, as written."""
    return [make_episode(e, n) for e, n in enumerate(TINY_LENGTHS)]


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, tiny_episodes) -> str:
    """A BSuite-shaped RLDS dataset directory: 5 episodes of lengths 4, 7, 3, 5, 6 (25 steps)."""
    return write_dataset(tmp_path_factory.mktemp("rlds") / "tiny", tiny_episodes)


@pytest.fixture(scope="session")
def many_episodes_dataset(tmp_path_factory) -> str:
    """20 short episodes (lengths 2..5) for data-percentage tests."""
    episodes = [make_episode(e, 2 + e % 4) for e in range(20)]
    return write_dataset(tmp_path_factory.mktemp("rlds") / "many", episodes)
