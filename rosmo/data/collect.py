"""Whole episodes of a policy in one dm_env environment, as RLDS episodes (`rosmo deploy`'s collection).

Each episode of `T` transitions becomes `T + 1` RLDS steps, as every dataset maker of the project
writes them::

    step t < T : (o_t, a_t, r_t, discount_t, is_first = t == 0, is_last = False, is_terminal = False)
    step T     : (o_T, 0,   0,   1 - terminated, is_first = False, is_last = True, is_terminal = terminated)

where `r_t` / `discount_t` come with the timestep that `a_t` produced and `terminated` means the env
ended the episode with discount 0 (a truncation, discount > 0, gives `is_terminal = False`).
Observations keep the env's `observation_spec()` dtype (float32 BSuite boards, uint8 MinAtar grids).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import tqdm

from rosmo.signals import check_stop


def episode_steps(
    observations: list[np.ndarray],
    actions: list[int],
    rewards: list[float],
    discounts: list[float],
    terminated: bool,
    observation_dtype: Optional[np.dtype] = None,
) -> dict[str, np.ndarray]:
    """RLDS step arrays `[T + 1, ...]` from `T + 1` observations and `T` actions / rewards / discounts.

    Observations are cast to `observation_dtype` when given (else stacked as they are).
    """
    num = len(observations)
    if len(actions) != num - 1 or len(rewards) != num - 1 or len(discounts) != num - 1:
        raise ValueError(
            f"need T + 1 observations for T actions / rewards / discounts, got {num}, "
            f"{len(actions)}, {len(rewards)}, {len(discounts)}"
        )
    is_first = np.zeros(num, np.bool_)
    is_first[0] = True
    is_last = np.zeros(num, np.bool_)
    is_last[-1] = True
    is_terminal = np.zeros(num, np.bool_)
    is_terminal[-1] = terminated
    obs = np.stack(observations)
    return {
        "observation": obs if observation_dtype is None else obs.astype(observation_dtype),
        "action": np.asarray(list(actions) + [0], np.int64),
        "reward": np.asarray(list(rewards) + [0.0], np.float32),
        "discount": np.asarray(list(discounts) + [0.0 if terminated else 1.0], np.float32),
        "is_first": is_first,
        "is_last": is_last,
        "is_terminal": is_terminal,
    }


def collect_policy_episodes(
    make_env: Callable[[], Any],
    policy: Callable[[np.ndarray], int],
    num_transitions: int,
    progress: bool = False,
    observation_dtype: Optional[np.dtype] = None,
) -> list[dict[str, Any]]:
    """Whole episodes of `policy` (observation -> action) in one env from `make_env()` until at least
    `num_transitions` transitions are logged (the last episode is played to its end).

    Returns RLDS episodes `{"steps": {field: [T + 1, ...]}, "episode_id", "episode_return"}`; observations
    in `observation_dtype` (default: the env's `observation_spec().dtype`).
    """
    if num_transitions < 1:
        raise ValueError(f"num_transitions must be >= 1, got {num_transitions}")
    env = make_env()
    if observation_dtype is None:
        observation_dtype = np.dtype(env.observation_spec().dtype)
    episodes: list[dict[str, Any]] = []
    total = 0
    bar = tqdm.tqdm(total=num_transitions, desc="collect", unit="step", disable=not progress, leave=False)
    while total < num_transitions:
        check_stop()  # SIGINT/SIGTERM: stop between episodes (nothing is written yet)
        timestep = env.reset()
        observations, actions, rewards, discounts = [timestep.observation], [], [], []
        while not timestep.last():
            action = int(policy(timestep.observation))
            timestep = env.step(action)
            observations.append(timestep.observation)
            actions.append(action)
            rewards.append(timestep.reward)
            discounts.append(timestep.discount)
        steps = episode_steps(
            observations, actions, rewards, discounts, timestep.discount == 0, observation_dtype=observation_dtype
        )
        episodes.append(
            {
                "steps": steps,
                "episode_id": len(episodes),
                "episode_return": np.float32(np.sum(steps["reward"], dtype=np.float64)),
            }
        )
        total += len(actions)
        bar.update(len(actions))
    bar.close()
    return episodes
