"""`rosmo evaluate`: play a checkpoint in the online environment, vectorised, and report the field's statistics.

    rosmo evaluate --checkpoint runs/pong --env atari:Pong --episodes 100 --num-envs 16 --json pong.json
    rosmo evaluate --checkpoint runs/catch --env bsuite:catch --episodes 100 --video catch.gif

The agent is rebuilt from the config saved in the checkpoint (networks,
algorithm, acting rule; `--act-policy` and `--greedy/--sample` override the
acting rule). Atari runs ALE's vector env under the RL Unplugged protocol
(`rosmo.envs.atari`), BSuite runs `--num-envs` envs in lockstep. Printed and
written to `--json`: mean, median and IQM return with a bootstrap 95% CI of
the IQM, and normalised scores (Atari: DQN-normalised with RL Unplugged's
random / online-DQN references, human-normalised where a human score exists;
BSuite: against the random / behaviour-DQN returns of the checkpoint's
dataset, when evaluated on that dataset's env).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, Optional, Tuple

import numpy as np

from rosmo.training.checkpoint import CheckpointError, load_agent

ENV_KINDS = ("atari", "bsuite")


class EvaluateError(ValueError):
    """A flag value `rosmo evaluate` cannot use (the message names the flag)."""


# ---------------------------------------------------------------------------
# Pieces shared with other commands (e.g. `rosmo dataset atari --policy RUN`)
# ---------------------------------------------------------------------------


def parse_env_spec(spec: str) -> Tuple[str, str]:
    """"atari:Pong" -> ("atari", "Pong"), "bsuite:catch" -> ("bsuite", "catch"); EvaluateError naming --env otherwise."""
    kind, sep, name = str(spec).partition(":")
    kind = kind.strip().lower()
    name = name.strip()
    usage = "expected 'atari:<Game>' (e.g. atari:Pong) or 'bsuite:<env>' (catch, cartpole, mountain_car)"
    if not sep or kind not in ENV_KINDS or not name:
        raise EvaluateError(f"--env {spec!r}: {usage}")
    if kind == "atari":
        from rosmo.envs.atari import game_name

        try:
            return kind, game_name(name)
        except ValueError as err:
            raise EvaluateError(f"--env {spec!r}: {err}") from None
    from rosmo.envs.bsuite import ENV_NAMES

    if name not in ENV_NAMES:
        raise EvaluateError(f"--env {spec!r}: unknown BSuite env {name!r}; {usage}")
    return kind, name


def _checkpoint_env(extra: Dict[str, Any]) -> Optional[str]:
    meta = extra.get("dataset_metadata") or {}
    env = meta.get("env")
    if env is None:
        return None
    return env if ":" in str(env) else f"bsuite:{env}"


def _check_compatible(env_kind: str, env_name: str, extra: Dict[str, Any], num_actions: int, env_flag: str) -> None:
    saved_actions = int(extra["num_actions"])
    if saved_actions != num_actions:
        raise EvaluateError(
            f"--env {env_flag}: the env has {num_actions} actions but the checkpoint's agent was trained with {saved_actions}"
        )
    saved_shape = tuple(extra.get("observation_shape") or ())
    expected = (84, 84, 4) if env_kind == "atari" else None
    if expected is not None and saved_shape and saved_shape != expected:
        raise EvaluateError(f"--env {env_flag}: Atari observations are {expected} but the checkpoint expects {saved_shape}")
    if env_kind == "bsuite" and len(saved_shape) == 3 and saved_shape[-1] == 4 and saved_shape[0] == 84:
        raise EvaluateError(f"--env {env_flag}: the checkpoint is an Atari agent (observations {saved_shape})")


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


def evaluate_checkpoint(
    checkpoint: str,
    env: Optional[str] = None,
    episodes: int = 100,
    num_envs: int = 16,
    seed: int = 0,
    act_policy: Optional[str] = None,
    greedy: Optional[bool] = None,
    step: Optional[int] = None,
    max_episode_frames: Optional[int] = None,
    video: Optional[str] = None,
    progress: bool = True,
) -> Dict[str, Any]:
    """Everything `rosmo evaluate` does except printing; returns the JSON-able result."""
    if episodes < 1:
        raise EvaluateError(f"--episodes {episodes}: expected an integer >= 1")
    if num_envs < 1:
        raise EvaluateError(f"--num-envs {num_envs}: expected an integer >= 1")
    if env is not None:
        parse_env_spec(env)  # fail on a bad --env before loading anything
    if video is not None:
        from rosmo.evaluation.video import resolve_path

        resolve_path(video)
    agent, params, config, extra = load_agent(checkpoint, step, act_policy, greedy)
    trained_on = _checkpoint_env(extra)
    if env is None:
        if trained_on is None:
            raise EvaluateError(f"--env is required: the checkpoint {checkpoint} does not record its dataset's env")
        env = trained_on
    kind, name = parse_env_spec(env)
    import jax

    act = jax.jit(agent.act)
    frames = [] if video is not None else None
    result: Dict[str, Any] = {
        "checkpoint": os.path.abspath(checkpoint),
        "step": extra.get("step"),
        "algo": config.algo,
        "act_policy": config.act_policy,
        "act_greedy": bool(config.act_greedy),
        "seed": seed,
    }
    if kind == "atari":
        from rosmo.envs.atari import AtariEnv
        from rosmo.evaluation.statistics import evaluate_atari

        probe = AtariEnv(name, seed=0)
        _check_compatible(kind, name, extra, probe.num_actions, env)
        del probe
        out = evaluate_atari(
            name, agent.act, params, episodes, num_envs=num_envs, seed=seed, max_episode_frames=max_episode_frames,
            progress=progress, jitted_act=act, record_frames=frames,
        )
    else:
        from rosmo.envs.bsuite import make_env
        from rosmo.training.loop import make_env_factory
        from rosmo.evaluation.statistics import evaluate_dm_env

        meta = extra.get("dataset_metadata") or {}
        same_env = trained_on == f"bsuite:{name}"
        factory = make_env_factory({"metadata": meta}) if same_env else (lambda s: make_env(name, seed=s))
        probe = factory(seed)
        _check_compatible(kind, name, extra, int(probe.action_spec().num_values), env)
        references = None
        if same_env and meta.get("random_return") is not None and meta.get("dqn_return") is not None:
            references = (float(meta["random_return"]), float(meta["dqn_return"]))
        out = evaluate_dm_env(factory, agent.act, params, episodes, num_envs=num_envs, seed=seed, progress=progress, references=references)
        if frames is not None:
            from rosmo.evaluation.video import record_dm_env_episode

            frames.extend(record_dm_env_episode(probe, act, params, seed=seed)[0])
    result.update(out)
    result["env"] = f"{kind}:{name}"
    if video is not None:
        from rosmo.evaluation.video import observation_frame, resolve_path, write_video

        _, note = resolve_path(video)
        result["video"] = write_video(video, [observation_frame(f) for f in frames])
        result["video_frames"] = len(frames)
        if note:
            result["video_note"] = note
    return result


def format_result(result: Dict[str, Any]) -> str:
    """Human-readable summary lines of an evaluation result."""
    lo, hi = result["iqm_return_ci95"]
    lines = [
        f"{result['env']}  checkpoint step {result.get('step')}  ({result['algo']}, act {result['act_policy']}, "
        f"{'greedy' if result['act_greedy'] else 'sampled'})",
        f"episodes {result['episodes']}  env steps/s {result['env_steps_per_second']:.0f}  wall {result['wall_seconds']:.1f}s",
        f"return   mean {result['mean_return']:.2f}  median {result['median_return']:.2f}  "
        f"IQM {result['iqm_return']:.2f} [95% CI {lo:.2f}, {hi:.2f}]  std {result['std_return']:.2f}",
    ]
    for key, label in (("dqn_normalized", "DQN-normalised"), ("human_normalized", "human-normalised"), ("normalized", "normalised")):
        norm = result.get(key)
        if norm:
            nlo, nhi = norm["iqm_ci95"]
            lines.append(
                f"{label:<17}mean {norm['mean']:.3f}  median {norm['median']:.3f}  IQM {norm['iqm']:.3f} [95% CI {nlo:.3f}, {nhi:.3f}]"
            )
    if result.get("video"):
        lines.append(f"video: {result['video']}")
    if result.get("video_note"):
        lines.append(result["video_note"])
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="run directory (with checkpoints/) or checkpoint directory")
    parser.add_argument("--env", default=None, help="atari:<Game> or bsuite:<env>; default: the env of the checkpoint's dataset")
    parser.add_argument("--episodes", type=int, default=100, help="episodes to play")
    parser.add_argument("--num-envs", type=int, default=16, help="episodes played at once")
    parser.add_argument("--seed", type=int, default=0, help="env i is seeded seed + i; also seeds sampling and the bootstrap")
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
    parser.add_argument("--json", default=None, help="write the result (with per-episode returns) to this JSON file")
    parser.add_argument("--video", default=None, help="record one episode to out.mp4 (needs imageio-ffmpeg) or out.gif")
    parser.add_argument("--act-policy", default=None, choices=("prior", "improved", "mcts"), help="override the saved acting rule")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--greedy", dest="greedy", action="store_true", default=None, help="argmax actions")
    group.add_argument("--sample", dest="greedy", action="store_false", help="sample actions from the policy")
    parser.add_argument(
        "--max-episode-frames", type=int, default=None, help="Atari: emulator frames before an episode is cut (default 108000)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from rosmo.training.run_logging import write_json_atomic
    from rosmo.evaluation.video import VideoError

    try:
        result = evaluate_checkpoint(
            args.checkpoint,
            env=args.env,
            episodes=args.episodes,
            num_envs=args.num_envs,
            seed=args.seed,
            act_policy=args.act_policy,
            greedy=args.greedy,
            step=args.step,
            max_episode_frames=args.max_episode_frames,
            video=args.video,
            progress=not args.no_progress,
        )
    except (EvaluateError, CheckpointError, VideoError, FileNotFoundError) as err:
        print(f"rosmo evaluate: error: {err}", file=sys.stderr)
        return 2
    print(format_result(result))
    if args.json:
        write_json_atomic(args.json, result)
        print(f"wrote {args.json}")
    return 0
