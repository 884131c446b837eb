"""Value transform and categorical (two-hot) encoding of scalars.

MuZero-family agents predict values and rewards as categorical distributions
over an integer support, after squashing the scalar with the invertible
transform ``h``:

    h(x)      = sign(x) * (sqrt(|x| + 1) - 1) + eps * x        (signed_hyperbolic)
    h^{-1}(y) = exact closed-form inverse                        (signed_parabolic)

A scalar ``y`` (already transformed) is written as a "two-hot" distribution on
the integer support ``support(num_bins) = [-m, ..., num_bins - 1 - m]`` with
``m = (num_bins - 1) // 2``: clip ``y`` to ``[-m, m]``, then put weight
``1 - frac`` on ``floor(y)`` and ``frac`` on ``floor(y) + 1`` so that the
expectation over the support is ``y`` again.

An odd ``num_bins`` (our default, e.g. 51 or 601) gives the symmetric support
``[-m, m]``. An even ``num_bins`` gives the ROSMO code's layout
(``arange(num_bins) - (num_bins - 1) // 2``, targets clipped to ``±m``): its
BSuite ``num_bins = 20`` is the support ``[-9, ..., 10]`` with targets in
``[-9, 9]``, so the top bin is never a target, and zero logits decode to
``+0.5`` (transformed scale), not 0.

Decoding is rlax's (``rlax.transform_from_2hot``). ``h``, ``h^{-1}`` and the
encoding are written here because rlax's versions of the same formulas lose
accuracy in f32 (measured against float64, see the functions and
``tests/ops/test_value_transform.py``):

- ``rlax.signed_hyperbolic`` computes ``sqrt(|x| + 1) - 1`` directly: relative
  error 4.6e-2 at ``|x| = 1e-6`` and 1e-3 at ``1e-4``, so it no longer
  round-trips with an exact inverse near 0.
- ``rlax.signed_parabolic`` computes ``sqrt(1 + 4 eps (...)) / 2eps - 1 / 2eps``
  (two numbers ~500 subtracted): absolute error up to 4.8e-4 for ``|y| <= 2``,
  relative 8.8e-5 for ``1 <= |y| <= 300``; ``h^{-1}(1.003)`` comes out
  2.99976 instead of 3. Ours is accurate to 3e-6 / 5.4e-7 there.
- ``rlax.transform_to_2hot`` divides by ``upper - lower + 1e-5`` (a guard
  for a value on a bin), which moves ~1e-5 of the weight to the upper bin
  (7e-6 for 2.3 on 11 bins), and rescales ``(y - min) / (max - min) *
  (num_bins - 1)`` in f32, which at 601 bins leaves weights off by up to 6e-5.
  With an integer support, ``frac = y - floor(y)`` is exact in f32.

All functions are pure ``jnp`` and work on arbitrary leading batch dims.
``num_bins`` must be a static Python int.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rosmo.rl_libs import rlax

Array = jax.Array

DEFAULT_EPS = 1e-3


def signed_hyperbolic(x: Array, eps: float = DEFAULT_EPS) -> Array:
    """h(x) = sign(x) * (sqrt(|x| + 1) - 1) + eps * x.

    Args:
      x: f[...] scalars.
      eps: the small linear term that makes ``h`` invertible with a
        Lipschitz inverse (1e-3 in MuZero / ROSMO).

    ``sqrt(|x| + 1) - 1`` is evaluated as ``|x| / (sqrt(|x| + 1) + 1)`` to
    stay accurate for tiny ``|x|``.

    Returns:
      f[...] transformed values, same shape as ``x``.
    """
    x = jnp.asarray(x, dtype=jnp.result_type(x, jnp.float32))
    a = jnp.abs(x)
    # sqrt(a + 1) - 1 written as a / (sqrt(a + 1) + 1): no cancellation near 0.
    return jnp.sign(x) * a / (jnp.sqrt(a + 1.0) + 1.0) + eps * x


def signed_parabolic(y: Array, eps: float = DEFAULT_EPS) -> Array:
    """Exact inverse of :func:`signed_hyperbolic`.

    For ``y >= 0`` write ``s = sqrt(x + 1)``; ``h(x) = y`` becomes
    ``eps * s^2 + s - (1 + eps + y) = 0``, so with ``D = 1 + 4 eps (1 + eps + y)``

        s - 1 = 4 y (y + 1 + eps) / ((1 + sqrt(D)) * (1 + 2 eps + 2 y + sqrt(D)))
        x     = (s - 1) * (s + 1)

    This rationalised form has no catastrophic cancellation, so the round
    trip ``signed_parabolic(signed_hyperbolic(x))`` is accurate near 0 as well
    as for large ``|x|``. Negative inputs use odd symmetry.

    Args:
      y: f[...] transformed values.
      eps: must match the ``eps`` used in :func:`signed_hyperbolic`.

    Returns:
      f[...] scalars ``x`` with ``h(x) = y``.
    """
    y = jnp.asarray(y, dtype=jnp.result_type(y, jnp.float32))
    a = jnp.abs(y)
    sqrt_d = jnp.sqrt(1.0 + 4.0 * eps * (1.0 + eps + a))
    s_minus_1 = 4.0 * a * (a + 1.0 + eps) / ((1.0 + sqrt_d) * (1.0 + 2.0 * eps + 2.0 * a + sqrt_d))
    return jnp.sign(y) * s_minus_1 * (s_minus_1 + 2.0)


def _check_num_bins(num_bins: int) -> int:
    """``m = (num_bins - 1) // 2``, the largest target magnitude; checks ``num_bins``."""
    if isinstance(num_bins, bool) or not isinstance(num_bins, int):
        raise ValueError(
            f"rosmo.ops.value_transform: num_bins must be a static Python int, "
            f"got {num_bins!r} of type {type(num_bins).__name__}."
        )
    if num_bins < 3:
        raise ValueError(
            f"rosmo.ops.value_transform: num_bins must be >= 3 (odd: symmetric "
            f"support; even: the ROSMO code's layout), got num_bins={num_bins}."
        )
    return (num_bins - 1) // 2


