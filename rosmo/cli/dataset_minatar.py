"""`rosmo dataset minatar`: train an online DQN on a MinAtar game and log every transition, split by checkpoint.

    rosmo dataset minatar --game breakout --out datasets/minatar
    rosmo dataset minatar --game breakout --sticky-action-prob 0.25      # -> datasets/minatar/breakout_sticky0.25
    rosmo dataset minatar --game all --frames 500000                     # the five games in turn

Interrupted? Run the same command again: it resumes from the last finished checkpoint segment.
"""

from __future__ import annotations

import argparse
import os
import sys

from rosmo.cli import refuse_existing_datasets

GAMES = ("asterix", "breakout", "freeway", "seaquest", "space_invaders")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--game", required=True, help=f"one of {', '.join(GAMES)}, or `all`")
    parser.add_argument(
        "--out", default="datasets/minatar", help="parent directory of the dataset (default: %(default)s)"
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=1_000_000,
        help="frames (agent steps, all envs together) of the behaviour DQN's run (default: %(default)s)",
    )
    parser.add_argument(
        "--sticky-action-prob",
        type=float,
        default=0.1,
        help="probability of repeating the previous action (default: %(default)s, the MinAtar paper's)",
    )
    parser.add_argument("--minimal-actions", action="store_true", help="the game's minimal action set (default: all 6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-envs", type=int, default=8, help="envs stepped together (default: %(default)s)")
    parser.add_argument(
        "--checkpoints",
        type=int,
        default=50,
        help="checkpoint splits the run is cut into (default: %(default)s, as rlu_atari_checkpoints_ordered)",
    )
    parser.add_argument(
        "--reference-episodes",
        type=int,
        default=100,
        help="episodes for each of the random / final-DQN reference returns (>= 100)",
    )
    parser.add_argument(
        "--max-episode-steps",
        type=int,
        default=10_000,
        help="episode cap in agent steps, a truncation (default: %(default)s)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    prefix = "rosmo dataset minatar: error:"
    games = list(GAMES) if args.game == "all" else [args.game]
    from rosmo.data import minatar_data
    from rosmo.data.minatar_maker import MIN_REFERENCE_EPISODES, check_arguments, make_minatar_dataset
    from rosmo.envs.minatar import INSTALL_HINT, game_name

    try:
        games = [game_name(g) for g in games]
        check_arguments(
            args.frames,
            args.seed,
            args.sticky_action_prob,
            args.num_envs,
            args.checkpoints,
            args.reference_episodes,
            args.max_episode_steps,
            MIN_REFERENCE_EPISODES,
        )
    except ValueError as err:
        print(f"{prefix} {str(err).replace('unknown MinAtar game', '--game: unknown MinAtar game')}", file=sys.stderr)
        return 2
    try:
        import minatar  # noqa: F401
    except ImportError:
        print(f"{prefix} {INSTALL_HINT}", file=sys.stderr)
        return 2
    paths = [
        os.path.abspath(
            os.path.join(args.out, minatar_data.dataset_name(game, args.sticky_action_prob, args.minimal_actions))
        )
        for game in games
    ]
    if refuse_existing_datasets("dataset minatar", paths, args.overwrite):  # before any training
        return 2
    for game in games:
        try:
            summary = make_minatar_dataset(
                game,
                args.out,
                frames=args.frames,
                seed=args.seed,
                sticky_action_prob=args.sticky_action_prob,
                minimal_actions=args.minimal_actions,
                num_envs=args.num_envs,
                num_checkpoints=args.checkpoints,
                reference_episodes=args.reference_episodes,
                max_episode_steps=args.max_episode_steps,
                overwrite=args.overwrite,
                progress=not args.no_progress,
            )
        except (ValueError, FileExistsError, OSError) as err:
            print(f"{prefix} {err}", file=sys.stderr)
            return 2
        from rosmo.data.bsuite_maker import human_bytes

        print(
            f"{game}: {summary['episodes']} episodes, {summary['steps']} steps, {human_bytes(summary['bytes'])} on "
            f"disk, {summary['seconds']:.0f} s ({summary['frames_per_s']:.0f} frames/s while training); "
            f"random_return {summary['random_return']:.2f} +- {summary['random_return_sem']:.2f}, "
            f"dqn_return {summary['dqn_return']:.2f} +- {summary['dqn_return_sem']:.2f} (mean +- s.e.)"
        )
        print(f"  -> {summary['path']}")
    return 0
