"""MuJoCo RLDS datasets: a behaviour policy's rollouts (optionally with Gaussian action noise).

The D4RL / BRAC datasets cannot be downloaded here, so we make our own, in the same TFDS/RLDS
format as the rest of the project (`rlds.continuous_features`: float32 observation [obs_dim],
float32 action [act_dim]; episode layout and flags as in `rosmo.envs.mujoco.collect_episodes`).

    make_mujoco_dataset(env, out, act_fn, params, behaviour={...}, num_transitions=100_000, seed=0)

The behaviour policy is any `ActFn` (a random policy, or the mean of a trained BREMEN policy plus
Gaussian noise; see `rosmo.deploy.bremen.make_behaviour_dataset`). Our recipes, after
D4RL's names:

    random         uniform actions in [-1, 1]
    medium         a partially trained policy's mean action + N(0, sigma^2) noise, clipped
    medium-replay  every transition a deployment run collected up to that policy (its per-deployment
                   datasets, read together), or `make_replay_dataset`'s random subset of their episodes

Metadata: env, seed, obs/act dims, behaviour (a dict describing the policy and noise), number of
transitions / episodes, the mean return of the logged complete episodes, and two reference returns
measured in fresh envs with other seeds over `reference_episodes` episodes: `random_return` (uniform
policy) and `behaviour_return` (the behaviour policy, noise included).
"""

from __future__ import annotations

import os
import time
from typing import Any, Optional

import numpy as np

import rosmo
from rosmo.data import rlds
from rosmo.data.transitions import episode_transitions
from rosmo.envs import mujoco

_RANDOM_REFERENCE_SEED_OFFSET = 10_000
_BEHAVIOUR_REFERENCE_SEED_OFFSET = 20_000


def write_episodes(
    path: str,
    env: str,
    episodes: list[dict[str, Any]],
    metadata: dict[str, Any],
    description: str = "",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write RLDS `episodes` of `env` to the dataset directory `path` (atomically); returns counts."""
    obs_dim, act_dim = mujoco.env_spec(env)
    name = env.lower().replace("-", "_")  # the TFDS dataset name, e.g. halfcheetah_v5
    num_transitions = int(sum(len(e["steps"]["reward"]) - 1 for e in episodes))
    complete = [float(e["episode_return"]) for e in episodes if e.get("complete", True)]
    meta = {
        "env": env,
        "observation_dim": obs_dim,
        "action_dim": act_dim,
        "num_episodes": len(episodes),
        "num_transitions": num_transitions,
        "rosmo_version": rosmo.__version__,
        **metadata,
    }
    if complete:  # episodes cut by the collection budget left out
        meta.setdefault("episode_return_mean", float(np.mean(complete)))
        meta.setdefault("num_complete_episodes", len(complete))
    with rlds.RldsWriter(path, name, rlds.continuous_features(obs_dim, act_dim), meta, description, overwrite) as w:
        for episode_id, episode in enumerate(episodes):
            w.add_episode(
                {
                    "steps": episode["steps"],
                    "episode_id": episode_id,
                    "episode_return": np.float32(episode["episode_return"]),
                }
            )
    return {"path": os.path.abspath(path), "episodes": len(episodes), "transitions": num_transitions}


def make_mujoco_dataset(
    env: str,
    out: str,
    act_fn: mujoco.ActFn,
    params: Any,
    behaviour: dict[str, Any],
    num_transitions: int = 100_000,
    seed: int = 0,
    num_envs: int = 16,
    reference_episodes: int = 10,
    max_episode_steps: Optional[int] = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Log `num_transitions` transitions of the policy `act_fn(params, ...)` in `env` to the dataset `out`.

    `behaviour` describes the policy for the metadata (e.g. {"name": "bremen", "run": ..., "noise_std": 0.1}).
    Returns path, episodes, transitions, seconds, random_return, behaviour_return.
    Raises FileExistsError (before collecting) when `out` exists and `overwrite` is False.
    """
    start = time.time()
    mujoco.check_env_name(env)
    path = os.path.abspath(out)
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"dataset {path} already exists; pass overwrite=True (--overwrite) to replace it")
    rlds.check_replaceable(path)
    if reference_episodes < 1:
        raise ValueError(f"reference_episodes must be >= 1, got {reference_episodes}")
    episodes = mujoco.collect_episodes(
        env, act_fn, params, num_transitions, num_envs, seed, max_episode_steps, progress=progress
    )
    _, act_dim = mujoco.env_spec(env)
    random_ref = mujoco.evaluate(
        env,
        mujoco.random_act_fn,
        mujoco.random_params(act_dim),
        reference_episodes,
        seed=seed + _RANDOM_REFERENCE_SEED_OFFSET,
        max_episode_steps=max_episode_steps,
    )
    behaviour_ref = mujoco.evaluate(
        env,
        act_fn,
        params,
        reference_episodes,
        seed=seed + _BEHAVIOUR_REFERENCE_SEED_OFFSET,
        max_episode_steps=max_episode_steps,
    )
    metadata = {
        "seed": seed,
        "behaviour": dict(behaviour),
        "max_episode_steps": max_episode_steps,
        "reference_episodes": reference_episodes,
        "random_return": random_ref["mean_return"],
        "behaviour_return": behaviour_ref["mean_return"],
        "reference_seeds": {
            "random": seed + _RANDOM_REFERENCE_SEED_OFFSET,
            "behaviour": seed + _BEHAVIOUR_REFERENCE_SEED_OFFSET,
        },
        "wall_time_s": round(time.time() - start, 2),
    }
    description = (
        f"{num_transitions} transitions of {env} logged from {behaviour.get('name', 'a policy')} (seed {seed})."
    )
    summary = write_episodes(path, env, episodes, metadata, description, overwrite)
    return {
        **summary,
        "seconds": round(time.time() - start, 2),
        "random_return": random_ref["mean_return"],
        "behaviour_return": behaviour_ref["mean_return"],
    }


