"""Playing an agent in online environments, many episodes at once.

    play_dm_env(make_env, act, params, N, num_envs, seed)   num_envs dm_env envs in lockstep (BSuite)
    play_atari(game, act, params, N, num_envs, seed)        ALE's C++ vector env (Atari, RL Unplugged protocol)

Both play `num_episodes` complete episodes with one jitted action call per
lockstep on the batch of observations, and return `Episodes` (returns,
lengths, env steps, wall seconds). Each started episode is played to its
end, so short episodes are not favoured. Statistics and normalisation are
`rosmo.evaluation.statistics`; `rosmo.evaluation.evaluate` joins them.
"""

from __future__ import annotations

import time
from typing import Callable, List, NamedTuple, Optional

import jax
import numpy as np
from tqdm import tqdm

from rosmo.envs import atari as atari_env

ActFn = Callable  # (params, obs[B, ...], key) -> int32[B]


class Episodes(NamedTuple):
    returns: List[float]  # per finished episode, in order of completion
    lengths: List[int]  # agent steps per episode
    env_steps: int  # agent steps over all episodes
    wall_seconds: float
    num_envs: int


def _bar(progress: bool, total: int, desc: str):
    return tqdm(total=total, desc=desc, unit="ep", leave=False) if progress else None


def play_dm_env(
    make_env: Callable[[int], object],
    act_fn: ActFn,
    params,
    num_episodes: int,
    num_envs: int = 16,
    seed: int = 0,
    progress: bool = False,
    jitted_act: Optional[ActFn] = None,
) -> Episodes:
    """`num_envs` dm_env envs stepped in lockstep until `num_episodes` episodes have ended.

    Env `i` is `make_env(seed + i)`; observations are stacked as float32 [num_envs, ...];
    the action key sequence starts from `PRNGKey(seed)`.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    num_envs = max(1, min(int(num_envs), int(num_episodes)))
    act = jitted_act or jax.jit(act_fn)
    envs = [make_env(seed + i) for i in range(num_envs)]
    timesteps = [env.reset() for env in envs]
    episode_return = np.zeros(num_envs)
    episode_length = np.zeros(num_envs, np.int64)
    active = np.ones(num_envs, bool)
    started = num_envs
    returns: List[float] = []
    lengths: List[int] = []
    key = jax.random.PRNGKey(seed)
    env_steps = 0
    bar = _bar(progress, num_episodes, "evaluate")
    start = time.time()
    while active.any():
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
    return Episodes(returns, lengths, env_steps, time.time() - start, num_envs)


def play_atari(
    game: str,
    act_fn: ActFn,
    params,
    num_episodes: int,
    num_envs: int = 16,
    seed: int = 0,
    max_episode_frames: Optional[int] = None,
    sticky_action_prob: Optional[float] = None,
    progress: bool = False,
    jitted_act: Optional[ActFn] = None,
) -> Episodes:
    """Play `num_episodes` episodes of `game` under the RL Unplugged protocol, `num_envs` at a time.

    One jitted `act_fn` call per vector step on uint8 observations [num_envs, 84, 84, 4];
    sub-env `i` is seeded `seed + i` (it is `rosmo.envs.atari.AtariEnv(game, seed + i)`).
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    num_envs = max(1, min(int(num_envs), int(num_episodes)))
    kwargs = {}
    if max_episode_frames is not None:
        kwargs["max_episode_frames"] = int(max_episode_frames)
    if sticky_action_prob is not None:
        kwargs["sticky_action_prob"] = float(sticky_action_prob)
    act = jitted_act or jax.jit(act_fn)
    key = jax.random.PRNGKey(seed)
    returns: List[float] = []
    lengths: List[int] = []
    episode_return = np.zeros(num_envs)
    episode_length = np.zeros(num_envs, np.int64)
    active = np.ones(num_envs, bool)
    started = num_envs
    env_steps = 0
    bar = _bar(progress, num_episodes, f"evaluate {game}")
    start = time.time()
    with atari_env.AtariVectorEnv(game, num_envs, seed, **kwargs) as env:
        obs = env.reset()
        while active.any():
            key, act_key = jax.random.split(key)
            actions = np.asarray(act(params, obs, act_key)).astype(np.int32)
            obs, reward, terminated, truncated = env.step(actions)
            counted = active & ~env.is_first  # an auto-reset step is not an agent step
            env_steps += int(counted.sum())
            episode_return[counted] += reward[counted]
            episode_length[counted] += 1
            for i in np.flatnonzero(active & (terminated | truncated)):
                returns.append(float(episode_return[i]))
                lengths.append(int(episode_length[i]))
                episode_return[i], episode_length[i] = 0.0, 0
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(mean_return=f"{np.mean(returns):.1f}")
                if started < num_episodes:
                    started += 1
                else:
                    active[i] = False
    if bar is not None:
        bar.close()
    return Episodes(returns, lengths, env_steps, time.time() - start, num_envs)
