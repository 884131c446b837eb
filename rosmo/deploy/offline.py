"""The deployment loop for the offline window learners (rosmo, mzu, bc, cql) on the suites that collect online.

`OfflineAgentDeployment` is the `DeploymentAgent` of `rosmo.deploy.loop.run_deployments`:

    collect   B transitions (whole episodes) in the suite's env (`Suite.make_env` under the suite's
              `eval_options`, e.g. MinAtar's episode cap) with deployment i - 1's trained agent (its saved
              acting rule) plus epsilon-greedy exploration; uniform random for deployment 1. Written as
              deployments/<i>/data/ by the suite (`Suite.write_episodes`: RLDS, atomically; BSuite: the
              `rosmo dataset bsuite` schema, MinAtar: its uint8 grids in the generic `train` layout).
    train     `rosmo.training.loop.train` in deployments/<i>/run/ on D_1 .. D_i read together
              (`config.dataset_dir` = the comma-separated list); warm-started (default) from deployment
              i - 1's last checkpoint, i.e. i * steps_per_deployment steps in all, or from scratch
              (steps_per_deployment steps). A stopped training run resumes from its own checkpoints.
    evaluate  the run's final `evaluate_agent` (through the suite: returns, IQM + CI, normalised score).

`deployments/<i>/checkpoint/run.json` points at the run directory and its final step.

The suites that collect online are those with `Suite.collects_online` (BSuite, MinAtar); the env's protocol
(BSuite reward noise / sticky actions, MinAtar sticky actions / action set) is the reference dataset's when it
holds the env, else the suite's default (`Suite.online_metadata`).

Normalisation references: `random_return` / `dqn_return` from `reference_dataset`'s metadata (the dataset
`rosmo dataset bsuite` / `rosmo dataset minatar` made for the env, read through the suite) when given;
otherwise `random_return` is the mean return of deployment 1's uniform-random episodes and there is no
high reference (scores are raw returns).
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any, Optional, Sequence

import jax
import ml_collections
import numpy as np

from rosmo.data import collect as collect_lib
from rosmo.data import loader
from rosmo.deploy import loop as deployment
from rosmo.errors import ConfigError, UserError
from rosmo.evaluation.evaluate import evaluate_agent
from rosmo.jsonio import to_jsonable, write_json_atomic
from rosmo.suites import SUITES, get_suite
from rosmo.training import loop
from rosmo.training.checkpoint import Checkpointer
from rosmo.training.restore import load_agent

COLLECT_SEED_OFFSET = 50_000
EVAL_SEED_OFFSET = 60_000


def deploy_options(
    num_deployments: int = 5,
    transitions_per_deployment: int = 1000,
    steps_per_deployment: int = 1000,
    epsilon: float = 0.1,
    warm_start: bool = True,
    reference_dataset: Optional[str] = None,
) -> ml_collections.ConfigDict:
    """The deployment loop's own fields (saved in config.json next to the learner's config)."""
    return ml_collections.ConfigDict(
        {
            "num_deployments": num_deployments,
            "transitions_per_deployment": transitions_per_deployment,
            "steps_per_deployment": steps_per_deployment,
            "epsilon": epsilon,
            "warm_start": warm_start,
            "reference_dataset": reference_dataset or "",
        }
    )


def validate_options(options: ml_collections.ConfigDict) -> None:
    for field, flag in (
        ("num_deployments", "--deployments"),
        ("transitions_per_deployment", "--transitions"),
        ("steps_per_deployment", "--steps"),
    ):
        value = options[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{flag} {value!r}: expected an integer >= 1")
    if not 0.0 <= float(options.epsilon) <= 1.0:
        raise ConfigError(f"--epsilon: expected a number in [0, 1], got {options.epsilon!r}")


def collecting_suites() -> list[str]:
    """The registered suites whose data `rosmo deploy` collects online (`Suite.collects_online`)."""
    return sorted(name for name, suite in SUITES.items() if suite.collects_online)


def reference_metadata(config: ml_collections.ConfigDict, reference_dataset: str) -> dict[str, Any]:
    """The metadata of `reference_dataset` read through the suite (`Suite.dataset_spec` with it as
    `dataset_dir`); ConfigError naming --reference-dataset when it cannot be read, holds another env or
    has no random_return / dqn_return."""
    suite = get_suite(config.suite)
    probe = ml_collections.ConfigDict(config.to_dict())
    probe.dataset_dir = reference_dataset
    try:
        meta = dict(suite.dataset_spec(probe).metadata)
    except UserError as err:
        raise ConfigError(f"--reference-dataset {reference_dataset}: {err}") from None
    if meta.get("random_return") is None or meta.get("dqn_return") is None:
        raise ConfigError(
            f"--reference-dataset {reference_dataset}: its metadata has no random_return/dqn_return "
            f"(expected a dataset made by `rosmo dataset {config.suite}`)"
        )
    return meta


def reference_returns(meta: dict[str, Any], reference_dataset: str) -> dict[str, Any]:
    """{"random_return", "dqn_return", "reference_dataset"} of a reference dataset's metadata."""
    return {
        "random_return": float(meta["random_return"]),
        "dqn_return": float(meta["dqn_return"]),
        "reference_dataset": os.path.abspath(reference_dataset),
    }


