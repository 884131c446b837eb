"""Imaginary rollouts: every step's ensemble member is drawn uniformly and used; terminations mask the rest."""

import jax
import jax.numpy as jnp
import numpy as np

from rosmo.agents.bremen import rollout
from rosmo.agents.bremen.learner import rollout_sampler
from rosmo.agents.bremen.networks import Normalizer, make_policy

K = 4


def _sample_fn(obs, key):
    return jnp.zeros((obs.shape[0], 2)), jnp.zeros(obs.shape[0])


def _model_fn(obs, action):
    """Member k moves every coordinate by k and pays reward k."""
    shift = jnp.arange(K, dtype=jnp.float32)
    return obs[None] + shift[:, None, None], jnp.broadcast_to(shift[:, None], (K, obs.shape[0]))


def test_rollout_picks_members_uniformly_and_uses_the_picked_one():
    num, horizon = 500, 40
    ro = rollout.imagine(
        jax.random.PRNGKey(0),
        _sample_fn,
        _model_fn,
        lambda o: jnp.zeros(o.shape[0], bool),
        jnp.zeros((num, 3)),
        horizon,
    )
    assert ro.observation.shape == (horizon + 1, num, 3)
    assert ro.member.shape == ro.reward.shape == (horizon, num)
    member = np.asarray(ro.member)
    counts = np.bincount(member.reshape(-1), minlength=K)
    expected = member.size / K
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 < 16.27, (counts, chi2)  # chi-square, 3 dof, p = 0.001
    # members differ across rollouts within a step and across steps within a rollout
    assert len(np.unique(member[0])) == K and len(np.unique(member[:, 0])) > 1
    np.testing.assert_array_equal(np.asarray(ro.reward), member.astype(np.float32))
    steps = np.diff(np.asarray(ro.observation)[..., 0], axis=0)
    np.testing.assert_array_equal(steps, member.astype(np.float32))
    assert bool(jnp.all(ro.mask))


def test_rollout_stops_at_termination():
    ro = rollout.imagine(jax.random.PRNGKey(1), _sample_fn, _model_fn, lambda o: o[:, 0] > 5.0, jnp.zeros((50, 1)), 30)
    mask, terminal = np.asarray(ro.mask), np.asarray(ro.terminal)
    assert terminal.sum(0).max() == 1 and terminal.any(0).all()  # each rollout ends exactly once
    first_end = terminal.argmax(0)
    for i in range(50):
        assert mask[: first_end[i] + 1, i].all() and not mask[first_end[i] + 1 :, i].any()
        assert np.all(np.asarray(ro.reward)[first_end[i] + 1 :, i] == 0.0)
        # the state freezes after the terminal transition
        obs = np.asarray(ro.observation)[:, i, 0]
        assert obs[first_end[i] + 1] > 5.0 and np.all(obs[first_end[i] + 1 :] == obs[first_end[i] + 1])


def test_rollout_clips_observations():
    ro = rollout.imagine(
        jax.random.PRNGKey(2),
        _sample_fn,
        _model_fn,
        lambda o: jnp.zeros(o.shape[0], bool),
        jnp.zeros((10, 2)),
        20,
        obs_low=jnp.array([-1.0, -1.0]),
        obs_high=jnp.array([3.0, 3.0]),
    )
    assert float(jnp.max(ro.observation)) <= 3.0


def test_known_reward_replaces_the_learned_one():
    # R(s, a, s') = s'_0 - s_0: the picked member's shift k, here times 10 to tell it from the learned reward k
    ro = rollout.imagine(
        jax.random.PRNGKey(3),
        _sample_fn,
        _model_fn,
        lambda o: jnp.zeros(o.shape[0], bool),
        jnp.zeros((20, 2)),
        10,
        reward_fn=lambda s, a, s2: 10.0 * (s2[:, 0] - s[:, 0]),
    )
    np.testing.assert_allclose(np.asarray(ro.reward), 10.0 * np.asarray(ro.member, np.float32))


def test_constant_noise_sampling_ignores_the_policy_std():
    policy = make_policy(2, (8,))
    params = policy.init(jax.random.PRNGKey(0), 3, init_log_std=0.0)  # std 1
    norm = Normalizer(jnp.zeros(3), jnp.ones(3))
    obs = jnp.ones((4000, 3))
    mean = policy.mean(params, obs)
    action, log_prob = rollout_sampler(policy, params, norm, 0.1)(obs, jax.random.PRNGKey(1))
    assert abs(float(jnp.std(action - mean)) - 0.1) < 0.005
    expected = policy.distribution(params, obs).log_prob(action)  # still pi's log-probability
    np.testing.assert_allclose(np.asarray(log_prob), np.asarray(expected), rtol=1e-5)
    action, _ = rollout_sampler(policy, params, norm, -1.0)(obs, jax.random.PRNGKey(1))
    assert abs(float(jnp.std(action - mean)) - 1.0) < 0.05
