"""Acme's core interfaces: the Learner (acme.core.Learner, a VariableSource), the Actor, and a rosmo agent in
acme.EnvironmentLoop on bsuite catch."""

import acme
import dm_env
import jax
import numpy as np
import pytest
from acme.utils import counting, loggers

from rosmo.agents.actor import Actor, FixedVariables
from rosmo.envs import bsuite as bsuite_envs
from rosmo.evaluation.loops import play_dm_env, play_environment_loop
from rosmo.suites import bsuite as bsuite_suite
from rosmo.training.learner import Learner, to_host
from tests.helpers import make_learner, small_config, synthetic_batch


class Recording(dm_env.Environment):
    """Passes through an env and records every observation the actor saw and every action it took."""

    def __init__(self, env):
        self._env, self.observations, self.actions = env, [], []

    def reset(self):
        ts = self._env.reset()
        self.observations.append(ts.observation)
        return ts

    def step(self, action):
        self.actions.append(int(action))
        ts = self._env.step(action)
        if not ts.last():
            self.observations.append(ts.observation)
        return ts

    def observation_spec(self):
        return self._env.observation_spec()

    def action_spec(self):
        return self._env.action_spec()


def same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.fixture(scope="module")
def learner():
    config = small_config(algo="rosmo", act_greedy=True)
    length = config.unroll_steps + config.td_steps + 1
    batches = (synthetic_batch(config.batch_size, length, seed=i) for i in range(1000))
    return make_learner(config), batches, config


def test_learner_is_an_acme_learner_and_variable_source(learner):
    learner, batches, config = learner
    assert isinstance(learner, acme.core.Learner) and isinstance(learner, acme.core.VariableSource)
    own = Learner(learner.agent, config, np.zeros((1, 10, 5), np.float32), iterator=batches)
    own.run(num_steps=2)  # acme.core.Learner.run -> step() on the iterator
    assert int(to_host(own.save().step)) == 2
    params, target = own.get_variables(["params", "target_params"])
    assert all(isinstance(x, np.ndarray) for x in jax.tree.leaves(params))
    assert same(params, own.params) and not same(params, target)  # 2 updates, no target copy yet
    with pytest.raises(KeyError, match="params"):
        own.get_variables(["policy"])
    with pytest.raises(ValueError, match="iterator"):
        learner.step()
    saved = own.save()
    own.step()
    own.restore(saved)
    assert int(to_host(own.state.step)) == 2


def test_rosmo_agent_acts_in_acme_environment_loop_on_catch(learner):
    learner, _, _ = learner
    env = Recording(bsuite_envs.make_env("catch", seed=3))
    actor = Actor(learner.agent.act, learner, seed=0)  # the learner is the variable source
    counter, memory = counting.Counter(), loggers.InMemoryLogger()
    acme.EnvironmentLoop(env, actor, counter=counter, logger=memory, should_update=False).run(num_episodes=5)
    assert counter.get_counts() == {"episodes": 5, "steps": 45}  # catch: 9 steps per episode
    assert [row["episode_length"] for row in memory.data] == [9] * 5
    assert set(float(row["episode_return"]) for row in memory.data) <= {-1.0, 1.0}
    # every action is the agent's own (greedy prior) choice on the observation it was given
    obs = np.stack(env.observations).astype(np.float32)
    expected = np.asarray(jax.jit(learner.agent.act)(learner.get_variables(["params"])[0], obs, jax.random.PRNGKey(1)))
    np.testing.assert_array_equal(env.actions, expected)
    # the same episodes as the project's lockstep loop with one env of the same seed
    make = lambda seed: bsuite_envs.make_env("catch", seed=seed)  # noqa: E731
    acme_run = play_environment_loop(make, learner.agent.act, learner.get_variables(["params"])[0], 20, seed=4)
    lockstep = play_dm_env(make, learner.agent.act, learner.get_variables(["params"])[0], 20, num_envs=1, seed=4)
    assert acme_run.returns == lockstep.returns and acme_run.env_steps == lockstep.env_steps == 180
    # update() pulls the learner's new parameters
    before = actor._params
    learner.step(synthetic_batch(32, 7, seed=99))
    actor.update()
    assert not same(before, actor._params) and same(actor._params, learner.params)


def test_fixed_variables_and_bsuite_play_through_acme(learner, monkeypatch):
    learner, _, _ = learner
    params = learner.get_variables(["params"])[0]
    with pytest.raises(KeyError, match="params"):
        FixedVariables({"params": params}).get_variables(["target_params"])
    calls = []
    real = bsuite_suite.play_environment_loop
    monkeypatch.setattr(bsuite_suite, "play_environment_loop", lambda *a, **k: calls.append(1) or real(*a, **k))
    episodes = bsuite_suite.SUITE.play("catch", learner.agent.act, params, {"env": "catch"}, 4, 1, seed=0)
    assert calls == [1] and episodes.num_envs == 1 and episodes.lengths == [9] * 4
    episodes = bsuite_suite.SUITE.play("catch", learner.agent.act, params, {"env": "catch"}, 4, 2, seed=0)
    assert calls == [1] and episodes.num_envs == 2  # more than one env: the lockstep loop
