"""Local rlu_atari datasets (`rosmo dataset atari`) and the RL Unplugged Atari loader."""

import json
import os

import numpy as np
import pytest

from rosmo.data import atari_maker, rlds
from rosmo.data import rlu_atari
from rosmo.envs.atari import AtariEnv

tfds = rlds.tfds

GAME, SEED, NUM_ENVS, CAP, STEPS = "Pong", 4, 2, 400, 300  # 100-step episodes, 150 steps per env


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("atari"))
    atari_maker.make_dataset(
        GAME, STEPS, root, policy="random", seed=SEED, num_envs=NUM_ENVS, max_episode_frames=CAP, show_progress=False
    )
    return root


@pytest.fixture(scope="module")
def episodes(data_dir):
    builder = tfds.builder("rlu_atari/Pong_run_1", data_dir=data_dir)
    return list(rlds.iterate_episodes_numpy(builder))


# ---------------------------------------------------------------------------
# Episode form (hand-computed)
# ---------------------------------------------------------------------------


def test_episode_to_rlds_terminal_episode():
    frames = np.arange(4 * 84 * 84, dtype=np.int64).reshape(4, 84, 84).astype(np.uint8)
    ep = atari_maker.episode_to_rlds(frames, [2, 0, 5], [2.0, -3.0, 0.5], terminated=True, episode_id=7)
    s = ep["steps"]
    assert s["observation"].shape == (4, 84, 84, 1) and s["observation"].dtype == np.uint8
    np.testing.assert_array_equal(s["observation"][..., 0], frames)
    np.testing.assert_array_equal(s["action"], [2, 0, 5, 0])
    np.testing.assert_array_equal(s["reward"], np.float32([1.0, -1.0, 0.5, 0.0]))  # clipped, padded
    np.testing.assert_array_equal(s["discount"], np.float32([1, 1, 0, 0]))  # TFDS's shifted RLU discounts
    np.testing.assert_array_equal(s["is_first"], [True, False, False, False])
    np.testing.assert_array_equal(s["is_last"], [False, False, False, True])
    np.testing.assert_array_equal(s["is_terminal"], [False, False, False, True])
    assert ep["episode_return"] == np.float32(0.5) and ep["episode_id"] == 7 and ep["checkpoint_id"] == 0


def test_episode_to_rlds_truncated_episode():
    frames = np.zeros((3, 84, 84), np.uint8)
    ep = atari_maker.episode_to_rlds(frames, [1, 1], [0.0, 1.0], terminated=False, episode_id=0)
    np.testing.assert_array_equal(ep["steps"]["discount"], np.ones(3, np.float32))
    assert not ep["steps"]["is_terminal"].any() and ep["steps"]["is_last"][-1]
    with pytest.raises(ValueError, match="T\\+1 frames"):
        atari_maker.episode_to_rlds(frames, [1], [0.0], terminated=False, episode_id=0)


# ---------------------------------------------------------------------------
# The maker, read back through TFDS's own rlu_atari builder
# ---------------------------------------------------------------------------


def test_layout_and_schema_match_the_tfds_builder(data_dir):
    from tensorflow_datasets.rl_unplugged import atari_utils

    version_dir = os.path.join(data_dir, "rlu_atari", "Pong_run_1", "1.3.0")
    assert os.path.exists(os.path.join(version_dir, "dataset_info.json"))
    builder = tfds.builder("rlu_atari/Pong_run_1", data_dir=data_dir)
    assert type(builder).__name__ == "RluAtari"
    assert builder.info.full_name == "rlu_atari/Pong_run_1/1.3.0"
    assert builder.info.features.to_json() == atari_utils.features_dict().to_json()
    assert list(builder.info.splits.keys()) == ["train"]
    meta = rlds.metadata(builder)
    assert meta["game"] == "Pong" and meta["seed"] == SEED and meta["num_actions"] == 6
    assert meta["protocol"]["sticky_action_prob"] == 0.25


def test_episodes_hold_steps_and_flags(data_dir, episodes):
    meta = rlds.metadata(tfds.builder("rlu_atari/Pong_run_1", data_dir=data_dir))
    # 150 steps per env: one 100-step episode (frame cap) then 50 steps cut at the budget.
    assert sorted(len(e["steps"]["action"]) - 1 for e in episodes) == [50, 50, 100, 100]
    assert meta["num_transitions"] == STEPS and meta["num_episodes"] == 4
    assert sorted(e["episode_id"] for e in episodes) == [0, 1, 2, 3]
    for e in episodes:
        s = e["steps"]
        assert s["observation"].shape[1:] == (84, 84, 1) and s["observation"].dtype == np.uint8
        assert s["is_first"][0] and s["is_first"].sum() == 1
        assert s["is_last"][-1] and s["is_last"].sum() == 1
        assert not s["is_terminal"].any()  # truncations only
        np.testing.assert_array_equal(s["discount"], 1.0)
        assert s["action"][-1] == 0 and s["reward"][-1] == 0
        assert set(np.unique(s["reward"])) <= {-1.0, 0.0, 1.0}
        assert e["episode_return"] == pytest.approx(s["reward"].sum())
        assert e["checkpoint_id"] == 0


