"""Playing an agent in online environments, many episodes at once.

    play_environment_loop(make_env, act, params, N, seed)   one dm_env env in `acme.EnvironmentLoop` (an Acme actor)
    play_dm_env(make_env, act, params, N, num_envs, seed)   num_envs dm_env envs in lockstep
    play_atari(game, act, params, N, num_envs, seed)        ALE's C++ vector env (Atari, RL Unplugged protocol)

All play `num_episodes` complete episodes and return `Episodes` (returns,
lengths, env steps, wall seconds). The Acme loop makes one jitted action call
per env step (`rosmo.agents.actor.Actor`); the other two make one per lockstep
on the batch of observations, and play each started episode to its end, so
short episodes are not favoured. Each loop polls `check_stop()` (a pending SIGINT/SIGTERM
raises `Stopped` there). Statistics and normalisation are
`rosmo.statistics`; `rosmo.evaluation.evaluate` joins them.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import acme
import jax
import numpy as np
from acme.utils import counting, loggers
from tqdm import tqdm

from rosmo.agents.actor import Actor, FixedVariables
from rosmo.envs import atari as atari_env
from rosmo.envs.lockstep import Episodes, play_lockstep
from rosmo.signals import check_stop

ActFn = Callable  # (params, obs[B, ...], key) -> int32[B]


def _bar(progress: bool, total: int, desc: str):
    return tqdm(total=total, desc=desc, unit="ep", leave=False) if progress else None


class _EpisodeLogger(loggers.Logger):
    """Keeps `acme.EnvironmentLoop`'s per-episode rows (return, length, counts) and moves a progress bar."""

    def __init__(self, bar=None):
        self.rows: list[loggers.LoggingData] = []
        self._bar = bar

    def write(self, data: loggers.LoggingData) -> None:
        self.rows.append(dict(data))
        if self._bar is not None:
            self._bar.update(1)
        check_stop()  # once per episode of acme's loop

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def play_environment_loop(
    make_env: Callable[[int], object],
    act_fn: ActFn,
    params,
    num_episodes: int,
    seed: int = 0,
    progress: bool = False,
    jitted_act: Optional[ActFn] = None,
) -> Episodes:
    """`num_episodes` episodes of the env `make_env(seed)` in `acme.EnvironmentLoop`.

    The actor is `rosmo.agents.actor.Actor(act_fn)` on `FixedVariables({"params": params})`
    with keys from `PRNGKey(seed)`; an Acme `Counter` counts the steps, an Acme `Logger`
    receives each episode's return and length.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    actor = Actor(act_fn, FixedVariables({"params": params}), seed=seed, jitted_act=jitted_act)
    counter = counting.Counter()
    logger = _EpisodeLogger(_bar(progress, num_episodes, "evaluate"))
    loop = acme.EnvironmentLoop(make_env(seed), actor, counter=counter, logger=logger, should_update=False)
    start = time.time()
    loop.run(num_episodes=num_episodes)
    wall = time.time() - start
    logger.close()
    returns = [float(row["episode_return"]) for row in logger.rows]
    lengths = [int(row["episode_length"]) for row in logger.rows]
    return Episodes(returns, lengths, int(counter.get_counts()["steps"]), wall, 1)


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
    """`num_envs` dm_env envs stepped in lockstep until `num_episodes` episodes have ended
    (`rosmo.envs.lockstep.play_lockstep` with `act_fn` jitted).

    Env `i` is `make_env(seed + i)`; observations are stacked as float32 [num_envs, ...];
    the action key sequence starts from `PRNGKey(seed)`.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    bar = _bar(progress, num_episodes, "evaluate")
    episodes = play_lockstep(
        make_env,
        jitted_act or jax.jit(act_fn),
        params,
        num_episodes,
        num_envs,
        seed,
        on_episode=(lambda: bar.update(1)) if bar is not None else None,
    )
    if bar is not None:
        bar.close()
    return episodes


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
    returns: list[float] = []
    lengths: list[int] = []
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
            check_stop()
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
