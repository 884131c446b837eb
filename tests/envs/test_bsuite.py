"""BSuite env factory: shapes, dtypes, errors, reward noise, sticky actions."""

import numpy as np
import pytest

from rosmo.envs import bsuite as bsuite_envs
from rosmo.envs.bsuite import StickyActions, env_spec, make_env

EXPECTED_SHAPES = {"catch": (10, 5), "cartpole": (1, 6), "mountain_car": (1, 3)}


@pytest.mark.parametrize("name", sorted(EXPECTED_SHAPES))
def test_spec_and_observations(name):
    shape, num_actions = env_spec(name)
    assert shape == EXPECTED_SHAPES[name]
    assert num_actions == 3
    env = make_env(name, seed=3)
    timestep = env.reset()
    assert timestep.first()
    for action in (0, 1, 2, 1):
        assert timestep.observation.shape == shape
        assert timestep.observation.dtype == np.float32
        timestep = env.step(action)
    assert timestep.observation.shape == shape and timestep.observation.dtype == np.float32


def test_unknown_env_lists_valid_names():
    with pytest.raises(ValueError, match="catch, cartpole, mountain_car"):
        make_env("pong")
    with pytest.raises(ValueError, match="unknown BSuite env 'pong'"):
        env_spec("pong")


def test_seed_determines_episode():
    def first_obs(seed):
        return [make_env("catch", seed).reset().observation for _ in range(1)][0]

    catch_starts = {int(np.argmax(make_env("catch", s).reset().observation[0])) for s in range(20)}
    assert len(catch_starts) > 1  # different seeds drop the ball in different columns
    np.testing.assert_array_equal(first_obs(7), first_obs(7))


def _catch_rewards(reward_noise, seed=0, episodes=3):
    env = make_env("catch", seed=seed, reward_noise=reward_noise)
    rewards = []
    for _ in range(episodes):
        timestep = env.reset()
        while not timestep.last():
            timestep = env.step(1)
            rewards.append(timestep.reward)
    return np.asarray(rewards)


def test_reward_noise_changes_rewards():
    clean = _catch_rewards(0.0)
    noisy = _catch_rewards(0.1)
    assert set(np.unique(clean)) <= {-1.0, 0.0, 1.0}
    assert clean.shape == noisy.shape  # the noise wrapper does not change the dynamics
    diff = noisy - clean
    assert np.all(diff != 0.0)
    assert 0.03 < diff.std() < 0.3  # gaussian with scale 0.1
    np.testing.assert_array_equal(noisy, _catch_rewards(0.1))  # seeded


def _paddle_column(observation):
    return int(np.argmax(observation[-1]))


def test_sticky_actions_always_repeat_with_p1():
    env = make_env("catch", seed=0, sticky_action_prob=1.0)
    assert isinstance(env, StickyActions)
    timestep = env.reset()
    assert _paddle_column(timestep.observation) == 2
    timestep = env.step(0)  # first action of the episode is executed as asked: left
    assert _paddle_column(timestep.observation) == 1
    timestep = env.step(2)  # asked right, but the previous action (left) repeats
    assert env.last_action == 0
    assert _paddle_column(timestep.observation) == 0
    while not timestep.last():
        timestep = env.step(2)
        assert env.last_action == 0
    timestep = env.reset()  # a new episode has no previous action
    env.step(2)
    assert env.last_action == 2


def test_sticky_actions_never_repeat_with_p0():
    wrapped = StickyActions(make_env("catch", seed=0), prob=0.0, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        timestep = wrapped.reset()
        while not timestep.last():
            action = int(rng.integers(3))
            timestep = wrapped.step(action)
            assert wrapped.last_action == action


def test_sticky_actions_repeat_at_rate_p():
    wrapped = StickyActions(make_env("cartpole", seed=0), prob=0.25, seed=1)
    repeats = asked_other = 0
    timestep = wrapped.reset()
    for i in range(2000):
        if timestep.last():
            timestep = wrapped.reset()
        previous = wrapped.last_action
        action = i % 3
        timestep = wrapped.step(action)
        if previous is not None and previous != action:
            asked_other += 1
            repeats += wrapped.last_action == previous
    assert 0.2 < repeats / asked_other < 0.3


def test_invalid_wrapper_arguments():
    with pytest.raises(ValueError, match="sticky_action_prob"):
        make_env("catch", sticky_action_prob=1.5)
    with pytest.raises(ValueError, match="reward_noise"):
        make_env("catch", reward_noise=-1.0)
    assert bsuite_envs.ENV_NAMES == ("catch", "cartpole", "mountain_car")