def support(num_bins: int) -> Array:
    """Integer support ``arange(num_bins) - (num_bins - 1) // 2``.

    Args:
      num_bins: int >= 3 (static). Odd: symmetric ``[-m, ..., m]``; even: the
        ROSMO code's ``[-m, ..., m + 1]`` (module docstring).

    Returns:
      f32[num_bins], e.g. ``support(5) == [-2, -1, 0, 1, 2]``,
      ``support(20) == [-9, ..., 10]``.

    Raises:
      ValueError: if ``num_bins`` is smaller than 3 or not an int.
    """
    half = _check_num_bins(num_bins)
    return jnp.arange(num_bins, dtype=jnp.float32) - half


def scalar_to_two_hot(x: Array, num_bins: int) -> Array:
    """Two-hot encoding of ``x`` on the integer support ``[-m, ..., m]``.

    ``x`` is clipped to ``[-m, m]`` (``m = (num_bins - 1) // 2``); with
    ``lo = floor(x)`` and ``frac = x - lo`` the bin of value ``lo`` gets
    ``1 - frac`` and the bin of value ``lo + 1`` gets ``frac``. An ``x`` exactly
    on an integer is one-hot. ``two_hot_to_scalar(scalar_to_two_hot(x)) ==
    clip(x, -m, m)``.

    Args:
      x: f[...] scalars (already value-transformed if desired).
      num_bins: int >= 3 (static).

    Returns:
      f32[..., num_bins] probabilities summing to 1 on the last axis.
    """
    half = _check_num_bins(num_bins)
    x = jnp.clip(jnp.asarray(x, jnp.float32), -half, half)
    lo = jnp.floor(x)
    frac = x - lo
    lo_index = (lo + half).astype(jnp.int32)
    # At the top edge (x == m) frac == 0, so the mass stays on the edge bin
    # (lo_index + 1 is num_bins, an all-zero one_hot row, for odd num_bins,
    # and the never-targeted top bin for even num_bins).
    return (
        jax.nn.one_hot(lo_index, num_bins, dtype=jnp.float32) * (1.0 - frac)[..., None]
        + jax.nn.one_hot(lo_index + 1, num_bins, dtype=jnp.float32) * frac[..., None]
    )


def two_hot_to_scalar(probs: Array, num_bins: int) -> Array:
    """Expectation over the support: ``sum_i probs[..., i] * (i - m)``, ``m = (num_bins - 1) // 2``.

    ``rlax.transform_from_2hot`` on ``[-m, num_bins - 1 - m]`` (its support is
    ``jnp.linspace(-m, num_bins - 1 - m, num_bins)``, the integers to within half an f32 ulp).

    Args:
      probs: f[..., num_bins] probabilities.
      num_bins: int >= 3 (static); must equal ``probs.shape[-1]``.

    Returns:
      f[...] scalars.
    """
    half = _check_num_bins(num_bins)
    if probs.shape[-1] != num_bins:
        raise ValueError(
            f"rosmo.ops.two_hot_to_scalar: probs.shape[-1]={probs.shape[-1]} does not match num_bins={num_bins}."
        )
    flat = jnp.reshape(probs, (-1, num_bins))  # rlax broadcasts the support as [1, num_bins]
    return rlax.transform_from_2hot(flat, -half, num_bins - 1 - half, num_bins).reshape(probs.shape[:-1])


def value_to_target_probs(x: Array, num_bins: int) -> Array:
    """Categorical target for a raw scalar: ``two_hot(h(x))``.

    Args:
      x: f[...] raw values / rewards.
      num_bins: int >= 3 (static).

    Returns:
      f32[..., num_bins].
    """
    return scalar_to_two_hot(signed_hyperbolic(x), num_bins)


def logits_to_scalar(logits: Array, num_bins: int) -> Array:
    """Raw scalar predicted by categorical logits: ``h^{-1}(E_softmax[support])``.

    Args:
      logits: f[..., num_bins].
      num_bins: int >= 3 (static).

    Returns:
      f[...] raw values / rewards.
    """
    return signed_parabolic(two_hot_to_scalar(jax.nn.softmax(logits, axis=-1), num_bins))
