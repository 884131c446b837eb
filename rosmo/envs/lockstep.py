"""Playing dm_env environments in lockstep: one batched action call per step, until N episodes have ended.

    episodes = play_lockstep(make_env, act, params, num_episodes, num_envs, seed)

Env i is `make_env(seed + i)`; at every lockstep the active envs' observations are stacked as
float32 [num_envs, ...] and `act(params, obs, key)` -> int [num_envs] is called once, with keys
split from `PRNGKey(seed)`. Exactly `num_episodes` episodes are started and each is played to its
end, so short episodes are not favoured; an env whose episode ends starts the next one while
episodes remain to start, else it stops. `check_stop()` is polled every lockstep (a pending
SIGINT/SIGTERM raises `Stopped` there). Here, below the agents and the data makers, so that
evaluation (`rosmo.evaluation.loops.play_dm_env`) and the MinAtar maker's reference returns
share one loop.
"""

from __future__ import annotations

import time
from typing import Callable, NamedTuple, Optional

import jax
import numpy as np

from rosmo.signals import check_stop

ActFn = Callable  # (params, obs[B, ...], key) -> int32[B]


class Episodes(NamedTuple):
    returns: list[float]  # per finished episode, in order of completion
    lengths: list[int]  # agent steps per episode
    env_steps: int  # agent steps over all episodes
    wall_seconds: float
    num_envs: int


def play_lockstep(
    make_env: Callable[[int], object],
    act: ActFn,
    params,
    num_episodes: int,
    num_envs: int = 16,
    seed: int = 0,
    on_episode: Optional[Callable[[], object]] = None,
) -> Episodes:
    """`num_episodes` episodes of `min(num_envs, num_episodes)` envs stepped in lockstep (module docstring).

    `act` is called as given (jit it first); `on_episode()` is called as each episode ends (a progress bar).
    `wall_seconds` counts from the first lockstep, after the envs are made and reset.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    num_envs = max(1, min(int(num_envs), int(num_episodes)))
    envs = [make_env(seed + i) for i in range(num_envs)]
    timesteps = [env.reset() for env in envs]
    episode_return = np.zeros(num_envs)
    episode_length = np.zeros(num_envs, np.int64)
    active = np.ones(num_envs, bool)
    started = num_envs
    returns: list[float] = []
    lengths: list[int] = []
    key = jax.random.PRNGKey(seed)
    env_steps = 0
    start = time.time()
    while active.any():
        check_stop()  # SIGINT/SIGTERM: the job stops between env steps
        obs = np.stack([ts.observation for ts in timesteps]).astype(np.float32)
        key, act_key = jax.random.split(key)
        actions = np.asarray(act(params, obs, act_key))
        for i in np.flatnonzero(active):
            ts = envs[i].step(int(actions[i]))
            env_steps += 1
            episode_return[i] += ts.reward or 0.0
            episode_length[i] += 1
            if ts.last():
                returns.append(float(episode_return[i]))
                lengths.append(int(episode_length[i]))
                episode_return[i], episode_length[i] = 0.0, 0
                if on_episode is not None:
                    on_episode()
                if started < num_episodes:
                    started += 1
                    ts = envs[i].reset()
                else:
                    active[i] = False
            timesteps[i] = ts
    return Episodes(returns, lengths, env_steps, time.time() - start, num_envs)
