"""Make a MinAtar dataset the RL Unplugged way: train an online DQN and log every transition of its run.

    rosmo dataset minatar --game breakout --out datasets/minatar [--frames 1000000] [--sticky-action-prob 0.1]

The behaviour agent (`rosmo.behaviour.minatar_dqn`) learns online in `num_envs` envs
for `frames` agent steps (one MinAtar step is one frame). The run is cut into
`num_checkpoints` segments of `frames / num_checkpoints` frames; an episode that ends
during segment i is written to split `checkpoint_<i>` with `checkpoint_id = i`, as
RL Unplugged's `rlu_atari_checkpoints_ordered` splits a DQN replay by checkpoint
(schema: `rosmo.data.minatar_data`). Episodes still running when the budget is spent
are written to the last split as truncations (not terminal).

After training, two normalisation references are measured in fresh envs (same
protocol, other seeds), `reference_episodes` (>= 100) episodes each, episodes capped
at `max_episode_steps`: `random_return` (uniform random actions) and `dqn_return` (the
final DQN, epsilon 0.01). Normalised score = (R - random_return) / (dqn_return -
random_return).

Resuming: the run is written into `<out>/.<name>.partial/`. After each segment its
split is closed and the maker's state (the DQN's parameters, optimiser state and
replay, the envs, the episodes in progress, the generators) is saved there
(`maker_state.pkl`, replaced atomically). Run the same command again after an
interruption and it goes on from the last saved segment (a split being written when it
stopped is discarded and made again). A partial run made with other settings is never
touched: the command names it. The finished dataset is renamed into `<out>/<name>`.
"""

from __future__ import annotations

import glob
import math
import os
import pickle
import shutil
import time
from collections import deque
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

import rosmo
from rosmo.behaviour.minatar_dqn import MinAtarDQN, MinAtarDQNConfig
from rosmo.data import minatar_data, rlds
from rosmo.envs import minatar as minatar_env
from rosmo.envs.lockstep import play_lockstep

tfds = rlds.tfds

DEFAULT_FRAMES = 1_000_000
DEFAULT_NUM_ENVS = 8
MIN_REFERENCE_EPISODES = 100
REFERENCE_EPSILON = 0.01
STATE_FILE = "maker_state.pkl"
DATASET_NAME = "minatar"
_RANDOM_REFERENCE_SEED_OFFSET = 10_000
_DQN_REFERENCE_SEED_OFFSET = 20_000


def check_arguments(
    frames: int,
    seed: int,
    sticky_action_prob: float,
    num_envs: int,
    num_checkpoints: int,
    reference_episodes: int,
    max_episode_steps: int,
    min_reference_episodes: int,
) -> None:
    """ValueError naming the flag of the first bad argument."""
    if int(frames) < 1:
        raise ValueError(f"--frames {frames}: expected an integer >= 1")
    if int(seed) < 0:
        raise ValueError(f"--seed {seed}: expected an integer >= 0")
    if not (isinstance(sticky_action_prob, (int, float)) and 0.0 <= sticky_action_prob <= 1.0):
        raise ValueError(f"--sticky-action-prob {sticky_action_prob}: expected a probability in [0, 1]")
    if int(num_envs) < 1:
        raise ValueError(f"--num-envs {num_envs}: expected an integer >= 1")
    if not 1 <= int(num_checkpoints) <= 100:
        raise ValueError(f"--checkpoints {num_checkpoints}: expected an integer in [1, 100]")
    if int(frames) < int(num_checkpoints) * int(num_envs):
        raise ValueError(
            f"--frames {frames}: expected at least --checkpoints x --num-envs = "
            f"{int(num_checkpoints) * int(num_envs)} frames"
        )
    if int(reference_episodes) < min_reference_episodes:
        raise ValueError(f"--reference-episodes {reference_episodes}: expected an integer >= {min_reference_episodes}")
    if int(max_episode_steps) < 1:
        raise ValueError(f"--max-episode-steps {max_episode_steps}: expected an integer >= 1")


def _info(data_dir: str, num_channels: int, description: str) -> tfds.core.DatasetInfo:
    identity = tfds.core.DatasetIdentity(
        name=DATASET_NAME, version=tfds.core.Version(rlds.VERSION), data_dir=data_dir, module_name=""
    )
    return tfds.core.DatasetInfo(
        builder=identity,
        description=description,
        features=minatar_data.features(num_channels),
        metadata=tfds.core.MetadataDict(),
    )


