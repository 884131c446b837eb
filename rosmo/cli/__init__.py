"""The `rosmo` command line: one entry point, one module per sub-command.

Each sub-command module exposes `add_arguments(parser)` and `run(args) -> int`
and is imported only when its command runs, so `rosmo --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

# command path -> (module, one-line help)
COMMANDS = {
    ("dataset", "bsuite"): ("rosmo.data.bsuite_maker", "train an online DQN on a BSuite env and log its whole run as RLDS"),
    ("dataset", "atari"): ("rosmo.data.atari_maker", "record Atari episodes (RL Unplugged protocol) in the rlu_atari schema"),
    ("train",): ("rosmo.cli.train", "train an agent from an offline dataset (ml_collections config)"),
    ("evaluate",): ("rosmo.cli.evaluate", "evaluate a checkpoint in the online environment"),
    ("demo",): ("rosmo.cli.demo", "the main job: make the catch dataset if missing, train ROSMO, evaluate"),
}


def _build_parser(argv: List[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rosmo", description="Offline model-based RL with a learned latent model.")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups = {}
    for path, (module, help_text) in COMMANDS.items():
        if len(path) == 1:
            sub = top.add_parser(path[0], help=help_text, add_help=path[0] != "train")
        else:
            if path[0] not in groups:
                group = top.add_parser(path[0], help=f"{path[0]} commands")
                groups[path[0]] = group.add_subparsers(dest="subcommand", metavar="KIND")
            sub = groups[path[0]].add_parser(path[1], help=help_text)
        sub.set_defaults(_module=module)
        # Only the module of the command being run is imported.
        if list(path) == argv[: len(path)]:
            importlib.import_module(module).add_arguments(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:  # absl flags own the parsing of `--config.*` overrides
        return importlib.import_module("rosmo.cli.train").main(["rosmo train"] + argv[1:])
    parser = _build_parser(argv)
    args = parser.parse_args(argv)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return 2
    return int(importlib.import_module(module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
