"""Hand-computed checks of rosmo.ops.value_transform."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rosmo.rl_libs import rlax

from rosmo import ops


def test_signed_hyperbolic_hand_values():
    # h(3) = sqrt(4) - 1 + 0.003 = 1.003; h(8) = sqrt(9) - 1 + 0.008 = 2.008.
    x = jnp.array([0.0, 3.0, -3.0, 8.0, -8.0])
    np.testing.assert_allclose(ops.signed_hyperbolic(x), [0.0, 1.003, -1.003, 2.008, -2.008], rtol=1e-6)
    # eps = 0: h(15) = sqrt(16) - 1 = 3.
    np.testing.assert_allclose(ops.signed_hyperbolic(15.0, eps=0.0), 3.0, rtol=1e-7)


def test_signed_parabolic_hand_values():
    np.testing.assert_allclose(
        ops.signed_parabolic(jnp.array([1.003, -1.003, 2.008, 0.0])),
        [3.0, -3.0, 8.0, 0.0],
        rtol=1e-6,
    )


def test_round_trip_small_negative_and_large():
    x = jnp.array([0.0, 1e-6, -1e-6, 1e-4, -0.5, 1.0, -7.25, 123.456, 1e4, -1e4, 1e6])
    back = ops.signed_parabolic(ops.signed_hyperbolic(x))
    np.testing.assert_allclose(back, x, rtol=1e-6, atol=1e-12)
    y = jnp.array([0.0, 0.3, -0.3, 5.0, -120.0, 300.0])
    np.testing.assert_allclose(ops.signed_hyperbolic(ops.signed_parabolic(y)), y, rtol=1e-6)


def test_support_is_the_integers_and_num_bins_is_checked():
    # one-hot on bin i decodes to i - m: the support of 5 bins is [-2, -1, 0, 1, 2], of 601 bins [-300 .. 300]
    np.testing.assert_array_equal(ops.two_hot_to_scalar(jnp.eye(5), 5), [-2.0, -1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(ops.support(5), [-2.0, -1.0, 0.0, 1.0, 2.0])
    ends = ops.two_hot_to_scalar(jnp.eye(601)[jnp.array([0, 300, 600])], 601)
    np.testing.assert_array_equal(ends, [-300.0, 0.0, 300.0])
    for bad in (2, 1, 0, -3):
        with pytest.raises(ValueError, match="num_bins"):
            ops.scalar_to_two_hot(0.0, bad)
        with pytest.raises(ValueError, match="num_bins"):
            ops.two_hot_to_scalar(jnp.ones((abs(bad),)), bad)


def test_even_num_bins_is_the_original_codes_support():
    # sail-sg/rosmo utils.py: max_val = (num_bins - 1) // 2, support arange(num_bins) - max_val, clip to ±max_val.
    # Its BSuite num_bins = 20: support [-9 .. 10], targets in [-9, 9] (the top bin is never a target).
    np.testing.assert_array_equal(ops.support(20), np.arange(-9, 11))
    np.testing.assert_array_equal(ops.support(4), [-1.0, 0.0, 1.0, 2.0])
    target = ops.scalar_to_two_hot(jnp.array([9.5, 9.0, -12.0, 2.25]), 20)
    expected = np.zeros((4, 20))
    expected[0, 18] = 1.0  # 9.5 is clipped to 9 = index 18, not spread onto the top bin (value 10)
    expected[1, 18] = 1.0
    expected[2, 0] = 1.0  # clipped to -9
    expected[3, 11], expected[3, 12] = 0.75, 0.25  # 2.25 between values 2 (index 11) and 3
    np.testing.assert_allclose(target, expected, atol=1e-6)
    np.testing.assert_allclose(ops.two_hot_to_scalar(target, 20), [9.0, 9.0, -9.0, 2.25], atol=1e-6)
    # Zero logits (the zero-initialised heads) decode to the support's mean +0.5, i.e. h^-1(0.5) > 0 raw.
    np.testing.assert_allclose(ops.two_hot_to_scalar(jax.nn.softmax(jnp.zeros(20)), 20), 0.5, atol=1e-6)
    raw = ops.logits_to_scalar(jnp.zeros((2, 20)), 20)
    np.testing.assert_allclose(ops.signed_hyperbolic(raw), 0.5, rtol=1e-5)
    # Round trip of raw values inside the effective range ±h^-1(9).
    x = jnp.array([-50.0, -1.0, 0.0, 3.0, 80.0])
    np.testing.assert_allclose(
        ops.signed_parabolic(ops.two_hot_to_scalar(ops.value_to_target_probs(x, 20), 20)), x, rtol=1e-4, atol=1e-4
    )
    # Odd counts are unchanged: the symmetric support.
    np.testing.assert_array_equal(ops.support(21), np.arange(-10, 11))


def test_two_hot_on_a_bin_is_one_hot():
    # support(11) = [-5..5]; value 2 is index 7.
    expected = np.zeros(11)
    expected[7] = 1.0
    np.testing.assert_array_equal(ops.scalar_to_two_hot(2.0, 11), expected)
    expected0 = np.zeros(11)
    expected0[5] = 1.0
    np.testing.assert_array_equal(ops.scalar_to_two_hot(0.0, 11), expected0)


def test_two_hot_between_bins():
    p = np.asarray(ops.scalar_to_two_hot(2.3, 11))
    expected = np.zeros(11)
    expected[7] = 0.7  # value 2
    expected[8] = 0.3  # value 3
    np.testing.assert_allclose(p, expected, atol=1e-6)


def test_two_hot_negative_between_bins():
    # -2.3 = 0.3 * (-3) + 0.7 * (-2).
    p = np.asarray(ops.scalar_to_two_hot(-2.3, 11))
    expected = np.zeros(11)
    expected[2] = 0.3  # value -3
    expected[3] = 0.7  # value -2
    np.testing.assert_allclose(p, expected, atol=1e-6)


def test_two_hot_beyond_edges_is_clipped():
    p = np.asarray(ops.scalar_to_two_hot(jnp.array([5.0, 7.5, 1e6, -5.0, -42.0]), 11))
    top = np.zeros(11)
    top[10] = 1.0
    bottom = np.zeros(11)
    bottom[0] = 1.0
    np.testing.assert_array_equal(p, [top, top, top, bottom, bottom])
    # Just under the top edge: 4.75 -> 0.25 on 4, 0.75 on 5.
    q = np.asarray(ops.scalar_to_two_hot(4.75, 11))
    np.testing.assert_allclose(q[9:], [0.25, 0.75], atol=1e-6)
    assert q[:9].sum() == 0.0


def test_decode_encode_is_clip():
    x = jnp.linspace(-8.0, 8.0, 97)
    probs = ops.scalar_to_two_hot(x, 11)
    assert probs.shape == (97, 11)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-6)
    assert float(probs.min()) >= 0.0
    np.testing.assert_allclose(ops.two_hot_to_scalar(probs, 11), np.clip(np.asarray(x), -5, 5), atol=1e-5)


def test_batch_dims_and_jit():
    x = jnp.array([[0.0, 1.5, -2.5], [3.0, -4.0, 10.0]])
    probs = jax.jit(ops.scalar_to_two_hot, static_argnums=1)(x, 9)
    assert probs.shape == (2, 3, 9)
    np.testing.assert_allclose(ops.two_hot_to_scalar(probs, 9), [[0.0, 1.5, -2.5], [3.0, -4.0, 4.0]], atol=1e-6)


def test_value_to_target_probs_and_logits_to_scalar():
    # h(3) = 1.003 -> 0.997 on bin value 1 (index 6), 0.003 on value 2 (index 7).
    p = np.asarray(ops.value_to_target_probs(3.0, 11))
    expected = np.zeros(11)
    expected[6] = 0.997
    expected[7] = 0.003
    np.testing.assert_allclose(p, expected, atol=1e-6)
    # Logits whose softmax is exactly that two-hot decode back to 3.
    logits = jnp.log(jnp.asarray(expected, jnp.float32))  # -inf off the two bins
    np.testing.assert_allclose(ops.logits_to_scalar(logits, 11), 3.0, rtol=1e-5)
    # Uniform logits -> expectation 0 -> value 0.
    np.testing.assert_allclose(ops.logits_to_scalar(jnp.zeros((4, 11)), 11), np.zeros(4), atol=1e-6)
    # Two equal logits on values 1 and 3 -> expectation 2 -> h^-1(2.008) = 8 with h(8)=2.008,
    # so decode(2) is slightly below 8: check h(decode) == 2 instead.
    logits2 = jnp.full((11,), -jnp.inf).at[6].set(0.0).at[8].set(0.0)
    np.testing.assert_allclose(ops.signed_hyperbolic(ops.logits_to_scalar(logits2, 11)), 2.0, rtol=1e-6)


def test_two_hot_to_scalar_checks_width():
    with pytest.raises(ValueError, match="num_bins"):
        ops.two_hot_to_scalar(jnp.ones((3, 7)) / 7, 9)


def test_same_maths_as_rlax_and_more_accurate_near_zero():
    """Why h, h^-1 and the encoding are not rlax's (module docstring): same formulas, rlax's lose f32 accuracy.

    If this starts failing because rlax became accurate, switch to rlax's functions.
    """
    big = jnp.array([1.0, -7.25, 123.456, 1e4, -1e4, 1e6])
    np.testing.assert_allclose(ops.signed_hyperbolic(big), rlax.signed_hyperbolic(big), rtol=1e-6)
    y = jnp.array([1.003, -2.008, 50.0, -300.0])
    np.testing.assert_allclose(ops.signed_parabolic(y), rlax.signed_parabolic(y), rtol=2e-4)
    # near 0 rlax's round trip is off by far more than f32 round-off, ours is not
    tiny = jnp.array([1e-6, -1e-4])
    ours = ops.signed_parabolic(ops.signed_hyperbolic(tiny))
    theirs = rlax.signed_parabolic(rlax.signed_hyperbolic(tiny))
    np.testing.assert_allclose(ours, tiny, rtol=1e-6)
    assert np.all(np.abs(np.asarray(theirs) / np.asarray(tiny) - 1.0) > 1e-2)
    assert abs(float(rlax.signed_parabolic(jnp.float32(1.003))) - 3.0) > 1e-4
    # rlax's two-hot weights carry its 1e-5 guard: 2.3 on 11 bins is 7e-6 off the exact 0.7 / 0.3
    exact = np.asarray(ops.scalar_to_two_hot(2.3, 11))[7:9]
    theirs = np.asarray(rlax.transform_to_2hot(jnp.float32(2.3), -5.0, 5.0, 11))[7:9]
    np.testing.assert_allclose(exact, [0.7, 0.3], atol=1e-7)
    assert np.abs(theirs - [0.7, 0.3]).max() > 5e-6
