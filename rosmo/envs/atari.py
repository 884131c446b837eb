"""Atari under the RL Unplugged / Dopamine evaluation protocol: one env, and many in C++ threads.

The protocol (Machado et al. 2018; Dopamine's `AtariPreprocessing`; RL Unplugged's
`atari.environment`):

- sticky actions: ALE repeats the previous action with probability 0.25 on
  every emulator frame (`repeat_action_probability`);
- frame skip 4; the observation is the max over the last two of those frames;
- grayscale (ALE's palette), resized to 84x84 with `cv2.INTER_AREA`;
- a stack of the last 4 frames, uint8 `[84, 84, 4]`, oldest first; at an
  episode start the missing frames are zeros (Acme's `FrameStacker`,
  Dopamine's replay buffer);
- the game's minimal action set; no terminal on life loss; no no-op starts; no
  FIRE on reset; rewards are the game's, unclipped (this is for scoring);
- an episode is cut (truncated, not terminated) after 108,000 emulator frames,
  i.e. 27,000 agent steps.

Two implementations:

- `AtariEnv`, a `dm_env.Environment` written in Python over `ale_py.ALEInterface`
  (numpy + cv2, one process, easy to read);
- `AtariVectorEnv`, `num_envs` of them stepped in C++ threads by
  `ale_py.AtariVectorEnv` (ALE >= 0.11).

They are the same environment: the Python env follows the C++ one
(`ale/vector/preprocessed_env.cpp` in ALE 0.12) step for step, including its
corner cases (when the game ends or the frame cap is hit inside a frame skip,
the skip stops and the max-pool reuses the frame buffers of the previous step,
as Dopamine does). For the same seed and actions both return bit-identical
observations, rewards and flags; sub-env `i` of a vector env reset with `seed`
is `AtariEnv(game, seed + i)` (tests/test_envs_atari.py checks it).
"""

from __future__ import annotations

import re
from typing import Sequence

import cv2
import dm_env
import numpy as np
from dm_env import specs

import ale_py
from ale_py import roms

STICKY_ACTION_PROB = 0.25
FRAME_SKIP = 4
STACK_SIZE = 4
FRAME_SIZE = 84
MAX_EPISODE_FRAMES = 108_000
_RAW_SHAPE = (210, 160)


# ---------------------------------------------------------------------------
# Game names
# ---------------------------------------------------------------------------


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _snake_to_camel(rom_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in rom_id.split("_"))


def available_games() -> list[str]:
    """Every game whose ROM ships with the installed ale-py, in CamelCase ("Pong", "MsPacman")."""
    return sorted(_snake_to_camel(r) for r in roms.get_all_rom_ids())


def rom_id(game: str) -> str:
    """ALE's ROM id ("ms_pacman") of a game given as "MsPacman", "ms_pacman", "mspacman" or "Pong".

    Raises:
      ValueError: naming the game and listing the valid names.
    """
    ids = roms.get_all_rom_ids()
    by_key = {r.replace("_", ""): r for r in ids}
    key = _camel_to_snake(str(game).strip()).replace("_", "").replace("-", "")
    if key in by_key:
        return by_key[key]
    raise ValueError(
        f"unknown Atari game {game!r}; valid names (ROMs shipped with ale-py): {', '.join(available_games())}"
    )


def game_name(game: str) -> str:
    """Canonical CamelCase name of a game ("pong" -> "Pong", "ms_pacman" -> "MsPacman")."""
    return _snake_to_camel(rom_id(game))


def _rom_path(game: str) -> str:
    return str(roms.get_rom_path(rom_id(game)))


