"""Behaviour cloning of the data's policy: the Gaussian policy's mean regressed on the logged actions.

    min_beta 1/|D| sum_{(s, a) in D} 1/2 || a - mu_beta(normalize(s)) ||^2          (BREMEN's behaviour cloning)

Adam on minibatches; a random `validation_fraction` of D is held out and the parameters with the
best held-out loss (measured every `eval_every` steps) are kept; training stops after `patience`
evaluations without improvement. The observation normalizer is fitted on the training split and
belongs to the cloned policy (the TRPO policy initialised from it reads observations the same way).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import tqdm

from rosmo.agents.bremen.networks import GaussianPolicy, Normalizer, fit_normalizer, normalize

Params = Any


def bc_loss(policy: GaussianPolicy, params: Params, obs_norm: jnp.ndarray, action: jnp.ndarray) -> jnp.ndarray:
    """1/2 mean_b ||a_b - mu(s_b)||^2: obs_norm [B, O], action [B, A] -> scalar."""
    return 0.5 * jnp.mean(jnp.sum((policy.mean(params, obs_norm) - action) ** 2, -1))


@functools.lru_cache(maxsize=8)
def _chunk_fn(policy: GaussianPolicy, learning_rate: float):
    """Jitted: Adam steps on the minibatches idx [steps, B], then the held-out loss."""
    optimizer = optax.adam(learning_rate)

    def loss(net_params, x, a):
        return bc_loss(policy, {"net": net_params}, x, a)

    @jax.jit
    def train_chunk(net_params, opt_state, x_train, a_train, x_val, a_val, idx):
        def step(carry, i):
            p, s = carry
            value, grads = jax.value_and_grad(loss)(p, x_train[i], a_train[i])
            updates, s = optimizer.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), value

        (net_params, opt_state), losses = jax.lax.scan(step, (net_params, opt_state), idx)
        return net_params, opt_state, jnp.mean(losses), loss(net_params, x_val, a_val)

    return train_chunk


def residual_log_std(
    policy: GaussianPolicy, net_params: Params, x: jnp.ndarray, a: jnp.ndarray, min_std: float = 0.05
) -> jnp.ndarray:
    """log of the per-dimension std of the cloning residuals a - mu(x): x [N, O] normalised, a [N, A] -> [A].

    sigma_j = sqrt(mean_i (a_ij - mu_j(x_i))^2), floored at `min_std`: the behaviour policy's own spread
    around pi_beta's mean (uniform random actions in [-1, 1]: ~0.58; a policy's mean + N(0, 0.1^2): ~0.1).
    """
    residual = a - policy.net.apply(net_params, x)
    return jnp.log(jnp.maximum(jnp.sqrt(jnp.mean(residual**2, axis=0)), min_std))


def train_bc(
    policy: GaussianPolicy,
    observation: np.ndarray,
    action: np.ndarray,
    key: jax.Array,
    learning_rate: float = 5e-4,
    batch_size: int = 256,
    num_steps: int = 300_000,
    eval_every: int = 1000,
    patience: int = 10,
    validation_fraction: float = 0.1,
    init_log_std: float = 0.0,
    progress: bool = False,
    log_std_from_residuals: bool = False,
) -> tuple[Params, Normalizer, dict[str, Any]]:
    """Clone pi_beta from observation [N, O] and action [N, A] (`num_steps` rounded up to whole `eval_every`).

    Returns (policy params with `log_std = init_log_std`, or with `log_std_from_residuals` the held-out
    residuals' `residual_log_std`, observation normalizer, metrics).
    """
    start = time.time()
    num = len(observation)
    if num < 2:
        raise ValueError(f"behaviour cloning needs at least 2 transitions, got {num}")
    key, split_key, init_key = jax.random.split(key, 3)
    rng = np.random.default_rng(int(jax.random.randint(split_key, (), 0, 2**31 - 1)))
    perm = rng.permutation(num)
    num_val = int(min(max(1, round(validation_fraction * num)), num - 1))
    val_idx, train_idx = perm[:num_val], perm[num_val:]
    obs_norm = fit_normalizer(observation[train_idx])
    x_train = jnp.asarray(normalize(obs_norm, np.asarray(observation[train_idx], np.float32)))
    a_train = jnp.asarray(action[train_idx], jnp.float32)
    x_val = jnp.asarray(normalize(obs_norm, np.asarray(observation[val_idx], np.float32)))
    a_val = jnp.asarray(action[val_idx], jnp.float32)
    params = policy.init(init_key, observation.shape[1], init_log_std)
    optimizer = optax.adam(learning_rate)
    opt_state = optimizer.init(params["net"])
    batch_size = min(int(batch_size), len(train_idx))
    chunk = int(min(eval_every, num_steps))

    train_chunk = _chunk_fn(policy, float(learning_rate))

    net_params, best_net, best_val, since_best, done = params["net"], params["net"], np.inf, 0, 0
    history = []
    bar = tqdm.tqdm(total=int(num_steps), desc="behaviour cloning", unit="step", disable=not progress, mininterval=2.0)
    while done < num_steps:  # whole chunks of `eval_every` steps (num_steps rounded up)
        idx = rng.integers(0, len(train_idx), size=(chunk, batch_size))
        net_params, opt_state, train_loss, val = train_chunk(
            net_params, opt_state, x_train, a_train, x_val, a_val, jnp.asarray(idx)
        )
        done += chunk
        val = float(val)
        history.append({"step": done, "train_loss": float(train_loss), "val_loss": val})
        bar.update(chunk)
        bar.set_postfix(train=f"{float(train_loss):.4f}", val=f"{val:.4f}", refresh=False)
        if val < best_val:
            best_net, best_val, since_best = net_params, val, 0
        else:
            since_best += 1
            if since_best >= patience:
                break
    bar.close()
    log_std = residual_log_std(policy, best_net, x_val, a_val) if log_std_from_residuals else params["log_std"]
    metrics = {
        "bc_val_loss": best_val,
        "bc_steps": done,
        "bc_seconds": round(time.time() - start, 2),
        "bc_history": history,
        "bc_init_std": float(jnp.mean(jnp.exp(log_std))),
    }
    return {"net": best_net, "log_std": log_std}, obs_norm, metrics
