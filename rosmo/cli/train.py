"""`rosmo train`: one training run from a config and `--config.FIELD=VALUE` overrides.

    rosmo train --config=bsuite:catch --workdir runs/catch --config.unroll_steps=5
    rosmo train --config=atari:Pong,small --workdir runs/pong --config.data_dir=datasets/atari
    rosmo train --config=experiments/bsuite/config.py:cartpole --workdir runs/cp --config.algo=mzu

A workdir resumes from its latest checkpoint by itself.
"""

from __future__ import annotations

import argparse
import json
import sys

CONFIG_OVERRIDES = True

EPILOG = """config overrides:
  --config.FIELD=VALUE   set any field of the config (typed as the field: int, float, bool, str, None),
                         e.g. --config.algo=mzu --config.num_simulations=50 --config.batch_size=128
                         (--print-config lists the fields and their values)
suites (--config=<suite>:<arg>): bsuite:<env> (catch, cartpole, mountain_car), atari:<Game>[,small]
agents (--config.algo):
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rosmo.agents import AGENTS

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG + "\n".join(
        f"  {name:<6} {spec.description}; --config.act_policy: {', '.join(spec.act_policies)}" for name, spec in AGENTS.items()
    )
    parser.add_argument("--config", required=True,
                        help="bsuite:<env>, atari:<Game>[,small], or path/to/config.py[:arg] (a file with get_config)")
    parser.add_argument("--workdir", required=False, default=None, help="run directory (resumes from its latest checkpoint)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def run(args: argparse.Namespace) -> int:
    from absl import logging

    from rosmo.configs.loading import apply_overrides, load_config
    from rosmo.data.rlds import DatasetError
    from rosmo.errors import ConfigError
    from rosmo.training.distributed import maybe_initialize
    from rosmo.training.loop import train

    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    try:
        config = load_config(args.config)
        apply_overrides(config, args.config_overrides)
        if args.print_config:
            print(config)
            return 0
        if not args.workdir:
            raise ConfigError("--workdir is required, e.g. --workdir runs/catch")
        maybe_initialize()  # multi-host when launched by SLURM or with ROSMO_COORDINATOR (launch/)
        summary = train(config, args.workdir, progress=not args.no_progress)
    except (ConfigError, DatasetError) as err:  # the user's input: a message, not a traceback
        print(f"rosmo train: error: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in summary.items() if k != "final_eval"}, indent=2))
    final = summary.get("final_eval") or {}
    print(f"final evaluation: mean return {final.get('mean_return')}, normalised score {final.get('normalized_score')}")
    return 0
