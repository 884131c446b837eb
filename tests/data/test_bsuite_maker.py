"""BSuite dataset maker: a tiny catch dataset written, read back and checked; DQN pieces by hand."""

import os

import jax.numpy as jnp
import numpy as np
import pytest

from rosmo import cli
from rosmo.behaviour import dqn as dqn_lib
from rosmo.data import bsuite_maker, rlds

EPISODES = 30
REFERENCE_EPISODES = 5


@pytest.fixture(autouse=True)
def few_reference_episodes(monkeypatch):
    monkeypatch.setattr(bsuite_maker, "_MIN_REFERENCE_EPISODES", 1)
    monkeypatch.setattr(bsuite_maker, "_REFERENCE_MIN_GAP_SE", None)  # a 30-episode DQN has not learned


def _make(out, **kwargs):
    kwargs.setdefault("num_episodes", EPISODES)
    kwargs.setdefault("reference_episodes", REFERENCE_EPISODES)
    return bsuite_maker.make_bsuite_dataset("catch", str(out), progress=False, **kwargs)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The same seed made twice into different directories."""
    mp = pytest.MonkeyPatch()
    mp.setattr(bsuite_maker, "_MIN_REFERENCE_EPISODES", 1)
    mp.setattr(bsuite_maker, "_REFERENCE_MIN_GAP_SE", None)
    try:
        a = _make(tmp_path_factory.mktemp("a"), seed=3)
        b = _make(tmp_path_factory.mktemp("b"), seed=3)
    finally:
        mp.undo()
    return a, b


def _episodes(path):
    return list(rlds.iterate_episodes_numpy(rlds.load_builder(path)))


def test_summary_and_metadata(two_runs):
    summary, _ = two_runs
    assert summary["path"].endswith(os.path.join("", "catch"))
    assert summary["episodes"] == EPISODES
    assert summary["steps"] == EPISODES * 10  # catch: 9 transitions + the final observation
    assert summary["bytes"] == rlds.directory_size_bytes(summary["path"]) > 0
    meta = rlds.metadata(rlds.load_builder(summary["path"]))
    assert meta["env"] == "catch" and meta["seed"] == 3
    assert meta["num_episodes"] == EPISODES and meta["num_steps"] == summary["steps"]
    assert meta["observation_shape"] == [10, 5] and meta["num_actions"] == 3
    assert meta["reward_noise"] == 0.0 and meta["sticky_action_prob"] == 0.0
    assert meta["behaviour_agent"]["name"] == "double_dqn"
    assert meta["behaviour_agent"]["hyper_parameters"]["hidden_sizes"] == [64, 64]
    assert meta["reference_episodes"] == REFERENCE_EPISODES
    for key in ("random_return", "dqn_return"):
        assert -1.0 <= meta[key] <= 1.0
        assert meta[key] == pytest.approx(summary[key])
    assert meta["wall_time_s"] > 0
    text = bsuite_maker.summarize(summary["path"])
    assert "catch" in text and f"{EPISODES} episodes" in text and "random" in text


def test_episodes_follow_rlds_convention(two_runs):
    summary, _ = two_runs
    episodes = _episodes(summary["path"])
    assert [int(e["episode_id"]) for e in episodes] == list(range(EPISODES))
    total = 0
    for episode in episodes:
        steps = episode["steps"]
        n = len(steps["reward"])
        total += n
        assert steps["observation"].shape == (n, 10, 5) and steps["observation"].dtype == np.float32
        assert steps["action"].dtype == np.int64 and steps["reward"].dtype == np.float32
        np.testing.assert_array_equal(steps["is_first"], np.arange(n) == 0)
        np.testing.assert_array_equal(steps["is_last"], np.arange(n) == n - 1)
        np.testing.assert_array_equal(steps["is_terminal"], np.arange(n) == n - 1)  # catch always terminates
        assert steps["action"][-1] == 0 and steps["reward"][-1] == 0.0  # padding on the final step
        assert set(steps["action"][:-1]) <= {0, 1, 2}
        # catch: 0 until the ball lands, then +-1 with discount 0
        np.testing.assert_array_equal(steps["reward"][:-2], 0.0)
        assert steps["reward"][-2] in (-1.0, 1.0)
        np.testing.assert_array_equal(steps["discount"][:-2], 1.0)
        assert steps["discount"][-2] == 0.0
        assert episode["episode_return"] == pytest.approx(steps["reward"].sum())
        # the final observation: ball on the paddle row
        assert steps["observation"][-1, -1].sum() in (1.0, 2.0)
    assert total == summary["steps"]


def test_same_seed_gives_identical_episodes(two_runs):
    a, b = two_runs
    for ea, eb in zip(_episodes(a["path"]), _episodes(b["path"]), strict=True):
        assert ea["episode_return"] == eb["episode_return"]
        for key in ea["steps"]:
            np.testing.assert_array_equal(ea["steps"][key], eb["steps"][key])
    assert a["random_return"] == b["random_return"] and a["dqn_return"] == b["dqn_return"]


def test_refuses_to_overwrite_before_training(two_runs, monkeypatch):
    summary, _ = two_runs
    out = os.path.dirname(summary["path"])

    def no_training(*args, **kwargs):
        raise AssertionError("training started although the dataset exists")

    monkeypatch.setattr(dqn_lib, "DQN", no_training)
    with pytest.raises(FileExistsError, match=r"catch already exists.*--overwrite"):
        _make(out, seed=3)


def test_overwrite_replaces_dataset(tmp_path):
    _make(tmp_path, num_episodes=3)
    summary = _make(tmp_path, num_episodes=2, overwrite=True)
    assert summary["episodes"] == 2 and len(_episodes(summary["path"])) == 2
    assert sorted(os.listdir(tmp_path)) == ["catch"]


def test_no_temp_directory_left_after_an_exception(tmp_path, monkeypatch):
    calls = {"n": 0}
    original = dqn_lib.DQN.observe

    def failing_observe(self, *args):
        calls["n"] += 1
        if calls["n"] > 25:
            raise RuntimeError("boom")
        return original(self, *args)

    monkeypatch.setattr(dqn_lib.DQN, "observe", failing_observe)
    with pytest.raises(RuntimeError, match="boom"):
        _make(tmp_path, num_episodes=5)
    assert os.listdir(tmp_path) == []


def test_names_and_argument_errors(tmp_path):
    assert bsuite_maker.dataset_name("catch") == "catch"
    assert bsuite_maker.dataset_name("catch", reward_noise=0.1) == "catch_noise0.1"
    assert bsuite_maker.dataset_name("catch", sticky_action_prob=0.25) == "catch_sticky0.25"
    assert bsuite_maker.dataset_name("cartpole", 0.1, 0.25) == "cartpole_noise0.1_sticky0.25"
    with pytest.raises(ValueError, match="catch, cartpole, mountain_car"):
        bsuite_maker.make_bsuite_dataset("pong", str(tmp_path))
    with pytest.raises(ValueError, match="--episodes"):
        _make(tmp_path, num_episodes=0)
    with pytest.raises(ValueError, match="--reference-episodes"):
        _make(tmp_path, reference_episodes=0)
    assert os.listdir(tmp_path) == []


def test_truncated_episode_is_not_terminal():
    obs = [np.full((1, 3), i, np.float32) for i in range(3)]
    steps = bsuite_maker._episode_steps(obs, [2, 1], [-1.0, -1.0], [1.0, 1.0], terminated=False)
    np.testing.assert_array_equal(steps["is_terminal"], [False, False, False])
    np.testing.assert_array_equal(steps["is_last"], [False, False, True])
    np.testing.assert_array_equal(steps["action"], [2, 1, 0])
    np.testing.assert_array_equal(steps["reward"], [-1.0, -1.0, 0.0])
    np.testing.assert_array_equal(steps["discount"], [1.0, 1.0, 1.0])
    terminal = bsuite_maker._episode_steps(obs, [2, 1], [-1.0, -1.0], [1.0, 0.0], terminated=True)
    np.testing.assert_array_equal(terminal["is_terminal"], [False, False, True])
    np.testing.assert_array_equal(terminal["discount"], [1.0, 0.0, 0.0])


def test_cli_makes_dataset_and_refuses_existing(tmp_path, capsys):
    argv = [
        "dataset",
        "bsuite",
        "--env",
        "catch",
        "--out",
        str(tmp_path),
        "--episodes",
        "2",
        "--reference-episodes",
        "2",
        "--reward-noise",
        "0.1",
        "--no-progress",
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "catch: 2 episodes, 20 steps" in out and "dqn_return" in out
    meta = rlds.metadata(rlds.load_builder(str(tmp_path / "catch_noise0.1")))
    assert meta["reward_noise"] == 0.1
    assert cli.main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_double_q_loss_by_hand():
    q_tm1 = jnp.array([[1.0, 2.0], [0.0, 0.5]])
    q_t_online = jnp.array([[0.0, 1.0], [3.0, 0.0]])  # selects action 1, then action 0
    q_t_target = jnp.array([[10.0, 4.0], [2.0, 8.0]])
    action = jnp.array([0, 1])
    reward = jnp.array([1.0, -1.0])
    discount = jnp.array([0.5, 0.0])
    # td_0 = 1 + 0.5 * 4 - 1 = 2 -> huber = 0.5 + (2 - 1) = 1.5; td_1 = -1 + 0 - 0.5 = -1.5 -> huber 1.0
    loss = dqn_lib.double_q_loss(q_tm1, action, reward, discount, q_t_target, q_t_online, huber_delta=1.0)
    assert float(loss) == pytest.approx((1.5 + 1.0) / 2)


def test_replay_buffer_ring_and_epsilon_schedule():
    buf = dqn_lib.ReplayBuffer(capacity=3, observation_shape=(2,))
    for i in range(5):
        buf.add(np.full(2, i), i, float(i), 1.0, np.full(2, i + 1))
    assert buf.size == 3
    np.testing.assert_array_equal(sorted(buf.action), [2, 3, 4])  # the two oldest were overwritten
    batch = buf.sample(np.random.default_rng(0), (4, 7))
    assert batch["observation"].shape == (4, 7, 2) and batch["action"].shape == (4, 7)
    np.testing.assert_array_equal(batch["next_observation"][..., 0], batch["observation"][..., 0] + 1)
    config = dqn_lib.DQNConfig(epsilon_start=1.0, epsilon_end=0.1, epsilon_decay_steps=10, min_replay_size=100)
    agent = dqn_lib.DQN((2,), 3, config, seed=0)
    assert agent.epsilon == 1.0
    for _ in range(5):
        agent.observe(np.zeros(2), 0, 0.0, 1.0, np.zeros(2))
    assert agent.epsilon == pytest.approx(0.55)
    for _ in range(10):
        agent.observe(np.zeros(2), 0, 0.0, 1.0, np.zeros(2))
    assert agent.epsilon == pytest.approx(0.1) and agent.num_updates == 0  # below min_replay_size


def test_n_step_transitions_by_hand():
    config = dqn_lib.DQNConfig(discount=0.5, n_step=2, min_replay_size=100)
    agent = dqn_lib.DQN((1,), 3, config, seed=0)
    obs = [np.full(1, float(i)) for i in range(4)]
    agent.observe(obs[0], 0, 1.0, 1.0, obs[1])
    assert agent.replay.size == 0  # waits for the second reward
    agent.observe(obs[1], 1, 2.0, 1.0, obs[2])
    agent.observe(obs[2], 2, 3.0, 0.0, obs[3])  # termination flushes the rest
    n = agent.replay.size
    assert n == 3
    # R_0 = 1 + 0.5 * 2 = 2, D_0 = 0.25 -> o_2; R_1 = 2 + 0.5 * 3 = 3.5, D_1 = 0 -> o_3; R_2 = 3, D_2 = 0 -> o_3
    np.testing.assert_allclose(agent.replay.reward[:n], [2.0, 3.5, 3.0])
    np.testing.assert_allclose(agent.replay.discount[:n], [0.25, 0.0, 0.0])
    np.testing.assert_array_equal(agent.replay.action[:n], [0, 1, 2])
    np.testing.assert_array_equal(agent.replay.next_observation[:n, 0], [2.0, 3.0, 3.0])
    # a truncated episode (last, discount 1) also flushes, keeping the bootstrap discount
    agent.observe(obs[0], 1, 1.0, 1.0, obs[1], last=True)
    assert agent.replay.size == 4 and agent.replay.discount[3] == 0.5 and agent.replay.reward[3] == 1.0
