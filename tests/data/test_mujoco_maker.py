"""Continuous RLDS datasets: written in the TFDS format, read back as transitions, with their metadata."""

import numpy as np
import pytest

from rosmo.data import mujoco_maker, rlds
from rosmo.data.episodes import load_transitions
from rosmo.envs import mujoco


def test_write_and_load_transitions_roundtrip(tmp_path):
    episodes = mujoco.collect_episodes("Hopper-v5", mujoco.random_act_fn, mujoco.random_params(3), 120, 2, 0)
    path = str(tmp_path / "hopper")
    summary = mujoco_maker.write_episodes(path, "Hopper-v5", episodes, {"seed": 0, "behaviour": {"name": "x"}})
    assert summary["transitions"] == 120
    builder = rlds.load_builder(path)
    steps = builder.info.features["steps"]
    assert steps["action"].shape == (3,) and steps["observation"].shape == (11,)
    meta = rlds.metadata(builder)
    assert meta["env"] == "Hopper-v5" and meta["action_dim"] == 3 and meta["num_transitions"] == 120
    assert meta["behaviour"] == {"name": "x"}
    data = load_transitions([path, path])
    assert len(data) == 240
    first = episodes[0]["steps"]
    n = len(first["reward"]) - 1
    np.testing.assert_array_equal(data.observation[:n], first["observation"][:-1])
    np.testing.assert_array_equal(data.next_observation[:n], first["observation"][1:])
    np.testing.assert_array_equal(data.action[:n], first["action"][:-1])
    np.testing.assert_array_equal(data.terminal[:n], first["is_terminal"][1:])
    assert data.first[0] and data.first.sum() == 2 * len(episodes)


def test_make_dataset_measures_references_and_refuses_to_overwrite(tmp_path):
    out = str(tmp_path / "random")
    summary = mujoco_maker.make_mujoco_dataset(
        "HalfCheetah-v5",
        out,
        mujoco.random_act_fn,
        mujoco.random_params(6),
        {"name": "uniform_random"},
        num_transitions=100,
        seed=1,
        num_envs=2,
        reference_episodes=2,
        max_episode_steps=20,
        progress=False,
    )
    meta = rlds.metadata(rlds.load_builder(out))
    assert meta["num_transitions"] == 100 and meta["seed"] == 1
    assert np.isfinite(meta["random_return"]) and np.isfinite(meta["behaviour_return"])
    assert summary["episodes"] == 6 and meta["num_complete_episodes"] == 4  # 2 envs x (2 x 20 + a cut 10)
    with pytest.raises(FileExistsError, match="already exists"):
        mujoco_maker.make_mujoco_dataset(
            "HalfCheetah-v5",
            out,
            mujoco.random_act_fn,
            mujoco.random_params(6),
            {"name": "uniform_random"},
            num_transitions=10,
        )


def test_load_transitions_names_a_discrete_dataset(tiny_dataset):
    with pytest.raises(rlds.DatasetError, match="expected a continuous action vector"):
        load_transitions([tiny_dataset])


def test_replay_dataset_takes_whole_episodes_up_to_the_budget(tmp_path):
    sources = []
    for i, env_seed in enumerate((0, 1)):
        episodes = mujoco.collect_episodes("Hopper-v5", mujoco.random_act_fn, mujoco.random_params(3), 150, 2, env_seed)
        sources.append(
            mujoco_maker.write_episodes(
                str(tmp_path / f"d{i}"), "Hopper-v5", episodes, {"behaviour": {"name": f"policy{i}"}}
            )["path"]
        )
    out = str(tmp_path / "replay")
    summary = mujoco_maker.make_replay_dataset(sources, out, num_transitions=200, seed=0)
    assert summary["transitions"] == 200
    data = load_transitions([out])
    assert len(data) == 200
    every = load_transitions(sources)
    # each replayed transition is one of the sources'
    rows = {tuple(np.round(np.concatenate([o, a]), 5)) for o, a in zip(every.observation, every.action)}
    assert all(tuple(np.round(np.concatenate([o, a]), 5)) in rows for o, a in zip(data.observation, data.action))
    meta = rlds.metadata(rlds.load_builder(out))
    assert [s["behaviour"]["name"] for s in meta["behaviour"]["sources"]] == ["policy0", "policy1"]
    with pytest.raises(ValueError, match="fewer than num_transitions"):
        mujoco_maker.make_replay_dataset(sources, str(tmp_path / "big"), num_transitions=1000)
