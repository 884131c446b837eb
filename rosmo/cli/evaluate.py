"""`rosmo evaluate`: play a checkpoint in the online environment, vectorised, and report the field's statistics.

    rosmo evaluate --checkpoint runs/pong --env atari:Pong --episodes 100 --num-envs 16 --json pong.json
    rosmo evaluate --checkpoint runs/catch --episodes 100 --video catch.gif
    rosmo evaluate --checkpoint runs/mzu --config.num_simulations=50 --config.act_search_depth=1  # another search
    rosmo evaluate --watch runs/pong              # the evaluator job: each new checkpoint once, until the run ends
    rosmo evaluate --checkpoint runs/catch --ope fqe,model --no-online   # off-policy estimates from the dataset alone

The agent is rebuilt from the config saved in the checkpoint (`--act-policy`,
`--greedy/--sample` and `--config.FIELD=VALUE` of acting-only fields, e.g. mzu's
`num_simulations` or `act_search_depth`, override its acting rule); `--env` defaults
to the env it was trained on. Printed and written to `--json`: mean, median and IQM return with a
bootstrap 95% CI of the IQM, and the normalised scores with their references
(the same result as the evaluations during training).

`--watch RUN_DIR` is the evaluator job of a learner trained with
`--config.eval_every=0` (rosmo.evaluator.watch): it evaluates every new
checkpoint once with the run's evaluation settings (--episodes / --num-envs /
--seed override them), appends `eval.csv` / TensorBoard rows under the training
step, keeps `RUN_DIR/best/`, and exits when the run's summary.json appears or
after --timeout seconds. Several evaluators may watch one run.

`--ope fqe,model,behaviour,agreement` (or `all`) adds off-policy estimates
of the normalised score made from the run's dataset alone (rosmo.ope.job) as
`ope_*` entries beside the online ones (in eval.csv with --watch);
`--no-online` skips online play.
"""

from __future__ import annotations

import argparse
import os
import sys

from rosmo.cli import user_message

CONFIG_OVERRIDES = True  # acting-only fields of the saved config

DEFAULT_EPISODES = 100
DEFAULT_NUM_ENVS = 16


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rosmo.agents import act_policies
    from rosmo.cli import add_config_flags

    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--checkpoint", help="run directory (with checkpoints/) or checkpoint directory")
    target.add_argument(
        "--watch",
        metavar="RUN_DIR",
        help="evaluator job: evaluate each new checkpoint of this run once, until the run finishes",
    )
    parser.add_argument(
        "--env",
        default=None,
        help="<suite>:<env>, e.g. atari:Pong or bsuite:catch; default: the env the run was trained on",
    )
    parser.add_argument(
        "--episodes",
        type=int,
        default=None,
        help=f"episodes to play (default: {DEFAULT_EPISODES}; --watch: the run's eval_episodes)",
    )
    parser.add_argument(
        "--num-envs",
        type=int,
        default=None,
        help=f"episodes played at once (default: {DEFAULT_NUM_ENVS}; --watch: the run's eval_parallel)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="env i is seeded seed + i; also seeds sampling and the bootstrap "
        "(default: 0; --watch: the run's seed + 10000, as inline evaluation)",
    )
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
    parser.add_argument("--json", default=None, help="write the result (with per-episode returns) to this JSON file")
    parser.add_argument("--video", default=None, help="record one episode to out.mp4 (needs imageio-ffmpeg) or out.gif")
    parser.add_argument("--act-policy", default=None, choices=act_policies(), help="override the saved acting rule")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--greedy", dest="greedy", action="store_true", default=None, help="argmax actions")
    group.add_argument("--sample", dest="greedy", action="store_false", help="sample actions from the policy")
    parser.add_argument(
        "--max-episode-frames",
        type=int,
        default=None,
        help="Atari: emulator frames before an episode is cut (default 108000)",
    )
    parser.add_argument(
        "--allow-dataset-change",
        action="store_true",
        help="evaluate a checkpoint although its dataset was remade since (scored with the "
        "checkpoint's own references)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_flags(
        parser,
        "change an acting-only field of the saved config, e.g. --config.num_simulations=50 "
        "--config.act_search_depth=1 (mzu)",
    )
    ope = parser.add_argument_group("off-policy estimates (rosmo.ope)")
    ope.add_argument(
        "--ope",
        default=None,
        metavar="LIST",
        help="estimators from the run's dataset alone: comma-separated fqe, model_value, model_rollout, "
        "behaviour, agreement; model = both model ones, all = every one",
    )
    ope.add_argument(
        "--no-online", dest="online", action="store_false", help="play nothing online (with --ope: the estimates only)"
    )
    ope.add_argument(
        "--ope-dataset",
        default=None,
        metavar="DIR",
        help="the run's dataset directory, when it moved (default: the path the run recorded)",
    )
    ope.add_argument("--ope-steps", type=int, default=None, help="FQE's most gradient steps (default 20000)")
    ope.add_argument(
        "--ope-discount",
        type=float,
        default=None,
        help="FQE's discount (default 1: the undiscounted return the online score measures)",
    )
    ope.add_argument(
        "--ope-horizon", type=int, default=None, help="model rollout steps (default: the run's unroll_steps)"
    )
    ope.add_argument(
        "--ope-seed", type=int, default=0, help="seeds the held-out split, FQE and sampled policies (default 0)"
    )
    watch = parser.add_argument_group("evaluator job (--watch)")
    watch.add_argument(
        "--timeout", type=float, default=None, help="stop after this many seconds (default: when the run ends)"
    )
    watch.add_argument(
        "--poll", type=float, default=10.0, help="seconds between looks for new checkpoints (default: %(default)s)"
    )
    watch.add_argument(
        "--metric",
        default="normalized_score",
        help="result key that picks RUN_DIR/best/ (default: %(default)s; mean_return without references)",
    )
    watch.add_argument(
        "--stale-claim",
        type=float,
        default=600.0,
        help="seconds after which another evaluator's unrefreshed claim is taken over (default: %(default)s)",
    )


