"""MinAtar (Young & Tian 2019): five miniature Atari games on a 10x10 grid, as dm_env environments.

The dynamics are the reference implementation's (`minatar` 1.0.15 on PyPI,
GPL-3.0, an optional extra: `pip install rosmo[minatar]`); this module only
wraps `minatar.Environment`, whose `act` applies the sticky actions:

    executed_t = executed_{t-1}  with probability p (sticky_action_prob), else requested_t

(`executed_{-1}` = 0, and the previous action carries over an episode boundary, as in
the reference). Settings of the MinAtar paper by default: p = 0.1, the full set of 6
actions (`minimal_actions=True`: the game's minimal set, index i -> its i-th action),
difficulty ramping on.

Observations: uint8 [10, 10, C], one binary channel per object (C = 4 asterix,
4 breakout, 7 freeway, 10 seaquest, 6 space_invaders). Rewards are the game's own
(no clipping). A game over is a termination (discount 0); an episode reaching
`max_episode_steps` agent steps (`MAX_EPISODE_STEPS` = 10,000 by default, the
evaluation cap) is a truncation (discount 1). Freeway ends by its own timer after
2,500 steps; the other games can run past any cap with a good policy.

Speed of the reference env, uniform random actions, one Python process (steps/s):
asterix ~130k, breakout ~210k, freeway ~90k, seaquest ~110k, space_invaders ~22k:
fast next to the behaviour agent's network, so no JAX port is used.
"""

from __future__ import annotations

from typing import Optional, Sequence

import dm_env
import numpy as np
from dm_env import specs

GAMES: tuple[str, ...] = ("asterix", "breakout", "freeway", "seaquest", "space_invaders")
NUM_CHANNELS: dict[str, int] = {"asterix": 4, "breakout": 4, "freeway": 7, "seaquest": 10, "space_invaders": 6}
MINIMAL_ACTIONS: dict[str, tuple[int, ...]] = {  # minatar 1.0.15's minimal_action_set() per game
    "asterix": (0, 1, 2, 3, 4),
    "breakout": (0, 1, 3),
    "freeway": (0, 2, 4),
    "seaquest": (0, 1, 2, 3, 4, 5),
    "space_invaders": (0, 1, 3, 5),
}
NUM_FULL_ACTIONS = 6  # n, l, u, r, d, f
GRID = 10
STICKY_ACTION_PROB = 0.1
MAX_EPISODE_STEPS = 10_000
INSTALL_HINT = "the MinAtar suite needs the `minatar` package (GPL-3.0): pip install 'rosmo[minatar]' (minatar==1.0.15)"


def _minatar():
    """The `minatar` package; ImportError with the install line when it is missing."""
    try:
        import minatar  # noqa: PLC0415  (optional extra: imported where it is used)
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return minatar


def game_name(name: str) -> str:
    """One spelling per game ("Space-Invaders" -> "space_invaders"); ValueError listing the five otherwise."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key == "spaceinvaders":
        key = "space_invaders"
    if key not in GAMES:
        raise ValueError(f"unknown MinAtar game {name!r}; expected one of {', '.join(GAMES)}")
    return key


def num_actions(game: str, minimal_actions: bool = False) -> int:
    """6, or the size of the game's minimal action set."""
    return len(MINIMAL_ACTIONS[game_name(game)]) if minimal_actions else NUM_FULL_ACTIONS


def env_spec(game: str, minimal_actions: bool = False) -> tuple[tuple[int, int, int], int]:
    """((10, 10, C), num_actions) of a game."""
    game = game_name(game)
    return (GRID, GRID, NUM_CHANNELS[game]), num_actions(game, minimal_actions)


def check_settings(sticky_action_prob: float, max_episode_steps: int) -> None:
    """ValueError naming the setting unless p is in [0, 1] and the cap is >= 1."""
    if not 0.0 <= float(sticky_action_prob) <= 1.0:  # False for NaN too
        raise ValueError(f"sticky_action_prob {sticky_action_prob}: expected a probability in [0, 1]")
    if int(max_episode_steps) < 1:
        raise ValueError(f"max_episode_steps {max_episode_steps}: expected an integer >= 1")