def _split_files(work: str, split: str) -> list[str]:
    return glob.glob(os.path.join(work, f"{DATASET_NAME}-{split}.*"))


def _open_writer(work: str, num_channels: int, description: str, completed: list[str]):
    """A SequentialWriter on `work` holding exactly the `completed` splits (others' files removed)."""
    info = _info(work, num_channels, description)
    if os.path.exists(os.path.join(work, "dataset_info.json")):
        info.read_from_directory(work)
        for split in list(info.splits.keys()):
            if split not in completed:
                for path in _split_files(work, split):
                    os.remove(path)
        info.set_splits(tfds.core.SplitDict([info.splits[s] for s in completed]))
        info.write_to_directory(work)
    return tfds.core.SequentialWriter(info, max_examples_per_shard=500, overwrite=not completed)


def _save_state(work: str, state: dict[str, Any]) -> None:
    tmp = os.path.join(work, STATE_FILE + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, os.path.join(work, STATE_FILE))


def _settings(
    game, frames, seed, sticky_action_prob, minimal_actions, num_envs, num_checkpoints, max_episode_steps, dqn_config
) -> dict[str, Any]:
    return {
        "game": game,
        "frames": int(frames),
        "seed": int(seed),
        "sticky_action_prob": float(sticky_action_prob),
        "minimal_actions": bool(minimal_actions),
        "num_envs": int(num_envs),
        "num_checkpoints": int(num_checkpoints),
        "max_episode_steps": int(max_episode_steps),
        "dqn": repr(dqn_config),
    }


def reference_returns(
    game: str, act_fn, params, num_episodes: int, seed: int, num_envs: int, **env_options
) -> np.ndarray:
    """Returns [num_episodes] of `act_fn` (params, obs float32 [N, ...], key) -> actions [N] in fresh envs.

    `num_envs` envs (env i seeded `seed + i`) step in lockstep; exactly `num_episodes` episodes are started
    (`rosmo.envs.lockstep.play_lockstep`, the loop evaluation uses).
    """
    make_env = lambda s: minatar_env.MinAtarEnv(game, seed=s, **env_options)  # noqa: E731
    episodes = play_lockstep(make_env, jax.jit(act_fn), params, num_episodes, num_envs, seed)
    return np.asarray(episodes.returns, np.float64)


def epsilon_greedy_act(apply_fn, num_actions: int, epsilon: float):
    """act_fn(params, obs [N, ...], key) -> int32 [N]: argmax Q, or with probability `epsilon` a uniform action."""

    def act(params, obs, key):
        greedy = jnp.argmax(apply_fn(params, obs), axis=-1).astype(jnp.int32)
        k1, k2 = jax.random.split(key)
        random = jax.random.randint(k1, greedy.shape, 0, num_actions, jnp.int32)
        return jnp.where(jax.random.uniform(k2, greedy.shape) < epsilon, random, greedy)

    return act


