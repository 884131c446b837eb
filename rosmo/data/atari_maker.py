"""`rosmo dataset atari`: record Atari episodes into the TFDS `rlu_atari` schema, locally.

RL Unplugged Atari lives in a bucket; this command makes data of the same
shape here, so that everything reading `rlu_atari` (our loader, TFDS itself)
can be run and tested on any machine:

    rosmo dataset atari --game Pong --steps 100000 --policy random --out datasets/atari

writes `datasets/atari/rlu_atari/Pong_run_1/1.3.0/`, which
`tfds.builder("rlu_atari/Pong_run_1", data_dir="datasets/atari")` reads.

What is recorded, per episode (the RLDS form TFDS makes of RL Unplugged's
files, `tensorflow_datasets/rl_unplugged/atari_utils.py`):

- `steps/observation`: the newest 84x84 frame, uint8 [84, 84, 1], PNG-encoded
  (the loader stacks 4 of them); step t holds o_t, the last step the final o_T;
- `steps/action` a_t (int64; 0 on the last step), `steps/reward`: r_t clipped
  to [-1, 1] as in `rlu_atari` (0 on the last step);
- `steps/discount`: 1, except, when the episode ends in a game over, 0 on the
  step whose action leads into the terminal state and on the terminal step
  itself (TFDS shifts RL Unplugged's discounts this way); all 1 when truncated;
- `is_first` on step 0, `is_last` on the final step, `is_terminal` on the final
  step of a game over;
- `episode_id` (0, 1, ... in order of completion), `checkpoint_id` (0: one
  fixed policy), `episode_return` (sum of the clipped rewards).

Episodes are played under the RL Unplugged protocol (`rosmo.envs.atari`,
sticky actions 0.25) by `ale_py`'s vector env. `--steps` counts agent steps
(transitions); when it is reached, episodes still running are ended there as
truncations (is_last, not is_terminal), like the 27k-step cap.
Unclipped returns, the policy and the protocol go to `metadata.json`.
"""

from __future__ import annotations

import os
import sys
from typing import Callable, Iterator, Optional, Union

import numpy as np

from rosmo.data import rlds
from rosmo.data.rlu_names import canonical_game, config_name
from rosmo.envs import atari as atari_env
from rosmo.signals import check_stop

tfds = rlds.tfds
from tensorflow_datasets.rl_unplugged import atari_utils  # noqa: E402  (after rlds pins TensorFlow to the CPU)

DATASET_NAME = "rlu_atari"
PolicyFn = Callable[[np.ndarray], np.ndarray]


DESCRIPTION = (
    "Atari episodes recorded locally by `rosmo dataset atari` under the RL Unplugged protocol, in the "
    "`rlu_atari` layout (RL Unplugged: Gulcehre et al., 2020). "
)


def rlu_version() -> str:
    """The version of the installed `rlu_atari` builder ("1.3.0" in tensorflow-datasets 4.9.10)."""
    return str(tfds.builder_cls(DATASET_NAME).VERSION)


def dataset_dir(data_dir: str, game: str, run: int = 1) -> str:
    """`<data_dir>/rlu_atari/<Game>_run_<run>/<version>`: where TFDS looks for the config."""
    return os.path.join(data_dir, DATASET_NAME, config_name(game, run), rlu_version())


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


class RluAtariWriter(rlds.RldsWriter):
    """`RldsWriter` whose dataset identity is the `rlu_atari` builder's: name, config, version, features."""

    def __init__(self, data_dir: str, game: str, run: int = 1, **kwargs):
        self.config_name = config_name(game, run)
        self.version = rlu_version()
        super().__init__(
            dataset_dir(data_dir, game, run),
            DATASET_NAME,
            atari_utils.features_dict(),  # the builder's own feature spec
            description=DESCRIPTION + atari_utils.description(),
            **kwargs,
        )

    def _info(self, data_dir: str) -> tfds.core.DatasetInfo:
        identity = tfds.core.DatasetIdentity(
            name=DATASET_NAME,
            version=tfds.core.Version(self.version),
            data_dir=data_dir,
            module_name="tensorflow_datasets.rl_unplugged.rlu_atari.rlu_atari",
            config_name=self.config_name,
        )
        return tfds.core.DatasetInfo(
            builder=identity,
            description=self.description,
            features=self.features,
            citation=atari_utils.citation(),
            homepage="https://github.com/deepmind/deepmind-research/tree/master/rl_unplugged",
            metadata=tfds.core.MetadataDict(),
        )


