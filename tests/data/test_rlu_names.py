"""RL Unplugged names: canonical games, config and builder names, errors."""

import pytest

from rosmo.data import rlu_names


def test_config_and_builder_names():
    assert rlu_names.config_name("pong", 2) == "Pong_run_2"
    assert rlu_names.config_name("ms_pacman", 1) == "MsPacman_run_1"
    assert rlu_names.builder_name("Breakout", 3) == "rlu_atari/Breakout_run_3"
    assert (
        rlu_names.builder_name("Pong", 1, "rlu_atari_checkpoints_ordered") == "rlu_atari_checkpoints_ordered/Pong_run_1"
    )
    assert len(rlu_names.ATARI_GAMES) == 46


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="unknown RL Unplugged Atari game 'Tetris'"):
        rlu_names.config_name("Tetris", 1)
    with pytest.raises(ValueError, match="run must be one of"):
        rlu_names.config_name("Pong", 6)
    with pytest.raises(ValueError, match="dataset must be one of"):
        rlu_names.builder_name("Pong", 1, dataset="rlu_atari_v9")
