"""The BSuite suite: RLDS datasets made by `rosmo dataset bsuite`, dm_env evaluation (Acme's loop or lockstep).

Data: `config.dataset_dir`, an RLDS directory whose metadata names its env,
its number of actions, reward noise / sticky actions, and the two
normalisation references measured when it was made (uniform random and the
behaviour DQN's greedy return). Evaluation plays the same env with the same
noise settings; a checkpoint evaluated on another BSuite env is scored
without normalisation. With one env (`num_envs=1`, e.g. `rosmo evaluate
--num-envs 1`, `--config.eval_parallel=1`) the episodes run in
`acme.EnvironmentLoop` with an Acme actor; with more, in the lockstep loop,
which was 4-30x faster for 100 episodes at the configs' 50 envs
(`benchmarks/eval_loop_throughput.py`, docs/dependencies.md).
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import jax
import numpy as np

from rosmo.envs import bsuite as bsuite_envs
from rosmo.evaluation.loops import Episodes, play_dm_env, play_environment_loop
from rosmo.suites.base import (
    DatasetSpec,
    Reference,
    Suite,
    dataset_references,
    per_process_batch_size,
    train_layout_spec,
)
from rosmo.suites.configs import bsuite as bsuite_configs

REFERENCE_DESCRIPTION = "uniform random / behaviour DQN greedy returns, measured when the dataset was made"


class BSuite(Suite):
    name = "bsuite"
    description = "BSuite catch, cartpole, mountain_car (datasets: an online DQN's whole run, made locally)"
    collects_online = True

    def get_config(self, arg: str = ""):
        return bsuite_configs.get_config(arg or "catch")

    def env_names(self) -> Sequence[str]:
        return bsuite_envs.ENV_NAMES

    def canonical_env(self, name: str) -> str:
        key = str(name).strip().lower().replace("-", "_")
        if key not in bsuite_envs.ENV_NAMES:
            raise ValueError(f"unknown BSuite env {name!r}; expected one of {', '.join(bsuite_envs.ENV_NAMES)}")
        return key

    def dataset_spec(self, config) -> DatasetSpec:
        return train_layout_spec(config, "a dataset made by `rosmo dataset bsuite`", required=("num_actions",))

    def make_batches(self, config, start_batch: int = 0) -> Iterator[dict[str, np.ndarray]]:
        from rosmo.data import loader  # TensorFlow: here (rosmo.suites.base)

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
        )

    def env_spec(self, env: str, metadata: dict[str, Any]) -> tuple[tuple[int, ...], int]:
        return bsuite_envs.env_spec(env)

    def _same_env(self, env: str, metadata: dict[str, Any]) -> bool:
        return metadata.get("env") == env

    def make_env(self, env: str, seed: int, metadata: dict[str, Any], **options):
        """The env with the dataset's reward noise / sticky actions when it is the dataset's env."""
        if options:
            raise ValueError(f"BSuite envs take no options, got {sorted(options)}")
        meta = metadata if self._same_env(env, metadata) else {}
        return bsuite_envs.make_env(
            env,
            seed=seed,
            reward_noise=float(meta.get("reward_noise", 0.0)),
            sticky_action_prob=float(meta.get("sticky_action_prob", 0.0)),
        )

    def play(
        self, env, act_fn, params, metadata, num_episodes, num_envs, seed, progress=False, jitted_act=None, **options
    ) -> Episodes:
        if options:
            raise ValueError(f"BSuite evaluation takes no options, got {sorted(options)}")
        make_env = lambda s: self.make_env(env, s, metadata)  # noqa: E731
        if num_envs == 1:
            return play_environment_loop(
                make_env, act_fn, params, num_episodes, seed=seed, progress=progress, jitted_act=jitted_act
            )
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

    def online_metadata(self, env: str, reference: dict[str, Any]) -> dict[str, Any]:
        """env, its spec, and the reference dataset's reward noise / sticky actions when it holds `env`."""
        observation_shape, num_actions = bsuite_envs.env_spec(env)
        meta = reference if self._same_env(env, reference) else {}
        return {
            "env": env,
            "observation_shape": list(observation_shape),
            "num_actions": num_actions,
            "reward_noise": float(meta.get("reward_noise", 0.0)),
            "sticky_action_prob": float(meta.get("sticky_action_prob", 0.0)),
        }

    def write_episodes(self, out, env, episodes, metadata, description) -> dict[str, Any]:
        """The `rosmo dataset bsuite` schema (float32 observations, one `train` split)."""
        from rosmo.data import bsuite_maker  # TensorFlow: here (rosmo.suites.base)

        return bsuite_maker.write_episodes(out, env, episodes, metadata, description, overwrite=True)


SUITE = BSuite()