class OfflineAgentDeployment:
    """`DeploymentAgent` for a window learner (`config.algo`) on a suite's env; state = its run directory."""

    def __init__(
        self,
        config: ml_collections.ConfigDict,
        options: ml_collections.ConfigDict,
        workdir: str,
        progress: bool = False,
    ):
        self.suite = get_suite(config.suite)
        if not self.suite.collects_online:
            raise ConfigError(
                f"--env {config.suite}:{config.env}: `rosmo deploy` collects online data for "
                f"the suites {', '.join(collecting_suites())} (Atari collection is not implemented)"
            )
        validate_options(options)
        self.config, self.options, self.workdir, self.progress = config, options, workdir, progress
        reference = reference_metadata(config, options.reference_dataset) if options.reference_dataset else {}
        self.references = reference_returns(reference, options.reference_dataset) if reference else None
        self.metadata = self.suite.online_metadata(config.env, reference)  # the env's protocol

    # -- collect --------------------------------------------------------------------------------------
    def _policy(self, state: Optional[str], seed: int):
        _, num_actions = self.suite.env_spec(self.config.env, self.metadata)
        rng = np.random.default_rng([seed, 7])
        if state is None:
            return lambda obs: int(rng.integers(num_actions)), {"name": "uniform_random"}
        agent, params, _, _ = load_agent(state, flag="deployment checkpoint")
        act, params, key = jax.jit(agent.act), jax.device_put(params), jax.random.PRNGKey(seed)
        epsilon = float(self.options.epsilon)

        def policy(obs: np.ndarray) -> int:
            nonlocal key
            if rng.random() < epsilon:
                return int(rng.integers(num_actions))
            key, sub = jax.random.split(key)
            return int(np.asarray(act(params, np.asarray(obs, np.float32)[None], sub))[0])

        return policy, {"name": self.config.algo, "run": os.path.abspath(state), "epsilon": epsilon}

    def collect(self, deployment_index: int, state: Optional[str], out_dir: str) -> dict[str, Any]:
        seed = self.config.seed + COLLECT_SEED_OFFSET + 1000 * deployment_index
        policy, behaviour = self._policy(state, seed)
        options = self.suite.eval_options(self.config)
        episodes = collect_lib.collect_policy_episodes(
            lambda: self.suite.make_env(self.config.env, seed, self.metadata, **options),
            policy,
            self.options.transitions_per_deployment,
            progress=self.progress,
        )
        returns = [float(e["episode_return"]) for e in episodes]
        refs = self.references
        if refs is None:
            first = os.path.join(deployment.deployment_dir(self.workdir, 1), "data")
            refs = (
                {
                    "random_return": float(np.mean(returns)),
                    "dqn_return": None,
                    "reference": "deployment 1's uniform-random episodes",
                }
                if deployment_index == 1
                else {k: loader.dataset_spec(first)["metadata"].get(k) for k in ("random_return", "dqn_return")}
            )
        metadata = {**self.metadata, "deployment": deployment_index, "seed": seed, "behaviour": behaviour, **refs}
        summary = self.suite.write_episodes(
            out_dir,
            self.config.env,
            episodes,
            metadata,
            f"rosmo deploy: deployment {deployment_index} of {self.config.algo} on {self.suite.name} {self.config.env}",
        )
        return {**summary, "episode_return_mean": float(np.mean(returns)), "behaviour": behaviour, "seed": seed}

    # -- train ----------------------------------------------------------------------------------------
    def train(
        self, deployment_index: int, dataset_dirs: Sequence[str], previous: Optional[str]
    ) -> tuple[str, dict[str, Any]]:
        run_dir = os.path.join(deployment.deployment_dir(self.workdir, deployment_index), "run")
        config = ml_collections.ConfigDict(self.config.to_dict())
        steps = int(self.options.steps_per_deployment)
        config.dataset_dir = ",".join(os.path.abspath(d) for d in dataset_dirs)
        config.num_steps = steps
        warm = bool(self.options.warm_start) and previous is not None
        if warm:
            start = warm_start(previous, run_dir)
            config.num_steps = start + steps
        config.eval_every = steps  # one evaluation, at the end of this deployment's training
        config.checkpoint_every = min(int(config.checkpoint_every), steps)
        summary = loop.train(config, run_dir, progress=self.progress, allow_config_change=True)
        return run_dir, {
            "run_dir": run_dir,
            "num_steps": summary["num_steps"],
            "warm_start": warm,
            "train_seconds_total": summary["train_seconds_total"],
            "datasets": [os.path.abspath(d) for d in dataset_dirs],
        }

    def save(self, state: str, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        step = _latest_step(state)
        write_json_atomic(
            os.path.join(directory, "run.json"), {"run_dir": os.path.relpath(state, directory), "step": step}
        )

    def restore(self, directory: str) -> str:
        with open(os.path.join(directory, "run.json")) as f:
            return os.path.normpath(os.path.join(directory, json.load(f)["run_dir"]))

    # -- evaluate -------------------------------------------------------------------------------------
    def evaluate(self, deployment_index: int, state: str) -> dict[str, Any]:
        summary_path = os.path.join(state, "summary.json")
        if os.path.exists(summary_path):
            final = deployment.read_json(summary_path).get("final_eval")
            if final:
                return {k: v for k, v in final.items() if k not in ("returns", "lengths")}
        agent, params, config, extra = load_agent(state, flag="deployment checkpoint")
        result = evaluate_agent(
            self.suite,
            config.env,
            agent.act,
            params,
            extra["dataset_metadata"],
            config.eval_episodes,
            config.eval_parallel,
            seed=config.seed + EVAL_SEED_OFFSET + deployment_index,
        )
        return {k: v for k, v in result.items() if k not in ("returns", "lengths")}


def _latest_step(run_dir: str) -> Optional[int]:
    directory = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(directory):
        return None
    ckpt = Checkpointer(directory, read_only=True)
    try:
        return ckpt.latest_step()
    finally:
        ckpt.close()


def warm_start(previous_run: str, run_dir: str) -> int:
    """Copy `previous_run`'s latest checkpoint into `run_dir/checkpoints/` (unless `run_dir` has its own
    checkpoints already: a resumed deployment); returns the step training starts from."""
    step = _latest_step(previous_run)
    if step is None:
        raise FileNotFoundError(f"{previous_run}: no checkpoint to warm-start from")
    if _latest_step(run_dir) is not None:
        return step
    target = os.path.join(run_dir, "checkpoints", str(step))
    tmp = target + ".copying"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    shutil.copytree(os.path.join(previous_run, "checkpoints", str(step)), tmp)
    os.replace(tmp, target)
    return step


def run_offline_agent_deployments(
    config: ml_collections.ConfigDict, options: ml_collections.ConfigDict, workdir: str, progress: bool = True
) -> dict[str, Any]:
    """`options.num_deployments` deployments of `config.algo` on `config.env` in `workdir`; the summary."""
    agent = OfflineAgentDeployment(config, options, workdir, progress=progress)
    deploy = {k: v for k, v in options.to_dict().items() if k != "num_deployments"}
    saved = {
        "agent": config.algo,
        "num_deployments": options.num_deployments,
        "deploy": deploy,
        "config": {k: v for k, v in to_jsonable(config.to_dict()).items() if k != "dataset_dir"},
    }
    return deployment.run_deployments(agent, workdir, options.num_deployments, saved, progress=progress)
