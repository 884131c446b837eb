"""The `rosmo` command line: one entry point, one module per command.

Each command module exposes `add_arguments(parser)` and `run(args) -> int`. Only
the module of the command being run is imported, and command modules import the
library inside `run`, so `rosmo --help` and `rosmo <command> --help` stay fast.
A module with `CONFIG_OVERRIDES = True` also receives the `--config.FIELD=VALUE`
flags as `args.config_overrides`.

Exit codes: 0 success, 2 usage or input errors (one line on stderr), 128 + signum when stopped by a
signal (130 Ctrl-C, 143 SIGTERM), with one line. Until a job installs its own handlers
(`rosmo.signals.StopSignals`, a flag its loops poll), a signal ends the process at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from typing import List, Optional, Sequence, Tuple

from rosmo.signals import exit_on_signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ logs (it only feeds data)

# command path -> (module, one-line help)
COMMANDS = {
    ("train",): ("rosmo.cli.train", "train an agent from an offline dataset (a config + --config.FIELD=VALUE overrides)"),
    ("evaluate",): ("rosmo.cli.evaluate", "evaluate a checkpoint in the online environment"),
    ("dataset", "bsuite"): ("rosmo.cli.dataset_bsuite", "train an online DQN on a BSuite env and log its whole run as RLDS"),
    ("dataset", "atari"): ("rosmo.cli.dataset_atari", "record Atari episodes (RL Unplugged protocol) in the rlu_atari schema"),
    ("deploy",): ("rosmo.cli.deploy", "deployment-efficient RL: collect with the current policy, retrain, evaluate, I times"),
    ("sweep",): ("rosmo.cli.sweep", "run a grid of runs over config fields and seeds, locally or on SLURM"),
    ("report",): ("rosmo.cli.report", "IQM tables with bootstrap CIs and plots of a sweep's runs (rliable)"),
    ("demo",): ("rosmo.cli.demo", "the main job: make the catch dataset if missing, train ROSMO, evaluate"),
}


def split_config_flags(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(other args, ["field=value", ...]) from `--config.F=V` and `--config.F V` flags."""
    rest, overrides = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--config."):
            body = arg[len("--config."):]
            if "=" not in body:
                if i + 1 >= len(argv):
                    raise SystemExit(f"rosmo: error: {arg}: expected a value (--config.FIELD=VALUE)")
                body = f"{body}={argv[i + 1]}"
                i += 1
            overrides.append(body)
        else:
            rest.append(arg)
        i += 1
    return rest, overrides


def _build_parser(argv: List[str]):
    parser = argparse.ArgumentParser(prog="rosmo", description="Offline model-based RL with a learned latent model.")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups = {}
    chosen = None
    for path, (module, help_text) in COMMANDS.items():
        if len(path) == 1:
            sub = top.add_parser(path[0], help=help_text, description=help_text)
        else:
            if path[0] not in groups:
                group = top.add_parser(path[0], help=f"{path[0]} commands", description=f"{path[0]} commands")
                groups[path[0]] = group.add_subparsers(dest="subcommand", metavar="KIND")
            sub = groups[path[0]].add_parser(path[1], help=help_text, description=help_text)
        sub.set_defaults(_module=module)
        if list(path) == argv[: len(path)]:  # only the module of the command being run is imported
            chosen = importlib.import_module(module)
            chosen.add_arguments(sub)
    return parser, chosen


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    prog = " ".join(["rosmo"] + [a for a in argv[:2] if not a.startswith("-")][:1])
    exit_on_signal(prog)  # start-up (imports, JAX): a signal ends the process with one line; jobs then poll a flag
    try:
        return _main(argv)
    finally:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _main(argv: List[str]) -> int:
    parser, chosen = _build_parser(argv)
    overrides: List[str] = []
    if chosen is not None and getattr(chosen, "CONFIG_OVERRIDES", False):
        argv, overrides = split_config_flags(argv)
    args = parser.parse_args(argv)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return 2
    args.config_overrides = overrides
    try:
        return int(importlib.import_module(module).run(args) or 0)
    except KeyboardInterrupt:
        print("rosmo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