def _replays(episode, seed) -> bool:
    """Whether replaying the episode's actions in a fresh AtariEnv(seed) gives its frames, rewards and end."""
    env = AtariEnv(GAME, seed, max_episode_frames=CAP)
    s = episode["steps"]
    if not np.array_equal(env.reset().observation[..., -1], s["observation"][0, ..., 0]):
        return False
    for t, a in enumerate(s["action"][:-1]):
        ts = env.step(a)
        if not np.array_equal(ts.observation[..., -1], s["observation"][t + 1, ..., 0]):
            return False
        if np.clip(ts.reward, -1, 1) != s["reward"][t]:
            return False
    return ts.last()


def test_recorded_steps_replay_in_the_single_env(episodes):
    """o_t, a_t, r_t line up: sub-env i's first episode is AtariEnv(seed + i) driven by the logged actions."""
    full = [e for e in episodes if len(e["steps"]["action"]) == 101]  # the first episode of each sub-env
    assert len(full) == NUM_ENVS
    for i in range(NUM_ENVS):
        assert sum(_replays(e, SEED + i) for e in full) == 1, f"sub-env {i}"


def test_refuses_to_overwrite(data_dir, capsys):
    with pytest.raises(FileExistsError, match="--overwrite"):
        atari_maker.make_dataset(GAME, 10, data_dir, seed=SEED, num_envs=1, show_progress=False)
    from rosmo import cli

    assert cli.main(["dataset", "atari", "--game", "Pong", "--steps", "10", "--out", data_dir, "--no-progress"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (
        cli.main(["dataset", "atari", "--game", "Pong", "--steps", "10", "--out", data_dir + "/x", "--policy", "ckpt"])
        == 2
    )
    assert "--policy ckpt: ckpt is neither a run directory" in capsys.readouterr().err


def test_cli_overwrite_writes_a_new_dataset(tmp_path):
    from rosmo import cli

    args = [
        "dataset",
        "atari",
        "--game",
        "pong",
        "--steps",
        "12",
        "--num-envs",
        "2",
        "--out",
        str(tmp_path),
        "--no-progress",
    ]
    assert cli.main(args) == 0
    assert cli.main(args + ["--overwrite", "--seed", "1", "--run", "1"]) == 0
    meta = json.load(open(os.path.join(atari_maker.dataset_dir(str(tmp_path), "Pong", 1), "metadata.json")))
    assert meta["seed"] == 1 and meta["num_transitions"] == 12


# ---------------------------------------------------------------------------
# The loader on the local dataset
# ---------------------------------------------------------------------------


def test_loader_reads_every_window_of_the_local_dataset_once(data_dir, episodes):
    K, n = 2, 3
    L = K + n + 1
    it = rlu_atari.make_rlu_atari_loader(
        GAME,
        1,
        data_dir=data_dir,
        unroll_steps=K,
        td_steps=n,
        batch_size=1,
        with_ids=True,
        repeat=False,
        episodes_in_flight=2,
    )
    by_id = {int(e["episode_id"]): e["steps"] for e in episodes}
    count = 0
    for b in it:
        s, start = by_id[int(b["episode_id"][0])], int(b["start"][0])
        T = len(s["action"])
        frames = np.concatenate(
            [np.zeros((3, 84, 84), np.uint8), s["observation"][..., 0], np.zeros((L, 84, 84), np.uint8)]
        )
        np.testing.assert_array_equal(
            b["observation"][0], np.stack([frames[start + j : start + j + L] for j in range(4)], -1)
        )
        real = min(L, T - start)
        for k in ("action", "reward", "discount", "is_first", "is_last", "is_terminal"):
            np.testing.assert_array_equal(b[k][0, :real], s[k][start : start + real], err_msg=k)
            assert not b[k][0, real:].any()  # zero padding after the episode's last step
        count += 1
    assert count == sum(len(s["action"]) for s in by_id.values())


def test_loader_batches_shapes_and_dtypes(data_dir):
    it = rlu_atari.make_rlu_atari_loader(
        "pong", 1, data_dir=data_dir, unroll_steps=5, td_steps=5, batch_size=4, seed=3, episodes_in_flight=2
    )
    for _ in range(3):
        b = next(it)
    shapes = {k: (v.shape, v.dtype) for k, v in b.items()}
    assert shapes == {
        "observation": ((4, 11, 84, 84, 4), np.uint8),
        "action": ((4, 11), np.int32),
        "reward": ((4, 11), np.float32),
        "discount": ((4, 11), np.float32),
        "is_first": ((4, 11), np.bool_),
        "is_last": ((4, 11), np.bool_),
        "is_terminal": ((4, 11), np.bool_),
    }
    # Wherever an episode starts, the three older frames are blank.
    assert np.all(b["observation"][b["is_first"]][..., :3] == 0)


def test_loader_errors_name_the_problem(tmp_path, data_dir):
    with pytest.raises(rlds.DatasetError, match="data_dir .* does not exist"):
        rlu_atari.make_rlu_atari_loader(
            "Pong", 1, data_dir=str(tmp_path / "nope"), unroll_steps=1, td_steps=1, batch_size=2
        )
    with pytest.raises(rlds.DatasetError, match="rlu_atari/Breakout_run_1 has no data under data_dir"):
        rlu_atari.make_rlu_atari_loader("Breakout", 1, data_dir=data_dir, unroll_steps=1, td_steps=1, batch_size=2)
    with pytest.raises(rlds.DatasetError, match="split\\(s\\) \\['checkpoint_00'\\] not found"):
        rlu_atari.make_rlu_atari_loader(
            "Pong", 1, data_dir=data_dir, unroll_steps=1, td_steps=1, batch_size=2, splits=["checkpoint_00"]
        )
