"""BREMEN's networks (haiku) and the fixed input normalisation they share.

    normalize(n, x)      = (x - n.mean) / n.std                     x [..., D], n.mean / n.std [D]
    Gaussian policy      pi(a|s) = N(mu(normalize(s)), diag(exp(log_std))^2)     mu: MLP, log_std [A] free
    value                v(s) = value_scale * MLP(normalize(s))                   [B]
    dynamics member k    f_k(normalize([s, a])) -> normalized [s' - s, r]         (see dynamics.py)

A policy's parameters are `{"net": haiku params of mu, "log_std": [A]}`; what acting needs is
`{"policy": <those>, "obs_norm": {"mean": [O], "std": [O]}}` (`ActParams`).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from rosmo.rl_libs import distrax

Params = Any
MIN_STD = 1e-6


class Normalizer(NamedTuple):
    """Per-feature mean [D] and std [D] (std floored at MIN_STD)."""

    mean: jnp.ndarray
    std: jnp.ndarray


def fit_normalizer(x: np.ndarray) -> Normalizer:
    """Mean and std of `x` [N, D] over its rows (float32)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    return Normalizer(x.mean(0).astype(np.float32), np.maximum(x.std(0), MIN_STD).astype(np.float32))


def normalize(n: Normalizer, x: jnp.ndarray) -> jnp.ndarray:
    """(x - mean) / std."""
    return (x - n.mean) / n.std


def denormalize(n: Normalizer, y: jnp.ndarray) -> jnp.ndarray:
    """y * std + mean (the inverse of `normalize`)."""
    return y * n.std + n.mean


def normalizer_dict(n: Normalizer) -> dict[str, jnp.ndarray]:
    return {"mean": n.mean, "std": n.std}


def normalizer_from_dict(d: dict[str, Any]) -> Normalizer:
    return Normalizer(jnp.asarray(d["mean"], jnp.float32), jnp.asarray(d["std"], jnp.float32))


def mlp(hidden_sizes: Sequence[int], output_size: int, activation: Callable = jax.nn.relu) -> hk.Transformed:
    """`hk.without_apply_rng` MLP: x [B, D] -> [B, output_size] (hidden layers `hidden_sizes`, linear output)."""

    def forward(x):
        return hk.nets.MLP(list(hidden_sizes) + [int(output_size)], activation=activation)(x)

    return hk.without_apply_rng(hk.transform(forward))


class GaussianPolicy(NamedTuple):
    """A diagonal Gaussian policy with a state-independent log-std (BREMEN / TRPO's policy class)."""

    net: hk.Transformed  # normalized obs [B, O] -> mean [B, A]
    action_dim: int

    def init(self, key: jax.Array, obs_dim: int, init_log_std: float = 0.0) -> Params:
        return {
            "net": self.net.init(key, jnp.zeros((1, obs_dim))),
            "log_std": jnp.full((self.action_dim,), init_log_std, jnp.float32),
        }

    def mean(self, params: Params, obs_norm: jnp.ndarray) -> jnp.ndarray:
        """mu(s) [B, A] from normalized observations [B, O]."""
        return self.net.apply(params["net"], obs_norm)

    def distribution(self, params: Params, obs_norm: jnp.ndarray) -> distrax.MultivariateNormalDiag:
        """pi(.|s) for a batch: N(mu(s), diag(exp(log_std))^2), batch shape [B], event [A]."""
        mean = self.mean(params, obs_norm)
        scale = jnp.broadcast_to(jnp.exp(params["log_std"]), mean.shape)
        return distrax.MultivariateNormalDiag(mean, scale)


def make_policy(action_dim: int, hidden_sizes: Sequence[int]) -> GaussianPolicy:
    return GaussianPolicy(mlp(hidden_sizes, action_dim), int(action_dim))


def make_value(hidden_sizes: Sequence[int]) -> hk.Transformed:
    """normalized obs [B, O] -> [B, 1] (squeeze and scale outside)."""
    return mlp(hidden_sizes, 1)


def make_act_fn(policy: GaussianPolicy, mode: str = "mean", noise_std: float = 0.0) -> Callable:
    """An `ActFn` (act_params, obs [B, O], key) -> actions [B, A] (unclipped; envs clip to [-1, 1]).

    mode "mean": mu(s) (+ N(0, noise_std^2) noise when noise_std > 0: BREMEN's collection rule);
    mode "sample": a draw from pi(.|s). `act_params` = {"policy": params, "obs_norm": {"mean", "std"}}.
    """
    if mode not in ("mean", "sample"):
        raise ValueError(f"act mode must be 'mean' or 'sample', got {mode!r}")

    def act(act_params, obs, key):
        obs_norm = normalize(normalizer_from_dict(act_params["obs_norm"]), obs)
        if mode == "sample":
            return policy.distribution(act_params["policy"], obs_norm).sample(seed=key)
        mean = policy.mean(act_params["policy"], obs_norm)
        if noise_std > 0:
            mean = mean + noise_std * jax.random.normal(key, mean.shape)
        return mean

    return act
