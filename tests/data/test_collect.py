"""`rosmo.data.collect`: RLDS steps of collected episodes keep the env's observation dtype."""

import dm_env
import numpy as np
import pytest
from dm_env import specs

from rosmo.data import collect


def test_episode_steps_flags_and_dtypes():
    obs = [np.full((2, 2, 1), i, np.uint8) for i in range(3)]
    steps = collect.episode_steps(obs, [4, 5], [1.0, 0.0], [1.0, 0.0], terminated=True)
    assert steps["observation"].dtype == np.uint8 and steps["observation"].shape == (3, 2, 2, 1)
    assert steps["action"].tolist() == [4, 5, 0] and steps["action"].dtype == np.int64
    assert steps["reward"].tolist() == [1.0, 0.0, 0.0] and steps["reward"].dtype == np.float32
    assert steps["discount"].tolist() == [1.0, 0.0, 0.0]
    assert steps["is_first"].tolist() == [True, False, False]
    assert steps["is_last"].tolist() == [False, False, True]
    assert steps["is_terminal"].tolist() == [False, False, True]
    truncated = collect.episode_steps(obs, [4, 5], [1.0, 0.0], [1.0, 1.0], False, observation_dtype=np.float32)
    assert truncated["observation"].dtype == np.float32
    assert truncated["discount"][-1] == 1.0 and not truncated["is_terminal"].any()
    with pytest.raises(ValueError, match="T \\+ 1 observations"):
        collect.episode_steps(obs, [4], [1.0], [1.0], False)


class Counter(dm_env.Environment):
    """Episodes of 3 steps; observation uint8 [1] = the step count; reward 1 per step; a termination."""

    def reset(self):
        self.t = 0
        return dm_env.restart(np.array([0], np.uint8))

    def step(self, action):
        self.t += 1
        obs = np.array([self.t], np.uint8)
        return dm_env.termination(1.0, obs) if self.t == 3 else dm_env.transition(1.0, obs)

    def observation_spec(self):
        return specs.Array((1,), np.uint8)

    def action_spec(self):
        return specs.DiscreteArray(2)


def test_collects_whole_episodes_until_enough_transitions():
    episodes = collect.collect_policy_episodes(Counter, lambda obs: 1, num_transitions=4)
    assert len(episodes) == 2  # the second episode is played to its end
    assert [e["episode_id"] for e in episodes] == [0, 1]
    for e in episodes:
        assert e["steps"]["observation"].dtype == np.uint8  # the env's observation_spec dtype
        assert e["steps"]["observation"][:, 0].tolist() == [0, 1, 2, 3]
        assert e["steps"]["action"].tolist() == [1, 1, 1, 0]
        assert e["episode_return"] == 3.0 and e["steps"]["is_terminal"][-1]
    with pytest.raises(ValueError, match="num_transitions"):
        collect.collect_policy_episodes(Counter, lambda obs: 1, num_transitions=0)
