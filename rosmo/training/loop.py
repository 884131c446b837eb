"""One training run, top to bottom: dataset -> networks -> agent -> learner -> logs, evaluations, checkpoints.

A run lives in `workdir`:

    workdir/config.json        the config the run was started with
    workdir/checkpoints/<step> orbax checkpoints (the run resumes from the latest by itself)
    workdir/train.csv          training metrics every `log_every` steps
    workdir/eval.csv           evaluation results every `eval_every` steps
    workdir/tb/                TensorBoard events
    workdir/summary.json       the final result
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Dict, Optional

import jax
import numpy as np

from rosmo.agents import make_agent
from rosmo.training.checkpoint import Checkpointer
from rosmo.configs.validation import validate_config
from rosmo.data import sources
from rosmo.evaluation.loops import evaluate, normalized_score
from rosmo.training.distributed import is_main_process
from rosmo.training.learner import Learner, to_host
from rosmo.networks import make_networks
from rosmo.training.run_logging import ProgressBar, RunLogger, write_json_atomic


def make_env_factory(spec: Dict[str, Any]) -> Callable[[int], Any]:
    """seed -> online environment matching the dataset's env settings (from its metadata)."""
    meta = spec["metadata"]
    from rosmo.envs.bsuite import make_env

    def factory(seed: int):
        return make_env(
            meta["env"],
            seed=seed,
            reward_noise=float(meta.get("reward_noise", 0.0)),
            sticky_action_prob=float(meta.get("sticky_action_prob", 0.0)),
        )

    return factory


def _num_actions(spec: Dict[str, Any], dataset_dir: str) -> int:
    meta = spec["metadata"]
    if "num_actions" not in meta:
        raise ValueError(f"dataset {dataset_dir}: metadata has no 'num_actions' (expected from `rosmo dataset ...`)")
    return int(meta["num_actions"])


def run_evaluation(agent, params, spec, config, seed: int) -> Dict[str, Any]:
    """Online evaluation + normalised score against the dataset's references."""
    if sources.is_atari(spec):
        return sources.evaluate_atari_run(agent.act, params, spec, config, seed)
    meta = spec["metadata"]
    result = evaluate(
        make_env_factory(spec),
        agent.act,
        params,
        num_episodes=config.eval_episodes,
        seed=seed,
        num_parallel=config.eval_parallel,
    )
    result = {k: v for k, v in result.items() if k != "returns"}
    if "random_return" in meta and "dqn_return" in meta:
        result["normalized_score"] = normalized_score(result["mean_return"], meta["random_return"], meta["dqn_return"])
    return result


class _NullLogger:
    """Logger of the processes other than 0 in a multi-host run."""

    def write(self, *args, **kwargs) -> None:
        del args, kwargs

    def close(self) -> None:
        pass


def _numeric(values: Dict[str, Any], drop=()) -> Dict[str, float]:
    return {k: v for k, v in values.items() if isinstance(v, (int, float)) and k not in drop}


def train(config, workdir: str, progress: Optional[bool] = None) -> Dict[str, Any]:
    """Train (or resume) the run in `workdir` and return its summary."""
    validate_config(config)
    workdir = os.path.abspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    spec = sources.dataset_spec(config)
    num_actions = _num_actions(spec, config.dataset_dir)
    networks = make_networks(config, num_actions)
    agent = make_agent(config, networks)
    obs_example = np.zeros((1,) + tuple(spec["observation_shape"]), spec["observation_dtype"])
    learner = Learner(agent, config, obs_example)

    checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), max_to_keep=config.keep_checkpoints)
    start_step, last_eval, previous_seconds = 0, None, 0.0
    if checkpointer.latest_step() is not None:
        state, extra = checkpointer.restore(learner.state)
        learner.restore(state)
        start_step = int(to_host(state.step))
        last_eval = extra.get("last_eval")
        previous_seconds = float(extra.get("train_seconds", 0.0))
        print(f"resuming {workdir} from step {start_step}")
    main = is_main_process()  # process 0 writes config, logs and summary; every process checkpoints
    if main and jax.process_count() > 1:
        print(f"learner mesh: {learner.mesh.devices.size} devices over {jax.process_count()} processes")
    if main:
        write_json_atomic(os.path.join(workdir, "config.json"), config.to_dict())
    extra_static = {"config": config.to_dict(), "num_actions": num_actions, "observation_shape": list(spec["observation_shape"]), "observation_dtype": str(np.dtype(spec["observation_dtype"])), "dataset_metadata": spec["metadata"]}

    logger = RunLogger(
        workdir,
        use_tensorboard=config.use_tensorboard,
        use_wandb=config.use_wandb,
        wandb_project=config.wandb_project,
        config=config.to_dict(),
        resume_step=start_step,
    ) if main else _NullLogger()
    batches = sources.make_batches(config, start_batch=start_step)
    bar = ProgressBar(total=config.num_steps, initial=start_step, desc=f"train {config.algo}", disable=(None if progress is None else not progress) if main else True)
    started, window_start, window_step = time.time(), time.time(), start_step
    step = start_step
    metrics_host: Dict[str, float] = {}

    def save(current: int, force: bool = False) -> None:
        extra = dict(extra_static, last_eval=last_eval, step=current, train_seconds=previous_seconds + time.time() - started)
        checkpointer.save(current, learner.state, extra=extra, force=force)

    try:
        while step < config.num_steps:
            metrics = learner.step(next(batches))
            step += 1
            if step % config.log_every == 0 or step == config.num_steps:
                metrics_host = {k: float(v) for k, v in to_host(metrics).items()}
                now = time.time()
                metrics_host["steps_per_second"] = (step - window_step) / max(now - window_start, 1e-9)
                window_start, window_step = now, step
                logger.write(step, metrics_host, prefix="train")
            if step % config.eval_every == 0 or step == config.num_steps:
                last_eval = run_evaluation(agent, to_host(learner.params), spec, config, seed=config.seed + 10_000)
                last_eval["step"] = step
                logger.write(step, _numeric(last_eval, drop=("step",)), prefix="eval")
            if step % config.checkpoint_every == 0 or step == config.num_steps:
                save(step)
            bar.update(
                1,
                loss=metrics_host.get("loss"),
                eval=None if last_eval is None else last_eval.get("normalized_score", last_eval["mean_return"]),
            )
    except KeyboardInterrupt:
        save(step, force=True)
        checkpointer.wait()
        print(f"\ninterrupted at step {step}; checkpoint saved, run again with the same --workdir to resume")
        raise
    finally:
        bar.close()
        checkpointer.wait()
        logger.close()

    summary = {
        "workdir": workdir,
        "algo": config.algo,
        "env": spec["metadata"].get("env"),
        "dataset_dir": os.path.abspath(config.dataset_dir),
        "data_percentage": config.data_percentage,
        "seed": config.seed,
        "num_steps": step,
        "wall_seconds_this_session": time.time() - started,
        "train_seconds_total": previous_seconds + time.time() - started,
        "final_eval": last_eval,
        "references": {k: spec["metadata"].get(k) for k in ("random_return", "dqn_return")},
    }
    if main:
        write_json_atomic(os.path.join(workdir, "summary.json"), summary)
    return summary


def load_summary(workdir: str) -> Dict[str, Any]:
    with open(os.path.join(workdir, "summary.json")) as f:
        return json.load(f)
