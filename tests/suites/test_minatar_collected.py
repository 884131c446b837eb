"""MinAtar data collected online (`rosmo deploy`): the suite's protocol, the `train` layout, several read together."""

import numpy as np
import pytest

pytest.importorskip("minatar")

from rosmo.configs.loading import load_config  # noqa: E402
from rosmo.data import collect, minatar_data, rlds  # noqa: E402
from rosmo.data.rlds import DatasetError  # noqa: E402
from rosmo.errors import ConfigError  # noqa: E402
from rosmo.suites import get_suite  # noqa: E402


def test_online_metadata_takes_the_reference_protocol_of_the_same_game():
    suite = get_suite("minatar")
    default = suite.online_metadata("breakout", {})
    assert default["sticky_action_prob"] == 0.1 and default["minimal_actions"] is False
    assert default["num_actions"] == 6 and default["observation_shape"] == [10, 10, 4]
    reference = {"env": "breakout", "sticky_action_prob": 0.25, "minimal_actions": True}
    meta = suite.online_metadata("breakout", reference)
    assert meta["sticky_action_prob"] == 0.25 and meta["minimal_actions"] is True and meta["num_actions"] == 3
    assert suite.online_metadata("asterix", reference)["sticky_action_prob"] == 0.1  # another game: the default
    env = suite.make_env("breakout", 0, meta, max_episode_steps=5)
    assert env.sticky_action_prob == 0.25 and env.num_actions == 3 and env.max_episode_steps == 5


def _collected(suite, path, seed, transitions=40):
    meta = suite.online_metadata("breakout", {})
    episodes = collect.collect_policy_episodes(
        lambda: suite.make_env("breakout", seed, meta, max_episode_steps=15),
        lambda obs: 1,
        transitions,
    )
    return suite.write_episodes(str(path), "breakout", episodes, {**meta, "random_return": 0.5}, "test")


def test_collected_datasets_are_read_alone_and_together(tmp_path):
    suite = get_suite("minatar")
    a = _collected(suite, tmp_path / "a", seed=0)
    b = _collected(suite, tmp_path / "b", seed=1)
    assert a["transitions"] >= 40 and a["steps"] == a["transitions"] + a["episodes"]
    builder = rlds.load_builder(a["path"])
    assert list(builder.info.splits.keys()) == ["train"]
    assert not minatar_data.is_checkpoint_layout(a["path"])
    assert not minatar_data.is_checkpoint_layout(f"{a['path']},{b['path']}")
    config = load_config("minatar:breakout")
    config.update(dict(dataset_dir=f"{a['path']},{b['path']}", batch_size=4, unroll_steps=2, td_steps=2))
    spec = suite.dataset_spec(config)
    assert spec.observation_shape == (10, 10, 4) and spec.observation_dtype == np.uint8 and spec.num_actions == 6
    assert spec.num_episodes == a["episodes"] + b["episodes"] and spec.num_steps == a["steps"] + b["steps"]
    assert spec.metadata["random_return"] == 0.5 and spec.metadata["sticky_action_prob"] == 0.1
    batch = next(iter(suite.make_batches(config)))
    assert batch["observation"].shape == (4, 5, 10, 10, 4) and batch["observation"].dtype == np.uint8
    assert set(np.unique(batch["observation"])) <= {0, 1}
    assert batch["action"].shape == (4, 5)
    config.env = "asterix"
    with pytest.raises(ConfigError, match="env='asterix'"):
        suite.dataset_spec(config)


def test_a_directory_that_is_no_dataset_is_named(tmp_path):
    config = load_config("minatar:breakout")
    config.dataset_dir = str(tmp_path / "nothing")
    with pytest.raises(DatasetError, match="nothing"):
        get_suite("minatar").dataset_spec(config)
