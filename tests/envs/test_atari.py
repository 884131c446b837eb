"""Atari under the RL Unplugged protocol: preprocessing, single vs vector env, reference scores."""

import cv2
import dm_env
import numpy as np
import pytest

import ale_py
from ale_py import roms

from rosmo.envs import atari
from rosmo.envs.atari import AtariEnv, AtariVectorEnv
from rosmo.data.rlds import tfds
from rosmo.envs import reference_scores as rs


def _raw_ale(game: str, seed: int, sticky: float) -> "ale_py.ALEInterface":
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    ale = ale_py.ALEInterface()
    ale.setFloat("repeat_action_probability", sticky)
    ale.setInt("random_seed", seed)
    ale.loadROM(roms.get_rom_path(atari.rom_id(game)))
    ale.reset_game()
    return ale


def _resize(frame):
    return cv2.resize(frame, (84, 84), interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------


def test_game_names_accept_camel_and_snake_case():
    assert atari.game_name("pong") == "Pong"
    assert atari.game_name("Pong") == "Pong"
    assert atari.game_name("ms_pacman") == "MsPacman"
    assert atari.rom_id("MsPacman") == "ms_pacman"
    assert atari.rom_id("UpNDown") == "up_n_down"


def test_unknown_game_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown Atari game 'Pongg'.*Pong.*SpaceInvaders"):
        AtariEnv("Pongg", seed=0)


# ---------------------------------------------------------------------------
# Preprocessing (single env)
# ---------------------------------------------------------------------------


def test_specs_and_protocol_defaults():
    env = AtariEnv("Pong", seed=0)
    assert env.observation_spec().shape == (84, 84, 4)
    assert env.observation_spec().dtype == np.uint8
    assert env.action_spec().num_values == 6  # Pong's minimal action set
    assert env.sticky_action_prob == 0.25
    assert env._ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    assert env.max_episode_frames == 108_000 and env.frame_skip == 4
    proto = atari.protocol()
    assert proto["noop_max"] == 0 and proto["terminal_on_life_loss"] is False and proto["reward_clipping"] is False


def test_reset_is_zero_padded_resized_grayscale_screen():
    env = AtariEnv("Breakout", seed=3)
    ts = env.reset()
    assert ts.step_type == dm_env.StepType.FIRST
    obs = ts.observation
    assert obs.shape == (84, 84, 4) and obs.dtype == np.uint8
    np.testing.assert_array_equal(obs[..., :3], 0)  # no frames before the episode's first
    expected = _resize(_raw_ale("Breakout", 3, 0.25).getScreenGrayscale())
    np.testing.assert_array_equal(obs[..., 3], expected)
    assert obs[..., 3].max() > 0


def test_step_is_frame_skip_4_max_of_last_two_frames_and_stacks():
    """Without sticky actions the protocol is deterministic: compare with raw ALE by hand."""
    env = AtariEnv("Breakout", seed=5, sticky_action_prob=0.0)
    ale = _raw_ale("Breakout", 5, 0.0)
    actions = ale.getMinimalActionSet()
    first = env.reset().observation[..., -1]
    frames = [first]
    for a in [1, 2, 3, 0]:  # FIRE, RIGHT, LEFT, NOOP
        ts = env.step(a)
        screens = []
        for _ in range(4):
            ale.act(actions[a])
            screens.append(ale.getScreenGrayscale())
        frames.append(_resize(np.maximum(screens[2], screens[3])))
        np.testing.assert_array_equal(ts.observation[..., -1], frames[-1])
    obs = ts.observation
    for j in range(4):  # oldest -> newest
        np.testing.assert_array_equal(obs[..., j], frames[1 + j])
    assert env.episode_frames == 16


def test_one_step_after_reset_keeps_two_zero_frames():
    env = AtariEnv("Pong", seed=0)
    env.reset()
    obs = env.step(0).observation
    np.testing.assert_array_equal(obs[..., :2], 0)
    assert obs[..., 2].max() > 0 and obs[..., 3].max() > 0


def test_rewards_are_unclipped():
    env = AtariEnv("SpaceInvaders", seed=0)
    env.reset()
    rng = np.random.default_rng(0)
    rewards = [env.step(rng.integers(env.num_actions)).reward for _ in range(200)]
    assert max(rewards) > 1.0  # invaders are worth 5..30 points
    assert all(isinstance(r, np.float32) for r in rewards)


def test_frame_cap_is_truncation_then_auto_reset():
    env = AtariEnv("Pong", seed=0, max_episode_frames=40)  # 10 agent steps
    env.reset()
    steps = [env.step(0) for _ in range(10)]
    assert [s.last() for s in steps] == [False] * 9 + [True]
    assert steps[-1].discount == 1.0  # truncated, not terminal
    nxt = env.step(0)
    assert nxt.first() and env.episode_frames == 0


def test_game_over_is_termination_with_zero_discount():
    env = AtariEnv("Breakout", seed=0)
    env.reset()
    rng = np.random.default_rng(0)
    for _ in range(2000):
        ts = env.step(rng.integers(env.num_actions))
        if ts.last():
            break
    assert ts.last() and ts.discount == 0.0
    assert env.lives() == 0  # no terminal on life loss: the episode ends with the game


def test_bad_action_names_game_and_range():
    env = AtariEnv("Pong", seed=0)
    env.reset()
    with pytest.raises(ValueError, match="action 6 out of range for Pong"):
        env.step(6)


# ---------------------------------------------------------------------------
# Single vs vector env
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("game,cap,steps", [("Breakout", 108_000, 420), ("Pong", 160, 130)])
def test_vector_env_matches_single_envs_step_for_step(game, cap, steps):
    """Sub-env i of a vector env reset with `seed` == AtariEnv(game, seed + i): obs, rewards, flags."""
    n, seed = 3, 11
    vec = AtariVectorEnv(game, n, seed, max_episode_frames=cap, num_threads=1)
    singles = [AtariEnv(game, seed + i, max_episode_frames=cap) for i in range(n)]
    obs = vec.reset()
    assert obs.shape == (n, 84, 84, 4) and obs.dtype == np.uint8
    for i, env in enumerate(singles):
        np.testing.assert_array_equal(obs[i], env.reset().observation)
    rng = np.random.default_rng(0)
    ends = {"terminated": 0, "truncated": 0}
    for t in range(steps):
        a = rng.integers(vec.num_actions, size=n)
        obs, reward, terminated, truncated = vec.step(a)
        assert reward.dtype == np.float32 and terminated.dtype == bool
        for i, env in enumerate(singles):
            ts = env.step(a[i])
            np.testing.assert_array_equal(obs[i], ts.observation, err_msg=f"step {t} env {i}")
            assert vec.is_first[i] == ts.first()
            assert reward[i] == (0.0 if ts.first() else ts.reward)
            assert terminated[i] == (ts.last() and ts.discount == 0.0)
            assert truncated[i] == (ts.last() and ts.discount == 1.0)
        ends["terminated"] += int(terminated.sum())
        ends["truncated"] += int(truncated.sum())
    vec.close()
    # Each case covers episode ends and the auto-reset after them.
    assert ends["terminated"] > 0 if game == "Breakout" else ends["truncated"] >= 2 * n


def test_vector_env_rejects_bad_actions():
    vec = AtariVectorEnv("Pong", 2, 0, num_threads=1)
    vec.reset()
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        vec.step(np.zeros(3, np.int32))
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        vec.step(np.array([0, 6]))
    vec.close()


# ---------------------------------------------------------------------------
# Reference scores
# ---------------------------------------------------------------------------


def test_reference_table_covers_the_46_rlu_games():
    configs = tfds.builder_cls("rlu_atari").BUILDER_CONFIGS  # "Pong_run_1", ...: TFDS's own list of games
    assert set(rs.ATARI_GAMES) == {c.name.rsplit("_run_", 1)[0] for c in configs}
    assert len(rs.ATARI_GAMES) == 46
    for game in rs.ATARI_GAMES:
        s = rs.atari_scores(game)
        assert s["dqn"] > s["random"], game
        atari.rom_id(game)  # every RLU game has a ROM in ale-py
    assert rs.atari_scores("Carnival")["human"] is None
    assert rs.atari_scores("Pooyan")["human"] is None


def test_reference_scores_lookup():
    assert rs.atari_scores("pong") == {"random": -20.3, "dqn": 18.25, "human": 14.6, "human_random": -20.7}
    assert rs.atari_scores("ms_pacman") == rs.atari_scores("MsPacman")
    with pytest.raises(KeyError, match="Tetris"):
        rs.atari_scores("Tetris")
