"""Hand-computed checks of rosmo.ops.policy_targets."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rosmo import ops

E = math.e
LN2 = math.log(2.0)


def test_one_step_policy_target_three_actions_by_hand():
    # prior (0.5, 0.25, 0.25); value 1, discount 0.5:
    # adv = r + 0.5 * v' - 1 = (1 + 1 - 1, 0 + 1 - 1, 0.5 + 0.5 - 1) = (1, 0, 0)
    # pi* ∝ (0.5 e, 0.25, 0.25) -> (e / (e + 1), 1 / (2 (e + 1)), 1 / (2 (e + 1)))
    prior_logits = jnp.log(jnp.array([0.5, 0.25, 0.25])) + 3.0  # shift must not matter
    target, adv = ops.one_step_policy_target(
        prior_logits,
        rewards=jnp.array([1.0, 0.0, 0.5]),
        next_values=jnp.array([2.0, 2.0, 1.0]),
        value=jnp.array(1.0),
        discount=0.5,
    )
    np.testing.assert_allclose(adv, [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(target, [E / (E + 1), 1 / (2 * (E + 1)), 1 / (2 * (E + 1))], rtol=1e-6)
    np.testing.assert_allclose(target, [0.7310585786, 0.1344707107, 0.1344707107], rtol=1e-6)


def test_one_step_policy_target_two_actions_batched():
    # Uniform prior over 2 actions, adv = (ln 3, 0) -> pi* = (3/4, 1/4);
    # second row: adv = (0, 0) -> pi* = prior = (0.2, 0.8).
    prior_logits = jnp.log(jnp.array([[0.5, 0.5], [0.2, 0.8]]))
    target, adv = ops.one_step_policy_target(
        prior_logits,
        rewards=jnp.array([[math.log(3.0), 0.0], [0.0, 0.0]]),
        next_values=jnp.zeros((2, 2)),
        value=jnp.zeros((2,)),
        discount=0.9,
    )
    assert target.shape == adv.shape == (2, 2)
    np.testing.assert_allclose(target, [[0.75, 0.25], [0.2, 0.8]], rtol=1e-6)


def test_one_step_policy_target_large_advantage_is_stable():
    target, _ = ops.one_step_policy_target(
        jnp.zeros(3), jnp.array([1000.0, 0.0, -1000.0]), jnp.zeros(3), jnp.array(0.0), 0.9
    )
    assert np.all(np.isfinite(target))
    np.testing.assert_allclose(target, [1.0, 0.0, 0.0], atol=1e-7)


def test_sampled_weights_by_hand():
    # N=2, adv (0, 0): w_i = 1 / ((1 + 1) / 2) = 1.
    np.testing.assert_allclose(ops.sampled_policy_weights(jnp.zeros(2)), [1.0, 1.0], rtol=1e-6)
    # N=2, adv (ln 2, 0): w0 = 2 / ((1 + 1) / 2) = 2, w1 = 1 / ((1 + 2) / 2) = 2/3.
    np.testing.assert_allclose(ops.sampled_policy_weights(jnp.array([LN2, 0.0])), [2.0, 2.0 / 3.0], rtol=1e-6)
    # Batched [2, 3]; row 2: adv (0, ln 2, 0): w1 = 3*2 / (1+1+1) = 2, w0 = w2 = 3 / (1+2+1).
    w = ops.sampled_policy_weights(jnp.array([[0.0, 0.0, 0.0], [0.0, LN2, 0.0]]))
    np.testing.assert_allclose(w, [[1.0, 1.0, 1.0], [0.75, 2.0, 0.75]], rtol=1e-6)
    # N=1: z = 1 / 1 -> w = exp(adv).
    np.testing.assert_allclose(ops.sampled_policy_weights(jnp.array([[LN2]])), [[2.0]], rtol=1e-6)


def test_sampled_weights_huge_advantages_stay_finite():
    # adv (1000, 1000, 999): w0 = w1 = 3 e^1000 / (1 + e^1000 + e^999) = 3 / (1 + 1/e),
    # w2 = 3 e^999 / (1 + 2 e^1000) = 3 / (2e). Naive exp() would overflow.
    w = ops.sampled_policy_weights(jnp.array([1000.0, 1000.0, 999.0]))
    assert np.all(np.isfinite(w))
    np.testing.assert_allclose(w, [3 / (1 + 1 / E), 3 / (1 + 1 / E), 3 / (2 * E)], rtol=1e-5)
    # Very negative advantages: w_i -> N e^adv_i -> 0, never NaN.
    w = ops.sampled_policy_weights(jnp.array([-1000.0, -1000.0]))
    np.testing.assert_array_equal(w, [0.0, 0.0])
    # One dominant sample with clipping to [-1, 1]: adv -> (1, 0, 0):
    # w0 = 3e / (1 + 2) = e, w1 = w2 = 3 / (1 + e + 1).
    w = ops.sampled_policy_weights(jnp.array([1000.0, 0.0, 0.0]), clip=1.0)
    np.testing.assert_allclose(w, [E, 3 / (2 + E), 3 / (2 + E)], rtol=1e-6)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _mean_sampled_target(key, num_samples, repeats, prior_logits, adv_per_action):
    actions = jax.random.categorical(key, prior_logits, shape=(repeats, num_samples))
    weights = ops.sampled_policy_weights(adv_per_action[actions])
    return ops.sampled_policy_target(actions, weights, prior_logits.shape[-1]).mean(0)


def test_sampled_estimator_approaches_exact_target():
    prior = jnp.array([0.5, 0.3, 0.2])
    adv = jnp.array([1.0, -0.5, 0.3])
    exact, _ = ops.one_step_policy_target(jnp.log(prior), adv, jnp.zeros(3), jnp.array(0.0), 0.9)
    # By hand: prior * e^adv = (1.35914, 0.18196, 0.26997), sum 1.81108.
    np.testing.assert_allclose(exact, [0.75046, 0.10047, 0.14907], atol=1e-5)
    key = jax.random.PRNGKey(0)
    errors = []
    for n in (2, 16, 256):
        q = _mean_sampled_target(jax.random.fold_in(key, n), n, 1000, jnp.log(prior), adv)
        errors.append(float(jnp.abs(q - exact).sum()))
    # The leave-one-out normaliser's bias shrinks like 1/N.
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[0] > 0.2 and errors[2] < 0.02, errors


def test_sampled_policy_loss_by_hand_and_matches_cross_entropy():
    logits = jnp.log(jnp.array([0.5, 0.25, 0.25]))
    actions = jnp.array([0, 0, 2])
    weights = jnp.array([1.0, 2.0, 3.0])
    # -(1/3) (1 ln .5 + 2 ln .5 + 3 ln .25) = -(1/3)(9 ln .5) = 3 ln 2.
    loss = ops.sampled_policy_loss(logits, actions, weights)
    np.testing.assert_allclose(loss, 3 * LN2, rtol=1e-6)
    q = ops.sampled_policy_target(actions, weights, 3)
    np.testing.assert_allclose(q, [1.0, 0.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(optax.softmax_cross_entropy(logits, q), 3 * LN2, rtol=1e-6)  # q is not normalised
    # Batched [B=2, N=3].
    loss_b = ops.sampled_policy_loss(
        jnp.stack([logits, logits]), jnp.stack([actions, actions]), jnp.stack([weights, 0 * weights])
    )
    np.testing.assert_allclose(loss_b, [3 * LN2, 0.0], rtol=1e-6, atol=1e-7)


def test_cross_entropy_by_hand():
    logits = jnp.log(jnp.array([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]]))
    target = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    # -ln .5 = ln 2; -(.5 ln .25 + .5 ln .25) = 2 ln 2.
    np.testing.assert_allclose(optax.softmax_cross_entropy(logits, target), [LN2, 2 * LN2], rtol=1e-6)


def test_filtered_bc_zeroes_negative_advantage_and_masked():
    logits = jnp.tile(jnp.log(jnp.array([0.5, 0.25, 0.25])), (5, 1))
    actions = jnp.array([0, 1, 2, 1, 0])
    adv = jnp.array([1.0, -0.1, 0.0, 2.0, -5.0])
    mask = jnp.array([1.0, 1.0, 1.0, 0.0, 1.0])
    loss = ops.filtered_bc_loss(logits, actions, adv, mask)
    # kept: (0: -ln .5), (2: adv 0 counts as >= 0: -ln .25); dropped: negative adv, masked.
    np.testing.assert_allclose(loss, [LN2, 0.0, 2 * LN2, 0.0, 0.0], rtol=1e-6, atol=1e-7)
    # Gradient flows only through kept positions.
    grad = jax.grad(lambda l: ops.filtered_bc_loss(l, actions, adv, mask).sum())(logits)
    np.testing.assert_allclose(grad[1], 0.0)
    np.testing.assert_allclose(grad[3], 0.0)
    np.testing.assert_allclose(grad[0], [-0.5, 0.25, 0.25], rtol=1e-6)


def test_uniform_where():
    probs = jnp.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    out = ops.uniform_where(jnp.array([True, False]), probs)
    np.testing.assert_allclose(out, [[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)


def test_filtered_bc_strict_drops_zero_advantage():
    # The original code's heaviside(adv, 0): adv == 0 is dropped.
    logits = jnp.tile(jnp.log(jnp.array([0.5, 0.25, 0.25])), (3, 1))
    loss = ops.filtered_bc_loss(logits, jnp.array([0, 2, 1]), jnp.array([1.0, 0.0, -1.0]), jnp.ones(3), strict=True)
    np.testing.assert_allclose(loss, [LN2, 0.0, 0.0], rtol=1e-6, atol=1e-7)


def test_shaped_advantages_in_the_one_step_target():
    # Uniform prior over 2 actions, adv = (2 ln 3, 0).
    args = (jnp.zeros(2), jnp.array([2 * math.log(3.0), 0.0]), jnp.zeros(2), jnp.array(0.0), 0.9)
    np.testing.assert_allclose(ops.one_step_policy_target(*args)[0], [0.9, 0.1], rtol=1e-6)
    # temperature 2: exp(adv / 2) = (3, 1) -> (3/4, 1/4); the returned adv is unshaped
    target, adv = ops.one_step_policy_target(*args, temperature=2.0)
    np.testing.assert_allclose(target, [0.75, 0.25], rtol=1e-6)
    np.testing.assert_allclose(adv, [2 * math.log(3.0), 0.0], rtol=1e-6)
    # clip at ln 3: exp(ln 3) = 3 -> (3/4, 1/4); clip and temperature together: exp(ln 3 / 2) = sqrt 3
    np.testing.assert_allclose(ops.one_step_policy_target(*args, clip=math.log(3.0))[0], [0.75, 0.25], rtol=1e-6)
    s3 = math.sqrt(3.0)
    np.testing.assert_allclose(
        ops.one_step_policy_target(*args, clip=math.log(3.0), temperature=2.0)[0],
        [s3 / (s3 + 1), 1 / (s3 + 1)],
        rtol=1e-6,
    )
    np.testing.assert_allclose(ops.shape_advantages(jnp.array([-5.0, 0.5, 5.0]), 1.0, 0.5), [-2.0, 1.0, 2.0])
    np.testing.assert_allclose(ops.shape_advantages(jnp.array([-5.0, 5.0])), [-5.0, 5.0])  # defaults: unchanged
