"""Reference scores of the 46 RL Unplugged Atari games, and normalised scores.

The table is `rosmo/envs/data/atari_scores.csv`; `rosmo/envs/data/SOURCES.md`
names where each column comes from. Per game:

- `random`: a uniform-random policy under the RL Unplugged protocol;
- `dqn`: the online DQN whose replay is the RL Unplugged dataset;
- `human` / `human_random`: the Atari-57 human score and the random score of
  the same table (None for Carnival and Pooyan, which are not in Atari-57).

The Atari suite turns them into normalisation references (`rosmo.suites.atari`)::

    dqn-normalised(R)   = (R - random) / (dqn - random)                # RL Unplugged, ROSMO
    human-normalised(R) = (R - human_random) / (human - human_random)  # Atari-57
"""

from __future__ import annotations

import csv
import functools
import os
from typing import Optional


SCORES_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "atari_scores.csv")


def _key(game: str) -> str:
    return str(game).replace("_", "").replace("-", "").replace(" ", "").lower()


def _float_or_none(text: str) -> Optional[float]:
    return float(text) if text.strip() else None


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, object]]:
    rows: dict[str, dict[str, object]] = {}
    with open(SCORES_CSV, newline="") as f:
        for row in csv.DictReader(f):
            rows[_key(row["game"])] = {
                "game": row["game"],
                "random": float(row["random"]),
                "dqn": float(row["online_dqn"]),
                "human": _float_or_none(row["human"]),
                "human_random": _float_or_none(row["human_random"]),
            }
    return rows


ATARI_GAMES: list[str] = [row["game"] for row in _table().values()]
"""The 46 RL Unplugged Atari games, CamelCase as in TFDS `rlu_atari` ("Pong", "MsPacman")."""


def atari_scores(game: str) -> dict[str, Optional[float]]:
    """{"random", "dqn", "human", "human_random"} of a game ("Pong", "pong", "ms_pacman", "MsPacman").

    Raises:
      KeyError: naming the game and listing the 46 valid names.
    """
    row = _table().get(_key(game))
    if row is None:
        raise KeyError(
            f"no reference scores for Atari game {game!r}; the RL Unplugged games are: {', '.join(ATARI_GAMES)}"
        )
    return {k: row[k] for k in ("random", "dqn", "human", "human_random")}  # type: ignore[misc]
