"""`rosmo dataset atari`: record Atari episodes under the RL Unplugged protocol in the `rlu_atari` TFDS layout.

rosmo dataset atari --game Pong --steps 100000 --policy random --out datasets/atari
rosmo dataset atari --game Pong --steps 50000 --policy runs/pong --out datasets/atari --run 2
"""

from __future__ import annotations

import argparse
import sys

from rosmo.cli import cannot_write, user_message

RUNS = (1, 2, 3, 4, 5)
MAX_EPISODE_FRAMES = 108_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--game", required=True, help="RL Unplugged Atari game, e.g. Pong, MsPacman (46 games)")
    parser.add_argument("--steps", type=int, required=True, help="agent steps (transitions) to record")
    parser.add_argument("--policy", default="random", help="'random' or a trained run directory (e.g. runs/pong)")
    parser.add_argument(
        "--out", default="datasets/atari", help="TFDS data_dir; writes <out>/rlu_atari/<Game>_run_<run>/<version>"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the envs (sub-env i gets seed + i) and the policy")
    parser.add_argument("--run", type=int, default=1, choices=RUNS, help="rlu_atari run number of the config name")
    parser.add_argument("--num-envs", type=int, default=8, help="episodes played at once by ALE's vector env")
    parser.add_argument(
        "--max-episode-frames",
        type=int,
        default=MAX_EPISODE_FRAMES,
        help="emulator frames before truncation (default: %(default)s)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from rosmo.data import rlds
    from rosmo.data.atari_maker import make_dataset
    from rosmo.data.rlu_names import builder_name, canonical_game
    from rosmo.signals import Stopped, StopSignals
    from rosmo.suites import SUITES
    from rosmo.training.checkpoint import CheckpointError
    from rosmo.training.restore import load_policy

    try:
        game = canonical_game(args.game)
        policy = "random"
        if args.policy != "random":
            observation_shape, num_actions = SUITES["atari"].env_spec(game, {})
            policy = load_policy(args.policy, num_actions, observation_shape, seed=args.seed, flag="--policy")
        with StopSignals():
            out = make_dataset(
                game,
                args.steps,
                args.out,
                policy=policy,
                policy_name=args.policy,
                seed=args.seed,
                run=args.run,
                num_envs=args.num_envs,
                overwrite=args.overwrite,
                max_episode_frames=args.max_episode_frames,
                show_progress=not args.no_progress,
            )
    except (FileExistsError, FileNotFoundError, ValueError, CheckpointError) as err:
        print(f"rosmo dataset atari: error: {user_message(err)}", file=sys.stderr)
        return 2
    except Stopped as stop:
        print(f"rosmo dataset atari: {stop}; nothing was written", file=sys.stderr)
        return stop.exit_code
    except OSError as err:  # --out cannot be created or written
        print(f"rosmo dataset atari: error: {cannot_write(f'--out {args.out}', 'the dataset', err)}", file=sys.stderr)
        return 2
    meta = rlds.metadata(rlds.load_builder(builder_name(game, args.run), args.out))
    print(
        f"wrote {out}: {meta.get('num_episodes')} episodes, {meta.get('num_transitions')} transitions, "
        f"mean unclipped return {meta.get('mean_return_unclipped')}"
    )
    return 0
