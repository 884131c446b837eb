"""`rosmo dataset bsuite`: train an online DQN on a BSuite env and log every transition as an RLDS dataset.

rosmo dataset bsuite --env catch --out datasets/bsuite
rosmo dataset bsuite --env all --out datasets/bsuite --reward-noise 0.1
"""

from __future__ import annotations

import argparse
import os
import sys

from rosmo.cli import cannot_write, refuse_existing_datasets, user_message

ENVS = ("catch", "cartpole", "mountain_car")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env",
        required=True,
        choices=list(ENVS) + ["all"],
        help="BSuite env, or `all` for catch, cartpole and mountain_car in turn",
    )
    parser.add_argument(
        "--out", default="datasets/bsuite", help="parent directory of the dataset (default: %(default)s)"
    )
    parser.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="episodes to train and log (default: catch 2000, cartpole 1000, mountain_car 500)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reward-noise", type=float, default=0.0, help="std of gaussian reward noise")
    parser.add_argument(
        "--sticky-action-prob", type=float, default=0.0, help="probability of repeating the previous action"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    parser.add_argument(
        "--reference-episodes",
        type=int,
        default=100,
        help="episodes for each of the random / DQN reference returns (>= 100)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from rosmo.data.bsuite_maker import check_noise, dataset_name, human_bytes, make_bsuite_dataset, summarize
    from rosmo.signals import Stopped, StopSignals

    envs = list(ENVS) if args.env == "all" else [args.env]
    try:
        check_noise(args.reward_noise, args.sticky_action_prob)
    except ValueError as err:
        print(f"rosmo dataset bsuite: error: {user_message(err)}", file=sys.stderr)
        return 2
    paths = [
        os.path.abspath(os.path.join(args.out, dataset_name(env, args.reward_noise, args.sticky_action_prob)))
        for env in envs
    ]
    if refuse_existing_datasets("dataset bsuite", paths, args.overwrite):  # before any training, for every env
        return 2
    for env in envs:
        try:
            with StopSignals():
                summary = make_bsuite_dataset(
                    env,
                    args.out,
                    num_episodes=args.episodes,
                    seed=args.seed,
                    reward_noise=args.reward_noise,
                    sticky_action_prob=args.sticky_action_prob,
                    overwrite=args.overwrite,
                    reference_episodes=args.reference_episodes,
                    progress=not args.no_progress,
                )
        except (ValueError, FileExistsError) as err:
            print(f"rosmo dataset bsuite: error: {user_message(err)}", file=sys.stderr)
            return 2
        except Stopped as stop:
            print(f"rosmo dataset bsuite: {stop}; {env}: nothing was written", file=sys.stderr)
            return stop.exit_code
        except OSError as err:  # --out cannot be created or written
            print(
                f"rosmo dataset bsuite: error: {cannot_write(f'--out {args.out}', 'the dataset', err)}", file=sys.stderr
            )
            return 2
        print(
            f"{env}: {summary['episodes']} episodes, {summary['steps']} steps, "
            f"{human_bytes(summary['bytes'])}, {summary['seconds']:.1f} s, "
            f"random_return {summary['random_return']:.3f}, dqn_return {summary['dqn_return']:.3f}"
        )
        print(summarize(summary["path"]))
    return 0
