"""Gymnasium MuJoCo locomotion: seeded vectorised collection into RLDS episodes, return-based evaluation.

Envs: `HalfCheetah-v5`, `Hopper-v5`, `Walker2d-v5`, `Ant-v5` (gymnasium's defaults: the x/y
position is left out of the observation, 1000-step time limit). Actions live in [-1, 1]^A; every
action a policy proposes is clipped to that box before the env sees it, and the clipped action is
what gets logged.

A policy is the project's `ActFn`: `act_fn(params, obs float32[N, obs_dim], key) -> float32[N, act_dim]`
(jitted here, one call per vector step). `random_act_fn` is the uniform policy.

Collection (`collect_episodes`) runs `num_envs` envs (gymnasium `SyncVectorEnv`, sub-env `i` seeded
`seed + i`, next-step autoreset) until exactly `num_transitions` transitions are taken, and returns
RLDS episodes as in the BSuite maker: an episode of `T` transitions is `T + 1` steps,

    step t < T : (o_t, a_t, r_t, discount 1, is_first = t == 0, is_last = False, is_terminal = False)
    step T     : (o_T, 0,   0,   1 - terminated, is_first = False, is_last = True, is_terminal = terminated)

`terminated` is the env's own termination (Hopper / Walker2d / Ant falling); the time limit and the
end of the collection budget give `is_terminal = False` (truncation).

`termination_fn(env)` is the same termination as a pure jax function of the next observation, for
rollouts in a learned model (HalfCheetah never terminates).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from rosmo.statistics import return_statistics

ENV_NAMES = ("HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5")
ActFn = Callable  # (params, obs float32[N, obs_dim], key) -> float32[N, act_dim]


def check_env_name(env: str) -> str:
    """`env` itself when it is one of ENV_NAMES; ValueError listing them otherwise."""
    if env not in ENV_NAMES:
        raise ValueError(f"unknown MuJoCo env {env!r}; expected one of {', '.join(ENV_NAMES)}")
    return env


def make_env(env: str, max_episode_steps: Optional[int] = None) -> gym.Env:
    """One gymnasium env (`max_episode_steps` replaces the 1000-step limit when given)."""
    kwargs = {} if max_episode_steps is None else {"max_episode_steps": int(max_episode_steps)}
    return gym.make(check_env_name(env), **kwargs)


def env_spec(env: str) -> tuple[int, int]:
    """(obs_dim, act_dim) of `env`."""
    e = make_env(env)
    try:
        return int(e.observation_space.shape[0]), int(e.action_space.shape[0])
    finally:
        e.close()


def make_vector_env(env: str, num_envs: int, max_episode_steps: Optional[int] = None) -> gym.vector.VectorEnv:
    """`num_envs` copies of `env` stepped in lockstep (SyncVectorEnv, next-step autoreset)."""
    check_env_name(env)
    return gym.vector.SyncVectorEnv(
        [lambda: make_env(env, max_episode_steps) for _ in range(int(num_envs))],
        autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP,
    )


def random_act_fn(params: Any, obs: jnp.ndarray, key: jax.Array) -> jnp.ndarray:
    """Uniform random actions in [-1, 1]; `params` is `random_params(act_dim)` (only its shape is used)."""
    return jax.random.uniform(key, (obs.shape[0], params.shape[-1]), minval=-1.0, maxval=1.0)


def random_params(act_dim: int) -> np.ndarray:
    """The `params` of `random_act_fn`: zeros [act_dim]."""
    return np.zeros((int(act_dim),), np.float32)


# ---------------------------------------------------------------------------------------------
# Terminations in jax (for imagined rollouts)
# ---------------------------------------------------------------------------------------------


def _never(next_obs: jnp.ndarray) -> jnp.ndarray:
    return jnp.zeros(next_obs.shape[:-1], bool)


def _hopper(next_obs: jnp.ndarray) -> jnp.ndarray:
    z, angle = next_obs[..., 0], next_obs[..., 1]
    healthy = jnp.all(jnp.abs(next_obs[..., 1:]) < 100.0, axis=-1) & (z > 0.7) & (jnp.abs(angle) < 0.2)
    return ~healthy


def _walker2d(next_obs: jnp.ndarray) -> jnp.ndarray:
    z, angle = next_obs[..., 0], next_obs[..., 1]
    return ~((z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0))


def _ant(next_obs: jnp.ndarray) -> jnp.ndarray:
    z = next_obs[..., 0]
    return ~(jnp.all(jnp.isfinite(next_obs), axis=-1) & (z >= 0.2) & (z <= 1.0))


_TERMINATIONS = {"HalfCheetah-v5": _never, "Hopper-v5": _hopper, "Walker2d-v5": _walker2d, "Ant-v5": _ant}


def termination_fn(env: str) -> Callable[[jnp.ndarray], jnp.ndarray]:
    """`done(next_obs [..., obs_dim]) -> bool[...]`: the env's own termination rule, from the observation.

    Hopper-v5: unhealthy when obs[0] (z) <= 0.7, |obs[1]| (angle) >= 0.2 or any |obs[1:]| >= 100;
    Walker2d-v5: z outside (0.8, 2.0) or angle outside (-1, 1); Ant-v5: z outside [0.2, 1.0] or a
    non-finite entry; HalfCheetah-v5: never (gymnasium v5 defaults).
    """
    return _TERMINATIONS[check_env_name(env)]


# ---------------------------------------------------------------------------------------------
# Rewards in jax (for imagined rollouts with the known reward function)
# ---------------------------------------------------------------------------------------------

# (index of the x velocity in the observation, control cost weight, healthy reward) of gymnasium v5
_REWARD_TERMS = {
    "HalfCheetah-v5": (8, 0.1, 0.0),
    "Hopper-v5": (5, 1e-3, 1.0),
    "Walker2d-v5": (8, 1e-3, 1.0),
    "Ant-v5": (13, 0.5, 1.0),
}
_ANT_CONTACT_WEIGHT = 5e-4
_ANT_QPOS_QVEL = 27  # Ant-v5 observation: qpos[2:] (13) + qvel (14), then 78 clipped contact forces


def reward_fn(env: str) -> Callable[[jnp.ndarray, jnp.ndarray, jnp.ndarray], jnp.ndarray]:
    """`reward(obs [..., O], action [..., A], next_obs [..., O]) -> [...]`: the env's reward from observations.

    gymnasium v5: x_velocity - w_ctrl * |a|^2 + healthy_reward (while alive), with the x velocity
    (x_after - x_before) / dt approximated by the mean of qvel[0] before and after, `(obs[v] + next_obs[v]) / 2`
    (the BREMEN authors' code does the same from one of them, with its envs' `cost_np_vec`).
    HalfCheetah v = 8, w = 0.1, healthy 0; Hopper v = 5, w = 1e-3, 1; Walker2d v = 8, w = 1e-3, 1;
    Ant v = 13, w = 0.5, 1, minus 5e-4 * |clip(contact forces, -1, 1)|^2 when the observation carries them.
    """
    index, ctrl_weight, healthy = _REWARD_TERMS[check_env_name(env)]

    def reward(obs: jnp.ndarray, action: jnp.ndarray, next_obs: jnp.ndarray) -> jnp.ndarray:
        velocity = 0.5 * (obs[..., index] + next_obs[..., index])
        value = velocity - ctrl_weight * jnp.sum(jnp.square(action), -1) + healthy
        if env == "Ant-v5" and next_obs.shape[-1] > _ANT_QPOS_QVEL:
            forces = jnp.clip(next_obs[..., _ANT_QPOS_QVEL:], -1.0, 1.0)
            value = value - _ANT_CONTACT_WEIGHT * jnp.sum(jnp.square(forces), -1)
        return value

    return reward


# ---------------------------------------------------------------------------------------------
# Collection
# ---------------------------------------------------------------------------------------------


def _close_episode(
    observations: list[np.ndarray], actions: list[np.ndarray], rewards: list[float], terminated: bool, act_dim: int
) -> dict[str, np.ndarray]:
    """RLDS step arrays `[T + 1, ...]` from `T + 1` observations and `T` actions / rewards."""
    num = len(observations)
    flags = np.zeros(num, np.bool_)
    is_first, is_last, is_terminal = flags.copy(), flags.copy(), flags.copy()
    is_first[0], is_last[-1], is_terminal[-1] = True, True, terminated
    discount = np.ones(num, np.float32)
    discount[-1] = 0.0 if terminated else 1.0
    return {
        "observation": np.stack(observations).astype(np.float32),
        "action": np.concatenate(
            [np.asarray(actions, np.float32).reshape(-1, act_dim), np.zeros((1, act_dim), np.float32)]
        ),
        "reward": np.asarray(list(rewards) + [0.0], np.float32),
        "discount": discount,
        "is_first": is_first,
        "is_last": is_last,
        "is_terminal": is_terminal,
    }


def collect_episodes(
    env: str,
    act_fn: ActFn,
    params: Any,
    num_transitions: int,
    num_envs: int = 16,
    seed: int = 0,
    max_episode_steps: Optional[int] = None,
    progress: bool = False,
    jitted_act: Optional[ActFn] = None,
) -> list[dict[str, Any]]:
    """Exactly `num_transitions` transitions of `act_fn` in `env`, as RLDS episodes (see the module doc).

    Returns `[{"steps": {field: array[T + 1, ...]}, "episode_return": float32, "complete": bool}]` in
    the order the episodes ended; episodes cut by the budget come last (truncated, `complete=False`).
    Deterministic given `seed`.
    """
    if num_transitions < 1:
        raise ValueError(f"num_transitions must be >= 1, got {num_transitions}")
    num_envs = max(1, min(int(num_envs), int(num_transitions)))
    act = jitted_act or jax.jit(act_fn)
    key = jax.random.PRNGKey(seed)
    vec = make_vector_env(env, num_envs, max_episode_steps)
    act_dim = int(vec.single_action_space.shape[0])
    obs, _ = vec.reset(seed=[seed + i for i in range(num_envs)])
    buffers = [{"obs": [obs[i].copy()], "act": [], "rew": []} for i in range(num_envs)]
    resetting = np.zeros(num_envs, bool)  # next-step autoreset: this step only resets sub-env i
    episodes: list[dict[str, Any]] = []
    taken = 0
    bar = tqdm.tqdm(total=num_transitions, desc=f"collect {env}", unit="step", disable=not progress, mininterval=2.0)
    try:
        while taken < num_transitions:
            key, act_key = jax.random.split(key)
            actions = np.clip(np.asarray(act(params, obs.astype(np.float32), act_key), np.float32), -1.0, 1.0)
            next_obs, reward, terminated, truncated, _ = vec.step(actions)
            new = 0
            for i in range(num_envs):
                b = buffers[i]
                if resetting[i]:  # the reset observation of a new episode
                    buffers[i] = {"obs": [next_obs[i].copy()], "act": [], "rew": []}
                    continue
                if taken + new >= num_transitions:
                    continue  # budget spent: sub-env i's last step is dropped
                b["act"].append(actions[i])
                b["rew"].append(float(reward[i]))
                b["obs"].append(next_obs[i].copy())
                new += 1
                if terminated[i] or truncated[i]:
                    episodes.append(_finish(b, bool(terminated[i]), act_dim, complete=True))
                    b["obs"] = []
            taken += new
            bar.update(new)
            resetting = (terminated | truncated) & ~resetting
            obs = next_obs
    finally:
        bar.close()
        vec.close()
    for b in buffers:  # episodes cut by the budget: truncated
        if b["act"]:
            episodes.append(_finish(b, False, act_dim, complete=False))
    return episodes


def _finish(buffer: dict[str, list], terminated: bool, act_dim: int, complete: bool) -> dict[str, Any]:
    steps = _close_episode(buffer["obs"], buffer["act"], buffer["rew"], terminated, act_dim)
    buffer["act"], buffer["rew"] = [], []
    return {
        "steps": steps,
        "episode_return": np.float32(np.sum(steps["reward"], dtype=np.float64)),
        "complete": complete,
    }


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def evaluate(
    env: str,
    act_fn: ActFn,
    params: Any,
    num_episodes: int,
    num_envs: int = 10,
    seed: int = 0,
    max_episode_steps: Optional[int] = None,
    progress: bool = False,
    jitted_act: Optional[ActFn] = None,
) -> dict[str, Any]:
    """Play `num_episodes` full episodes (`num_envs` at a time, sub-env `i` seeded `seed + i`).

    Every started episode is played to its end (termination or time limit), so short episodes are
    not favoured. Returns `return_statistics` as episodes, mean_return, median_return, iqm_return,
    iqm_return_ci95, std_return, min_return, max_return; the per-episode `returns` and `lengths`,
    `env_steps` and `wall_seconds`.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    num_envs = max(1, min(int(num_envs), int(num_episodes)))
    act = jitted_act or jax.jit(act_fn)
    key = jax.random.PRNGKey(seed)
    start = time.time()
    vec = make_vector_env(env, num_envs, max_episode_steps)
    obs, _ = vec.reset(seed=[seed + i for i in range(num_envs)])
    returns: list[float] = []
    lengths: list[int] = []
    episode_return = np.zeros(num_envs)
    episode_length = np.zeros(num_envs, np.int64)
    active = np.ones(num_envs, bool)
    resetting = np.zeros(num_envs, bool)
    started = num_envs
    env_steps = 0
    bar = tqdm.tqdm(total=num_episodes, desc=f"evaluate {env}", unit="ep", disable=not progress)
    try:
        while active.any():
            key, act_key = jax.random.split(key)
            actions = np.clip(np.asarray(act(params, obs.astype(np.float32), act_key), np.float32), -1.0, 1.0)
            obs, reward, terminated, truncated, _ = vec.step(actions)
            counted = active & ~resetting
            env_steps += int(counted.sum())
            episode_return[counted] += reward[counted]
            episode_length[counted] += 1
            done = counted & (terminated | truncated)
            for i in np.flatnonzero(done):
                returns.append(float(episode_return[i]))
                lengths.append(int(episode_length[i]))
                episode_return[i], episode_length[i] = 0.0, 0
                bar.update(1)
                if started < num_episodes:
                    started += 1
                else:
                    active[i] = False
            resetting = (terminated | truncated) & ~resetting
    finally:
        bar.close()
        vec.close()
    stats = return_statistics(returns, seed=seed)
    return {
        "env": env,
        "episodes": stats["episodes"],
        **{f"{k}_return": stats[k] for k in ("mean", "median", "iqm", "std", "min", "max")},
        "iqm_return_ci95": stats["iqm_ci95"],
        "returns": returns,
        "lengths": lengths,
        "env_steps": env_steps,
        "wall_seconds": time.time() - start,
        "num_envs": num_envs,
    }
