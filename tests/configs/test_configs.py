"""Configs: the shared base, suite configs, loading by name or file, typed overrides, validation."""

import pytest

from rosmo.agents import AGENTS
from rosmo.suites.configs.atari import PRESET_SETTINGS
from rosmo.suites.configs.base import get_base_config
from rosmo.configs.loading import apply_overrides, load_config, update_config
from rosmo.configs.validation import ConfigError, validate_config


def test_base_config_holds_every_agents_fields():
    c = get_base_config()
    for spec in AGENTS.values():
        for field, _default in spec.config_defaults.items():
            assert field in c, (spec.name, field)


def test_atari_config_defaults_and_presets():
    c = load_config("atari:pong")
    assert (c.suite, c.env, c.network, c.network_preset) == ("atari", "Pong", "resnet", "full")
    assert (c.unroll_steps, c.td_steps, c.num_bins, c.batch_size) == (5, 5, 601, 512)
    assert c.discount == pytest.approx(0.997**4) and c.eval_max_episode_frames == 108_000
    validate_config(c)
    small = load_config("atari:Breakout,small")
    assert small.network_preset == "small" and small.batch_size == PRESET_SETTINGS["small"]["batch_size"] == 32
    assert small.num_steps == PRESET_SETTINGS["small"]["num_steps"]
    with pytest.raises(ConfigError, match="unknown RL Unplugged Atari game 'Tetris'"):
        load_config("atari:Tetris")
    with pytest.raises(ConfigError, match="unknown Atari preset 'huge'"):
        load_config("atari:Pong,huge")


def test_named_and_file_configs_agree():
    assert load_config("bsuite:cartpole").to_dict() == load_config("experiments/bsuite/config.py:cartpole").to_dict()
    assert load_config("atari:Pong,small").to_dict() == load_config("experiments/atari/config.py:Pong,small").to_dict()
    with pytest.raises(ConfigError, match="no config file 'nope.py'"):
        load_config("nope.py:x")


def test_overrides_are_typed_and_named():
    c = load_config("bsuite:catch")
    apply_overrides(c, ["unroll_steps=5", "search_depth=4", "act_greedy=false", "learning_rate=1e-3", "algo=mzu"])
    assert (c.unroll_steps, c.search_depth, c.act_greedy, c.learning_rate, c.algo) == (5, 4, False, 1e-3, "mzu")
    assert load_config("bsuite:catch").search_depth is None  # typed placeholders are not shared between configs
    apply_overrides(c, ["search_depth=None"])
    assert c.search_depth is None
    with pytest.raises(
        ConfigError, match="learning_rat: the config has no field 'learning_rat'; did you mean learning_rate"
    ):
        apply_overrides(c, ["learning_rat=1"])
    with pytest.raises(ConfigError, match="unroll_steps=1.5: expected an integer"):
        apply_overrides(c, ["unroll_steps=1.5"])
    with pytest.raises(ConfigError, match="act_greedy=maybe: expected true or false"):
        apply_overrides(c, ["act_greedy=maybe"])
    update_config(c, {"num_simulations": 8, "data_percentage": 10})
    assert c.num_simulations == 8 and c.data_percentage == 10.0
    assert load_config("bsuite:catch").search_depth is None  # typed placeholders are not shared between configs


def test_validation_checks_only_the_selected_agents_fields():
    c = load_config("bsuite:catch")
    c.cql_alpha = -1.0  # a CQL field: ignored while algo=rosmo
    validate_config(c)
    c.algo = "cql"
    with pytest.raises(ConfigError, match="cql_alpha"):
        validate_config(c)
    c = load_config("bsuite:catch")
    for field, value in (("algo", "dqn"), ("suite", "mujoco"), ("network", "foo"), ("keep_checkpoints", 0)):
        bad = load_config("bsuite:catch")
        bad[field] = value
        with pytest.raises(ConfigError, match=f"^{field}"):
            validate_config(bad)
