"""Fitted Q Evaluation (Le et al. 2019): Q^pi fitted to the evaluated policy's Bellman targets on logged transitions.

Per iteration k (a fixed target network Q_{k-1}, `target_update_period` Adam steps on the fit transitions):

    y_j   = r_j / c + gamma * (1 - terminal_j) * sum_a pi(a|o'_j) Q_{k-1}(o'_j, a)
    loss  = mean_j 0.5 (Q_k(o_j, a_j) - y_j)^2                 (`rlax.expected_sarsa`, `rlax.l2_loss`)

`c` = max(1, max |episode return| of the fit episodes) keeps targets O(1); estimates are
scaled back by `c`. After each iteration the held-out Bellman residual

    td_k  = mean over held-out transitions of (Q_k(o, a) - r / c - gamma (1 - terminal) sum_a pi(a|o') Q_k(o', a))^2

is measured (Q_k against its own bootstrap: it falls to the data's noise floor as FQE converges).
Early stopping: after at least `min_iterations`, stop when td_k has not reached a new minimum
(by a relative `min_improvement`) for `patience` iterations, or at `num_steps` gradient steps.
The Q of the iteration with the lowest td_k gives the estimate

    V_hat = c * mean over held-out initial observations o_0 of sum_a pi(a|o_0) Q(o_0, a).

After I iterations FQE has propagated values I steps back, so with `discount` 1 on episodes
longer than the budget's iterations the estimate is a truncated-horizon return (it can still
rank policies); a `discount` < 1 estimates the discounted return instead.

Why our own loop: d3rlpy's DiscreteFQE is tied to its own datasets and torch; here Q is the
agents' torso (`rosmo.networks`, Q(o, .) = f(h(o)).policy_logits as in CQL), on the same arrays.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rosmo.rl_libs import rlax

EVAL_CHUNK = 8192  # held-out transitions per residual call


@dataclasses.dataclass(frozen=True)
class FQEConfig:
    """FQE's own hyper-parameters (module docstring)."""

    num_steps: int = 20_000  # most gradient steps in all
    target_update_period: int = 250  # gradient steps per iteration (the target network is copied after each)
    batch_size: int = 256
    learning_rate: float = 1e-3
    discount: float = 1.0  # 1: the undiscounted return the online score measures
    min_iterations: int = 10
    patience: int = 10  # iterations without a new minimum of the held-out residual before stopping
    min_improvement: float = 1e-3  # relative decrease that counts as a new minimum

    def __post_init__(self):
        for name in ("num_steps", "target_update_period", "batch_size", "min_iterations", "patience"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"FQE {name} must be an integer >= 1, got {getattr(self, name)}")
        if not 0.0 < self.discount <= 1.0:
            raise ValueError(f"FQE discount must be in (0, 1], got {self.discount}")
        if self.learning_rate <= 0:
            raise ValueError(f"FQE learning_rate must be > 0, got {self.learning_rate}")


class FQETransitions(NamedTuple):
    """Transitions as indices into the observation array: t, next_t int[M], action int[M], reward f[M],
    terminal bool[M], pi_next f[M, A] (the evaluated policy at o_{t+1})."""

    t: np.ndarray
    next_t: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    terminal: np.ndarray
    pi_next: np.ndarray


class FQEResult(NamedTuple):
    estimate: float  # V_hat in return units
    iterations: int  # iterations run
    best_iteration: int  # the iteration whose Q gives the estimate (1-based)
    steps: int  # gradient steps run
    heldout_td: list[float]  # td_k per iteration (in scaled units, c = reward_scale)
    estimates: list[float]  # V_hat of Q_k per iteration
    reward_scale: float
    seconds: float


