"""BREMEN on MuJoCo as jobs: the deployment loop's agent, offline runs (BREMEN or BC), behaviour datasets.

    run_bremen_deployments(config, workdir)             deployment-efficient BREMEN (Algorithm 1)
    run_offline(config, dataset_dirs, workdir, algo)    BREMEN ("bremen") or BC ("bc") on fixed data
    make_behaviour_dataset(run_dir, deployment, out)    a "medium" dataset from a deployment's policy

Seeds: deployment i collects in envs seeded from `collect_seed(seed, i)`, trains with
`fold_in(PRNGKey(seed), i)` and evaluates in envs seeded from `evaluation_seed(seed, i)` (an offline
run: `PRNGKey(seed)` and `evaluation_seed(seed, 0)`), so every number is reproducible from the config.

An offline run directory::

    <workdir>/config.json  checkpoint/  train.json  evaluation.json (written last)
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any, Optional, Sequence

import jax
import ml_collections
import numpy as np

from rosmo.agents.bremen import config as config_lib
from rosmo.agents.bremen import learner
from rosmo.agents.bremen.networks import make_act_fn, make_policy
from rosmo.data import mujoco_maker
from rosmo.data.episodes import load_transitions
from rosmo.deploy import loop as deployment
from rosmo.envs import mujoco
from rosmo.jsonio import to_jsonable, write_json_atomic
from rosmo.suites import get_suite
from rosmo.training.checkpoint import Checkpointer

ALGOS = ("bremen", "bc")
"""`run_offline`'s algorithms: BREMEN on fixed data, or BC with BREMEN's BC settings (its baseline)."""


def collect_seed(seed: int, deployment_index: int) -> int:
    return 1_000_000 * (seed + 1) + 1000 * deployment_index


def evaluation_seed(seed: int, deployment_index: int) -> int:
    return 2_000_000 * (seed + 1) + 1000 * deployment_index + 500


def env_functions(env: str) -> learner.EnvFunctions:
    """The MuJoCo suite's termination and reward functions of `env`, which BREMEN's imagined rollouts use."""
    return get_suite("mujoco").env_functions(env)


def _train_bremen_offline(config, data, key, progress):
    return learner.train_bremen(config, data, data, key, env_functions(config.env), progress=progress)


def _train_bc_offline(config, data, key, progress):
    return learner.train_bc_baseline(config, data, key, progress=progress)


OFFLINE_TRAINERS = {"bremen": _train_bremen_offline, "bc": _train_bc_offline}
"""`run_offline`'s trainers by algorithm: (config, transitions, key, progress) -> (state, metrics)."""


def save_state(state: dict[str, Any], directory: str, extra: Optional[dict[str, Any]] = None) -> None:
    """Save a BREMEN/BC state dict with orbax (`directory/0/`), `extra` as its JSON side-car."""
    ckpt = Checkpointer(directory, max_to_keep=1)
    try:
        ckpt.save(0, state, extra=extra or {}, force=True)
    finally:
        ckpt.close()


