"""`rosmo train`: one training run from a config and `--config.FIELD=VALUE` overrides.

    rosmo train --config=bsuite:catch --workdir runs/catch --config.unroll_steps=5
    rosmo train --config=atari:Pong,small --workdir runs/pong --config.data_dir=datasets/atari
    rosmo train --config=experiments/bsuite/config.py:cartpole --workdir runs/cp --config.algo=mzu

A workdir resumes from its latest checkpoint by itself (falling back past an unreadable one);
a resume that changes the experiment's config is refused unless --allow-config-change.
One trainer per workdir. SIGINT (Ctrl-C) / SIGTERM save a checkpoint and exit 130 / 143.

Exit codes: 0 done, 1 the run failed (non-finite values, disk full), 2 bad input
(config, dataset, workdir, checkpoint), 128 + signal when stopped by a signal.
"""

from __future__ import annotations

import argparse
import json
import logging as std_logging
import os
import sys

from rosmo.cli import user_message

CONFIG_OVERRIDES = True


def registry_epilog() -> str:
    """The suites and agents, from the registries' light tables (no JAX import)."""
    from rosmo.agents import AGENTS
    from rosmo.suites import SUITES

    suites = "\n".join(f"  {name:<7} {entry.description}" for name, entry in SUITES.entries().items())
    agents = "\n".join(
        f"  {name:<7} {entry.description}; --config.act_policy: {', '.join(entry.act_policies)}"
        for name, entry in AGENTS.entries().items()
        if entry.learns_from == "windows"
    )
    return f"suites (--config=<suite>:<arg>):\n{suites}\nagents (--config.algo=<agent>):\n{agents}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rosmo.cli import add_config_flags

    parser.epilog = registry_epilog()
    parser.add_argument(
        "--config",
        required=True,
        help="<suite>:<arg> (suites below; e.g. bsuite:catch, atari:Pong,small) or path/to/config.py[:arg] "
        "(a file with get_config)",
    )
    parser.add_argument(
        "--workdir", required=False, default=None, help="run directory (resumes from its latest checkpoint)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "--allow-config-change",
        action="store_true",
        help="resume even though the config changes the experiment (recorded in config_changes.jsonl)",
    )
    add_config_flags(
        parser,
        "set a field of the config, e.g. --config.algo=mzu --config.num_simulations=50 "
        "(--print-config lists the fields and their values)",
    )


class _DropBackgroundErrors:
    """A logging filter: orbax's background-thread reports and asyncio's "never retrieved" tracebacks are dropped;
    the failure they describe reaches the main thread as an exception and is printed in one line."""

    def filter(self, record) -> bool:
        if record.name == "asyncio":
            return False
        return f"{os.sep}orbax{os.sep}" not in (record.pathname or "")


def _is_closed_loop_error(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and "Event loop is closed" in str(exc)


def quiet_background_errors() -> None:
    """Drop the noise orbax's writer threads make after a failed save (logged reports, and tensorstore
    callbacks hitting a closed asyncio loop, printed through sys.excepthook / sys.unraisablehook)."""
    for name in ("absl", "asyncio"):
        std_logging.getLogger(name).addFilter(_DropBackgroundErrors())
    if getattr(sys.excepthook, "rosmo_quiet", False):
        return
    excepthook, unraisablehook = sys.excepthook, sys.unraisablehook

    def quiet_excepthook(kind, exc, tb):
        if not _is_closed_loop_error(exc):
            excepthook(kind, exc, tb)

    def quiet_unraisablehook(unraisable):
        if not _is_closed_loop_error(unraisable.exc_value):
            unraisablehook(unraisable)

    quiet_excepthook.rosmo_quiet = True
    sys.excepthook, sys.unraisablehook = quiet_excepthook, quiet_unraisablehook


def run(args: argparse.Namespace) -> int:
    from absl import logging

    from rosmo.cli import spell_as_typed
    from rosmo.configs.loading import apply_overrides, load_config
    from rosmo.errors import ConfigError, DatasetError, NonFiniteError
    from rosmo.training.checkpoint import CheckpointError, CheckpointWriteError
    from rosmo.training.distributed import maybe_initialize
    from rosmo.training.loop import train
    from rosmo.signals import Stopped
    from rosmo.training.workdir import WorkdirError

    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    quiet_background_errors()
    try:
        config = load_config(args.config)
        apply_overrides(config, args.config_overrides)
        if args.print_config:
            print(config)
            return 0
        if not args.workdir:
            raise ConfigError("--workdir is required, e.g. --workdir runs/catch")
        maybe_initialize()  # multi-host when launched by SLURM or with ROSMO_COORDINATOR (launch/)
        summary = train(
            config, args.workdir, progress=not args.no_progress, allow_config_change=args.allow_config_change
        )
    except (ConfigError, DatasetError, WorkdirError, CheckpointError) as err:  # the user's input: one line
        print(f"rosmo train: error: {spell_as_typed(user_message(err), args.config_overrides)}", file=sys.stderr)
        return 2
    except NonFiniteError as err:
        print(f"rosmo train: error: {user_message(err)}", file=sys.stderr)
        return 1
    except CheckpointWriteError as err:  # orbax's writer threads are broken: leave at once, without their noise
        print(
            f"rosmo train: error: {user_message(err)}; the last complete checkpoint is kept, "
            "run the same command again to resume",
            file=sys.stderr,
            flush=True,
        )
        sys.stdout.flush()
        os._exit(1)
    except OSError as err:  # disk full, file system gone: the run's files are where it says
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(
            f"rosmo train: error: {err.strerror or err}{where}; the last complete checkpoint is kept, "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return 1
    except Stopped as stop:
        print(f"rosmo train: {stop}", file=sys.stderr)
        return stop.exit_code
    print(json.dumps({k: v for k, v in summary.items() if k != "final_eval"}, indent=2))
    final = summary.get("final_eval") or {}
    if not config.eval_every:
        print(
            f"no inline evaluation (eval_every=0): the evaluator job `rosmo evaluate --watch {args.workdir}` scores "
            "the checkpoints"
        )
        return 0
    print(f"final evaluation: mean return {final.get('mean_return')}, normalised score {final.get('normalized_score')}")
    return 0
