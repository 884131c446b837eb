"""BSuite environments: catch, cartpole, mountain_car, with optional reward noise and sticky actions.

`make_env` builds the bsuite environment classes directly (no bsuite sweep or
logging), so the same constructor serves dataset making and evaluation:

* reward noise: bsuite's own `RewardNoise` wrapper, as in the `catch_noise`
  experiment: `r_t + reward_noise * N(0, 1)` on every non-first step;
* sticky actions: `StickyActions`, which executes the previous executed action
  instead of the requested one with probability `p` (Machado et al. 2018, the
  protocol RL Unplugged uses for Atari).

Observations are float32 arrays of the env's own shape: catch `(10, 5)`
(binary board), cartpole `(1, 6)`, mountain_car `(1, 3)`. All three have 3
actions. bsuite's time limits (cartpole 10 s, mountain car 1000 steps) are
terminations with discount 0; the elapsed time is part of the observation.
"""

from __future__ import annotations

from typing import Callable, Optional

import dm_env
import numpy as np
from bsuite.environments import cartpole, catch, mountain_car
from bsuite.utils import wrappers

_CONSTRUCTORS: dict[str, Callable[[int], dm_env.Environment]] = {
    "catch": lambda seed: catch.Catch(seed=seed),
    "cartpole": lambda seed: cartpole.Cartpole(seed=seed),
    "mountain_car": lambda seed: mountain_car.MountainCar(seed=seed),
}
ENV_NAMES: tuple[str, ...] = tuple(_CONSTRUCTORS)


def _check_name(name: str) -> None:
    if name not in _CONSTRUCTORS:
        raise ValueError(f"unknown BSuite env {name!r}; expected one of {', '.join(ENV_NAMES)}")


class StickyActions(dm_env.Environment):
    """Repeat the previously executed action with probability `prob` instead of the requested one.

    At the first step of an episode there is no previous action, so the
    requested one is executed. One uniform draw is made per step (sticky or
    not), from a generator seeded with `seed`, so runs are reproducible.
    `last_action` is the action the wrapped env actually executed last.
    """

    def __init__(self, env: dm_env.Environment, prob: float, seed: int = 0):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"sticky_action_prob must be in [0, 1], got {prob}")
        self._env = env
        self._prob = float(prob)
        self._rng = np.random.default_rng([int(seed), 0x571C])
        self.last_action: Optional[int] = None
        self._needs_reset = True

    def reset(self) -> dm_env.TimeStep:
        self.last_action = None
        self._needs_reset = False
        return self._env.reset()

    def step(self, action) -> dm_env.TimeStep:
        if self._needs_reset:  # bsuite auto-reset: stepping after LAST starts a new episode
            return self.reset()
        sticky = self._rng.random() < self._prob
        if sticky and self.last_action is not None:
            action = self.last_action
        self.last_action = int(action)
        timestep = self._env.step(action)
        self._needs_reset = timestep.last()
        return timestep

    def observation_spec(self):
        return self._env.observation_spec()

    def action_spec(self):
        return self._env.action_spec()

    def __getattr__(self, attr):
        return getattr(self._env, attr)


def make_env(
    name: str, seed: int = 0, reward_noise: float = 0.0, sticky_action_prob: float = 0.0
) -> dm_env.Environment:
    """A BSuite env by name (`catch`, `cartpole`, `mountain_car`), seeded.

    Args:
      name: env name; a ValueError lists the valid ones.
      seed: seeds the env (and the noise / sticky-action generators).
      reward_noise: standard deviation of gaussian noise added to rewards (0: none).
      sticky_action_prob: probability of repeating the previous action (0: none).
    """
    _check_name(name)
    if reward_noise < 0:
        raise ValueError(f"reward_noise must be >= 0, got {reward_noise}")
    env = _CONSTRUCTORS[name](seed)
    if reward_noise > 0:
        env = wrappers.RewardNoise(env=env, noise_scale=reward_noise, seed=seed)
    if sticky_action_prob > 0:
        env = StickyActions(env, sticky_action_prob, seed=seed)
    return env


def env_spec(name: str) -> tuple[tuple[int, ...], int]:
    """`(observation_shape, num_actions)` of a BSuite env, e.g. `((10, 5), 3)` for catch."""
    _check_name(name)
    env = _CONSTRUCTORS[name](0)
    return tuple(env.observation_spec().shape), int(env.action_spec().num_values)