def load_state(directory: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state as numpy arrays, extra) of a checkpoint written by `save_state`."""
    ckpt = Checkpointer(directory, read_only=True)
    try:
        return ckpt.restore(None)
    finally:
        ckpt.close()


class BremenDeployment:
    """`DeploymentAgent` for BREMEN on a MuJoCo env (all settings from one BREMEN config)."""

    def __init__(self, config: ml_collections.ConfigDict, progress: bool = False):
        config_lib.validate_config(config)
        self.config = config
        self.progress = progress
        self.obs_dim, self.act_dim = mujoco.env_spec(config.env)
        policy = make_policy(self.act_dim, config.policy.hidden_sizes)
        noise = config.collect_noise_std
        self._collect_act = jax.jit(make_act_fn(policy, "sample") if noise < 0 else make_act_fn(policy, "mean", noise))
        self._eval_act = jax.jit(make_act_fn(policy, "mean"))

    def collect(self, deployment_index: int, state: Optional[dict[str, Any]], out_dir: str) -> dict[str, Any]:
        c = self.config
        if state is None:
            act, params = jax.jit(mujoco.random_act_fn), mujoco.random_params(self.act_dim)
            behaviour = {"name": "uniform_random"}
        else:
            act, params = self._collect_act, learner.act_params(state)
            behaviour = {
                "name": "bremen",
                "policy_of_deployment": deployment_index - 1,
                "action": "sample" if c.collect_noise_std < 0 else "mean + N(0, noise_std^2)",
                "noise_std": c.collect_noise_std,
            }
        seed = collect_seed(c.seed, deployment_index)
        episodes = mujoco.collect_episodes(
            c.env,
            None,
            params,
            c.transitions_per_deployment,
            c.collect_num_envs,
            seed,
            c.max_episode_steps,
            progress=self.progress,
            jitted_act=act,
        )
        complete = [float(e["episode_return"]) for e in episodes if e["complete"]]
        metadata = {
            "seed": seed,
            "deployment": deployment_index,
            "behaviour": behaviour,
            "max_episode_steps": c.max_episode_steps,
            "run_seed": c.seed,
        }
        summary = mujoco_maker.write_episodes(
            out_dir, c.env, episodes, metadata, f"BREMEN deployment {deployment_index} on {c.env}", overwrite=True
        )
        return {
            **summary,
            "episode_return_mean": float(np.mean(complete)) if complete else None,
            "complete_episodes": len(complete),
            "behaviour": behaviour,
            "seed": seed,
        }

    def train(self, deployment_index: int, dataset_dirs: Sequence[str], previous: Optional[Any]):
        del previous  # BREMEN re-initialises everything each deployment (policy from BC)
        data_all = load_transitions(dataset_dirs)
        data_new = load_transitions(dataset_dirs[-1:])
        key = jax.random.fold_in(jax.random.PRNGKey(self.config.seed), deployment_index)
        state, metrics = learner.train_bremen(
            self.config, data_all, data_new, key, env_functions(self.config.env), progress=self.progress
        )
        return state, {**metrics, "transitions_all": len(data_all), "transitions_new": len(data_new)}

    def save(self, state: dict[str, Any], directory: str) -> None:
        save_state(
            state,
            directory,
            {"config": self.config.to_dict(), "obs_dim": self.obs_dim, "act_dim": self.act_dim, "algo": "bremen"},
        )

    def restore(self, directory: str) -> dict[str, Any]:
        return load_state(directory)[0]

    def evaluate(self, deployment_index: int, state: dict[str, Any]) -> dict[str, Any]:
        c = self.config
        return mujoco.evaluate(
            c.env,
            None,
            learner.act_params(state),
            c.eval_episodes,
            c.eval_num_envs,
            evaluation_seed(c.seed, deployment_index),
            c.max_episode_steps,
            progress=self.progress,
            jitted_act=self._eval_act,
        )


def run_bremen_deployments(config: ml_collections.ConfigDict, workdir: str, progress: bool = True) -> dict[str, Any]:
    """Deployment-efficient BREMEN: `config.num_deployments` deployments of `config.transitions_per_deployment`."""
    agent = BremenDeployment(config, progress=progress)
    return deployment.run_deployments(agent, workdir, config.num_deployments, config.to_dict(), progress=progress)


def run_offline(
    config: ml_collections.ConfigDict,
    dataset_dirs: Sequence[str],
    workdir: str,
    algo: str = "bremen",
    progress: bool = True,
) -> dict[str, Any]:
    """BREMEN (ensemble + BC init + TRPO, one round) or BC on the fixed datasets; resumable; returns the evaluation.

    The evaluation uses `config.eval_episodes` episodes in envs seeded `evaluation_seed(config.seed, 0)`.
    """
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
    config_lib.validate_config(config)
    os.makedirs(workdir, exist_ok=True)
    deployment.check_config(
        workdir,
        {"algo": algo, "datasets": [os.path.abspath(p) for p in dataset_dirs], "config": config.to_dict()},
        ignore=(),
    )
    eval_path = os.path.join(workdir, "evaluation.json")
    if os.path.exists(eval_path):
        return deployment.read_json(eval_path)
    obs_dim, act_dim = mujoco.env_spec(config.env)
    ckpt, train_path = os.path.join(workdir, "checkpoint"), os.path.join(workdir, "train.json")
    if os.path.isdir(ckpt) and os.path.exists(train_path):
        state = load_state(ckpt)[0]
    else:
        start = time.time()
        data = load_transitions(dataset_dirs)
        key = jax.random.PRNGKey(config.seed)
        state, metrics = OFFLINE_TRAINERS[algo](config, data, key, progress)
        write_json_atomic(
            train_path, {**to_jsonable(metrics), "transitions": len(data), "seconds": round(time.time() - start, 2)}
        )
        if os.path.isdir(ckpt):
            shutil.rmtree(ckpt)
        tmp = ckpt + ".tmp"
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        save_state(state, tmp, {"config": config.to_dict(), "obs_dim": obs_dim, "act_dim": act_dim, "algo": algo})
        os.replace(tmp, ckpt)
    policy = make_policy(act_dim, config.policy.hidden_sizes)
    start = time.time()
    evaluation = mujoco.evaluate(
        config.env,
        make_act_fn(policy, "mean"),
        learner.act_params(state),
        config.eval_episodes,
        config.eval_num_envs,
        evaluation_seed(config.seed, 0),
        config.max_episode_steps,
        progress=progress,
    )
    evaluation = {**evaluation, "algo": algo, "seed": config.seed, "seconds": round(time.time() - start, 2)}
    write_json_atomic(eval_path, to_jsonable(evaluation))
    return evaluation


def load_policy(run_dir: str, deployment_index: int) -> tuple[ml_collections.ConfigDict, dict[str, Any]]:
    """(config, act params) of deployment `deployment_index` of a BREMEN run directory (or an offline run's)."""
    directory = os.path.join(deployment.deployment_dir(run_dir, deployment_index), "checkpoint")
    if not os.path.isdir(directory):
        directory = os.path.join(run_dir, "checkpoint")
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"{run_dir}: no checkpoint for deployment {deployment_index} "
            f"(expected {deployment.deployment_dir(run_dir, deployment_index)}/checkpoint)"
        )
    state, extra = load_state(directory)
    return ml_collections.ConfigDict(extra["config"]), learner.act_params(state)


def make_behaviour_dataset(
    run_dir: str,
    deployment_index: int,
    out: str,
    num_transitions: int = 100_000,
    noise_std: float = 0.1,
    seed: int = 0,
    reference_episodes: int = 10,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """A "medium"-style dataset: deployment `deployment_index`'s policy mean + N(0, noise_std^2), clipped."""
    config, params = load_policy(run_dir, deployment_index)
    _, act_dim = mujoco.env_spec(config.env)
    policy = make_policy(act_dim, config.policy.hidden_sizes)
    behaviour = {
        "name": "bremen",
        "run": os.path.abspath(run_dir),
        "deployment": deployment_index,
        "action": "mean + N(0, noise_std^2), clipped",
        "noise_std": noise_std,
    }
    return mujoco_maker.make_mujoco_dataset(
        config.env,
        out,
        make_act_fn(policy, "mean", noise_std),
        params,
        behaviour,
        num_transitions,
        seed,
        config.collect_num_envs,
        reference_episodes,
        config.max_episode_steps,
        overwrite,
        progress,
    )
