"""Policy targets and policy losses of ROSMO.

ROSMO's policy target is the one-step look-ahead improvement of the prior
policy with the learned model (target network):

    adv(s, a) = r(s, a) + gamma * v(g(s, a)) - v(s)
    pi*(a|s)  = pi_prior(a|s) * exp(adv(s, a)) / Z(s)

computed exactly over all actions, or estimated from ``N`` actions sampled
from the prior with Muesli's leave-one-out CMPO weights. A filtered
behaviour-cloning term keeps the policy close to logged actions with a
non-negative advantage.

Cross-entropies against a target distribution are ``optax.softmax_cross_entropy``
(``-sum_a target[..., a] log_softmax(logits)[..., a]``, the target need not be
normalised). Not ``rlax.categorical_cross_entropy``: it is deprecated in rlax
0.1.9 (a warning at every trace) and normalises its labels (it builds
``distrax.Categorical(probs=labels)``), which would change the sampled target
of :func:`sampled_policy_target`.

All functions are pure ``jnp`` and work on arbitrary leading batch dims; the
action axis (``A``) or sample axis (``N``) is the last one.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import optax

Array = jax.Array


def shape_advantages(adv: Array, clip: Optional[float] = None, temperature: float = 1.0) -> Array:
    """Advantages as they enter ``exp(.)`` in the improved policy (optional stabilisers).

        shaped = clip(adv, -clip, clip) / temperature     (no clipping when ``clip`` is None or 0)

    ``temperature = 1`` and no clip (the defaults) leave ``adv`` unchanged,
    which is ROSMO as published. A temperature above 1 makes each policy
    improvement step smaller; clipping bounds it (Muesli clips at 1).

    Args:
      adv: f[...] advantages.
      clip: optional bound on ``|adv|`` (> 0).
      temperature: > 0.

    Returns:
      f[...], the shape of ``adv``.
    """
    adv = jnp.asarray(adv, jnp.float32)
    if clip:
        adv = jnp.clip(adv, -clip, clip)
    return adv / temperature


def one_step_policy_target(
    prior_logits: Array,
    rewards: Array,
    next_values: Array,
    value: Array,
    discount: float,
    clip: Optional[float] = None,
    temperature: float = 1.0,
) -> tuple[Array, Array]:
    """Exact one-step improved policy ``pi* ∝ pi_prior * exp(adv)``.

        adv[..., a]    = rewards[..., a] + discount * next_values[..., a] - value[...]
        target[..., :] = softmax(log_softmax(prior_logits) + shape_advantages(adv, clip, temperature))

    (The softmax of the summed logits is computed stably, so large
    advantages do not overflow.) With the defaults (no clip, temperature 1)
    this is ROSMO's target.

    Args:
      prior_logits: f[..., A] prior policy logits at ``s``.
      rewards: f[..., A] model reward for each action, raw scale.
      next_values: f[..., A] model value of ``g(s, a)``, raw scale.
      value: f[...] model value of ``s``, raw scale.
      discount: scalar.
      clip, temperature: see :func:`shape_advantages`.

    Returns:
      (target_probs f[..., A], adv f[..., A]) with the unshaped ``adv``.
    """
    adv = rewards + discount * next_values - jnp.asarray(value)[..., None]
    shaped = shape_advantages(adv, clip, temperature)
    target = jax.nn.softmax(jax.nn.log_softmax(prior_logits, axis=-1) + shaped, axis=-1)
    return target, adv


def sampled_policy_weights(adv_samples: Array, clip: Optional[float] = None) -> Array:
    """Muesli / CMPO leave-one-out weights for ``N`` actions drawn from the prior.

        w_i = exp(adv_i) / z_i,   z_i = (1 + sum_{j != i} exp(adv_j)) / N

    Computed in log space: ``log w_i = adv_i + log N - log(1 + sum_{j!=i}
    exp(adv_j))``, where the leave-one-out log-sum-exp comes from exclusive
    prefix and suffix ``cumlogsumexp`` (exact, O(N), no cancellation) after
    shifting all advantages by ``max(0, max_j adv_j)``. The
    weights stay finite whenever the true weights are representable, e.g. all
    advantages ~1000. A single sample whose advantage exceeds all others by
    ~88+ has a true weight above the f32 range; pass ``clip`` to clip the
    advantages to ``[-clip, clip]`` first (as Muesli does) if that can happen.

    The sampled policy loss is ``-(1/N) sum_i w_i log pi(a_i|s)``
    (:func:`sampled_policy_loss`); its expectation over the draws approaches
    the cross-entropy to the exact target as ``N`` grows.

    Args:
      adv_samples: f[..., N] advantages of the sampled actions.
      clip: optional bound on ``|adv|``.

    Returns:
      f32[..., N] weights (not normalised; ``E[w_i] -> exp(adv_i) / E exp(adv)``).
    """
    adv = jnp.asarray(adv_samples, jnp.float32)
    if clip is not None:
        adv = jnp.clip(adv, -clip, clip)
    n = adv.shape[-1]
    # Shift by c = max(0, max_j adv_j) so every exponent is <= 0 and the
    # differences stay small numbers (full f32 precision even at adv ~ 1e3):
    #   log w_i = (adv_i - c) - log(e^{-c} + sum_{j != i} e^{adv_j - c}) + log N
    c = jax.lax.stop_gradient(jnp.maximum(jnp.max(adv, axis=-1, keepdims=True), 0.0))
    shifted = adv - c
    neg_inf = jnp.full(adv.shape[:-1] + (1,), -jnp.inf, adv.dtype)
    prefix = jax.lax.cumlogsumexp(shifted, axis=adv.ndim - 1)
    suffix = jax.lax.cumlogsumexp(shifted, axis=adv.ndim - 1, reverse=True)
    prefix_excl = jnp.concatenate([neg_inf, prefix[..., :-1]], axis=-1)
    suffix_excl = jnp.concatenate([suffix[..., 1:], neg_inf], axis=-1)
    # log(e^{-c} + sum_{j != i} e^{adv_j - c}); the finite -c goes in first so
    # no logaddexp ever sees two -inf.
    log_norm = jnp.logaddexp(jnp.logaddexp(-c, prefix_excl), suffix_excl)
    return jnp.exp(shifted - log_norm + jnp.log(float(n)))


def sampled_policy_target(sampled_actions: Array, weights: Array, num_actions: int) -> Array:
    """Per-action (unnormalised) target from sampled actions and weights.

        q[..., a] = (1/N) sum_i weights[..., i] * 1[sampled_actions[..., i] == a]

    so that ``optax.softmax_cross_entropy(logits, q) == sampled_policy_loss(logits,
    sampled_actions, weights)``. ``q`` need not sum to 1.

    Args:
      sampled_actions: int[..., N].
      weights: f[..., N].
      num_actions: ``A`` (static).

    Returns:
      f32[..., A].
    """
    n = sampled_actions.shape[-1]
    one_hot = jax.nn.one_hot(sampled_actions, num_actions, dtype=jnp.float32)
    return jnp.sum(one_hot * weights[..., None], axis=-2) / n


def sampled_policy_loss(logits: Array, sampled_actions: Array, weights: Array) -> Array:
    """Sampled CMPO loss ``-(1/N) sum_i weights_i * log pi(a_i|s)``.

    Args:
      logits: f[..., A] online policy logits.
      sampled_actions: int[..., N] actions drawn from the prior.
      weights: f[..., N] from :func:`sampled_policy_weights` (treated as
        constants by the caller, i.e. stop-gradient them).

    Returns:
      f[...] loss.
    """
    log_pi = jax.nn.log_softmax(logits, axis=-1)
    log_pi_a = jnp.take_along_axis(log_pi, sampled_actions.astype(jnp.int32), axis=-1)
    return -jnp.mean(weights * log_pi_a, axis=-1)


def filtered_bc_loss(logits: Array, data_actions: Array, adv_data: Array, mask: Array, strict: bool = False) -> Array:
    """Filtered behaviour cloning ``-log pi(a_data|s) * 1[adv_data >= 0] * mask``.

    Args:
      logits: f[..., A] online policy logits.
      data_actions: int[...] logged actions.
      adv_data: f[...] one-step advantage of the logged action
        (:func:`rosmo.ops.one_step_advantage_data`, or the original's
        :func:`rosmo.ops.one_step_advantage_model`).
      mask: f[...] or bool[...], 1 where the logged transition is real.
      strict: keep only ``adv_data > 0`` (the original code's
        ``heaviside(adv, 0)``) instead of ``>= 0``.

    Returns:
      f[...] per-position loss (0 where filtered out or masked).
    """
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(data_actions, jnp.int32))
    adv_data = jnp.asarray(adv_data)
    keep = ((adv_data > 0) if strict else (adv_data >= 0)).astype(nll.dtype)
    return nll * keep * jnp.asarray(mask, nll.dtype)


def uniform_where(mask: Array, probs: Array) -> Array:
    """``probs`` where ``mask`` is True, else the uniform distribution ``1/A``.

    Args:
      mask: bool[...].
      probs: f[..., A].

    Returns:
      f[..., A].
    """
    num_actions = probs.shape[-1]
    return jnp.where(jnp.asarray(mask, bool)[..., None], probs, jnp.full_like(probs, 1.0 / num_actions))
