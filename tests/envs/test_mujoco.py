"""MuJoCo collection (exact budget, RLDS flags, clipping, seeding), evaluation, and the jax termination rules."""

import jax.numpy as jnp
import numpy as np
import pytest

from rosmo.data.transitions import from_episodes
from rosmo.envs import mujoco


def random_episodes(env, num, seed=0, num_envs=4, max_episode_steps=None):
    _, act_dim = mujoco.env_spec(env)
    return mujoco.collect_episodes(
        env, mujoco.random_act_fn, mujoco.random_params(act_dim), num, num_envs, seed, max_episode_steps
    )


def test_env_specs():
    assert mujoco.env_spec("HalfCheetah-v5") == (17, 6)
    assert mujoco.env_spec("Hopper-v5") == (11, 3)
    with pytest.raises(ValueError, match="expected one of HalfCheetah-v5"):
        mujoco.env_spec("Pong")


def test_collect_exact_budget_and_rlds_flags():
    episodes = random_episodes("Hopper-v5", 400, num_envs=3)
    assert sum(len(e["steps"]["reward"]) - 1 for e in episodes) == 400
    for e in episodes:
        s = e["steps"]
        n = len(s["reward"])
        assert s["observation"].shape == (n, 11) and s["action"].shape == (n, 3)
        assert s["is_first"][0] and not s["is_first"][1:].any()
        assert s["is_last"][-1] and not s["is_last"][:-1].any()
        assert not s["is_terminal"][:-1].any()
        assert s["reward"][-1] == 0 and np.all(s["action"][-1] == 0)  # padding
        assert s["discount"][-1] == (0.0 if s["is_terminal"][-1] else 1.0)
        np.testing.assert_allclose(e["episode_return"], s["reward"].sum(), rtol=1e-5)
        if not e["complete"]:
            assert not s["is_terminal"][-1]  # cut by the budget: truncated
    assert any(e["steps"]["is_terminal"][-1] for e in episodes)  # a random hopper falls
    assert [e["complete"] for e in episodes] == sorted((e["complete"] for e in episodes), reverse=True)


def test_collect_is_seeded_and_time_limits_truncate():
    a = random_episodes("HalfCheetah-v5", 250, seed=3, num_envs=2, max_episode_steps=50)
    b = random_episodes("HalfCheetah-v5", 250, seed=3, num_envs=2, max_episode_steps=50)
    c = random_episodes("HalfCheetah-v5", 250, seed=4, num_envs=2, max_episode_steps=50)
    np.testing.assert_array_equal(a[0]["steps"]["observation"], b[0]["steps"]["observation"])
    assert not np.allclose(a[0]["steps"]["observation"], c[0]["steps"]["observation"])
    complete = [e for e in a if e["complete"]]
    assert len(complete) == 4 and all(len(e["steps"]["reward"]) == 51 for e in complete)
    assert not any(e["steps"]["is_terminal"][-1] for e in a)  # HalfCheetah never terminates


def test_actions_are_clipped_before_the_env_and_in_the_log():
    def too_big(params, obs, key):
        return jnp.full((obs.shape[0], 6), 5.0)

    episodes = mujoco.collect_episodes("HalfCheetah-v5", too_big, None, 20, 2, 0, max_episode_steps=10)
    np.testing.assert_array_equal(episodes[0]["steps"]["action"][:-1], 1.0)


@pytest.mark.parametrize("env", ["Hopper-v5", "Walker2d-v5"])
def test_termination_fn_matches_the_env(env):
    data = from_episodes(random_episodes(env, 600, seed=1))
    done = np.asarray(mujoco.termination_fn(env)(jnp.asarray(data.next_observation)))
    assert data.terminal.sum() > 5
    np.testing.assert_array_equal(done, data.terminal)


def test_termination_fn_halfcheetah_and_ant():
    obs = jnp.zeros((4, 17))
    assert not mujoco.termination_fn("HalfCheetah-v5")(obs).any()
    ant = jnp.zeros((3, 105)).at[:, 0].set(jnp.array([0.5, 0.1, jnp.nan]))
    np.testing.assert_array_equal(np.asarray(mujoco.termination_fn("Ant-v5")(ant)), [False, True, True])


def test_evaluate_plays_every_episode_to_its_end():
    result = mujoco.evaluate(
        "HalfCheetah-v5", mujoco.random_act_fn, mujoco.random_params(6), 5, num_envs=2, seed=0, max_episode_steps=30
    )
    assert result["episodes"] == 5 and result["lengths"] == [30] * 5 and result["env_steps"] == 150
    assert len(result["returns"]) == 5 and result["iqm_return_ci95"][0] <= result["iqm_return"]
    np.testing.assert_allclose(result["mean_return"], np.mean(result["returns"]))


def test_reward_fn_hand_computed():
    obs, next_obs = np.zeros((1, 17), np.float32), np.zeros((1, 17), np.float32)
    obs[0, 8], next_obs[0, 8] = 1.0, 3.0
    action = np.full((1, 6), 0.5, np.float32)
    # HalfCheetah: mean x velocity 2 - 0.1 * 6 * 0.25
    np.testing.assert_allclose(np.asarray(mujoco.reward_fn("HalfCheetah-v5")(obs, action, next_obs)), [1.85], rtol=1e-6)
    # Walker2d: same velocity index, ctrl 1e-3, healthy +1
    np.testing.assert_allclose(np.asarray(mujoco.reward_fn("Walker2d-v5")(obs, action, next_obs)), [2.9985], rtol=1e-6)


@pytest.mark.parametrize("env", ["HalfCheetah-v5", "Hopper-v5"])
def test_reward_fn_tracks_the_env_reward(env):
    e = mujoco.make_env(env)
    obs, _ = e.reset(seed=0)
    rng = np.random.default_rng(0)
    ours, theirs = [], []
    for _ in range(200):
        action = rng.uniform(-1, 1, e.action_space.shape).astype(np.float32)
        next_obs, reward, term, trunc, _ = e.step(action)
        ours.append(float(mujoco.reward_fn(env)(obs[None], action[None], next_obs[None])[0]))
        theirs.append(reward)
        obs = e.reset()[0] if term or trunc else next_obs
    assert np.corrcoef(ours, theirs)[0, 1] > 0.9
