"""Every dataset problem the loader detects raises `rlds.DatasetError` naming the path and the field."""

import os

import numpy as np
import pytest

from rosmo.data import loader, rlds
from tests.conftest import make_episode, write_dataset

tfds = rlds.tfds
KW = dict(unroll_steps=1, td_steps=1, batch_size=2)


def custom_features(drop=(), **overrides):
    """The BSuite episode schema with step fields dropped or replaced (field -> FeatureConnector)."""
    steps = {
        "observation": tfds.features.Tensor(shape=(2, 3), dtype=np.float32),
        "action": tfds.features.Scalar(dtype=np.int64),
        "reward": tfds.features.Scalar(dtype=np.float32),
        "discount": tfds.features.Scalar(dtype=np.float32),
        "is_first": tfds.features.Scalar(dtype=np.bool_),
        "is_last": tfds.features.Scalar(dtype=np.bool_),
        "is_terminal": tfds.features.Scalar(dtype=np.bool_),
    }
    steps.update(overrides)
    for k in drop:
        del steps[k]
    return tfds.features.FeaturesDict(
        {
            "steps": tfds.features.Dataset(steps),
            "episode_id": tfds.features.Scalar(dtype=np.int64),
            "episode_return": tfds.features.Scalar(dtype=np.float32),
        }
    )


def custom_dataset(path, drop=(), transform=None, **overrides):
    ep = make_episode(0, 5)
    for k in drop:
        del ep["steps"][k]
    if transform:
        transform(ep["steps"])
    return write_dataset(path, [ep], features=custom_features(drop, **overrides))


def assert_error(path, field_words):
    """`make_loader` and `dataset_spec` both raise DatasetError naming `path` and every word of `field_words`."""
    for call in (lambda: loader.make_loader(str(path), **KW), lambda: loader.dataset_spec(str(path))):
        with pytest.raises(rlds.DatasetError) as info:
            call()
        message = str(info.value)
        assert os.path.abspath(str(path)) in message, message
        for word in field_words:
            assert word in message, message
    return message


def test_missing_directory(tmp_path):
    path = tmp_path / "no_such_dataset"
    msg = assert_error(path, ["does not exist"])
    assert "no_such_dataset" in msg


def test_directory_without_dataset_info(tmp_path):
    path = tmp_path / "not_rlds"
    path.mkdir()
    (path / "episodes.npz").write_bytes(b"junk")
    assert_error(path, ["dataset_info.json"])


def test_unreadable_dataset_info(tmp_path):
    path = tmp_path / "broken"
    path.mkdir()
    (path / "dataset_info.json").write_text("{ not json")
    assert_error(path, ["cannot be read"])


def test_builder_name_with_missing_data_dir(tmp_path):
    with pytest.raises(rlds.DatasetError, match="data_dir .*nowhere.* does not exist"):
        loader.make_loader("rlu_atari/Pong_run_1", data_dir=str(tmp_path / "nowhere"), **KW)


def test_episodes_without_steps(tmp_path):
    features = tfds.features.FeaturesDict({"observation": tfds.features.Tensor(shape=(2,), dtype=np.float32)})
    path = tmp_path / "flat"
    with rlds.RldsWriter(str(path), "flat", features) as w:
        # add_episode insists on "steps"; go underneath it to write a non-RLDS episode.
        w._writer.add_examples({"train": [{"observation": np.zeros(2, np.float32)}]})
    assert_error(path, ["'steps'", "missing"])


def test_missing_step_field(tmp_path):
    path = custom_dataset(tmp_path / "no_is_last", drop=("is_last",))
    assert_error(path, ["is_last", "missing"])


def test_action_with_float_dtype(tmp_path):
    def to_float(steps):
        steps["action"] = steps["action"].astype(np.float32)

    path = custom_dataset(tmp_path / "float_action", transform=to_float, action=tfds.features.Scalar(dtype=np.float32))
    assert_error(path, ["'action'", "float32", "integer"])


def test_reward_not_scalar(tmp_path):
    def to_vector(steps):
        steps["reward"] = np.stack([steps["reward"]] * 2, axis=1)

    path = custom_dataset(
        tmp_path / "vector_reward", transform=to_vector, reward=tfds.features.Tensor(shape=(2,), dtype=np.float32)
    )
    assert_error(path, ["'reward'", "(2,)", "scalar"])


def test_flag_not_bool(tmp_path):
    def to_int(steps):
        steps["is_first"] = steps["is_first"].astype(np.int64)

    path = custom_dataset(tmp_path / "int_flag", transform=to_int, is_first=tfds.features.Scalar(dtype=np.int64))
    assert_error(path, ["'is_first'", "int64", "bool"])


def test_observation_shape_differs_from_expected(tiny_dataset):
    with pytest.raises(rlds.DatasetError) as info:
        loader.make_loader(tiny_dataset, expected_observation_shape=(10, 5), **KW)
    msg = str(info.value)
    assert tiny_dataset in msg and "'observation'" in msg and "(2, 3)" in msg and "(10, 5)" in msg


@pytest.mark.parametrize("in_memory", [True, False])
def test_fewer_steps_than_one_window(tmp_path_factory, in_memory):
    path = write_dataset(tmp_path_factory.mktemp("short") / "short", [make_episode(0, 3), make_episode(1, 2)])
    with pytest.raises(rlds.DatasetError) as info:
        loader.make_loader(path, unroll_steps=3, td_steps=2, batch_size=2, in_memory=in_memory)
    msg = str(info.value)
    assert path in msg and "5 steps" in msg and "6" in msg and "window" in msg
    # Exactly one window's worth of steps is enough.
    it = loader.make_loader(path, unroll_steps=2, td_steps=2, batch_size=2, in_memory=in_memory, prefetch=1)
    assert next(it)["action"].shape == (2, 5)


def test_missing_split(tiny_dataset):
    with pytest.raises(rlds.DatasetError, match="split 'test' not found"):
        loader.make_loader(tiny_dataset, split="test", **KW)


def test_bad_window_arguments(tiny_dataset):
    with pytest.raises(ValueError, match="unroll_steps"):
        loader.make_loader(tiny_dataset, unroll_steps=-1, td_steps=1, batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        loader.make_loader(tiny_dataset, unroll_steps=1, td_steps=1, batch_size=0)


def test_writer_records_counts(tmp_path):
    """Episodes of 5 and 3 steps: 8 steps, 6 transitions (each episode's last step starts none), in the metadata."""
    path = str(tmp_path / "counted")
    with rlds.RldsWriter(path, "counted", custom_features(), {"env": "chain"}) as writer:
        for e, length in enumerate((5, 3)):
            writer.add_episode(make_episode(e, length))
        assert writer.record_counts() == {"episodes": 2, "steps": 8, "transitions": 6}
    meta = rlds.metadata(rlds.load_builder(path))
    assert (meta["env"], meta["num_episodes"], meta["num_steps"], meta["num_transitions"]) == ("chain", 2, 8, 6)
