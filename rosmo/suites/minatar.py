"""The MinAtar suite: datasets made by `rosmo dataset minatar`, the reference `minatar` envs for evaluation.

Data: `config.dataset_dir`, the RLDS directory of an online DQN's whole run, split by its
training checkpoint (`rosmo.data.minatar_data`); batches from the Atari path's episode
pool. Its metadata records the game, the protocol (sticky actions, action set, episode
cap) and the two normalisation references measured when it was made: a uniform random
policy's return and the final behaviour DQN's (epsilon 0.01) return, over >= 100 episodes
each. Evaluation plays the dataset's game under the dataset's protocol, `eval_parallel`
envs in lockstep, episodes capped at `eval_max_episode_steps` agent steps; a checkpoint
evaluated on another game is scored without normalisation.

`rosmo deploy --env minatar:<game>` collects data online (`collects_online`): each deployment's
episodes are written in the generic `train` layout (`minatar_data.write_collected_episodes`),
and `dataset_dir` may then be a comma-separated list of such datasets, read together by
`rosmo.data.loader` (in memory, windows drawn uniformly; `ordered_checkpoints` does not apply).
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import jax
import numpy as np

from rosmo.suites.configs import minatar as minatar_configs
from rosmo.envs import minatar as minatar_env
from rosmo.errors import check_field
from rosmo.evaluation.loops import Episodes, play_dm_env
from rosmo.suites.base import (
    DatasetSpec,
    Reference,
    Suite,
    check_dataset_metadata,
    dataset_references,
    per_process_batch_size,
    train_layout_spec,
)

REFERENCE_DESCRIPTION = (
    "uniform random / final behaviour DQN (epsilon 0.01) returns, measured when the dataset was made"
)


class MinAtar(Suite):
    name = "minatar"
    description = "MinAtar asterix, breakout, freeway, seaquest, space_invaders (datasets: an online DQN's whole run)"
    collects_online = True

    def get_config(self, arg: str = ""):
        return minatar_configs.get_config(arg or "breakout")

    def env_names(self) -> Sequence[str]:
        return minatar_env.GAMES

    def canonical_env(self, name: str) -> str:
        return minatar_env.game_name(name)

    def validate(self, config) -> None:
        check_field(config.env in minatar_env.GAMES, "env", f"one of {minatar_env.GAMES}", config.env)
        check_field(int(config.torso_channels) >= 1, "torso_channels", "an integer >= 1", config.torso_channels)
        check_field(int(config.hidden_size) >= 1, "hidden_size", "an integer >= 1", config.hidden_size)
        check_field(
            int(config.episodes_in_flight) >= 1, "episodes_in_flight", "an integer >= 1", config.episodes_in_flight
        )
        check_field(
            int(config.eval_max_episode_steps) >= 1,
            "eval_max_episode_steps",
            "an integer >= 1",
            config.eval_max_episode_steps,
        )

    def dataset_spec(self, config) -> DatasetSpec:
        from rosmo.data import minatar_data, schema  # TensorFlow: here (rosmo.suites.base)

        if not minatar_data.is_checkpoint_layout(config.dataset_dir):
            return self._collected_spec(config)
        builder = minatar_data.load_builder(config.dataset_dir)
        step_features = schema.validate_features(builder)
        meta = dict(minatar_data.rlds.metadata(builder))
        path = str(builder.data_dir)
        check_dataset_metadata(meta, path, config.env, "a dataset made by `rosmo dataset minatar`")
        obs = step_features["observation"]
        return DatasetSpec(
            path,
            tuple(obs.shape),
            np.dtype(obs.np_dtype),
            int(meta["num_actions"]),
            sum(int(s.num_examples) for s in builder.info.splits.values()),
            meta.get("num_steps"),
            meta,
        )

    def _collected_spec(self, config) -> DatasetSpec:
        """`dataset_spec` of data collected online (one or several `train`-layout datasets)."""
        return train_layout_spec(config, "a dataset made by `rosmo dataset minatar` or collected by `rosmo deploy`")

    def make_batches(self, config, start_batch: int = 0) -> Iterator[dict[str, np.ndarray]]:
        from rosmo.data import loader, minatar_data  # TensorFlow: here (rosmo.suites.base)

        if not minatar_data.is_checkpoint_layout(config.dataset_dir):
            return loader.make_loader(
                config.dataset_dir,
                unroll_steps=config.unroll_steps,
                td_steps=config.td_steps,
                batch_size=per_process_batch_size(config.batch_size),
                shard=jax.process_index(),
                data_percentage=config.data_percentage,
                seed=config.seed,
                shuffle_buffer=config.shuffle_buffer,
                start_batch=start_batch,
                num_actions=self.dataset_spec(config).num_actions,
            )
        return minatar_data.make_minatar_loader(
            config.dataset_dir,
            unroll_steps=config.unroll_steps,
            td_steps=config.td_steps,
            batch_size=per_process_batch_size(config.batch_size),
            data_percentage=config.data_percentage,
            seed=config.seed,
            episodes_in_flight=config.episodes_in_flight,
            cycle_length=config.read_cycle_length,
            ordered=config.ordered_checkpoints,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
            start_batch=start_batch,
            num_actions=self.dataset_spec(config).num_actions,
        )

    def env_spec(self, env: str, metadata: dict[str, Any]) -> tuple[tuple[int, ...], int]:
        minimal = bool(metadata.get("minimal_actions", False)) if metadata.get("env") == env else False
        return minatar_env.env_spec(env, minimal)

    def _env_options(self, env: str, metadata: dict[str, Any]) -> dict[str, Any]:
        """The dataset's protocol when `env` is its game, else the MinAtar paper's."""
        if metadata.get("env") != env:
            return {}
        return {
            "sticky_action_prob": float(metadata.get("sticky_action_prob", minatar_env.STICKY_ACTION_PROB)),
            "minimal_actions": bool(metadata.get("minimal_actions", False)),
        }

    def make_env(self, env: str, seed: int, metadata: dict[str, Any], **options):
        """`MinAtarEnv(env, seed)` under the dataset's protocol; `max_episode_steps` may be given."""
        unknown = set(options) - {"max_episode_steps"}
        if unknown:
            raise ValueError(f"MinAtar envs take only max_episode_steps, got {sorted(unknown)}")
        return minatar_env.MinAtarEnv(env, seed=seed, **self._env_options(env, metadata), **options)

    def play(
        self, env, act_fn, params, metadata, num_episodes, num_envs, seed, progress=False, jitted_act=None, **options
    ) -> Episodes:
        make_env = lambda s: self.make_env(env, s, metadata, **options)  # noqa: E731
        return play_dm_env(
            make_env,
            act_fn,
            params,
            num_episodes,
            num_envs=num_envs,
            seed=seed,
            progress=progress,
            jitted_act=jitted_act,
        )

    def references(self, env: str, metadata: dict[str, Any]) -> list[Reference]:
        return dataset_references(env, metadata, REFERENCE_DESCRIPTION)

    def eval_options(self, config) -> dict[str, Any]:
        return {"max_episode_steps": int(config.eval_max_episode_steps)}

    def online_metadata(self, env: str, reference: dict[str, Any]) -> dict[str, Any]:
        """The game, its spec and protocol: the reference dataset's sticky actions / action set when it holds
        `env`, else the MinAtar paper's (sticky actions 0.1, all 6 actions)."""
        protocol = self._env_options(env, reference) or {
            "sticky_action_prob": minatar_env.STICKY_ACTION_PROB,
            "minimal_actions": False,
        }
        observation_shape, num_actions = minatar_env.env_spec(env, protocol["minimal_actions"])
        return {
            "env": env,
            "game": env,
            "observation_shape": list(observation_shape),
            "num_actions": int(num_actions),
            **protocol,
        }

    def write_episodes(self, out, env, episodes, metadata, description) -> dict[str, Any]:
        """The generic `train` layout with the MinAtar step features (`minatar_data.write_collected_episodes`)."""
        from rosmo.data import minatar_data  # TensorFlow: here (rosmo.suites.base)

        return minatar_data.write_collected_episodes(out, env, episodes, metadata, description, overwrite=True)


SUITE = MinAtar()
