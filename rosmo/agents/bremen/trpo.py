"""TRPO's maths as pure functions: conjugate gradient, GAE, and one KL-constrained natural-gradient step.

One step (Schulman et al. 2015; BREMEN's policy update), for data (s, a, A) gathered under pi_old, weights m:

    L(theta)  = sum m * pi_theta(a|s) / pi_old(a|s) * A  /  sum m            surrogate advantage
    D(theta)  = sum m * KL(pi_theta(.|s) || pi_old(.|s))  /  sum m           mean KL (BREMEN's order)
    g         = grad L(theta_old),   F v = grad (grad D(theta_old) . v) + damping * v     (Fisher-vector product)
    x         = CG(F, g) ~ F^-1 g,    step = sqrt(2 * max_kl / (x . F x)) * x
    theta_new = theta_old + beta^j * step for the smallest j < max_backtracks with D <= max_kl and
                L > L(theta_old); theta_old itself when no j qualifies.

We write these ourselves: rlax has GAE (used below) but no TRPO, and optax has no conjugate gradient
or KL line search.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from rosmo.rl_libs import distrax, rlax

Params = Any
DistFn = Callable[[Params, jnp.ndarray], distrax.Distribution]  # (params, obs [M, O]) -> pi(.|s), batch [M]


def conjugate_gradient(
    matvec: Callable[[jnp.ndarray], jnp.ndarray], b: jnp.ndarray, num_iters: int = 10, residual_tol: float = 1e-10
) -> jnp.ndarray:
    """Approximately solve A x = b for symmetric positive-definite A given only v -> A v.

    b [D] -> x [D]. Plain CG from x = 0 for `num_iters` iterations (exact after D in exact arithmetic);
    iterations stop changing x once the squared residual r.r falls below `residual_tol`.
    """

    def body(_, carry):
        x, r, p, rr = carry
        active = rr > residual_tol
        ap = matvec(p)
        alpha = rr / jnp.maximum(jnp.dot(p, ap), 1e-30)
        x_new, r_new = x + alpha * p, r - alpha * ap
        rr_new = jnp.dot(r_new, r_new)
        p_new = r_new + (rr_new / jnp.maximum(rr, 1e-30)) * p
        keep = lambda new, old: jnp.where(active, new, old)  # noqa: E731
        return keep(x_new, x), keep(r_new, r), keep(p_new, p), keep(rr_new, rr)

    x0 = jnp.zeros_like(b)
    x, _, _, _ = jax.lax.fori_loop(0, num_iters, body, (x0, b, b, jnp.dot(b, b)))
    return x


def gae(reward: jnp.ndarray, discount: jnp.ndarray, values: jnp.ndarray, lambda_: float) -> jnp.ndarray:
    """Generalised advantage estimates, time-major: reward, discount [T, N], values [T+1, N] -> [T, N].

    A_t = delta_t + discount_t * lambda * A_{t+1},  delta_t = r_t + discount_t * V_{t+1} - V_t,
    A_T = 0 (V_T bootstraps the truncated tail; discount_t = 0 at a terminal cuts it).
    `rlax.truncated_generalized_advantage_estimation` per column.
    """
    fn = jax.vmap(rlax.truncated_generalized_advantage_estimation, in_axes=(1, 1, None, 1), out_axes=1)
    return fn(reward, discount, lambda_, values)


class Batch(NamedTuple):
    """TRPO data, flat: observation [M, O] (as the policy reads it), action [M, A], log_prob_old [M],
    advantage [M], mask [M] (float weights, 0 for padding)."""

    observation: jnp.ndarray
    action: jnp.ndarray
    log_prob_old: jnp.ndarray
    advantage: jnp.ndarray
    mask: jnp.ndarray


def _masked_mean(x: jnp.ndarray, mask: jnp.ndarray) -> jnp.ndarray:
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def surrogate(dist_fn: DistFn, params: Params, batch: Batch) -> jnp.ndarray:
    """L(theta) = masked mean of exp(log pi_theta(a|s) - log pi_old(a|s)) * A."""
    log_prob = dist_fn(params, batch.observation).log_prob(batch.action)
    return _masked_mean(jnp.exp(log_prob - batch.log_prob_old) * batch.advantage, batch.mask)


def mean_kl(dist_fn: DistFn, params: Params, old: distrax.Distribution, batch: Batch) -> jnp.ndarray:
    """D(theta) = masked mean of KL(pi_theta(.|s) || pi_old(.|s))."""
    return _masked_mean(dist_fn(params, batch.observation).kl_divergence(old), batch.mask)


def trpo_step(
    dist_fn: DistFn,
    params: Params,
    batch: Batch,
    max_kl: float,
    cg_iters: int = 10,
    cg_damping: float = 0.1,
    backtrack_coeff: float = 0.8,
    max_backtracks: int = 10,
) -> tuple[Params, dict[str, jnp.ndarray]]:
    """One TRPO update of `params` (see the module docstring); jit-able.

    Returns (new params, info): surrogate_before / surrogate_after, kl (of the accepted step, 0 when
    none), step_fraction (beta^j, 0 when rejected), accepted (bool), grad_norm.
    """
    flat0, unravel = ravel_pytree(params)
    old = dist_fn(jax.lax.stop_gradient(params), batch.observation)  # constant w.r.t. the flat parameters

    def surr(flat):
        return surrogate(dist_fn, unravel(flat), batch)

    def kl(flat):
        return mean_kl(dist_fn, unravel(flat), old, batch)

    surr0, g = jax.value_and_grad(surr)(flat0)
    grad_kl = jax.grad(kl)

    def fvp(v):
        return jax.jvp(grad_kl, (flat0,), (v,))[1] + cg_damping * v

    x = conjugate_gradient(fvp, g, cg_iters)
    xfx = jnp.dot(x, fvp(x))
    full_step = jnp.sqrt(2.0 * max_kl / jnp.maximum(xfx, 1e-12)) * x
    fractions = backtrack_coeff ** jnp.arange(max_backtracks, dtype=jnp.float32)
    candidates = flat0[None] + fractions[:, None] * full_step[None]
    surrs, kls = jax.lax.map(lambda f: (surr(f), kl(f)), candidates)
    ok = (kls <= max_kl) & (surrs > surr0) & jnp.isfinite(surrs) & jnp.isfinite(kls)
    accepted = jnp.any(ok)
    j = jnp.argmax(ok)
    flat_new = jnp.where(accepted, candidates[j], flat0)
    info = {
        "surrogate_before": surr0,
        "surrogate_after": jnp.where(accepted, surrs[j], surr0),
        "kl": jnp.where(accepted, kls[j], 0.0),
        "step_fraction": jnp.where(accepted, fractions[j], 0.0),
        "accepted": accepted,
        "grad_norm": jnp.linalg.norm(g),
    }
    return unravel(flat_new), info