def ope_settings(args: argparse.Namespace):
    """The OpeSettings of the --ope* flags (None without --ope); OpeError / a usage message naming the flag."""
    from rosmo.ope.fqe import FQEConfig
    from rosmo.ope.settings import OpeError, OpeSettings, parse_estimators

    if args.ope is None:
        for flag in ("ope_dataset", "ope_steps", "ope_discount", "ope_horizon"):
            if getattr(args, flag) is not None:
                raise OpeError(f"--{flag.replace('_', '-')} needs --ope")
        if not args.online:
            raise OpeError("--no-online needs --ope (with neither, there is nothing to evaluate)")
        return None
    fqe = {}
    if args.ope_steps is not None:
        fqe["num_steps"] = args.ope_steps
    if args.ope_discount is not None:
        fqe["discount"] = args.ope_discount
    try:
        fqe_config = FQEConfig(**fqe)
    except ValueError as err:
        raise OpeError(f"--ope-steps / --ope-discount: {err}") from None
    if args.ope_horizon is not None and args.ope_horizon < 0:
        raise OpeError(f"--ope-horizon {args.ope_horizon}: expected an integer >= 0")
    return OpeSettings(
        estimators=parse_estimators(args.ope),
        dataset=args.ope_dataset,
        seed=args.ope_seed,
        horizon=args.ope_horizon,
        fqe=fqe_config,
    )


