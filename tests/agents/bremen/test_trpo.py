"""TRPO maths: conjugate gradient, GAE against a hand-computed case, the KL trust region after the line search."""

from rosmo.rl_libs import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rosmo.agents.bremen import trpo

STEP = jax.jit(trpo.trpo_step, static_argnums=(0,), static_argnames=("cg_iters", "max_backtracks"))


def test_conjugate_gradient_solves_a_known_spd_system():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(8, 8))
    a = m @ m.T + 8 * np.eye(8)  # SPD
    x_true = rng.normal(size=8)
    b = a @ x_true
    x = trpo.conjugate_gradient(lambda v: jnp.asarray(a, jnp.float32) @ v, jnp.asarray(b, jnp.float32), num_iters=8)
    np.testing.assert_allclose(np.asarray(x), x_true, rtol=1e-3, atol=1e-3)
    # fewer iterations: an approximation, not the solution, but a decreasing residual
    r2 = np.linalg.norm(
        a
        @ np.asarray(
            trpo.conjugate_gradient(lambda v: jnp.asarray(a, jnp.float32) @ v, jnp.asarray(b, jnp.float32), num_iters=2)
        )
        - b
    )
    r4 = np.linalg.norm(
        a
        @ np.asarray(
            trpo.conjugate_gradient(lambda v: jnp.asarray(a, jnp.float32) @ v, jnp.asarray(b, jnp.float32), num_iters=4)
        )
        - b
    )
    assert r4 < r2


def test_conjugate_gradient_diagonal_system_in_one_step_per_distinct_eigenvalue():
    a = jnp.diag(jnp.array([2.0, 2.0, 5.0]))
    b = jnp.array([2.0, 4.0, 10.0])
    np.testing.assert_allclose(trpo.conjugate_gradient(lambda v: a @ v, b, num_iters=2), [1.0, 2.0, 2.0], rtol=1e-5)


def test_gae_hand_computed():
    # delta_0 = 1 + 0.9 * 1 - 0.5 = 1.4, delta_1 = 2 + 0 * 2 - 1 = 1.0, delta_2 = 3 + 0.9 * 4 - 2 = 4.6
    # A_2 = 4.6, A_1 = 1.0 + 0 * 0.5 * 4.6 = 1.0 (terminal cuts), A_0 = 1.4 + 0.9 * 0.5 * 1.0 = 1.85
    reward = jnp.array([[1.0], [2.0], [3.0]])
    discount = jnp.array([[0.9], [0.0], [0.9]])
    values = jnp.array([[0.5], [1.0], [2.0], [4.0]])
    adv = trpo.gae(reward, discount, values, 0.5)
    np.testing.assert_allclose(np.asarray(adv)[:, 0], [1.85, 1.0, 4.6], rtol=1e-6)
    # columns are independent sequences
    two = trpo.gae(
        jnp.concatenate([reward, 2 * reward], 1),
        jnp.concatenate([discount, discount], 1),
        jnp.concatenate([values, 2 * values], 1),
        0.5,
    )
    np.testing.assert_allclose(np.asarray(two)[:, 1], 2 * np.array([1.85, 1.0, 4.6]), rtol=1e-6)


def _dist_fn(params, obs):
    return distrax.MultivariateNormalDiag(
        obs @ params["w"], jnp.broadcast_to(jnp.exp(params["log_std"]), (obs.shape[0], 2))
    )


def _linear_policy():
    return _dist_fn  # one function object: jitted steps compile once


def _batch(dist_fn, params, advantage_fn, seed=0, num=512):
    key_o, key_a = jax.random.split(jax.random.PRNGKey(seed))
    obs = jax.random.normal(key_o, (num, 3))
    dist = dist_fn(params, obs)
    action = dist.sample(seed=key_a)
    return trpo.Batch(obs, action, dist.log_prob(action), advantage_fn(action), jnp.ones(num))


def _kl_closed_form(mu_new, std_new, mu_old, std_old):
    """KL(N(mu_new, std_new^2) || N(mu_old, std_old^2)), summed over action dims, averaged over the batch."""
    kl = np.log(std_old / std_new) + (std_new**2 + (mu_new - mu_old) ** 2) / (2 * std_old**2) - 0.5
    return float(np.mean(np.sum(kl, -1)))


@pytest.mark.parametrize("max_kl", [0.001, 0.01, 0.1])
def test_trpo_step_keeps_the_kl_constraint_and_improves_the_surrogate(max_kl):
    dist_fn = _linear_policy()
    params = {"w": jnp.zeros((3, 2)), "log_std": jnp.zeros(2)}
    batch = _batch(dist_fn, params, lambda a: a @ jnp.array([1.0, -2.0]))  # prefers a along (1, -2)
    new, info = STEP(dist_fn, params, batch, max_kl=max_kl, cg_iters=10, cg_damping=0.01)
    assert bool(info["accepted"])
    obs = np.asarray(batch.observation)
    kl = _kl_closed_form(
        obs @ np.asarray(new["w"]),
        np.exp(np.asarray(new["log_std"])),
        obs @ np.asarray(params["w"]),
        np.exp(np.asarray(params["log_std"])),
    )
    assert 0.0 < kl <= max_kl * (1 + 1e-4)
    np.testing.assert_allclose(kl, float(info["kl"]), rtol=1e-3)
    assert float(trpo.surrogate(dist_fn, new, batch)) > float(trpo.surrogate(dist_fn, params, batch))
    # a natural-gradient step of the right size uses much of the trust region
    assert kl > 0.3 * max_kl


def test_trpo_step_keeps_the_parameters_when_nothing_can_improve():
    dist_fn = _linear_policy()
    params = {"w": jnp.ones((3, 2)) * 0.1, "log_std": jnp.zeros(2)}
    batch = _batch(dist_fn, params, lambda a: jnp.zeros(a.shape[0]))  # zero advantages: no improving step
    new, info = STEP(dist_fn, params, batch, max_kl=0.01, cg_iters=10, cg_damping=0.01)
    assert not bool(info["accepted"])
    assert float(info["step_fraction"]) == 0.0
    np.testing.assert_array_equal(np.asarray(new["w"]), np.asarray(params["w"]))


def test_masked_steps_do_not_count():
    dist_fn = _linear_policy()
    params = {"w": jnp.zeros((3, 2)), "log_std": jnp.zeros(2)}
    batch = _batch(dist_fn, params, lambda a: a[:, 0])
    half = batch._replace(
        mask=jnp.concatenate([jnp.ones(256), jnp.zeros(256)]),
        advantage=jnp.concatenate([batch.advantage[:256], 1e6 * jnp.ones(256)]),
    )
    first = trpo.Batch(*(x[:256] for x in batch))
    np.testing.assert_allclose(
        float(trpo.surrogate(dist_fn, params, half)), float(trpo.surrogate(dist_fn, params, first)), rtol=1e-5
    )
