"""The suite registry: env names per suite, `<suite>:<env>` parsing, references."""

import importlib

import pytest

from rosmo.statistics import normalize_statistics, return_statistics
from rosmo.suites import SUITES, parse_env


def test_env_parsing_and_errors():
    suite, env = parse_env("atari:pong")
    assert (suite.name, env) == ("atari", "Pong")
    suite, env = parse_env("bsuite:catch")
    assert (suite.name, env) == ("bsuite", "catch")
    for bad in ("pong", "atari:", "gym:CartPole"):
        with pytest.raises(ValueError, match="expected <suite>:<env>"):
            parse_env(bad)
    with pytest.raises(ValueError, match="unknown BSuite env 'walker'"):
        parse_env("bsuite:walker")
    with pytest.raises(ValueError, match="NoSuchGame"):
        parse_env("atari:NoSuchGame")


def test_the_light_table_matches_every_suites_module():
    """`rosmo --help` reads the rows of the table; each row says what its module's SUITE says."""
    assert list(SUITES) == ["bsuite", "atari", "mujoco", "minatar"]
    for name, entry in SUITES.entries().items():
        suite = importlib.import_module(entry.module).SUITE
        assert SUITES[name] is suite, name
        assert (suite.name, suite.description) == (name, entry.description)


def test_references_come_from_the_suite():
    bsuite = SUITES["bsuite"]
    meta = {"env": "catch", "random_return": -0.5, "dqn_return": 1.0}
    (ref,) = bsuite.references("catch", meta)
    assert (ref.name, ref.low, ref.high) == ("dqn", -0.5, 1.0)
    assert bsuite.references("cartpole", meta) == []  # another env than the dataset's: no references
    atari = SUITES["atari"]
    assert [r.name for r in atari.references("Pong", {})] == ["dqn", "human"]
    assert [r.name for r in atari.references("Pooyan", {})] == ["dqn"]  # no human score


def test_normalised_scores_hand_computed():
    dqn, human = SUITES["atari"].references("ms_pacman", {})
    assert (dqn.low, dqn.high, human.low, human.high) == (247.97, 4171.53, 307.3, 6951.6)
    pong_dqn = SUITES["atari"].references("Pong", {})[0]
    stats = return_statistics([-20.3, -1.025, -1.025, 18.25])  # mean = median = -1.025: the midpoint of [-20.3, 18.25]
    norm = normalize_statistics(stats, pong_dqn.low, pong_dqn.high)
    assert norm["mean"] == pytest.approx(0.5) and norm["median"] == pytest.approx(0.5)
    assert normalize_statistics(return_statistics([18.25]), pong_dqn.low, pong_dqn.high)["mean"] == pytest.approx(1.0)
