"""The `rosmo` command line: one entry point, one module per command.

Each command module exposes `add_arguments(parser)` and `run(args) -> int`; its docstring's
first paragraph is a one-line summary and the rest (examples first) is the command's `--help`
epilog, after any epilog `add_arguments` sets. Only the module of the command being run is
imported, and command modules import the library inside `run`, so `rosmo --help` and
`rosmo <command> --help` answer without importing JAX or TensorFlow.

A module with `CONFIG_OVERRIDES = True` takes config fields: `--config.FIELD=VALUE`,
`--config.FIELD VALUE` and its synonym `--set FIELD=VALUE` (each repeatable, applied in the
order given) reach `run` as `args.config_overrides`, a list of "FIELD=VALUE" `ConfigFlag`s
that remember how they were typed (`spell_as_typed` puts that spelling into error messages).

Exit codes: 0 success, 2 usage or input errors (one line on stderr: every `rosmo.errors.UserError`
a command does not catch itself ends here), 128 + signum when stopped by a signal (130 Ctrl-C,
143 SIGTERM), with one line. Until a job installs its own handlers (`rosmo.signals.StopSignals`, a
flag its loops poll), a signal ends the process at once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterable, Sequence
from typing import Optional

from rosmo.errors import ConfigError, UserError  # a module without imports: --help stays fast
from rosmo.signals import exit_on_signal, ignore_repeats, stop_received  # standard library only

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ logs (it only feeds data)

# command path -> (module, one-line help)
COMMANDS = {
    ("train",): (
        "rosmo.cli.train",
        "train an agent from an offline dataset (a config + --config.FIELD=VALUE overrides)",
    ),
    ("evaluate",): ("rosmo.cli.evaluate", "evaluate a checkpoint in the online environment"),
    ("dataset", "bsuite"): (
        "rosmo.cli.dataset_bsuite",
        "train an online DQN on a BSuite env and log its whole run as RLDS",
    ),
    ("dataset", "minatar"): (
        "rosmo.cli.dataset_minatar",
        "train an online DQN on a MinAtar game and log its whole run as RLDS, split by checkpoint",
    ),
    ("dataset", "atari"): (
        "rosmo.cli.dataset_atari",
        "record Atari episodes (RL Unplugged protocol) in the rlu_atari schema",
    ),
    ("deploy",): (
        "rosmo.cli.deploy",
        "deployment-efficient RL: collect with the current policy, retrain, evaluate, I times",
    ),
    ("sweep",): ("rosmo.cli.sweep", "run a grid of runs over config fields and seeds, locally or on SLURM"),
    ("report",): ("rosmo.cli.report", "IQM tables with bootstrap CIs and plots of a sweep's runs (rliable)"),
    ("demo",): ("rosmo.cli.demo", "the main job: make the catch dataset if missing, train ROSMO, evaluate"),
}

CONFIG_PREFIX = "--config."
SET_FLAG = "--set"


class ConfigFlag(str):
    """One config override, "FIELD=VALUE", that remembers the flag as typed (`typed`: "--config." or "--set")."""

    typed: str

    def __new__(cls, item: str, typed: str = CONFIG_PREFIX) -> ConfigFlag:
        flag = super().__new__(cls, item)
        flag.typed = typed
        return flag

    @property
    def field(self) -> str:
        return self.partition("=")[0]


def split_config_flags(argv: Sequence[str]) -> tuple[list[str], list[ConfigFlag]]:
    """(other args, [ConfigFlag("field=value"), ...]) from `--config.F=V`, `--config.F V`, `--set F=V`, `--set=F=V`.

    Arguments after `--` are left alone. ValueError (naming the flag as typed) when a flag has no value.
    """
    rest: list[str] = []
    overrides: list[ConfigFlag] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg.startswith(CONFIG_PREFIX):
            body = arg[len(CONFIG_PREFIX) :]
            if "=" not in body:
                if i + 1 >= len(argv):
                    raise ValueError(
                        f"{arg}: expected a value ({CONFIG_PREFIX}FIELD=VALUE or {CONFIG_PREFIX}FIELD VALUE)"
                    )
                body = f"{body}={argv[i + 1]}"
                i += 1
            overrides.append(ConfigFlag(body, CONFIG_PREFIX))
        elif arg == SET_FLAG or arg.startswith(SET_FLAG + "="):
            if arg == SET_FLAG:
                if i + 1 >= len(argv):
                    raise ValueError(f"{arg}: expected FIELD=VALUE")
                body = argv[i + 1]
                i += 1
            else:
                body = arg[len(SET_FLAG) + 1 :]
            overrides.append(ConfigFlag(body, SET_FLAG))
        else:
            rest.append(arg)
        i += 1
    return rest, overrides


def typed_flag(item: str) -> str:
    """The flag of an override as the user typed it, for messages: "--config.num_steps" or "--set"."""
    if getattr(item, "typed", CONFIG_PREFIX) == SET_FLAG:
        return SET_FLAG
    return CONFIG_PREFIX + item.partition("=")[0]


def spell_as_typed(message: str, overrides: Iterable[str]) -> str:
    """`message` with each override's flag spelled as the user typed it.

    Library errors name a field's flag as `--config.FIELD` (or `--set FIELD`, rosmo evaluate's acting
    fields); for every override the user gave with the other spelling, that spelling is put back.
    """
    for item in overrides:
        field = item.partition("=")[0]
        if not field:
            continue
        end = r"(?![\w.])"  # the whole field name, not a prefix of a longer or nested one
        if getattr(item, "typed", CONFIG_PREFIX) == SET_FLAG:
            message = re.sub(re.escape(CONFIG_PREFIX + field) + end, f"{SET_FLAG} {field}", message)
        else:
            message = re.sub(re.escape(f"{SET_FLAG} {field}") + end, CONFIG_PREFIX + field, message)
    return message


def add_config_flags(parser: argparse.ArgumentParser, help_text: str) -> None:
    """Show the config-field flags in `--help` (`split_config_flags` takes them off the command line first)."""
    group = parser.add_argument_group("config fields")
    group.add_argument(
        f"{CONFIG_PREFIX}FIELD",
        metavar="VALUE",
        dest="_config_field_help",
        default=argparse.SUPPRESS,
        help=f"{help_text} (typed as the field: int, float, bool, str, None; nested: "
        f"{CONFIG_PREFIX}A.B=V; repeatable, applied in order)",
    )
    group.add_argument(
        SET_FLAG,
        metavar="FIELD=VALUE",
        dest="_set_help",
        default=argparse.SUPPRESS,
        help=f"the same as {CONFIG_PREFIX}FIELD=VALUE",
    )


def docstring_epilog(module) -> str:
    """A command module's docstring after its first paragraph (the examples and notes)."""
    doc = (module.__doc__ or "").strip("\n")
    _, _, rest = doc.partition("\n\n")
    rest = rest.rstrip()
    return f"examples:\n{rest}" if rest.lstrip(" ").startswith("rosmo ") else rest


