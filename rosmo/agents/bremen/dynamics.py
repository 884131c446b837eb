"""The dynamics ensemble: K MLPs predicting the state change and the reward, early-stopped on held-out data.

Member k maps the normalized input x = normalize_in([s, a]) to the normalized target
y = normalize_out([s' - s, r]), and is trained on

    L_k = 1/2 * mean_{(s, a, r, s') in batch_k} || f_k(x) - y ||^2          (BREMEN's model loss, normalized)

with its own initialisation and its own minibatches (Adam). Predictions are denormalized:

    s'_k = s + delta_k,   r_k = reward_k,   [delta_k, reward_k] = denormalize_out(f_k(x))

Early stopping: after each epoch the held-out loss of every member is measured; each member keeps
its best parameters, and training stops when no member improved for `patience` epochs (or after
`max_epochs`). Parameters of the K members are stacked on a leading axis [K, ...] (vmap).
"""

from __future__ import annotations

import functools
import time
from typing import Any, NamedTuple, Optional, Sequence

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
import tqdm

from rosmo.agents.bremen.networks import (
    Normalizer,
    denormalize,
    fit_normalizer,
    mlp,
    normalize,
    normalizer_dict,
    normalizer_from_dict,
)
from rosmo.data.transitions import Transitions

Params = Any


class Ensemble(NamedTuple):
    """K stacked members and their (fixed) normalisation; `state()` is the checkpointable dict."""

    net: hk.Transformed
    params: Params  # leaves [K, ...]
    input_norm: Normalizer  # [O + A]
    target_norm: Normalizer  # [O + 1]

    @property
    def num_members(self) -> int:
        return int(jax.tree.leaves(self.params)[0].shape[0])

    def state(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "input_norm": normalizer_dict(self.input_norm),
            "target_norm": normalizer_dict(self.target_norm),
        }


@functools.lru_cache(maxsize=8)
def make_network(obs_dim: int, hidden_sizes: tuple[int, ...]) -> hk.Transformed:
    """One member: normalized [s, a] [B, O + A] -> normalized [s' - s, r] [B, O + 1] (cached per sizes)."""
    return mlp(tuple(hidden_sizes), obs_dim + 1)


def from_state(net: hk.Transformed, state: dict[str, Any]) -> Ensemble:
    return Ensemble(
        net,
        jax.tree.map(jnp.asarray, state["params"]),
        normalizer_from_dict(state["input_norm"]),
        normalizer_from_dict(state["target_norm"]),
    )


def predict(ensemble: Ensemble, obs: jnp.ndarray, action: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Every member's next observation [K, B, O] and reward [K, B] for obs [B, O], action [B, A]."""
    x = normalize(ensemble.input_norm, jnp.concatenate([obs, action], -1))
    y = jax.vmap(ensemble.net.apply, in_axes=(0, None))(ensemble.params, x)
    out = denormalize(ensemble.target_norm, y)
    return obs[None] + out[..., :-1], out[..., -1]


def disagreement(next_obs: jnp.ndarray, scale: jnp.ndarray) -> jnp.ndarray:
    """The ensemble's disagreement on the next state: next_obs [K, N, O], scale [O] -> u [N],

        u = max_k || (s'_k - mean_j s'_j) / scale ||_2

    (the largest distance of a member's prediction from the ensemble mean, each coordinate in units of
    `scale`, e.g. the data's std of the state change). The uncertainty of MOPO's penalised reward
    r - lambda * u (Yu et al. 2020), who use the largest predicted std of probabilistic members; ours are
    deterministic, so the spread of their predictions stands in for it.
    """
    dev = (next_obs - jnp.mean(next_obs, 0, keepdims=True)) / scale
    return jnp.max(jnp.sqrt(jnp.sum(dev**2, -1)), 0)


def state_change_scale(ensemble: Ensemble) -> jnp.ndarray:
    """The data's std of the state change s' - s [O] (the ensemble's target normalizer, reward dropped)."""
    return ensemble.target_norm.std[:-1]


def member_losses(net: hk.Transformed, params: Params, x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    """Per-member loss 1/2 mean_b ||f_k(x_kb) - y_kb||^2: params [K, ...], x [K, B, I], y [K, B, O] -> [K]."""
    pred = jax.vmap(net.apply)(params, x)
    return 0.5 * jnp.mean(jnp.sum((pred - y) ** 2, -1), -1)


@functools.lru_cache(maxsize=8)
def _epoch_fn(net: hk.Transformed, num_members: int, learning_rate: float):
    """Jitted epoch: `steps` Adam steps per member on its own minibatches, then the held-out loss [K]."""
    optimizer = optax.adam(learning_rate)

    def loss_fn(p, x, y):
        return jnp.sum(member_losses(net, p, x, y))  # members are independent: summing keeps their gradients

    @jax.jit
    def epoch(params, opt_state, x_train, y_train, x_val, y_val, batch_idx):  # batch_idx [steps, K, B]
        def step(carry, idx):
            p, s = carry
            loss, grads = jax.value_and_grad(loss_fn)(p, x_train[idx], y_train[idx])
            updates, s = jax.vmap(optimizer.update)(grads, s, p)
            return (optax.apply_updates(p, updates), s), loss / num_members

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), batch_idx)
        val = member_losses(
            net,
            params,
            jnp.broadcast_to(x_val, (num_members,) + x_val.shape),
            jnp.broadcast_to(y_val, (num_members,) + y_val.shape),
        )
        return params, opt_state, jnp.mean(losses), val

    return epoch


