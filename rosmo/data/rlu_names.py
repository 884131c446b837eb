"""RL Unplugged Atari names in one place: games, runs, TFDS config and builder names.

    canonical_game("ms_pacman")          -> "MsPacman"      (one of the 46 RL Unplugged games)
    config_name("pong", 2)               -> "Pong_run_2"    (a `rlu_atari` builder config)
    builder_name("Pong", 1, "rlu_atari") -> "rlu_atari/Pong_run_1"

The 46 games are the rows of `rosmo/envs/data/atari_scores.csv`
(`rosmo.envs.reference_scores.ATARI_GAMES`), spelled as TFDS and ALE spell them;
a game name is normalised by ALE's ROM names (`rosmo.envs.atari.game_name`).
"""

from __future__ import annotations


from rosmo.envs.atari import game_name
from rosmo.envs.reference_scores import ATARI_GAMES

DATASETS: tuple[str, ...] = ("rlu_atari", "rlu_atari_checkpoints_ordered")
RUNS: tuple[int, ...] = (1, 2, 3, 4, 5)


def canonical_game(game: str) -> str:
    """The RL Unplugged spelling of a game ("pong" -> "Pong"): ALE's (`rosmo.envs.atari.game_name`), and one of the 46.

    ValueError listing the 46 otherwise.
    """
    try:
        name = game_name(game)
    except ValueError:
        name = None
    if name not in ATARI_GAMES:
        raise ValueError(f"unknown RL Unplugged Atari game {game!r}; expected one of: {', '.join(ATARI_GAMES)}")
    return name


def config_name(game: str, run: int) -> str:
    """`rlu_atari` config name of a game and run: "Pong_run_1"."""
    if int(run) not in RUNS:
        raise ValueError(f"run must be one of {RUNS} (RL Unplugged has 5 runs per game), got {run}")
    return f"{canonical_game(game)}_run_{int(run)}"


def builder_name(game: str, run: int = 1, dataset: str = "rlu_atari") -> str:
    """TFDS builder name: "rlu_atari/Pong_run_1"."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    return f"{dataset}/{config_name(game, run)}"