def make_replay_dataset(
    dataset_dirs: list[str], out: str, num_transitions: int = 100_000, seed: int = 0, overwrite: bool = False
) -> dict[str, Any]:
    """A "replay" dataset: randomly chosen whole episodes of `dataset_dirs` (e.g. a deployment run's
    per-deployment datasets) up to exactly `num_transitions` transitions (the last one cut, truncated).

    Metadata: the sources, the seed, the source datasets' metadata (behaviour policies), and the
    `random_return` of the first source that has one.
    """
    path = os.path.abspath(out)
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"dataset {path} already exists; pass overwrite=True (--overwrite) to replace it")
    rlds.check_replaceable(path)
    episodes, sources, env = [], [], None
    for source in dataset_dirs:
        builder = rlds.load_builder(source)
        meta = rlds.metadata(builder)
        if env is not None and meta.get("env") != env:
            raise rlds.DatasetError(f"{source}: env {meta.get('env')!r} differs from {env!r} of {dataset_dirs[0]}")
        env = meta.get("env")
        sources.append(
            {
                "path": os.path.abspath(source),
                "behaviour": meta.get("behaviour"),
                "random_return": meta.get("random_return"),
            }
        )
        episodes.extend(e for e in rlds.iterate_episodes_numpy(builder) if len(e["steps"]["reward"]) > 1)
    if env is None:
        raise ValueError("make_replay_dataset: no source dataset given")
    rng = np.random.default_rng(seed)
    chosen, total = [], 0
    for index in rng.permutation(len(episodes)):
        steps = episodes[index]["steps"]
        take = min(len(steps["reward"]) - 1, num_transitions - total)
        if take < len(steps["reward"]) - 1:  # cut: the first `take` transitions, truncated
            steps = {k: np.asarray(v)[: take + 1].copy() for k, v in steps.items()}
            steps["is_last"][-1], steps["is_terminal"][-1], steps["discount"][-1] = True, False, 1.0
            steps["action"][-1], steps["reward"][-1] = 0.0, 0.0
        chosen.append(
            {
                "steps": steps,
                "episode_return": np.float32(np.sum(steps["reward"], dtype=np.float64)),
                "complete": take == len(episodes[index]["steps"]["reward"]) - 1,
            }
        )
        total += take
        if total >= num_transitions:
            break
    if total < num_transitions:
        raise ValueError(f"the sources hold {total} transitions, fewer than num_transitions={num_transitions}")
    assert sum(len(episode_transitions(e["steps"])) for e in chosen) == num_transitions
    random_return = next((src["random_return"] for src in sources if src["random_return"] is not None), None)
    metadata = {"seed": seed, "behaviour": {"name": "replay", "sources": sources}, "random_return": random_return}
    return write_episodes(
        path,
        env,
        chosen,
        metadata,
        f"{num_transitions} transitions replayed from {len(dataset_dirs)} datasets (seed {seed})",
        overwrite,
    )