def make_minatar_dataset(
    game: str,
    out: str,
    frames: int = DEFAULT_FRAMES,
    seed: int = 0,
    sticky_action_prob: float = minatar_env.STICKY_ACTION_PROB,
    minimal_actions: bool = False,
    num_envs: int = DEFAULT_NUM_ENVS,
    num_checkpoints: int = minatar_data.DEFAULT_CHECKPOINTS,
    reference_episodes: int = MIN_REFERENCE_EPISODES,
    max_episode_steps: int = minatar_env.MAX_EPISODE_STEPS,
    overwrite: bool = False,
    progress: bool = True,
    dqn_config: Optional[MinAtarDQNConfig] = None,
    max_segments: Optional[int] = None,
    min_reference_episodes: int = MIN_REFERENCE_EPISODES,
) -> dict[str, Any]:
    """Train the DQN on `game` for `frames` frames, logging every transition to `<out>/<dataset_name>`.

    `max_segments`: stop after this many segments of this call (the run stays resumable; the
    summary then has `complete=False`). Returns a summary: path, complete, episodes, steps, bytes,
    seconds, frames_per_s, random_return, dqn_return. Raises FileExistsError when the dataset
    exists and `overwrite` is False, ValueError for bad arguments or a partial run of other settings.
    """
    start = time.time()
    game = minatar_env.game_name(game)
    check_arguments(
        frames,
        seed,
        sticky_action_prob,
        num_envs,
        num_checkpoints,
        reference_episodes,
        max_episode_steps,
        min_reference_episodes,
    )
    name = minatar_data.dataset_name(game, sticky_action_prob, minimal_actions)
    path = os.path.abspath(os.path.join(out, name))
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"dataset {path} already exists; pass --overwrite to replace it")
    rlds.check_replaceable(path)  # before any training: --overwrite replaces only a dataset of ours
    work = os.path.join(os.path.dirname(path), f".{name}.partial")
    dqn_config = dqn_config or MinAtarDQNConfig()
    settings = _settings(
        game,
        frames,
        seed,
        sticky_action_prob,
        minimal_actions,
        num_envs,
        num_checkpoints,
        max_episode_steps,
        dqn_config,
    )
    env_options = dict(
        sticky_action_prob=float(sticky_action_prob),
        minimal_actions=bool(minimal_actions),
        max_episode_steps=int(max_episode_steps),
    )
    observation_shape, num_actions = minatar_env.env_spec(game, minimal_actions)
    description = (
        f"Every transition of an online double DQN's run on MinAtar {game} ({frames} frames, "
        f"sticky_action_prob={sticky_action_prob}, minimal_actions={minimal_actions}), split by "
        f"training checkpoint into {num_checkpoints} splits as rlu_atari_checkpoints_ordered."
    )

    state_path = os.path.join(work, STATE_FILE)
    env = minatar_env.MinAtarVectorEnv(game, num_envs, seed=seed, **env_options)
    agent = MinAtarDQN(observation_shape, num_actions, num_envs, dqn_config, seed=seed)
    if os.path.exists(state_path):
        with open(state_path, "rb") as f:
            state = pickle.load(f)
        if state["settings"] != settings:
            diff = sorted(k for k in settings if state["settings"].get(k) != settings[k])
            raise ValueError(
                f"{work} holds a partial run with other settings ({', '.join(diff)}); run the command "
                "with its settings to resume it, or remove that directory"
            )
        agent.load_state_dict(state["agent"])
        env = state["env"]
        obs = state["obs"]
    else:
        if os.path.exists(work):  # no saved segment yet: nothing to resume
            shutil.rmtree(work)
        os.makedirs(work)
        obs = env.reset()
        state = {
            "settings": settings,
            "segment": 0,
            "completed": [],
            "episode_id": 0,
            "episodes": [{"obs": [obs[i]], "actions": [], "rewards": []} for i in range(num_envs)],
            "returns": [],
            "checkpoint_returns": [],
            "train_seconds": 0.0,
        }
    writer = _open_writer(work, observation_shape[-1], description, state["completed"])
    bar = tqdm.tqdm(
        total=int(frames),
        initial=int(agent.frames),
        desc=f"minatar {name}",
        unit="frame",
        disable=not progress,
        smoothing=0.05,
    )
    recent = deque(state["returns"][-50:], maxlen=50)
    segments_done = 0
    try:
        while state["segment"] < num_checkpoints:
            if max_segments is not None and segments_done >= max_segments:
                break
            seg = state["segment"]
            split = minatar_data.split_name(seg)
            seg_start, seg_cpu = time.time(), time.process_time()
            writer.initialize_splits([split], fail_if_exists=False)
            frames_end = (seg + 1) * int(frames) // int(num_checkpoints)
            seg_returns = []
            while agent.frames < frames_end:
                actions = agent.act(obs)
                next_obs, reward, terminated, truncated = env.step(actions)
                final = env.final_observation
                agent.observe(obs, actions, reward, terminated, truncated, final)
                for i in range(num_envs):
                    ep = state["episodes"][i]
                    ep["obs"].append(final[i])
                    ep["actions"].append(int(actions[i]))
                    ep["rewards"].append(float(reward[i]))
                    if terminated[i] or truncated[i]:
                        seg_returns.append(_finish(writer, split, state, i, bool(terminated[i]), seg))
                        state["episodes"][i] = {"obs": [next_obs[i]], "actions": [], "rewards": []}
                        recent.append(seg_returns[-1])
                obs = next_obs
                bar.update(num_envs)
                if recent:
                    bar.set_postfix(
                        ret=f"{np.mean(recent):.1f}", eps=f"{agent.epsilon:.2f}", upd=agent.num_updates, refresh=False
                    )
            if seg == num_checkpoints - 1:  # the budget is spent: running episodes end here, truncated
                for i in range(num_envs):
                    if state["episodes"][i]["actions"]:
                        _finish(writer, split, state, i, False, seg)
            writer.close_splits([split])
            state["checkpoint_returns"].append(float(np.mean(seg_returns)) if seg_returns else None)
            state["returns"].extend(seg_returns)
            state["completed"].append(split)
            state["segment"] = seg + 1
            state["train_seconds"] += time.time() - seg_start
            state["train_cpu_seconds"] = state.get("train_cpu_seconds", 0.0) + time.process_time() - seg_cpu
            state.update(agent=agent.state_dict(), env=env, obs=obs)
            _save_state(work, state)
            segments_done += 1
    finally:
        bar.close()
    if state["segment"] < num_checkpoints:
        return {
            "path": path,
            "partial": work,
            "complete": False,
            "segments": state["segment"],
            "frames": int(agent.frames),
            "seconds": round(time.time() - start, 2),
            "train_seconds": round(state["train_seconds"], 2),
            "train_cpu_seconds": round(state.get("train_cpu_seconds", 0.0), 2),
        }

    params = agent.params
    apply = agent._net.apply  # noqa: SLF001  (the behaviour network's forward)
    eval_envs = min(max(num_envs, 16), reference_episodes)
    random_returns = reference_returns(
        game,
        lambda p, o, k: jax.random.randint(k, (o.shape[0],), 0, num_actions, jnp.int32),
        None,
        reference_episodes,
        seed + _RANDOM_REFERENCE_SEED_OFFSET,
        eval_envs,
        **env_options,
    )
    dqn_returns = reference_returns(
        game,
        epsilon_greedy_act(apply, num_actions, REFERENCE_EPSILON),
        params,
        reference_episodes,
        seed + _DQN_REFERENCE_SEED_OFFSET,
        eval_envs,
        **env_options,
    )
    info = _info(work, observation_shape[-1], description)
    info.read_from_directory(work)
    nonempty = [s for s in state["completed"] if info.splits[s].num_examples > 0]
    info.set_splits(tfds.core.SplitDict([info.splits[s] for s in nonempty]))
    lengths = state.get("lengths", [])
    num_steps = int(np.sum(lengths))
    num_episodes = len(lengths)
    sem = lambda x: float(np.std(x) / math.sqrt(len(x)))  # noqa: E731
    meta = {
        "env": game,
        "game": game,
        "seed": int(seed),
        "frames": int(frames),
        "num_envs": int(num_envs),
        "num_checkpoints": int(num_checkpoints),
        "empty_checkpoints": [s for s in state["completed"] if s not in nonempty],
        "observation_shape": list(observation_shape),
        "num_actions": int(num_actions),
        "sticky_action_prob": float(sticky_action_prob),
        "minimal_actions": bool(minimal_actions),
        "max_episode_steps": int(max_episode_steps),
        "protocol": minatar_env.protocol(sticky_action_prob, minimal_actions, max_episode_steps),
        "behaviour_agent": {
            "name": "double_dqn",
            "hyper_parameters": agent.hyper_parameters(),
            "updates": int(agent.num_updates),
        },
        "num_episodes": num_episodes,
        "num_steps": num_steps,
        "num_transitions": num_steps - num_episodes,
        "checkpoint_mean_returns": state["checkpoint_returns"],
        "reference_episodes": int(reference_episodes),
        "random_return": float(np.mean(random_returns)),
        "random_return_std": float(np.std(random_returns)),
        "random_return_sem": sem(random_returns),
        "dqn_return": float(np.mean(dqn_returns)),
        "dqn_return_std": float(np.std(dqn_returns)),
        "dqn_return_sem": sem(dqn_returns),
        "dqn_reference_epsilon": REFERENCE_EPSILON,
        "reference_seeds": {"random": seed + _RANDOM_REFERENCE_SEED_OFFSET, "dqn": seed + _DQN_REFERENCE_SEED_OFFSET},
        "train_seconds": round(state["train_seconds"], 2),
        "train_cpu_seconds": round(state.get("train_cpu_seconds", 0.0), 2),
        "made_by": "rosmo dataset minatar",
        "rosmo_version": rosmo.__version__,
    }
    info.metadata.update(rlds._jsonable(meta))  # noqa: SLF001  (the writer's JSON conversion)
    info.write_to_directory(work)
    for leftover in (state_path, state_path + ".tmp"):
        if os.path.exists(leftover):
            os.remove(leftover)
    _replace(work, path)
    return {
        "path": path,
        "complete": True,
        "episodes": num_episodes,
        "steps": num_steps,
        "bytes": rlds.directory_size_bytes(path),
        "seconds": round(time.time() - start, 2),
        "frames_per_s": round(frames / max(state["train_seconds"], 1e-9), 1),
        "frames_per_cpu_s": round(frames / max(state.get("train_cpu_seconds", 0.0), 1e-9), 1),
        "random_return": meta["random_return"],
        "dqn_return": meta["dqn_return"],
        "random_return_sem": meta["random_return_sem"],
        "dqn_return_sem": meta["dqn_return_sem"],
    }