class MinAtarEnv(dm_env.Environment):
    """One MinAtar game as a dm_env environment (see the module docstring).

    `seed` seeds the reference env's RandomState (the game's randomness and the sticky draws).
    `steps` counts the agent steps of the current episode.
    """

    def __init__(
        self,
        game: str,
        seed: int = 0,
        sticky_action_prob: float = STICKY_ACTION_PROB,
        minimal_actions: bool = False,
        max_episode_steps: int = MAX_EPISODE_STEPS,
    ):
        self.game = game_name(game)
        check_settings(sticky_action_prob, max_episode_steps)
        self.sticky_action_prob = float(sticky_action_prob)
        self.minimal_actions = bool(minimal_actions)
        self.max_episode_steps = int(max_episode_steps)
        self._env = _minatar().Environment(self.game, sticky_action_prob=self.sticky_action_prob)
        self._env.seed(int(seed))
        self._actions = MINIMAL_ACTIONS[self.game] if self.minimal_actions else tuple(range(NUM_FULL_ACTIONS))
        self.observation_shape, self.num_actions = env_spec(self.game, self.minimal_actions)
        self.steps = 0
        self._needs_reset = True

    def observation(self) -> np.ndarray:
        """uint8 [10, 10, C] of the current state."""
        return self._env.state().astype(np.uint8)

    def reset(self) -> dm_env.TimeStep:
        self._env.reset()
        self.steps = 0
        self._needs_reset = False
        return dm_env.restart(self.observation())

    def step(self, action) -> dm_env.TimeStep:
        if self._needs_reset:
            return self.reset()
        index = int(action)
        if not 0 <= index < self.num_actions:
            raise ValueError(f"MinAtar {self.game}: action {index} outside [0, {self.num_actions})")
        reward, terminal = self._env.act(self._actions[index])
        self.steps += 1
        obs = self.observation()
        if terminal:
            self._needs_reset = True
            return dm_env.termination(float(reward), obs)
        if self.steps >= self.max_episode_steps:
            self._needs_reset = True
            return dm_env.truncation(float(reward), obs)
        return dm_env.transition(float(reward), obs)

    @property
    def last_action(self) -> int:
        """The full-set action the reference env executed last (after stickiness)."""
        return int(self._env.last_action)

    def observation_spec(self):
        return specs.BoundedArray(self.observation_shape, np.uint8, 0, 1, name="observation")

    def action_spec(self):
        return specs.DiscreteArray(self.num_actions, name="action")


class MinAtarVectorEnv:
    """`num_envs` MinAtarEnvs stepped together with auto-reset (the dataset maker's and evaluator's envs).

    Env i is seeded `seed + i`. `step(actions)` returns (observation uint8 [N, 10, 10, C],
    reward float32 [N], terminated bool [N], truncated bool [N]); an env whose episode ended
    starts a new one at once, and `observation` then holds the new episode's first
    observation while `final_observation[i]` holds the ended episode's last one.
    """

    def __init__(self, game: str, num_envs: int, seed: int = 0, **options):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.envs: list[MinAtarEnv] = [MinAtarEnv(game, seed=seed + i, **options) for i in range(int(num_envs))]
        self.num_envs = len(self.envs)
        self.num_actions = self.envs[0].num_actions
        self.observation_shape = self.envs[0].observation_shape
        self.final_observation: Optional[np.ndarray] = None

    def reset(self) -> np.ndarray:
        return np.stack([env.reset().observation for env in self.envs])

    def step(self, actions: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = self.num_envs
        obs = np.empty((n,) + self.observation_shape, np.uint8)
        final = np.empty_like(obs)
        reward = np.zeros(n, np.float32)
        terminated = np.zeros(n, bool)
        truncated = np.zeros(n, bool)
        for i, env in enumerate(self.envs):
            ts = env.step(int(actions[i]))
            reward[i] = ts.reward
            final[i] = ts.observation
            if ts.last():
                terminated[i] = ts.discount == 0.0
                truncated[i] = not terminated[i]
                ts = env.reset()
            obs[i] = ts.observation
        self.final_observation = final
        return obs, reward, terminated, truncated


def protocol(
    sticky_action_prob: float = STICKY_ACTION_PROB,
    minimal_actions: bool = False,
    max_episode_steps: int = MAX_EPISODE_STEPS,
) -> dict[str, object]:
    """The settings a dataset records and its evaluation reuses."""
    return {
        "sticky_action_prob": float(sticky_action_prob),
        "minimal_actions": bool(minimal_actions),
        "max_episode_steps": int(max_episode_steps),
        "difficulty_ramping": True,
        "reference": "minatar==1.0.15 (Young & Tian 2019)",
    }