def episode_to_rlds(
    frames: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    terminated: bool,
    episode_id: int,
    checkpoint_id: int = 0,
) -> dict[str, object]:
    """One episode in the `rlu_atari` form.

    Args:
      frames: uint8 [T+1, 84, 84] (or [T+1, 84, 84, 1]), o_0 .. o_T.
      actions: int [T], a_t taken at o_t.
      rewards: float [T], unclipped r_t received after a_t.
      terminated: whether o_T is a game over (else truncated).

    Returns:
      {"steps": {field: [T+1, ...]}, "episode_id", "checkpoint_id", "episode_return"}
      with rewards clipped to [-1, 1], action/reward 0 on the last step,
      discount 0 on steps T-1 and T if terminated (else all 1).
    """
    frames = np.asarray(frames, np.uint8)
    if frames.ndim == 3:
        frames = frames[..., None]
    num = len(actions)
    if len(frames) != num + 1 or len(rewards) != num:
        raise ValueError(
            f"episode {episode_id}: need T+1 frames for T actions/rewards, got {len(frames)}, {num}, {len(rewards)}"
        )
    clipped = np.clip(np.asarray(rewards, np.float32), -1.0, 1.0)
    discount = np.ones((num + 1,), np.float32)
    flags = np.zeros((num + 1,), bool)
    is_first, is_last, is_terminal = flags.copy(), flags.copy(), flags.copy()
    is_first[0] = True
    is_last[-1] = True
    if terminated:
        is_terminal[-1] = True
        discount[max(num - 1, 0) :] = 0.0
    return {
        "steps": {
            "observation": frames,
            "action": np.append(np.asarray(actions, np.int64), np.int64(0)),
            "reward": np.append(clipped, np.float32(0.0)),
            "discount": discount,
            "is_first": is_first,
            "is_last": is_last,
            "is_terminal": is_terminal,
        },
        "episode_id": np.int64(episode_id),
        "checkpoint_id": np.int64(checkpoint_id),
        "episode_return": np.float32(clipped.sum()),
    }


# ---------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------


def random_policy(num_actions: int, seed: int) -> PolicyFn:
    """Uniform actions: obs uint8 [N, 84, 84, 4] -> int32 [N]."""
    rng = np.random.default_rng([seed, 1])

    def policy_fn(obs_batch: np.ndarray) -> np.ndarray:
        return rng.integers(0, num_actions, size=len(obs_batch)).astype(np.int32)

    return policy_fn


# ---------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------


def record_episodes(
    env: atari_env.AtariVectorEnv,
    policy_fn: PolicyFn,
    num_steps: int,
    progress: Optional[Callable[[int], None]] = None,
    stats: Optional[dict[str, list]] = None,
) -> Iterator[dict[str, object]]:
    """Play `num_steps` agent steps over the vector env; yield `rlu_atari` episodes as they end.

    Episodes still running when the budget is spent are yielded last, as
    truncations. `progress(n)` is called with the number of new agent steps;
    `stats["returns"]` collects unclipped episode returns, `stats["terminated"]` their ends.
    """
    n = env.num_envs
    obs = env.reset()
    frames: list[list] = [[obs[i, :, :, -1]] for i in range(n)]
    actions: list[list] = [[] for _ in range(n)]
    rewards: list[list] = [[] for _ in range(n)]
    episode_id = 0
    done = 0

    def finish(i: int, terminated: bool) -> dict[str, object]:
        nonlocal episode_id
        episode = episode_to_rlds(
            np.stack(frames[i]), np.asarray(actions[i]), np.asarray(rewards[i]), terminated, episode_id
        )
        if stats is not None:
            stats.setdefault("returns", []).append(float(np.sum(rewards[i])))
            stats.setdefault("terminated", []).append(bool(terminated))
        episode_id += 1
        return episode

    while done < num_steps:
        check_stop()  # SIGINT/SIGTERM: the writer removes its temp directory, nothing is written
        a = np.asarray(policy_fn(obs)).astype(np.int32).reshape(n)
        obs, reward, terminated, truncated = env.step(a)
        new = 0
        for i in range(n):
            frame = obs[i, :, :, -1]
            if env.is_first[i]:  # auto-reset step: the action was ignored, a new episode starts here
                frames[i], actions[i], rewards[i] = [frame], [], []
                continue
            frames[i].append(frame)
            actions[i].append(int(a[i]))
            rewards[i].append(float(reward[i]))
            new += 1
            if terminated[i] or truncated[i]:
                yield finish(i, bool(terminated[i]))
                frames[i], actions[i], rewards[i] = [], [], []
        done += new
        if progress is not None:
            progress(new)
    for i in range(n):
        if actions[i]:
            yield finish(i, terminated=False)


