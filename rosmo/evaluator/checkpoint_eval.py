"""Evaluate a saved run: rebuild its agent, check it fits the env, play it, optionally record a video.

    result = evaluate_checkpoint("runs/pong", env="atari:Pong", episodes=100, num_envs=16)

The env defaults to the one the run was trained on (its suite and its dataset's
env); the result is `rosmo.evaluation.evaluate.evaluate_agent`'s dict plus the
checkpoint, step, algorithm and acting rule.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import jax

from rosmo.errors import UserError
from rosmo.evaluation.evaluate import evaluate_agent
from rosmo.evaluation.video import observation_frame, record_dm_env_episode, resolve_path, write_video
from rosmo.suites import SUITES, parse_env
from rosmo.training.checkpoint import CheckpointError, checkpoint_clocks
from rosmo.training.restore import load_agent
from rosmo.training.dataset_record import checkpoint_dataset_problem


class EvaluateError(UserError):
    """An argument `rosmo evaluate` cannot use (the message names the flag)."""


def checkpoint_env(extra: dict[str, Any]) -> Optional[str]:
    """ "<suite>:<env>" a checkpoint was trained on (its config's suite, its dataset's env), or None."""
    suite = (extra.get("config") or {}).get("suite")
    env = (extra.get("dataset_metadata") or {}).get("env")
    return f"{suite}:{env}" if suite in SUITES and env else None


def check_compatible(extra: dict[str, Any], observation_shape, num_actions: int, env_flag: str) -> None:
    """The env's actions and observations must be the ones the agent was trained with."""
    saved_actions = int(extra["num_actions"])
    if saved_actions != num_actions:
        raise EvaluateError(
            f"--env {env_flag}: the env has {num_actions} actions "
            f"but the checkpoint's agent was trained with {saved_actions}"
        )
    saved_shape = tuple(extra.get("observation_shape") or ())
    if saved_shape and saved_shape != tuple(observation_shape):
        raise EvaluateError(
            f"--env {env_flag}: the env gives observations of shape {tuple(observation_shape)} but the checkpoint's "
            f"agent takes {saved_shape}"
        )


def owning_run(checkpoint: str) -> Optional[str]:
    """The run directory of `checkpoint` (a run, its checkpoints/ or a checkpoints/<step>/), None if not one."""
    path = os.path.abspath(checkpoint)
    for candidate in (path, os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
        if os.path.isfile(os.path.join(candidate, "config.json")) and os.path.isdir(
            os.path.join(candidate, "checkpoints")
        ):
            return candidate
    return None


def evaluate_checkpoint(
    checkpoint: str,
    env: Optional[str] = None,
    episodes: int = 100,
    num_envs: int = 16,
    seed: int = 0,
    act_policy: Optional[str] = None,
    greedy: Optional[bool] = None,
    step: Optional[int] = None,
    options: Optional[dict[str, Any]] = None,
    video: Optional[str] = None,
    progress: bool = True,
    overrides=(),
    online: bool = True,
    run_dir: Optional[str] = None,
    allow_dataset_change: bool = False,
) -> dict[str, Any]:
    """Evaluate the run (or checkpoint directory) `checkpoint` on `env` ("<suite>:<env>"); a JSON-able result.

    `overrides`: "FIELD=VALUE" items changing acting-only fields (e.g. "num_simulations=50").
    `online=False`: play nothing; the result holds the checkpoint's identity only (`online` False),
    for off-policy estimates (`rosmo.ope.job.add_estimates`) to be added.
    `run_dir`: the run the checkpoint belongs to (default: found from `checkpoint`); a checkpoint whose
    dataset was since replaced (another fingerprint at its path or in the run's dataset.json) is refused
    unless the run recorded the change or `allow_dataset_change`.
    """
    if episodes < 1:
        raise EvaluateError(f"--episodes {episodes}: expected an integer >= 1")
    if num_envs < 1:
        raise EvaluateError(f"--num-envs {num_envs}: expected an integer >= 1")
    if env is not None:
        try:
            parse_env(env)  # fail on a bad --env before loading anything
        except ValueError as err:
            raise EvaluateError(f"--env {err}") from None
    if video is not None:
        resolve_path(video)
    agent, params, config, extra = load_agent(checkpoint, step, act_policy, greedy, overrides=overrides)
    if not allow_dataset_change:
        problem = checkpoint_dataset_problem(run_dir or owning_run(checkpoint), extra)
        if problem:
            raise EvaluateError(
                f"--checkpoint {checkpoint}: {problem}; its scores would use other references than "
                "the run's; pass --allow-dataset-change to score it with the checkpoint's own"
            )
    if not online:
        return {
            "checkpoint": os.path.abspath(checkpoint),
            "step": extra.get("step"),
            "checkpoint_clocks": checkpoint_clocks(extra),
            "algo": config.algo,
            "act_policy": config.act_policy,
            "act_greedy": bool(config.act_greedy),
            "acting_overrides": list(overrides),
            "seed": seed,
            "env": env or checkpoint_env(extra),
            "online": False,
        }
    trained_on = checkpoint_env(extra)
    if env is None:
        if trained_on is None:
            raise EvaluateError(f"--env is required: the checkpoint {checkpoint} does not record its suite and env")
        env = trained_on
    suite, name = parse_env(env)
    metadata = (extra.get("dataset_metadata") or {}) if trained_on == f"{suite.name}:{name}" else {"env": None}
    observation_shape, num_actions = suite.env_spec(name, metadata)
    check_compatible(extra, observation_shape, num_actions, env)
    options = dict(options or {})
    act = jax.jit(agent.act)
    result: dict[str, Any] = {
        "checkpoint": os.path.abspath(checkpoint),
        "step": extra.get("step"),
        "checkpoint_clocks": checkpoint_clocks(extra),
        "algo": config.algo,
        "act_policy": config.act_policy,
        "act_greedy": bool(config.act_greedy),
        "acting_overrides": list(overrides),
        "seed": seed,
    }
    result.update(
        evaluate_agent(
            suite,
            name,
            agent.act,
            params,
            metadata,
            episodes,
            num_envs,
            seed=seed,
            progress=progress,
            jitted_act=act,
            options=options,
        )
    )
    result["env"] = f"{suite.name}:{name}"
    if video is not None:
        observations, _ = record_dm_env_episode(suite.make_env(name, seed, metadata, **options), act, params, seed=seed)
        path, note = resolve_path(video)
        result["video"] = write_video(video, [observation_frame(o) for o in observations])
        result["video_frames"] = len(observations)
        if note:
            result["video_note"] = note
    return result


__all__ = [
    "CheckpointError",
    "EvaluateError",
    "check_compatible",
    "checkpoint_clocks",
    "checkpoint_env",
    "evaluate_checkpoint",
]