def run_watch(args: argparse.Namespace) -> int:
    from rosmo.cli import typed_flag
    from rosmo.evaluator.watch import WatchError, WatchSettings, log_line, watch
    from rosmo.signals import Stopped, StopSignals

    given = [
        f"--{flag.replace('_', '-')}"
        for flag in ("step", "json", "video", "act_policy", "greedy", "max_episode_frames", "env")
        if getattr(args, flag) is not None
    ]
    given += [typed_flag(item) for item in args.config_overrides]
    if given:
        print(
            f"rosmo evaluate: error: {given[0]} cannot be used with --watch "
            "(the evaluator job plays every checkpoint with the run's own settings)",
            file=sys.stderr,
        )
        return 2
    from rosmo.ope.settings import OpeError

    try:
        ope = ope_settings(args)
    except OpeError as err:
        print(f"rosmo evaluate: error: {user_message(err)}", file=sys.stderr)
        return 2
    settings = WatchSettings(
        episodes=args.episodes,
        num_envs=args.num_envs,
        seed=args.seed,
        metric=args.metric,
        poll_seconds=args.poll,
        timeout=args.timeout,
        stale_seconds=args.stale_claim,
        online=args.online,
        ope=ope,
    )
    try:
        with StopSignals():
            summary = watch(args.watch, settings, log=log_line)
    except WatchError as err:
        print(f"rosmo evaluate: error: {user_message(err)}", file=sys.stderr)
        return 2
    except Stopped as err:  # SLURM preemption / Ctrl-C: the claim is released, a restart goes on
        print(f"rosmo evaluate: {err}; the step being evaluated is left for the next evaluator", file=sys.stderr)
        return err.exit_code
    best = summary["best"]
    log_line(
        f"evaluator {summary['stopped']}: {len(summary['evaluated'])} checkpoint(s) evaluated here, "
        f"{len(summary['all_evaluated'])} in all"
        + (f"; best step {best['step']} ({best['metric']} {best['value']:.4g})" if best else "")
    )
    return 0


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

    from rosmo.cli import spell_as_typed
    from rosmo.evaluation.evaluate import format_result
    from rosmo.evaluation.video import VideoError
    from rosmo.evaluator.checkpoint_eval import EvaluateError, evaluate_checkpoint
    from rosmo.ope.settings import OpeError, format_columns
    from rosmo.training.checkpoint import CheckpointError
    from rosmo.signals import Stopped, StopSignals
    from rosmo.training.run_logging import write_json_atomic

    logging.set_verbosity(logging.ERROR)  # orbax warns that a read-only checkpoint directory is read-only
    if args.watch:
        return run_watch(args)
    try:
        ope = ope_settings(args)
        if not args.online and args.video is not None:
            raise OpeError("--video needs online play (drop --no-online)")
    except OpeError as err:
        print(f"rosmo evaluate: error: {user_message(err)}", file=sys.stderr)
        return 2
    problem = json_path_problem(args.json) if args.json else ""
    if problem:
        print(f"rosmo evaluate: error: --json {args.json}: {problem}", file=sys.stderr)
        return 2
    options = {} if args.max_episode_frames is None else {"max_episode_frames": args.max_episode_frames}
    try:
        with StopSignals():
            result = evaluate_checkpoint(
                args.checkpoint,
                env=args.env,
                episodes=DEFAULT_EPISODES if args.episodes is None else args.episodes,
                num_envs=DEFAULT_NUM_ENVS if args.num_envs is None else args.num_envs,
                seed=0 if args.seed is None else args.seed,
                act_policy=args.act_policy,
                greedy=args.greedy,
                step=args.step,
                options=options,
                video=args.video,
                progress=not args.no_progress,
                overrides=args.config_overrides,
                online=args.online,
                allow_dataset_change=args.allow_dataset_change,
            )
            if ope is not None:
                from rosmo.ope.job import add_estimates  # reads the dataset (TensorFlow): only with --ope

                add_estimates(
                    result,
                    args.checkpoint,
                    args.step,
                    ope,
                    act_policy=args.act_policy,
                    greedy=args.greedy,
                    overrides=args.config_overrides,
                )
    except (EvaluateError, CheckpointError, VideoError, OpeError, FileNotFoundError) as err:
        print(f"rosmo evaluate: error: {spell_as_typed(user_message(err), args.config_overrides)}", file=sys.stderr)
        return 2
    except Stopped as err:
        print(f"rosmo evaluate: {err}; nothing was written", file=sys.stderr)
        return err.exit_code
    print(
        f"{result['env']}  checkpoint step {result.get('step')}  ({result['algo']}, act {result['act_policy']}, "
        f"{'greedy' if result['act_greedy'] else 'sampled'}"
        + "".join(f", {item}" for item in result["acting_overrides"])
        + ")"
    )
    if args.online:
        print("\n".join(format_result(result)))
    if ope is not None:
        print("\n".join(format_columns(result, result["ope"])))
    if result.get("video"):
        print(f"video: {result['video']}")
    if result.get("video_note"):
        print(result["video_note"])
    if args.json:
        try:
            write_json_atomic(args.json, result)
        except OSError as err:  # the result is printed above; say why the file is missing
            print(
                f"rosmo evaluate: error: --json {args.json}: cannot write it ({err.strerror or err})", file=sys.stderr
            )
            return 1
        print(f"wrote {args.json}")
    return 0