def _build_parser(argv: list[str]):
    """(the `rosmo` parser, the chosen command's module or None, the chosen command's parser or None)."""
    parser = argparse.ArgumentParser(prog="rosmo", description="Offline model-based RL with a learned latent model.")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups = {}
    chosen = chosen_parser = None
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
            chosen, chosen_parser = importlib.import_module(module), sub
            _add_command_arguments(sub, chosen)
    return parser, chosen, chosen_parser


def _add_command_arguments(parser: argparse.ArgumentParser, module) -> None:
    module.add_arguments(parser)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "\n\n".join(text for text in (docstring_epilog(module), parser.epilog) if text)


def command_parser(path: Sequence[str]) -> argparse.ArgumentParser:
    """The parser of `rosmo PATH...` as its `--help` shows it (flags, examples, notes), e.g. for generated docs."""
    module, help_text = COMMANDS[tuple(path)]
    parser = argparse.ArgumentParser(prog=" ".join(("rosmo", *path)), description=help_text)
    _add_command_arguments(parser, importlib.import_module(module))
    return parser


def user_message(err: BaseException) -> str:
    """A library error's message with the config field or config name it starts with spelled as its flag.

    `ConfigError(field="unroll_steps")`: "unroll_steps=0: ..." -> "--config.unroll_steps=0: ...";
    `ConfigError(spec="bsuite:pong")`: "bsuite:pong: ..." -> "--config=bsuite:pong: ...". Others: unchanged.
    """
    text = str(err)
    if isinstance(err, ConfigError):
        # the field or spec starts the message or follows a context prefix ("flags: run seed=0: unroll_steps=0: ...")
        if err.field:
            found = re.search(r"(^|: )" + re.escape(err.field) + r"(?=[=:])", text)
            if found:
                return text[: found.end(1)] + "--config." + text[found.end(1) :]
        if err.spec:
            found = re.search(r"(^|: )" + re.escape(err.spec) + r"(?=:)", text)
            if found:
                return text[: found.end(1)] + "--config=" + text[found.end(1) :]
    return text