def resize_frame(frame: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """Grayscale frame uint8 [210, 160] -> [size, size] with cv2.INTER_AREA (the protocol's resize)."""
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------------------
# Single environment (Python)
# ---------------------------------------------------------------------------


class AtariEnv(dm_env.Environment):
    """One Atari game under the RL Unplugged protocol, as a `dm_env.Environment`.

    Observations: uint8 [84, 84, 4], frames oldest -> newest along the last axis.
    Rewards: float32, the game's own (unclipped). Discount 0 on a game over,
    1 on the frame-cap truncation (`dm_env.truncation`). After a LAST step the
    next `step` starts a new episode (its action is ignored), as dm_env asks.

    Args:
      game: "Pong", "pong", "MsPacman", "ms_pacman", ...
      seed: seeds ALE (sticky actions and the console) at construction; later
        episodes continue the same random stream (like the vector env).
      sticky_action_prob: ALE's `repeat_action_probability`, per emulator frame.
      max_episode_frames: emulator frames before truncation (108k = 27k steps).
      frame_skip, stack_size, frame_size: the protocol's 4, 4, 84.
    """

    def __init__(
        self,
        game: str,
        seed: int,
        sticky_action_prob: float = STICKY_ACTION_PROB,
        max_episode_frames: int = MAX_EPISODE_FRAMES,
        frame_skip: int = FRAME_SKIP,
        stack_size: int = STACK_SIZE,
        frame_size: int = FRAME_SIZE,
    ):
        if not 0.0 <= sticky_action_prob <= 1.0:
            raise ValueError(f"sticky_action_prob must be in [0, 1], got {sticky_action_prob}")
        if frame_skip < 2 or stack_size < 1 or max_episode_frames < 1:
            raise ValueError(
                f"need frame_skip >= 2, stack_size >= 1, max_episode_frames >= 1; got "
                f"{frame_skip}, {stack_size}, {max_episode_frames}"
            )
        self.game = game_name(game)
        self.seed = int(seed)
        self.sticky_action_prob = float(sticky_action_prob)
        self.max_episode_frames = int(max_episode_frames)
        self.frame_skip = int(frame_skip)
        self.stack_size = int(stack_size)
        self.frame_size = int(frame_size)

        ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no banner on stderr
        self._ale = ale_py.ALEInterface()
        self._ale.setFloat("repeat_action_probability", self.sticky_action_prob)
        self._ale.setInt("random_seed", self.seed)
        self._ale.loadROM(_rom_path(game))
        self._action_set = list(self._ale.getMinimalActionSet())
        # Two raw frames for the max-pool; buffer 0 also receives the pooled frame (in place).
        self._raw = [np.zeros(_RAW_SHAPE, np.uint8), np.zeros(_RAW_SHAPE, np.uint8)]
        self._stack = np.zeros((frame_size, frame_size, stack_size), np.uint8)
        self._episode_frames = 0
        self._needs_reset = True

    # -- dm_env API --------------------------------------------------------

    def reset(self) -> dm_env.TimeStep:
        self._ale.reset_game()
        self._ale.getScreenGrayscale(self._raw[0])
        self._raw[1].fill(0)
        self._stack.fill(0)
        self._episode_frames = 0
        self._push_frame()
        self._needs_reset = False
        return dm_env.restart(self._stack.copy())

    def step(self, action) -> dm_env.TimeStep:
        if self._needs_reset:
            return self.reset()
        action = int(action)
        if not 0 <= action < len(self._action_set):
            raise ValueError(f"action {action} out of range for {self.game} ({len(self._action_set)} actions)")
        ale_action = self._action_set[action]
        reward = 0.0
        game_over = False
        for k in range(self.frame_skip, 0, -1):  # k = frames left, as in ALE's vector env
            reward += self._ale.act(ale_action)
            self._episode_frames += 1
            game_over = self._ale.game_over()
            if game_over or self._episode_frames >= self.max_episode_frames:
                break
            if k <= 2:  # the last two frames of the skip
                self._ale.getScreenGrayscale(self._raw[k - 1])
        self._push_frame()
        obs = self._stack.copy()
        reward = np.float32(reward)
        if game_over:
            self._needs_reset = True
            return dm_env.termination(reward, obs)
        if self._episode_frames >= self.max_episode_frames:
            self._needs_reset = True
            return dm_env.truncation(reward, obs)
        return dm_env.transition(reward, obs)

    def _push_frame(self) -> None:
        np.maximum(self._raw[0], self._raw[1], out=self._raw[0])
        self._stack[..., :-1] = self._stack[..., 1:]
        self._stack[..., -1] = resize_frame(self._raw[0], self.frame_size)

    def observation_spec(self) -> specs.BoundedArray:
        shape = (self.frame_size, self.frame_size, self.stack_size)
        return specs.BoundedArray(shape, np.uint8, minimum=0, maximum=255, name="observation")

    def action_spec(self) -> specs.DiscreteArray:
        return specs.DiscreteArray(len(self._action_set), dtype=np.int32, name="action")

    def reward_spec(self) -> specs.Array:
        return specs.Array((), np.float32, name="reward")

    # -- extras ------------------------------------------------------------

    @property
    def num_actions(self) -> int:
        return len(self._action_set)

    @property
    def action_set(self) -> list[int]:
        """ALE action ids of the minimal action set (index = agent action)."""
        return [int(a) for a in self._action_set]

    @property
    def episode_frames(self) -> int:
        return self._episode_frames

    def lives(self) -> int:
        return int(self._ale.lives())


# ---------------------------------------------------------------------------
# Vector environment (C++ threads)
# ---------------------------------------------------------------------------


class AtariVectorEnv:
    """`num_envs` Atari games under the RL Unplugged protocol, stepped in C++ threads.

    A thin layer over `ale_py.AtariVectorEnv` with the protocol's settings
    (sticky actions, frame skip 4 + max-pool, grayscale 84x84 INTER_AREA, stack
    4, minimal actions, no no-op starts, no FIRE reset, no life-loss terminal,
    no reward clipping, frame cap) and channels-last observations.

    API::

        obs = env.reset()                                 # uint8 [N, 84, 84, 4]
        obs, reward, terminated, truncated = env.step(a)  # a: int [N]
        env.is_first                                      # bool [N]

    `reward` is float32 [N] (unclipped), `terminated`/`truncated` bool [N].
    Auto-reset is ALE's "next step" mode: after sub-env `i` reports
    terminated or truncated, the next `step` ignores `a[i]` and returns the
    first observation of a new episode with reward 0 and both flags False;
    `env.is_first[i]` is True exactly for such observations (and after `reset`).

    Seeding: `reset()` seeds sub-env `i` with `seed + i` (ALE reloads the ROM),
    which makes it identical to `AtariEnv(game, seed + i)`.
    """

    def __init__(
        self,
        game: str,
        num_envs: int,
        seed: int,
        sticky_action_prob: float = STICKY_ACTION_PROB,
        max_episode_frames: int = MAX_EPISODE_FRAMES,
        num_threads: int = 0,
        frame_skip: int = FRAME_SKIP,
        stack_size: int = STACK_SIZE,
        frame_size: int = FRAME_SIZE,
    ):
        from ale_py.vector_env import AtariVectorEnv as _AleVectorEnv

        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if not 0.0 <= sticky_action_prob <= 1.0:
            raise ValueError(f"sticky_action_prob must be in [0, 1], got {sticky_action_prob}")
        self.game = game_name(game)
        self.num_envs = int(num_envs)
        self.seed = int(seed)
        self.sticky_action_prob = float(sticky_action_prob)
        self.max_episode_frames = int(max_episode_frames)
        self._env = _AleVectorEnv(
            rom_id(game),
            self.num_envs,
            num_threads=int(num_threads),
            max_num_frames_per_episode=self.max_episode_frames,
            repeat_action_probability=self.sticky_action_prob,
            full_action_space=False,
            autoreset_mode="NextStep",
            img_height=frame_size,
            img_width=frame_size,
            grayscale=True,
            stack_num=stack_size,
            frameskip=frame_skip,
            maxpool=True,
            noop_max=0,
            episodic_life=False,
            life_loss_info=False,
            reward_clipping=False,
            use_fire_reset=False,
        )
        self.num_actions = int(self._env.single_action_space.n)
        self.is_first = np.ones((self.num_envs,), bool)
        self._ended = np.zeros((self.num_envs,), bool)

    def reset(self) -> np.ndarray:
        """Reset every sub-env (sub-env i seeded with seed + i); returns obs uint8 [N, 84, 84, 4]."""
        obs, _ = self._env.reset(seed=self.seed)
        self.is_first = np.ones((self.num_envs,), bool)
        self._ended = np.zeros((self.num_envs,), bool)
        return _channels_last(obs)

    def step(self, actions: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step every sub-env; returns (obs [N,84,84,4] uint8, reward [N] f32, terminated [N], truncated [N])."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {actions.shape}")
        if actions.size and (actions.min() < 0 or actions.max() >= self.num_actions):
            raise ValueError(f"actions must be in [0, {self.num_actions}) for {self.game}, got {actions}")
        obs, reward, terminated, truncated, _ = self._env.step(actions.astype(np.int32))
        self.is_first = self._ended.copy()
        terminated = np.asarray(terminated, bool)
        truncated = np.asarray(truncated, bool)
        self._ended = terminated | truncated
        return _channels_last(obs), np.asarray(reward, np.float32), terminated, truncated

    def close(self) -> None:
        self._env.close()

    def __enter__(self) -> AtariVectorEnv:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _channels_last(obs: np.ndarray) -> np.ndarray:
    """ALE's [N, stack, H, W] -> [N, H, W, stack] (contiguous)."""
    return np.ascontiguousarray(np.transpose(obs, (0, 2, 3, 1)))


def make_env(game: str, seed: int, **kwargs) -> AtariEnv:
    """The evaluation env of the protocol (see `AtariEnv`)."""
    return AtariEnv(game, seed, **kwargs)


def protocol() -> dict[str, object]:
    """The protocol's settings, for logs and dataset metadata."""
    return {
        "sticky_action_prob": STICKY_ACTION_PROB,
        "frame_skip": FRAME_SKIP,
        "max_pool_last_two_frames": True,
        "grayscale": True,
        "frame_size": FRAME_SIZE,
        "resize": "cv2.INTER_AREA",
        "stack_size": STACK_SIZE,
        "action_set": "minimal",
        "terminal_on_life_loss": False,
        "noop_max": 0,
        "fire_reset": False,
        "reward_clipping": False,
        "max_episode_frames": MAX_EPISODE_FRAMES,
    }
