"""Make a BSuite RLDS dataset: train an online DQN and log every transition of its run.

Like RL Unplugged's DQN replay, the dataset is the agent's whole learning run,
exploration included: episode 0 is nearly random, the last ones nearly
greedy. Each episode of `T` transitions becomes `T + 1` RLDS steps:

    step t < T : (o_t, a_t, r_t, discount_t, is_first = t == 0, is_last = False, is_terminal = False)
    step T     : (o_T, 0,   0,   1 - terminated, is_first = False, is_last = True, is_terminal = terminated)

where `r_t` / `discount_t` come with the timestep that `a_t` produced,
`terminated` means the env ended the episode with discount 0 (bsuite's time
limits are terminations) and a truncation (discount > 0) gives
`is_terminal = False`. Episode fields: `episode_id`, `episode_return`
(the sum of the logged, possibly noisy, rewards).

After training, two normalisation references are measured over
`reference_episodes` episodes each, in fresh envs (same reward noise / sticky
actions as the data) with seeds different from the training env's:
`random_return` (uniform random policy) and `dqn_return` (the trained DQN,
greedy). Normalised score = (R - random_return) / (dqn_return - random_return).

CLI: `rosmo dataset bsuite --env catch --out datasets/bsuite [--episodes N] ...`.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from typing import Any, Callable, Optional

import numpy as np
import tqdm

import rosmo
from rosmo.behaviour import dqn as dqn_lib
from rosmo.data import collect, rlds
from rosmo.envs import bsuite as bsuite_envs
from rosmo.signals import check_stop

DEFAULT_EPISODES: dict[str, int] = {"catch": 2000, "cartpole": 1000, "mountain_car": 500}
# Normalisation references need at least this many episodes; tests lower it.
_MIN_REFERENCE_EPISODES = 100
# The DQN reference must beat the random one by this many standard errors of their difference to
# normalise scores; tests of tiny datasets turn the check off (None).
_REFERENCE_MIN_GAP_SE: Optional[float] = 2.0
# Seed offsets of the fresh envs (and policies) the references are measured in.
_RANDOM_REFERENCE_SEED_OFFSET = 10_000
_DQN_REFERENCE_SEED_OFFSET = 20_000


def check_noise(reward_noise: float, sticky_action_prob: float) -> None:
    """ValueError naming the flag unless reward_noise is finite and >= 0 and sticky_action_prob in [0, 1]."""
    if not (math.isfinite(reward_noise) and reward_noise >= 0):
        raise ValueError(f"--reward-noise {reward_noise}: expected a finite number >= 0 (the reward noise's std)")
    if not (0.0 <= sticky_action_prob <= 1.0):  # False for NaN too
        raise ValueError(f"--sticky-action-prob {sticky_action_prob}: expected a probability in [0, 1]")


def check_references(random_returns: np.ndarray, dqn_returns: np.ndarray, min_gap_se: Optional[float] = None) -> None:
    """ValueError with the numbers unless mean(dqn) - mean(random) > min_gap_se * SE of the difference.

    SE = sqrt(var(random) / n_random + var(dqn) / n_dqn). A behaviour reference at or below the random one
    (plus noise) cannot normalise: (R - random) / (dqn - random) would flip or explode scores.
    """
    gap_se = _REFERENCE_MIN_GAP_SE if min_gap_se is None else min_gap_se
    if gap_se is None:
        return
    r, d = np.asarray(random_returns, np.float64), np.asarray(dqn_returns, np.float64)
    se = float(np.sqrt(r.var() / max(len(r), 1) + d.var() / max(len(d), 1)))
    gap = float(d.mean() - r.mean())
    if not gap > gap_se * se:
        raise ValueError(
            f"the references cannot normalise scores: dqn_return {d.mean():.3f} (std {d.std():.3f}) is not above "
            f"random_return {r.mean():.3f} (std {r.std():.3f}) by {gap_se:g} standard errors ({gap_se * se:.3f}) "
            f"over {len(r)} episodes each; the DQN did not learn: give more --episodes (default for this env) "
            "or more --reference-episodes; nothing was written"
        )


def dataset_name(env: str, reward_noise: float = 0.0, sticky_action_prob: float = 0.0) -> str:
    """Directory name of a dataset: `catch`, `catch_noise0.1`, `catch_sticky0.25`, `catch_noise0.1_sticky0.25`."""
    name = env
    if reward_noise:
        name += f"_noise{reward_noise:g}"
    if sticky_action_prob:
        name += f"_sticky{sticky_action_prob:g}"
    return name


def _episode_steps(
    observations: list[np.ndarray], actions: list[int], rewards: list[float], discounts: list[float], terminated: bool
) -> dict[str, np.ndarray]:
    """RLDS step arrays `[T + 1, ...]` from `T + 1` observations and `T` actions / rewards / discounts."""
    return collect.episode_steps(observations, actions, rewards, discounts, terminated, observation_dtype=np.float32)


def evaluate_policy(make_env: Callable[[], Any], policy: Callable[[np.ndarray], int], num_episodes: int) -> np.ndarray:
    """Returns `[num_episodes]` of `policy` (observation -> action) run in one env from `make_env()`."""
    env = make_env()
    returns = np.zeros(num_episodes, np.float64)
    for i in range(num_episodes):
        timestep = env.reset()
        while not timestep.last():
            timestep = env.step(policy(timestep.observation))
            returns[i] += timestep.reward
    return returns


def make_bsuite_dataset(
    env: str,
    out: str,
    num_episodes: Optional[int] = None,
    seed: int = 0,
    reward_noise: float = 0.0,
    sticky_action_prob: float = 0.0,
    overwrite: bool = False,
    reference_episodes: int = 100,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the DQN on `env` for `num_episodes` episodes, writing all of them to `<out>/<dataset_name>`.

    Returns a summary: path, episodes, steps, bytes (on disk), seconds, random_return, dqn_return.
    Raises FileExistsError (before any training) when the dataset exists and `overwrite` is False.
    """
    start = time.time()
    check_noise(reward_noise, sticky_action_prob)
    if seed < 0:
        raise ValueError(f"--seed {seed}: expected an integer >= 0")
    observation_shape, num_actions = bsuite_envs.env_spec(env)  # ValueError listing valid names
    num_episodes = DEFAULT_EPISODES[env] if num_episodes is None else int(num_episodes)
    if num_episodes < 1:
        raise ValueError(f"num_episodes (--episodes) must be >= 1, got {num_episodes}")
    if reference_episodes < _MIN_REFERENCE_EPISODES:
        raise ValueError(
            f"reference_episodes (--reference-episodes) must be >= {_MIN_REFERENCE_EPISODES}, got {reference_episodes}"
        )
    name = dataset_name(env, reward_noise, sticky_action_prob)
    path = os.path.abspath(os.path.join(out, name))
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"dataset {path} already exists; pass --overwrite (overwrite=True) to replace it")
    rlds.check_replaceable(path)  # before any training: --overwrite replaces only a dataset of ours

    def env_factory(env_seed: int):
        return lambda: bsuite_envs.make_env(env, env_seed, reward_noise, sticky_action_prob)

    train_env = env_factory(seed)()
    config = dqn_lib.CONFIGS[env]
    agent = dqn_lib.DQN(observation_shape, num_actions, config, seed=seed)
    meta = {
        "env": env,
        "seed": seed,
        "num_episodes": num_episodes,
        "observation_shape": list(observation_shape),
        "num_actions": num_actions,
        "reward_noise": float(reward_noise),
        "sticky_action_prob": float(sticky_action_prob),
        "behaviour_agent": {"name": "double_dqn", "hyper_parameters": agent.hyper_parameters()},
        "rosmo_version": rosmo.__version__,
    }
    description = (
        f"Every transition of an online double DQN's run on bsuite {env} "
        f"(reward_noise={reward_noise}, sticky_action_prob={sticky_action_prob}), {num_episodes} episodes."
    )
    recent = deque(maxlen=20)
    with rlds.RldsWriter(path, name, rlds.bsuite_features(observation_shape), meta, description, overwrite) as writer:
        bar = tqdm.tqdm(range(num_episodes), desc=f"dataset {name}", unit="ep", disable=not progress)
        for episode_id in bar:
            check_stop()  # SIGINT/SIGTERM: the writer removes its temp directory, nothing is written
            timestep = train_env.reset()
            observations, actions, rewards, discounts = [timestep.observation], [], [], []
            while not timestep.last():
                observation = timestep.observation
                action = agent.select_action(observation)
                timestep = train_env.step(action)
                agent.observe(
                    observation, action, timestep.reward, timestep.discount, timestep.observation, timestep.last()
                )
                observations.append(timestep.observation)
                actions.append(action)
                rewards.append(timestep.reward)
                discounts.append(timestep.discount)
            steps = _episode_steps(observations, actions, rewards, discounts, terminated=timestep.discount == 0)
            episode_return = np.float32(np.sum(steps["reward"], dtype=np.float64))
            writer.add_episode({"steps": steps, "episode_id": episode_id, "episode_return": episode_return})
            recent.append(float(episode_return))
            bar.set_postfix(ret=f"{np.mean(recent):.2f}", eps=f"{agent.epsilon:.3f}", refresh=False)
        bar.close()
        train_seconds = time.time() - start

        random_rng = np.random.default_rng([seed, 0xBADC0DE])
        random_returns = evaluate_policy(
            env_factory(seed + _RANDOM_REFERENCE_SEED_OFFSET),
            lambda _: int(random_rng.integers(num_actions)),
            reference_episodes,
        )
        dqn_returns = evaluate_policy(
            env_factory(seed + _DQN_REFERENCE_SEED_OFFSET), agent.greedy_action, reference_episodes
        )
        check_references(random_returns, dqn_returns)  # raises: the temp directory is removed, nothing written
        writer.record_counts()  # num_episodes (as asked), num_steps, num_transitions
        writer.metadata.update(
            {
                "reference_episodes": reference_episodes,
                "random_return": float(np.mean(random_returns)),
                "random_return_std": float(np.std(random_returns)),
                "dqn_return": float(np.mean(dqn_returns)),
                "dqn_return_std": float(np.std(dqn_returns)),
                "reference_seeds": {
                    "random": seed + _RANDOM_REFERENCE_SEED_OFFSET,
                    "dqn": seed + _DQN_REFERENCE_SEED_OFFSET,
                },
                "train_seconds": round(train_seconds, 2),
                "wall_time_s": round(time.time() - start, 2),
            }
        )
        num_steps = writer.num_steps
    return {
        "path": path,
        "episodes": num_episodes,
        "steps": num_steps,
        "bytes": rlds.directory_size_bytes(path),
        "seconds": round(time.time() - start, 2),
        "random_return": float(np.mean(random_returns)),
        "dqn_return": float(np.mean(dqn_returns)),
    }