def cannot_write(flag: str, what: str, err: OSError) -> str:
    """One line for an output a command cannot write: "<flag>: cannot write <what> there (<why>: <file>)"."""
    where = f": {err.filename}" if err.filename else ""
    return f"{flag}: cannot write {what} there ({err.strerror or err}{where})"


def refuse_existing_datasets(command: str, paths: Iterable[str], overwrite: bool) -> bool:
    """Before any work of a dataset maker: True, with one line `rosmo <command>: error: ...` on stderr, when a
    dataset is at one of `paths` (absolute) and `overwrite` is False, or when --overwrite would replace something
    that is not a dataset rosmo made (`rosmo.data.rlds.check_replaceable`); else False."""
    from rosmo.data.rlds import DatasetError, check_replaceable

    for path in paths:
        if os.path.lexists(path) and not overwrite:
            print(
                f"rosmo {command}: error: dataset {path} already exists; pass --overwrite to replace it",
                file=sys.stderr,
            )
            return True
        try:
            check_replaceable(path)
        except DatasetError as err:
            print(f"rosmo {command}: error: {err}", file=sys.stderr)
            return True
    return False


def parse_args(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The parse step of `rosmo ARGV` without running anything: (the `rosmo` parser, the parsed args).

    argparse errors exit with code 2 as usual (SystemExit); `args.config_overrides` holds the config flags.
    """
    argv = list(argv)
    parser, chosen, chosen_parser = _build_parser(argv)
    overrides: list[ConfigFlag] = []
    if chosen is not None and getattr(chosen, "CONFIG_OVERRIDES", False):
        try:
            argv, overrides = split_config_flags(argv)
        except ValueError as err:
            chosen_parser.error(str(err))
    args = parser.parse_args(argv)
    args.config_overrides = overrides
    return parser, args


def main(argv: Optional[list[str]] = None) -> int:
    """Run one command; its exit code. Without `argv` (the `rosmo` script, `python -m rosmo.cli`) the process
    ends with this code; with `argv` (an in-process caller) the signal handlers are given back as they were."""
    exiting = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    prog = " ".join(["rosmo"] + [a for a in argv[:2] if not a.startswith("-")][:1])
    exit_on_signal(prog)  # start-up (imports, JAX): a signal ends the process with one line; jobs then poll a flag
    try:
        return _main(argv)
    finally:
        if exiting and stop_received():  # the job stopped on a signal: the process ends with its code
            ignore_repeats()
        elif threading.current_thread() is threading.main_thread():
            for sig, handler in previous.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _main(argv: list[str]) -> int:
    parser, args = parse_args(argv)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return 2
    try:
        return int(importlib.import_module(module).run(args) or 0)
    except UserError as err:
        command = " ".join(p for p in (args.command, getattr(args, "subcommand", None)) if p)
        print(f"rosmo {command}: error: {spell_as_typed(user_message(err), args.config_overrides)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rosmo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