def fit_fqe(
    q_fn: Callable,
    params,
    observation: np.ndarray,
    fit: FQETransitions,
    heldout: FQETransitions,
    initial_t: np.ndarray,
    pi_initial: np.ndarray,
    reward_scale: float,
    config: FQEConfig,
    key: jax.Array,
) -> FQEResult:
    """Run FQE (module docstring) and return its estimate.

    q_fn(params, obs[B, ...]) -> Q[B, A]; params: its initial parameters; observation [N, ...]: every
    logged step; fit / heldout: transitions indexing it; initial_t int[I], pi_initial f[I, A]: the
    initial observations of the estimate and the policy there; reward_scale: c.
    """
    started = time.time()
    if len(fit.t) == 0:
        raise ValueError("FQE: no transition to fit")
    gamma = float(config.discount)
    scale = float(reward_scale)
    obs = jnp.asarray(observation)
    dev = lambda tr: jax.tree.map(jnp.asarray, tr._replace(reward=np.asarray(tr.reward, np.float32) / scale))  # noqa: E731
    fit_d, held_d = dev(fit), dev(heldout)
    optimiser = optax.adam(config.learning_rate)
    opt_state = optimiser.init(params)
    num_fit = len(fit.t)

    def td_errors(online, target, obs, tr: FQETransitions, idx):
        q = q_fn(online, obs[tr.t[idx]])
        q_next = q_fn(target, obs[tr.next_t[idx]])
        discounts = gamma * (1.0 - tr.terminal[idx].astype(jnp.float32))
        return jax.vmap(rlax.expected_sarsa)(q, tr.action[idx], tr.reward[idx], discounts, q_next, tr.pi_next[idx])

    def loss_fn(online, target, obs, tr, idx):
        return jnp.mean(rlax.l2_loss(td_errors(online, target, obs, tr, idx)))

    @jax.jit  # the data are arguments, not constants folded into the program
    def iteration(online, target, opt_state, key, obs, tr):
        def step(carry, k):
            online, opt_state = carry
            idx = jax.random.randint(k, (config.batch_size,), 0, num_fit)
            grads = jax.grad(loss_fn)(online, target, obs, tr, idx)
            updates, opt_state = optimiser.update(grads, opt_state, online)
            return (optax.apply_updates(online, updates), opt_state), None

        (online, opt_state), _ = jax.lax.scan(
            step, (online, opt_state), jax.random.split(key, config.target_update_period)
        )
        return online, opt_state

    @jax.jit
    def residual_sum(online, idx, obs, tr):
        return jnp.sum(jnp.square(td_errors(online, online, obs, tr, idx)))

    num_held = len(heldout.t)

    def heldout_residual(online) -> float:
        if num_held == 0:
            return float("nan")
        total = 0.0
        for i in range(0, num_held, EVAL_CHUNK):
            total += float(residual_sum(online, jnp.arange(i, min(i + EVAL_CHUNK, num_held)), obs, held_d))
        return total / num_held

    init_obs = obs[jnp.asarray(initial_t)]
    pi0 = jnp.asarray(pi_initial)

    mean_value = jax.jit(lambda online, o, pi: jnp.mean(jnp.sum(pi * q_fn(online, o), axis=-1)))

    def estimate(online) -> float:
        return scale * float(mean_value(online, init_obs, pi0))

    target = params
    online = params
    tds: list[float] = []
    estimates: list[float] = []
    best, best_td, best_params, since_best = 0, float("inf"), params, 0
    max_iterations = max(1, config.num_steps // config.target_update_period)
    k = 0
    for k in range(1, max_iterations + 1):
        key, sub = jax.random.split(key)
        online, opt_state = iteration(online, target, opt_state, sub, obs, fit_d)
        target = online
        td = heldout_residual(online)
        tds.append(td)
        estimates.append(estimate(online))
        if not np.isfinite(td) and num_held:
            break
        if num_held == 0 or td < best_td * (1.0 - config.min_improvement):
            best, best_td, best_params, since_best = k, td, online, 0
        else:
            since_best += 1
        if k >= config.min_iterations and since_best >= config.patience:
            break
    if num_held == 0:
        best_params, best = online, k
    return FQEResult(
        estimate=estimates[best - 1] if best else estimate(best_params),
        iterations=k,
        best_iteration=best,
        steps=k * config.target_update_period,
        heldout_td=tds,
        estimates=estimates,
        reward_scale=scale,
        seconds=time.time() - started,
    )
