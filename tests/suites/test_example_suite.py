"""Adding a suite = its module + its environment + one registry line: the example chain suite, end to end."""

import json

import numpy as np
import pytest

from rosmo import cli
from rosmo.configs.loading import load_config
from rosmo.suites import SUITES, parse_env
from rosmo.training.loop import train
from tests.conftest import write_dataset
from tests.suites import example_suite


@pytest.fixture
def chain_registered(monkeypatch):
    monkeypatch.setitem(SUITES, example_suite.SUITE.name, example_suite.SUITE)  # the "one registry line"


def _chain_dataset(path, n=5, episodes=20, seed=0):
    """Episodes of a 70%-right random policy on the chain, in the RLDS schema."""
    rng = np.random.default_rng(seed)
    out = []
    for e in range(episodes):
        env = example_suite.Chain(n)
        ts = env.reset()
        obs, actions, rewards = [ts.observation], [], []
        while not ts.last():
            a = int(rng.random() < 0.7)
            ts = env.step(a)
            obs.append(ts.observation), actions.append(a), rewards.append(ts.reward)
        t = len(obs)
        out.append(
            {
                "steps": {
                    "observation": np.stack(obs),
                    "action": np.array(actions + [0], np.int64),
                    "reward": np.array(rewards + [0.0], np.float32),
                    "discount": np.ones(t, np.float32),
                    "is_first": np.arange(t) == 0,
                    "is_last": np.arange(t) == t - 1,
                    "is_terminal": (np.arange(t) == t - 1) & (ts.discount == 0),
                },
                "episode_id": e,
                "episode_return": np.float32(sum(rewards)),
            }
        )
    return write_dataset(str(path), out, metadata={"env": f"chain{n}", "num_actions": 2})


@pytest.mark.slow
def test_an_added_suite_trains_and_evaluates(chain_registered, tmp_path, capsys):
    suite, env = parse_env("chain:5")
    assert suite is example_suite.SUITE and env == "chain5"
    config = load_config("chain:5")  # the suite's config, by name
    config.dataset_dir = _chain_dataset(tmp_path / "data")
    summary = train(config, str(tmp_path / "run"), progress=False)
    assert summary["suite"] == "chain" and summary["final_eval"]["reference"] == "optimal"
    code = cli.main(
        [
            "evaluate",
            "--checkpoint",
            str(tmp_path / "run"),
            "--episodes",
            "2",
            "--no-progress",
            "--json",
            str(tmp_path / "eval.json"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    result = json.load(open(tmp_path / "eval.json"))
    assert result["env"] == "chain:chain5" and result["episodes"] == 2 and 0.0 <= result["normalized_score"] <= 1.0
