"""MOPO-style uncertainty penalty on imagined rewards (a departure from BREMEN, off by default)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rosmo.agents.bremen import ConfigError, cpu_config
from rosmo.agents.bremen import dynamics, rollout
from rosmo.agents.bremen.config import validate_config

from tests.agents.bremen.test_rollout import _model_fn, _sample_fn  # the toy ensemble: member k shifts by k, pays k


def _never_done(o):
    return jnp.zeros(o.shape[0], bool)


def test_disagreement_by_hand_on_a_three_member_ensemble():
    # one state, O = 2: members predict (0, 0), (2, 0), (1, 3); ensemble mean (1, 1)
    # deviations (-1, -1), (1, -1), (0, 2); in units of scale (1, 2): (-1, -0.5), (1, -0.5), (0, 1)
    # norms sqrt(1.25), sqrt(1.25), 1 -> u = sqrt(1.25)
    next_obs = jnp.array([[[0.0, 0.0]], [[2.0, 0.0]], [[1.0, 3.0]]])  # [K=3, N=1, O=2]
    u = dynamics.disagreement(next_obs, jnp.array([1.0, 2.0]))
    assert u.shape == (1,)
    np.testing.assert_allclose(np.asarray(u), [math.sqrt(1.25)], rtol=1e-6)
    # members that agree: u = 0
    same = jnp.broadcast_to(jnp.array([[1.0, -2.0], [3.0, 4.0]]), (5, 2, 2))
    np.testing.assert_allclose(np.asarray(dynamics.disagreement(same, jnp.ones(2))), [0.0, 0.0], atol=1e-7)


def test_penalty_is_subtracted_from_every_imagined_reward():
    # _model_fn: members shift each of the O = 3 coordinates by 0, 1, 2, 3 (mean 1.5): the farthest member
    # deviates by 1.5 per coordinate -> u = 1.5 * sqrt(3) at every step, whatever the state
    u = 1.5 * math.sqrt(3.0)
    ufn = lambda nxt: dynamics.disagreement(nxt, jnp.ones(3))  # noqa: E731
    ro = rollout.imagine(
        jax.random.PRNGKey(0),
        _sample_fn,
        _model_fn,
        _never_done,
        jnp.zeros((20, 3)),
        6,
        uncertainty_fn=ufn,
        uncertainty_penalty=0.5,
    )
    member = np.asarray(ro.member, np.float32)
    np.testing.assert_allclose(np.asarray(ro.uncertainty), np.full(member.shape, u), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ro.reward), member - 0.5 * u, rtol=1e-6)
    # penalty 0: the reward is unchanged, the uncertainty still recorded
    ro0 = rollout.imagine(
        jax.random.PRNGKey(0),
        _sample_fn,
        _model_fn,
        _never_done,
        jnp.zeros((20, 3)),
        6,
        uncertainty_fn=ufn,
        uncertainty_penalty=0.0,
    )
    np.testing.assert_allclose(np.asarray(ro0.reward), np.asarray(ro0.member, np.float32))
    np.testing.assert_allclose(np.asarray(ro0.uncertainty), u, rtol=1e-6)


def test_penalty_stops_at_termination_and_defaults_off():
    ro = rollout.imagine(
        jax.random.PRNGKey(1),
        _sample_fn,
        _model_fn,
        lambda o: o[:, 0] > 5.0,
        jnp.zeros((30, 1)),
        20,
        uncertainty_fn=lambda nxt: dynamics.disagreement(nxt, jnp.ones(1)),
        uncertainty_penalty=2.0,
    )
    mask = np.asarray(ro.mask)
    assert not mask.all()
    assert np.all(np.asarray(ro.reward)[~mask] == 0.0) and np.all(np.asarray(ro.uncertainty)[~mask] == 0.0)
    np.testing.assert_allclose(np.asarray(ro.reward)[mask], np.asarray(ro.member, np.float32)[mask] - 2.0 * 1.5)
    c = cpu_config("HalfCheetah-v5")
    assert c.trpo.uncertainty_penalty == 0.0
    c.trpo.uncertainty_penalty = -1.0
    with pytest.raises(ConfigError):
        validate_config(c)


def test_state_change_scale_is_the_target_std_without_the_reward():
    norm = dynamics.Normalizer(jnp.zeros(4), jnp.array([1.0, 2.0, 3.0, 9.0]))
    ens = dynamics.Ensemble(None, None, norm, norm)
    np.testing.assert_allclose(np.asarray(dynamics.state_change_scale(ens)), [1.0, 2.0, 3.0])
