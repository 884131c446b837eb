"""Where a training run's data and online evaluation come from: BSuite RLDS datasets or RL Unplugged Atari.

`config.env_kind` picks ("bsuite" when the config has no such field):

- "bsuite": `config.dataset_dir` is an RLDS dataset made by `rosmo dataset bsuite`;
  batches from `rosmo.data.loader.make_loader`; evaluation with the lockstep
  `rosmo.evaluation.evaluate` (in `rosmo.training.loop.run_evaluation`).
- "atari": `rlu_atari/<config.game>_run_<config.run>` under the TFDS
  `config.data_dir` (the RL Unplugged bucket copy or `rosmo dataset atari`
  output); batches of frame-stacked windows from `make_rlu_atari_loader`;
  evaluation over `AtariVectorEnv` with DQN- and human-normalised scores from
  `rosmo.envs.reference_scores` (`rosmo.evaluation.statistics`).

`dataset_spec(config)` returns the same dict as `rosmo.data.loader.dataset_spec`
(observation shape/dtype as the networks see them, num_actions, metadata).
For Atari the metadata gains `env` ("atari:Pong"), `game`, `num_actions` and
the RL Unplugged references `random_return` / `dqn_return`, so the training
loop's summary and the checkpoint carry them like BSuite's.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator

import jax
import numpy as np

from rosmo.training.distributed import per_process_batch_size

ENV_KINDS = ("bsuite", "atari")


def env_kind(config) -> str:
    """`config.env_kind` ("bsuite" when absent); ValueError naming the flag otherwise."""
    kind = config.get("env_kind", "bsuite")
    if kind not in ENV_KINDS:
        raise ValueError(f"--config.env_kind={kind!r}: expected one of {ENV_KINDS}")
    return kind


def is_atari(spec: Dict[str, Any]) -> bool:
    return spec["metadata"].get("env_kind") == "atari"


def dataset_spec(config) -> Dict[str, Any]:
    """What the learner needs to build its networks (see `rosmo.data.loader.dataset_spec`)."""
    if env_kind(config) == "bsuite":
        from rosmo.data.loader import dataset_spec as rlds_spec

        return rlds_spec(config.dataset_dir)
    return atari_spec(config.game, config.run, config.data_dir, config.get("dataset", "rlu_atari"))


def atari_spec(game: str, run: int, data_dir: str, dataset: str = "rlu_atari") -> Dict[str, Any]:
    """Spec of `<dataset>/<Game>_run_<run>` under `data_dir`: observation uint8 [84, 84, 4] (4 stacked frames)."""
    from rosmo.data import rlds, rlu_atari
    from rosmo.envs import atari as atari_env
    from rosmo.envs.reference_scores import atari_scores

    builder = rlu_atari.load_rlu_builder(game, run, data_dir, dataset)
    meta = dict(rlds.metadata(builder))
    name = atari_env.game_name(game)
    num_actions = meta.get("num_actions")
    if num_actions is None:  # the RL Unplugged files carry no metadata: the minimal action set
        env = atari_env.AtariEnv(name, seed=0)
        num_actions = env.num_actions
    scores = atari_scores(name)
    meta.update(
        env=f"atari:{name}",
        env_kind="atari",
        game=name,
        num_actions=int(num_actions),
        random_return=scores["random"],
        dqn_return=scores["dqn"],
        references="RL Unplugged random / online DQN (rosmo.envs.reference_scores)",
    )
    frame_shape = tuple(builder.info.features["steps"]["observation"].shape)  # (84, 84, 1)
    return {
        "path": str(builder.data_dir),
        "observation_shape": frame_shape[:2] + (rlu_atari.STACK_SIZE,),
        "observation_dtype": np.dtype(np.uint8),
        "num_actions": int(num_actions),
        "num_episodes": sum(int(s.num_examples) for s in builder.info.splits.values()),
        "num_steps": meta.get("num_steps"),
        "metadata": meta,
    }


def _atari_process_seed(config) -> int:
    """Seed of this process's Atari stream: the episode subset depends on the seed, so hosts may only
    draw different shuffles when every episode is kept."""
    if jax.process_count() == 1:
        return config.seed
    if config.data_percentage < 100:
        raise ValueError(
            f"--config.data_percentage={config.data_percentage}: multi-host Atari runs need 100 "
            "(each host shuffles with its own seed, which would also pick its own episode subset)"
        )
    return config.seed + 1_000_003 * jax.process_index()


def make_batches(config, start_batch: int = 0) -> Iterator[Dict[str, np.ndarray]]:
    """The run's infinite iterator of batches of windows [B, K + n + 1, ...].

    Each process loads its share of the global `config.batch_size` (multi-host);
    BSuite resumes exactly at `start_batch`. The Atari stream restarts its
    shuffles from `config.seed` on resume (the same episodes are kept: the
    episode choice depends on the seed only).
    """
    if env_kind(config) == "bsuite":
        from rosmo.data.loader import make_loader

        return make_loader(
            config.dataset_dir,
            unroll_steps=config.unroll_steps,
            td_steps=config.td_steps,
            batch_size=per_process_batch_size(config.batch_size),
            shard=jax.process_index(),
            data_percentage=config.data_percentage,
            seed=config.seed,
            shuffle_buffer=config.shuffle_buffer,
            start_batch=start_batch,
        )
    from rosmo.data.rlu_atari import make_rlu_atari_loader

    return make_rlu_atari_loader(
        config.game,
        config.run,
        data_dir=config.data_dir,
        dataset=config.get("dataset", "rlu_atari"),
        unroll_steps=config.unroll_steps,
        td_steps=config.td_steps,
        batch_size=per_process_batch_size(config.batch_size),
        data_percentage=config.data_percentage,
        seed=_atari_process_seed(config),
        shuffle_episodes=config.get("shuffle_episodes", 100),
        shuffle_buffer=config.shuffle_buffer,
    )


def evaluate_atari_run(act_fn, params, spec: Dict[str, Any], config, seed: int) -> Dict[str, Any]:
    """The training loop's Atari evaluation: vector env, DQN-normalised `normalized_score` (of the mean)."""
    from rosmo.evaluation.statistics import evaluate_atari

    result = evaluate_atari(
        spec["metadata"]["game"],
        act_fn,
        params,
        num_episodes=config.eval_episodes,
        num_envs=config.eval_parallel,
        seed=seed,
        max_episode_frames=config.eval_max_episode_frames,
    )
    result = {k: v for k, v in result.items() if k not in ("returns", "lengths")}
    result["normalized_score"] = result["dqn_normalized"]["mean"]  # the game is one of the 46 (atari_spec checked)
    return result
