"""BREMEN gets its environment's functions from the mujoco suite; its own env list matches the suite's."""

import jax.numpy as jnp
import numpy as np

from rosmo.agents.bremen import config as bremen_config
from rosmo.envs import mujoco as mujoco_envs
from rosmo.suites import SUITES


def test_bremen_settings_cover_exactly_the_suite_envs():
    assert bremen_config.ENV_NAMES == mujoco_envs.ENV_NAMES


def test_the_suite_hands_bremen_the_env_functions():
    fns = SUITES["mujoco"].env_functions("ant")  # canonical name from the suite
    obs = jnp.zeros((3, 27)).at[:, 0].set(jnp.asarray([0.5, 0.1, 1.5]))  # Ant: healthy z in [0.2, 1.0]
    np.testing.assert_array_equal(np.asarray(fns.termination(obs)), [False, True, True])
    np.testing.assert_allclose(
        np.asarray(fns.reward(obs, jnp.zeros((3, 8)), obs)),
        np.asarray(mujoco_envs.reward_fn("Ant-v5")(obs, jnp.zeros((3, 8)), obs)),
    )
