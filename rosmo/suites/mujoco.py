"""The MuJoCo suite: gymnasium locomotion with continuous actions (HalfCheetah, Hopper, Walker2d, Ant).

Its agent is BREMEN (`rosmo.agents.bremen`), trained on transitions rather than windows and selected
with `rosmo deploy --agent bremen --env mujoco:<env>`; `get_config` gives BREMEN's CPU-sized config
(`bremen.cpu_config`). The window learners (rosmo, mzu, bc, cql) need discrete actions, so
`validate` (run by `rosmo train`'s config validation) and `make_batches` refuse it with a one-line error.

Data: continuous RLDS datasets (`rlds.continuous_features`: float32 observation [obs_dim] and action
[act_dim]) named by `config.dataset_dir` (several comma-separated). Evaluation: `rosmo.envs.mujoco.evaluate`
(the policy mean, vector envs). References: the dataset's uniform-random and behaviour returns
(`rosmo.data.mujoco_maker` measures both when it makes a dataset).

`env_spec` returns `((obs_dim,), act_dim)`: the second entry is the action *dimension* here.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from rosmo.agents.bremen import config as bremen_config
from rosmo.agents.bremen.learner import EnvFunctions
from rosmo.envs import mujoco as mujoco_envs
from rosmo.errors import ConfigError, DatasetError
from rosmo.evaluation.loops import Episodes
from rosmo.suites.base import DatasetSpec, Reference, Suite

REFERENCE_DESCRIPTION = "uniform random / behaviour policy returns, measured when the dataset was made"


class MuJoCo(Suite):
    name = "mujoco"
    description = "gymnasium MuJoCo locomotion (continuous actions; agent: bremen via `rosmo deploy`)"

    def get_config(self, arg: str = ""):
        config = bremen_config.cpu_config(self.canonical_env(arg or "HalfCheetah-v5"))
        config.suite = self.name
        return config

    def env_names(self) -> Sequence[str]:
        return mujoco_envs.ENV_NAMES

    def canonical_env(self, name: str) -> str:
        key = str(name).strip().lower()
        for env in mujoco_envs.ENV_NAMES:
            if key in (env.lower(), env.lower().split("-")[0]):
                return env
        raise ValueError(f"unknown MuJoCo env {name!r}; expected one of {', '.join(mujoco_envs.ENV_NAMES)}")

    def env_functions(self, env: str) -> EnvFunctions:
        """`env`'s termination rule and reward as functions of arrays, for BREMEN's imagined rollouts."""
        env = self.canonical_env(env)
        return EnvFunctions(termination=mujoco_envs.termination_fn(env), reward=mujoco_envs.reward_fn(env))

    def validate(self, config) -> None:
        """Called for the window learners' configs (`rosmo train`): none of them fits continuous actions."""
        raise ConfigError(
            f"suite=mujoco: {config.get('algo', 'this agent')!r} learns from windows of "
            "discrete actions; MuJoCo actions are continuous (use `rosmo deploy --agent bremen`)",
            field="suite",
        )

    def dataset_spec(self, config) -> DatasetSpec:
        if not config.get("dataset_dir"):
            raise ConfigError(
                "dataset_dir: expected a MuJoCo RLDS dataset directory (or several, comma-separated)",
                field="dataset_dir",
            )
        from rosmo.data import loader, rlds  # TensorFlow: here (rosmo.suites.base)

        paths = loader.dataset_list(config.dataset_dir)
        builders = [rlds.load_builder(p) for p in paths]
        meta = rlds.metadata(builders[0])
        steps = builders[0].info.features["steps"]
        obs, action = steps["observation"], steps["action"]
        if len(action.shape) != 1:
            raise DatasetError(
                f"{paths[0]}: steps/action has shape {tuple(action.shape)}, expected [act_dim] "
                "(a continuous MuJoCo dataset)"
            )
        num_episodes = sum(int(b.info.splits["train"].num_examples) for b in builders)
        return DatasetSpec(
            ",".join(paths),
            tuple(obs.shape),
            np.dtype(obs.np_dtype),
            0,
            num_episodes,
            None,
            dict(meta, env=meta.get("env", config.env), action_dim=int(action.shape[0])),
        )

    def make_batches(self, config, start_batch: int = 0):
        self.validate(config)

    def env_spec(self, env: str, metadata: dict[str, Any]) -> tuple[tuple[int, ...], int]:
        obs_dim, act_dim = mujoco_envs.env_spec(env)
        return (obs_dim,), act_dim

    def make_env(self, env: str, seed: int, metadata: dict[str, Any], **options):
        """A gymnasium env (not dm_env), reset with `seed`; `max_episode_steps` from the options or metadata."""
        env_obj = mujoco_envs.make_env(env, options.get("max_episode_steps", metadata.get("max_episode_steps")))
        env_obj.reset(seed=seed)
        return env_obj

    def play(
        self, env, act_fn, params, metadata, num_episodes, num_envs, seed, progress=False, jitted_act=None, **options
    ) -> Episodes:
        unknown = set(options) - {"max_episode_steps"}
        if unknown:
            raise ValueError(f"MuJoCo evaluation takes only max_episode_steps, got {sorted(unknown)}")
        result = mujoco_envs.evaluate(
            env,
            act_fn,
            params,
            num_episodes,
            num_envs,
            seed,
            options.get("max_episode_steps", metadata.get("max_episode_steps")),
            progress=progress,
            jitted_act=jitted_act,
        )
        return Episodes(
            result["returns"], result["lengths"], result["env_steps"], result["wall_seconds"], result["num_envs"]
        )

    def references(self, env: str, metadata: dict[str, Any]) -> list[Reference]:
        if (
            metadata.get("env") != env
            or metadata.get("random_return") is None
            or metadata.get("behaviour_return") is None
        ):
            return []
        return [
            Reference(
                "behaviour",
                float(metadata["random_return"]),
                float(metadata["behaviour_return"]),
                REFERENCE_DESCRIPTION,
            )
        ]

    def eval_options(self, config) -> dict[str, Any]:
        return {"max_episode_steps": config.get("max_episode_steps")}


SUITE = MuJoCo()
