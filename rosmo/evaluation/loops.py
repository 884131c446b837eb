"""Acting in the online environment and scoring: an Acme-shaped actor and a batched evaluation loop.

Normalised score = (R - R_random) / (R_reference - R_random), with the
references recorded in the dataset's metadata (BSuite: uniform random and
the behaviour DQN's greedy return) or in the Atari reference tables.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional

import dm_env
import jax
import numpy as np

ActFn = Callable  # (params, obs[B, ...], key) -> int32[B]


class Actor:
    """Acme-shaped actor: `select_action(obs)` for one observation, `observe(...)` is a no-op offline."""

    def __init__(self, act_fn: ActFn, params, seed: int = 0):
        self._act = jax.jit(act_fn)
        self._params = params
        self._key = jax.random.PRNGKey(seed)

    def select_action(self, observation: np.ndarray) -> int:
        self._key, key = jax.random.split(self._key)
        return int(self._act(self._params, observation[None], key)[0])

    def observe(self, *args, **kwargs) -> None:
        del args, kwargs

    def update_params(self, params) -> None:
        self._params = params


def normalized_score(mean_return: float, random_return: float, reference_return: float) -> float:
    """(R - random) / (reference - random); NaN when the references coincide."""
    span = reference_return - random_return
    return float((mean_return - random_return) / span) if span != 0 else float("nan")


def evaluate(
    make_env: Callable[[int], dm_env.Environment],
    act_fn: ActFn,
    params,
    num_episodes: int,
    seed: int = 0,
    num_parallel: int = 32,
    progress: bool = False,
    jitted_act: Optional[ActFn] = None,
) -> Dict[str, object]:
    """Run `num_episodes` online episodes with `num_parallel` envs stepped in lockstep.

    One jitted action call per lockstep for the whole (fixed-size, padded)
    batch of observations. Env `i` is built with seed `seed + i`.
    Returns mean/median/std return, the list of returns and env steps/s.
    """
    num_parallel = max(1, min(num_parallel, num_episodes))
    act = jitted_act or jax.jit(act_fn)
    envs = [make_env(seed + i) for i in range(num_parallel)]
    timesteps = [env.reset() for env in envs]
    episode_returns = np.zeros(num_parallel)
    started = num_parallel
    active = np.ones(num_parallel, bool)
    returns: List[float] = []
    key = jax.random.PRNGKey(seed)
    env_steps = 0
    start = time.time()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=num_episodes, desc="evaluate", unit="ep", leave=False)
    while active.any():
        obs = np.stack([ts.observation for ts in timesteps]).astype(np.float32)
        key, act_key = jax.random.split(key)
        actions = np.asarray(act(params, obs, act_key))
        for i in np.flatnonzero(active):
            ts = envs[i].step(int(actions[i]))
            env_steps += 1
            episode_returns[i] += ts.reward or 0.0
            if ts.last():
                returns.append(float(episode_returns[i]))
                episode_returns[i] = 0.0
                if bar is not None:
                    bar.update(1)
                if started < num_episodes:
                    started += 1
                    ts = envs[i].reset()
                else:
                    active[i] = False
            timesteps[i] = ts
    if bar is not None:
        bar.close()
    elapsed = time.time() - start
    values = np.asarray(returns)
    return {
        "episodes": len(returns),
        "mean_return": float(values.mean()),
        "median_return": float(np.median(values)),
        "std_return": float(values.std()),
        "returns": returns,
        "env_steps_per_second": env_steps / max(elapsed, 1e-9),
    }
