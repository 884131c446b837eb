"""`rosmo evaluate`: play a checkpoint in the online environment, vectorised, and report the field's statistics.

    rosmo evaluate --checkpoint runs/pong --env atari:Pong --episodes 100 --num-envs 16 --json pong.json
    rosmo evaluate --checkpoint runs/catch --episodes 100 --video catch.gif

The agent is rebuilt from the config saved in the checkpoint (`--act-policy` and
`--greedy/--sample` override its acting rule); `--env` defaults to the env it was
trained on. Printed and written to `--json`: mean, median and IQM return with a
bootstrap 95% CI of the IQM, and the normalised scores with their references
(the same result as the evaluations during training).
"""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rosmo.agents import act_policies

    parser.add_argument("--checkpoint", required=True, help="run directory (with checkpoints/) or checkpoint directory")
    parser.add_argument("--env", default=None,
                        help="<suite>:<env>, e.g. atari:Pong or bsuite:catch; default: the env the run was trained on")
    parser.add_argument("--episodes", type=int, default=100, help="episodes to play (default: %(default)s)")
    parser.add_argument("--num-envs", type=int, default=16, help="episodes played at once (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="env i is seeded seed + i; also seeds sampling and the bootstrap")
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
    parser.add_argument("--json", default=None, help="write the result (with per-episode returns) to this JSON file")
    parser.add_argument("--video", default=None, help="record one episode to out.mp4 (needs imageio-ffmpeg) or out.gif")
    parser.add_argument("--act-policy", default=None, choices=act_policies(), help="override the saved acting rule")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--greedy", dest="greedy", action="store_true", default=None, help="argmax actions")
    group.add_argument("--sample", dest="greedy", action="store_false", help="sample actions from the policy")
    parser.add_argument("--max-episode-frames", type=int, default=None,
                        help="Atari: emulator frames before an episode is cut (default 108000)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def json_path_problem(path: str) -> str:
    """Why `--json path` cannot be written ("" when it can), checked before the evaluation runs."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return "is a directory, expected a file name"
    if not os.path.isdir(directory):
        return f"the directory {directory} does not exist"
    if not os.access(directory, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        return "not writable"
    return ""


def run(args: argparse.Namespace) -> int:
    from absl import logging

    from rosmo.evaluation.checkpoint_eval import EvaluateError, evaluate_checkpoint
    from rosmo.evaluation.evaluate import format_result
    from rosmo.evaluation.video import VideoError
    from rosmo.training.checkpoint import CheckpointError
    from rosmo.training.run_logging import write_json_atomic

    logging.set_verbosity(logging.ERROR)  # orbax warns that a read-only checkpoint directory is read-only
    problem = json_path_problem(args.json) if args.json else ""
    if problem:
        print(f"rosmo evaluate: error: --json {args.json}: {problem}", file=sys.stderr)
        return 2
    options = {} if args.max_episode_frames is None else {"max_episode_frames": args.max_episode_frames}
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
            options=options,
            video=args.video,
            progress=not args.no_progress,
        )
    except (EvaluateError, CheckpointError, VideoError, FileNotFoundError) as err:
        print(f"rosmo evaluate: error: {err}", file=sys.stderr)
        return 2
    print(f"{result['env']}  checkpoint step {result.get('step')}  ({result['algo']}, act {result['act_policy']}, "
          f"{'greedy' if result['act_greedy'] else 'sampled'})")
    print("\n".join(format_result(result)))
    if result.get("video"):
        print(f"video: {result['video']}")
    if result.get("video_note"):
        print(result["video_note"])
    if args.json:
        try:
            write_json_atomic(args.json, result)
        except OSError as err:  # the result is printed above; say why the file is missing
            print(f"rosmo evaluate: error: --json {args.json}: cannot write it ({err.strerror or err})", file=sys.stderr)
            return 1
        print(f"wrote {args.json}")
    return 0