def human_bytes(num: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num < 1024 or unit == "GiB":
            return f"{num:.1f} {unit}" if unit != "B" else f"{int(num)} B"
        num /= 1024
    return f"{num:.1f} GiB"


def summarize(path: str) -> str:
    """A few lines on a BSuite dataset: env, episodes, steps, size, episode-return stats, references."""
    builder = rlds.load_builder(path)
    meta = rlds.metadata(builder)
    ds = builder.as_dataset(split="train").map(lambda e: e["episode_return"])
    returns = np.fromiter((float(r) for r in rlds.tfds.as_numpy(ds)), np.float64)
    tenth = max(1, len(returns) // 10)
    lines = [
        f"dataset  {os.path.abspath(path)}",
        f"env      {meta.get('env')} (reward_noise={meta.get('reward_noise')}, "
        f"sticky_action_prob={meta.get('sticky_action_prob')}, seed={meta.get('seed')})",
        f"size     {len(returns)} episodes, {meta.get('num_steps')} steps, "
        f"{human_bytes(rlds.directory_size_bytes(path))} on disk",
    ]
    if len(returns):
        lines.append(
            f"returns  mean {returns.mean():.2f}  min {returns.min():.2f}  max {returns.max():.2f}  "
            f"first 10% {returns[:tenth].mean():.2f}  last 10% {returns[-tenth:].mean():.2f}"
        )
    lines.append(
        f"refs     random {meta.get('random_return')}  dqn (greedy) {meta.get('dqn_return')}  "
        f"over {meta.get('reference_episodes')} episodes"
    )
    return "\n".join(lines)


def collect_policy_episodes(
    make_env: Callable[[], Any],
    policy: Callable[[np.ndarray], int],
    num_transitions: int,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """`rosmo.data.collect.collect_policy_episodes` with float32 observations (as `make_bsuite_dataset` writes)."""
    return collect.collect_policy_episodes(make_env, policy, num_transitions, progress, observation_dtype=np.float32)


def write_episodes(
    out: str,
    env: str,
    episodes: list[dict[str, Any]],
    metadata: dict[str, Any],
    description: str,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write BSuite RLDS `episodes` to `out` (atomically) with `metadata` (plus env, num_actions, counts)."""
    observation_shape, num_actions = bsuite_envs.env_spec(env)
    meta = {
        "env": env,
        "observation_shape": list(observation_shape),
        "num_actions": num_actions,
        "reward_noise": 0.0,
        "sticky_action_prob": 0.0,
        "rosmo_version": rosmo.__version__,
        **metadata,
    }
    name = os.path.basename(os.path.abspath(out)) or env
    with rlds.RldsWriter(out, name, rlds.bsuite_features(observation_shape), meta, description, overwrite) as writer:
        for episode in episodes:
            writer.add_episode(episode)
        counts = writer.record_counts()
    return {"path": os.path.abspath(out), **counts}
