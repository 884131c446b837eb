"""The agent registry: one list, and adding an agent = one module + one registry line."""

import importlib
import json
import os

import numpy as np
import pytest

from rosmo import cli
from rosmo.agents import AGENTS, act_policies, window_learners
from rosmo.suites.configs.bsuite import get_config
from rosmo.configs.validation import ConfigError, validate_config
from rosmo.training.loop import train
from tests.agents import example_agent
from tests.conftest import make_episode, write_dataset


def test_the_registry_is_the_only_list():
    assert list(AGENTS) == ["rosmo", "mzu", "bc", "cql", "bremen"]
    assert list(window_learners()) == ["rosmo", "mzu", "bc", "cql"] and AGENTS["bremen"].learns_from == "transitions"
    assert act_policies() == ("improved", "mcts", "prior")
    config = get_config("catch")
    for name, spec in AGENTS.items():
        assert spec.name == name and spec.act_policies and spec.description
        assert all(field in config for field in spec.acting_fields), name  # `rosmo evaluate --set` can type them


def test_the_docs_list_every_agent():
    concepts = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "concepts.md")).read()
    for name, _spec in AGENTS.items():
        assert f"| `{name}` |" in concepts, name


@pytest.fixture
def example_registered(monkeypatch):
    monkeypatch.setitem(AGENTS, example_agent.SPEC.name, example_agent.SPEC)  # the "one registry line"
    return example_agent.SPEC


@pytest.mark.slow
def test_an_added_agent_trains_and_evaluates(example_registered, tmp_path, capsys):
    episodes = [make_episode(e, 9, obs_shape=(10, 5)) for e in range(6)]
    dataset = write_dataset(
        str(tmp_path / "data"),
        episodes,
        metadata={"env": "catch", "num_actions": 3, "random_return": -0.5, "dqn_return": 1.0},
    )
    config = get_config("catch")
    assert config.example_temperature == 1.0  # its config default, from the registry
    config.update(
        algo="example",
        dataset_dir=dataset,
        batch_size=16,
        num_steps=60,
        warmup_steps=0,
        learning_rate=1e-2,
        log_every=10,
        eval_every=60,
        eval_episodes=4,
        eval_parallel=4,
        checkpoint_every=60,
        use_tensorboard=False,
    )
    summary = train(config, str(tmp_path / "run"), progress=False)
    losses = [float(row.split(",")[1]) for row in open(tmp_path / "run" / "train.csv").read().split()[1:]]
    assert losses[-1] < losses[0]  # it learns the first-step actions
    assert summary["final_eval"]["episodes"] == 4
    code = cli.main(
        [
            "evaluate",
            "--checkpoint",
            str(tmp_path / "run"),
            "--episodes",
            "3",
            "--num-envs",
            "3",
            "--no-progress",
            "--json",
            str(tmp_path / "eval.json"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert AGENTS.entry("example").description == example_agent.SPEC.description
    result = json.load(open(tmp_path / "eval.json"))
    assert result["algo"] == "example" and result["env"] == "bsuite:catch" and np.isfinite(result["mean_return"])


def test_an_added_agents_fields_are_validated_only_when_selected(example_registered):
    assert AGENTS.entry("example").config_fields == ("example_temperature",)  # what `rosmo report` reads
    config = get_config("catch")
    config.example_temperature = 0.0
    validate_config(config)  # algo=rosmo: the example agent's field is not checked
    config.algo = "example"
    with pytest.raises(ConfigError, match="example_temperature=0.0: expected a positive number"):
        validate_config(config)


def test_the_light_table_matches_every_agents_spec():
    """`rosmo --help` reads the rows of the table; each row says what its module's SPEC says."""
    for name, entry in AGENTS.entries().items():
        spec = importlib.import_module(entry.module).SPEC
        assert AGENTS[name] is spec, name
        assert (
            spec.name,
            spec.description,
            tuple(spec.act_policies),
            spec.learns_from,
            tuple(spec.config_defaults),
        ) == (name, entry.description, entry.act_policies, entry.learns_from, entry.config_fields)


def test_an_unknown_agent_is_not_imported():
    assert "nope" not in AGENTS and AGENTS.get("nope") is None
    with pytest.raises(KeyError):
        AGENTS["nope"]
