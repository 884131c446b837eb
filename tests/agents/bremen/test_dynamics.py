"""The dynamics ensemble fits a known linear system; behaviour cloning recovers a known linear policy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rosmo.agents.bremen import bc, dynamics, networks
from rosmo.data.transitions import Transitions


def _linear_system(num, seed):
    rng = np.random.default_rng(seed)
    a_mat = np.array([[0.1, -0.2, 0.0], [0.0, 0.05, 0.3], [-0.1, 0.0, 0.2]])
    b_mat = np.array([[1.0, 0.0], [0.5, -1.0], [0.0, 2.0]])
    c, d = np.array([1.0, -1.0, 0.5]), np.array([0.3, -0.2])
    s = rng.normal(size=(num, 3)).astype(np.float32)
    a = rng.uniform(-1, 1, size=(num, 2)).astype(np.float32)
    s_next = (s + s @ a_mat.T + a @ b_mat.T).astype(np.float32)
    r = (s @ c + a @ d).astype(np.float32)
    return Transitions(s, a, r, s_next, np.zeros(num, bool), np.zeros(num, bool))


def test_ensemble_fits_a_known_linear_system():
    data = _linear_system(4000, 0)
    ensemble, metrics = dynamics.train_ensemble(
        data,
        (64, 64),
        jax.random.PRNGKey(0),
        num_members=3,
        learning_rate=3e-3,
        batch_size=128,
        max_epochs=8,
        steps_per_epoch=300,
        patience=3,
    )
    assert ensemble.num_members == 3 and len(metrics["dynamics_val_loss"]) == 3
    test = _linear_system(500, 1)
    next_obs, reward = dynamics.predict(ensemble, test.observation, test.action)
    assert next_obs.shape == (3, 500, 3) and reward.shape == (3, 500)
    delta = test.next_observation - test.observation
    for k in range(3):
        rel_state = np.mean((np.asarray(next_obs[k]) - test.next_observation) ** 2) / np.var(delta)
        rel_reward = np.mean((np.asarray(reward[k]) - test.reward) ** 2) / np.var(test.reward)
        assert rel_state < 0.01 and rel_reward < 0.01, (k, rel_state, rel_reward)
    # members were initialised differently
    first = jax.tree.leaves(ensemble.params)[0]
    assert not np.allclose(np.asarray(first[0]), np.asarray(first[1]))


def test_early_stopping_stops_before_max_epochs_on_noise():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(300, 2)).astype(np.float32)
    noise = Transitions(
        s,
        rng.normal(size=(300, 1)).astype(np.float32),
        rng.normal(size=300).astype(np.float32),
        rng.normal(size=(300, 2)).astype(np.float32),
        np.zeros(300, bool),
        np.zeros(300, bool),
    )
    _, metrics = dynamics.train_ensemble(
        noise,
        (64, 64),
        jax.random.PRNGKey(0),
        num_members=2,
        learning_rate=1e-2,
        batch_size=64,
        max_epochs=200,
        steps_per_epoch=50,
        patience=2,
    )
    assert metrics["dynamics_epochs"] < 200


def test_behaviour_cloning_recovers_a_linear_policy():
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(3000, 4)).astype(np.float32) * 3 + 1
    w = np.array([[0.2, -0.1], [0.0, 0.3], [-0.2, 0.1], [0.1, 0.0]], np.float32)
    actions = obs @ w + 0.01 * rng.normal(size=(3000, 2)).astype(np.float32)
    policy = networks.make_policy(2, (64, 64))
    params, norm, metrics = bc.train_bc(
        policy,
        obs,
        actions,
        jax.random.PRNGKey(0),
        learning_rate=3e-3,
        num_steps=3000,
        eval_every=500,
        init_log_std=0.0,
    )
    test = rng.normal(size=(200, 4)).astype(np.float32) * 3 + 1
    pred = np.asarray(policy.mean(params, networks.normalize(norm, test)))
    assert np.mean((pred - test @ w) ** 2) / np.var(test @ w) < 0.02
    np.testing.assert_array_equal(np.asarray(params["log_std"]), [0.0, 0.0])  # Normal(pi_beta, 1)
    assert metrics["bc_val_loss"] < 0.01


def test_policy_std_from_the_cloning_residuals():
    # a = obs @ w + N(0, diag(0.1, 0.4)^2): re-initialised from the data, pi's std is the behaviour's spread
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(4000, 4)).astype(np.float32)
    w = np.array([[0.2, -0.1], [0.0, 0.3], [-0.2, 0.1], [0.1, 0.0]], np.float32)
    actions = obs @ w + np.array([0.1, 0.4], np.float32) * rng.normal(size=(4000, 2)).astype(np.float32)
    policy = networks.make_policy(2, (64, 64))
    params, _, metrics = bc.train_bc(
        policy,
        obs,
        actions,
        jax.random.PRNGKey(0),
        learning_rate=3e-3,
        num_steps=3000,
        eval_every=500,
        validation_fraction=0.25,
        log_std_from_residuals=True,
    )
    np.testing.assert_allclose(np.exp(np.asarray(params["log_std"])), [0.1, 0.4], rtol=0.15)
    assert metrics["bc_init_std"] == pytest.approx(float(np.mean(np.exp(np.asarray(params["log_std"])))))
    # the floor: a noiseless behaviour gives min_std, not log(0)
    x = jnp.zeros((5, 4))
    exact = bc.residual_log_std(policy, params["net"], x, policy.net.apply(params["net"], x), min_std=0.05)
    np.testing.assert_allclose(np.asarray(exact), np.log([0.05, 0.05]), rtol=1e-6)