def make_dataset(
    game: str,
    num_steps: int,
    data_dir: str,
    policy: Union[str, PolicyFn] = "random",
    policy_name: Optional[str] = None,
    seed: int = 0,
    run: int = 1,
    num_envs: int = 8,
    overwrite: bool = False,
    max_episode_frames: int = atari_env.MAX_EPISODE_FRAMES,
    sticky_action_prob: float = atari_env.STICKY_ACTION_PROB,
    show_progress: bool = True,
) -> str:
    """Record `num_steps` agent steps of `game` into `<data_dir>/rlu_atari/<Game>_run_<run>/<version>`.

    `policy` is "random" or a function obs uint8 [N, 84, 84, 4] -> actions int32 [N]
    (e.g. `rosmo.training.restore.load_policy` of a trained run); `policy_name`
    is what the metadata records for it. Returns the dataset directory. Raises FileExistsError when it exists and
    `overwrite` is False, ValueError for a game/run without an rlu_atari config.
    """
    if num_steps < 1:
        raise ValueError(f"--steps must be >= 1, got {num_steps}")
    game = canonical_game(game)
    out = dataset_dir(data_dir, game, run)
    if os.path.lexists(out) and not overwrite:
        raise FileExistsError(
            f"dataset directory {os.path.abspath(out)} already exists; pass --overwrite to replace it"
        )
    rlds.check_replaceable(os.path.abspath(out))  # before recording: --overwrite replaces only a dataset of ours
    env = atari_env.AtariVectorEnv(
        game, num_envs, seed, sticky_action_prob=sticky_action_prob, max_episode_frames=max_episode_frames
    )
    try:
        policy_fn = random_policy(env.num_actions, seed) if policy == "random" else policy
    except BaseException:
        env.close()
        raise
    metadata = {
        "game": game,
        "run": int(run),
        "policy": policy_name or (policy if isinstance(policy, str) else getattr(policy, "__name__", "policy")),
        "seed": int(seed),
        "num_envs": int(num_envs),
        "num_actions": env.num_actions,
        "protocol": dict(
            atari_env.protocol(), max_episode_frames=int(max_episode_frames), sticky_action_prob=sticky_action_prob
        ),
        "reward": "clipped to [-1, 1] per step, as in rlu_atari; unclipped returns in episode_returns_unclipped",
        "made_by": "rosmo dataset atari",
    }
    stats: dict[str, list] = {}
    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=num_steps, desc=f"rlu_atari/{config_name(game, run)}", unit="step", file=sys.stderr)
    try:
        with RluAtariWriter(
            data_dir, game, run, metadata=metadata, overwrite=overwrite, max_episodes_per_shard=100
        ) as writer:
            for episode in record_episodes(env, policy_fn, num_steps, bar.update if bar else None, stats):
                writer.add_episode(episode)
            returns = stats.get("returns", [])
            writer.record_counts()
            writer.metadata.update(
                num_terminated=int(np.sum(stats.get("terminated", []))),
                episode_returns_unclipped=returns,
                mean_return_unclipped=float(np.mean(returns)) if returns else None,
            )
    finally:
        if bar is not None:
            bar.close()
        env.close()
    return out