def _finish(writer, split: str, state: dict[str, Any], i: int, terminated: bool, checkpoint: int) -> float:
    """Write env i's episode in progress to `split`; returns its return."""
    ep = state["episodes"][i]
    episode = minatar_data.episode_to_rlds(
        np.stack(ep["obs"]), ep["actions"], ep["rewards"], terminated, state["episode_id"], checkpoint
    )
    writer.add_examples({split: [episode]})
    state["episode_id"] += 1
    state.setdefault("lengths", []).append(len(ep["actions"]) + 1)
    return float(np.sum(ep["rewards"]))


def _replace(work: str, path: str) -> None:
    """Move the finished `work` to `path`; an existing dataset there (overwrite) is removed only after the move."""
    os.chmod(work, 0o755)
    old = None
    if os.path.exists(path):
        old = f"{path}.replaced-{os.getpid()}"
        os.replace(path, old)
    os.replace(work, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_episodes(
    path: str,
    game: str,
    episodes: list[dict[str, Any]],
    metadata: dict[str, Any],
    minimal_actions: bool = False,
    overwrite: bool = False,
) -> str:
    """Write RLDS `episodes` (`minatar_data.episode_to_rlds`) to `path` in the checkpoint-split layout.

    Each episode goes to the split of its `checkpoint_id`. The metadata gets env, num_actions,
    observation_shape and counts (plus `metadata`, e.g. the references). Written into a temporary
    directory that is renamed into place. Returns `path`.
    """
    game = minatar_env.game_name(game)
    path = os.path.abspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"dataset {path} already exists; pass overwrite=True to replace it")
    rlds.check_replaceable(path, flag="overwrite=True")
    observation_shape, num_actions = minatar_env.env_spec(game, minimal_actions)
    work = f"{path}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    writer = _open_writer(work, observation_shape[-1], f"MinAtar {game} episodes", [])
    splits = sorted({minatar_data.split_name(int(e["checkpoint_id"])) for e in episodes})
    writer.initialize_splits(splits)
    for episode in episodes:
        writer.add_examples({minatar_data.split_name(int(episode["checkpoint_id"])): [episode]})
    writer.close_all()
    info = _info(work, observation_shape[-1], f"MinAtar {game} episodes")
    info.read_from_directory(work)
    num_steps = int(sum(len(e["steps"]["action"]) for e in episodes))
    meta = {
        "env": game,
        "game": game,
        "num_actions": int(num_actions),
        "observation_shape": list(observation_shape),
        "minimal_actions": bool(minimal_actions),
        "num_episodes": len(episodes),
        "num_steps": num_steps,
        "num_transitions": num_steps - len(episodes),
        "rosmo_version": rosmo.__version__,
        **metadata,
    }
    info.metadata.update(rlds._jsonable(meta))  # noqa: SLF001
    info.write_to_directory(work)
    _replace(work, path)
    return path
