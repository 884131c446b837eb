"""`rosmo demo` / `make demo`: the main job on a fresh clone.

    rosmo demo                                    # catch: datasets/bsuite/catch, runs/demo-catch
    rosmo demo --env cartpole --steps 2000 --workdir runs/demo-cp

Make the default catch dataset if it is missing, train ROSMO on it, evaluate
in the online env, and print the normalised score and where the run lives.
"""

from __future__ import annotations

import argparse
import os

DEFAULT_DATASETS = "datasets/bsuite"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env", default="catch", choices=("catch", "cartpole", "mountain_car"), help="BSuite env (default catch)"
    )
    parser.add_argument(
        "--datasets", default=DEFAULT_DATASETS, help="where BSuite datasets live (default datasets/bsuite)"
    )
    parser.add_argument("--workdir", default=None, help="run directory (default runs/demo-<env>)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the env config's num_steps)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from rosmo.suites.configs.bsuite import get_config
    from rosmo.data.bsuite_maker import make_bsuite_dataset, summarize
    from rosmo.evaluation.evaluate import format_result
    from rosmo.training.loop import train

    dataset_dir = os.path.join(args.datasets, args.env)
    if os.path.exists(os.path.join(dataset_dir, "dataset_info.json")):
        print(f"[1/3] dataset {dataset_dir} exists, reusing it")
    else:
        print(f"[1/3] making the {args.env} dataset in {dataset_dir} (online DQN, every transition logged)")
        make_bsuite_dataset(args.env, args.datasets, progress=not args.no_progress)
    print(summarize(dataset_dir))

    config = get_config(args.env)
    config.dataset_dir = dataset_dir
    if args.steps:
        config.num_steps = args.steps
        config.eval_every = min(config.eval_every, args.steps)
    workdir = args.workdir or os.path.join("runs", f"demo-{args.env}")
    print(f"[2/3] training ROSMO for {config.num_steps} steps in {workdir}")
    summary = train(config, workdir, progress=not args.no_progress)

    result = summary["final_eval"]
    print(f"[3/3] evaluation over {result['episodes']} online episodes")
    print("\n".join("  " + line for line in format_result(result)))
    print(f"  normalised score  {result['normalized_score']:.3f}")
    print(f"  run directory     {summary['workdir']}  (summary.json, train.csv, eval.csv, tb/, checkpoints/)")
    return 0