def _split(num: int, fraction: float, max_validation: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(num)
    num_val = int(min(max(1, round(fraction * num)), max_validation, num - 1))
    return perm[num_val:], perm[:num_val]


def train_ensemble(
    data: Transitions,
    hidden_sizes: Sequence[int],
    key: jax.Array,
    num_members: int = 5,
    learning_rate: float = 1e-3,
    batch_size: int = 1000,
    max_epochs: int = 200,
    steps_per_epoch: Optional[int] = None,
    patience: int = 5,
    validation_fraction: float = 0.15,
    max_validation: int = 20_000,
    progress: bool = False,
) -> tuple[Ensemble, dict[str, Any]]:
    """Fit K members on `data` (a random `validation_fraction` held out, at most `max_validation`).

    An epoch is `steps_per_epoch` minibatch steps per member (None: one pass over the training split).
    Returns the ensemble (each member at its best held-out loss) and metrics: per-member best
    held-out loss, epochs, steps, seconds.
    """
    start = time.time()
    if len(data) < 2:
        raise ValueError(f"the dynamics ensemble needs at least 2 transitions, got {len(data)}")
    obs_dim = data.observation.shape[1]
    key, split_key = jax.random.split(key)
    rng = np.random.default_rng(int(jax.random.randint(split_key, (), 0, 2**31 - 1)))
    inputs = np.concatenate([data.observation, data.action], -1).astype(np.float32)
    targets = np.concatenate([data.next_observation - data.observation, data.reward[:, None]], -1).astype(np.float32)
    train_idx, val_idx = _split(len(data), validation_fraction, max_validation, rng)
    input_norm, target_norm = fit_normalizer(inputs[train_idx]), fit_normalizer(targets[train_idx])
    x_train = jnp.asarray(normalize(input_norm, inputs[train_idx]))
    y_train = jnp.asarray(normalize(target_norm, targets[train_idx]))
    x_val = jnp.asarray(normalize(input_norm, inputs[val_idx]))
    y_val = jnp.asarray(normalize(target_norm, targets[val_idx]))
    num_train = len(train_idx)
    batch_size = min(int(batch_size), num_train)
    steps = int(steps_per_epoch) if steps_per_epoch else max(1, num_train // batch_size)

    net = make_network(obs_dim, tuple(hidden_sizes))
    init_keys = jax.random.split(key, num_members)
    params = jax.vmap(net.init, in_axes=(0, None))(init_keys, x_train[:1])
    optimizer = optax.adam(learning_rate)
    opt_state = jax.vmap(optimizer.init)(params)
    epoch = _epoch_fn(net, int(num_members), float(learning_rate))

    best_params = params
    best_val = np.full(num_members, np.inf)
    since_best = 0
    history = []
    bar = tqdm.tqdm(range(int(max_epochs)), desc="dynamics ensemble", unit="epoch", disable=not progress)
    for ep in bar:
        batch_idx = np.stack(
            [
                rng.choice(num_train, size=(steps, batch_size), replace=steps * batch_size > num_train)
                for _ in range(num_members)
            ],
            axis=1,
        )
        params, opt_state, train_loss, val = epoch(
            params, opt_state, x_train, y_train, x_val, y_val, jnp.asarray(batch_idx)
        )
        val = np.asarray(val)
        improved = val < best_val
        if improved.any():
            mask = jnp.asarray(improved)
            best_params = jax.tree.map(
                lambda new, old, mask=mask: jnp.where(mask.reshape((-1,) + (1,) * (new.ndim - 1)), new, old),
                params,
                best_params,
            )
            best_val = np.where(improved, val, best_val)
            since_best = 0
        else:
            since_best += 1
        history.append({"epoch": ep + 1, "train_loss": float(train_loss), "val_loss": float(val.mean())})
        bar.set_postfix(train=f"{float(train_loss):.4f}", val=f"{float(val.mean()):.4f}", refresh=False)
        if since_best >= patience:
            break
    bar.close()
    metrics = {
        "dynamics_val_loss": [float(v) for v in best_val],
        "dynamics_epochs": len(history),
        "dynamics_steps": len(history) * steps,
        "dynamics_train_transitions": num_train,
        "dynamics_val_transitions": len(val_idx),
        "dynamics_seconds": round(time.time() - start, 2),
        "dynamics_history": history,
    }
    return Ensemble(net, best_params, input_norm, target_norm), metrics
