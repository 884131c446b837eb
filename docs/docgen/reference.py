"""Reference pages generated from the code: CLI flags, config fields, the API page list.

Everything is read from the registries and parsers at build time (nothing is copied by hand):
- the CLI from `rosmo.cli.COMMANDS` and each command module's `add_arguments(parser)`;
- the config fields from every suite's `get_config` (`rosmo.suites.SUITES`) and every agent's
  `config_defaults` (`rosmo.agents.AGENTS`); a field's meaning is the comment next to (or just above)
  the line that defines it in the package's source;
- the API page list by walking the `rosmo` package tree.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "rosmo"


def _cell(text) -> str:
    """A Markdown table cell: one line, pipes and angle brackets escaped (`<env>` is text, not HTML)."""
    parts = " ".join(str(text).split()).replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):  # outside code spans only
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _code(value) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return "`" + " ".join(text.split()).replace("|", "\\|").replace("`", "'") + "`"


# ---------------------------------------------------------------------------------------------- CLI


def _commands() -> Iterator[tuple[tuple[str, ...], str, str]]:
    from rosmo.cli import COMMANDS

    for path, value in COMMANDS.items():
        module, help_text = (value[0], value[1]) if isinstance(value, (tuple, list)) else (value, "")
        yield tuple(path), module, help_text


def _flag_rows(parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._SubParsersAction):
            continue
        name = ", ".join(action.option_strings) if action.option_strings else action.dest.upper()
        if action.option_strings and action.nargs != 0:
            name += (
                " " + (action.metavar or action.dest.upper()) if isinstance(action.metavar, (str, type(None))) else ""
            )
        try:
            help_text = formatter._expand_help(action) if action.help else ""
        except (KeyError, TypeError, ValueError):
            help_text = action.help or ""
        if action.choices is not None and not isinstance(action.choices, dict):
            help_text += f" (one of: {', '.join(map(str, action.choices))})"
        if action.required:
            default = "required"
        elif action.nargs == 0 or action.default is None or action.default == argparse.SUPPRESS:
            default = ""
        else:
            default = _code(action.default)
        rows.append(f"| `{name}` | {default} | {_cell(help_text)} |")
    return rows


def cli_page() -> str:
    """Markdown of every `rosmo` command: usage, flags (default, help), and the command's own notes."""
    out = [
        "# Command line",
        "",
        "Generated from the argparse parsers of `rosmo` (`rosmo.cli`); `rosmo <command> --help` prints the same.",
        "Commands that take config fields also accept `--config.FIELD=VALUE` for any field of the",
        "[config reference](config.md).",
        "",
    ]
    for path, module_name, help_text in _commands():
        prog = "rosmo " + " ".join(path)
        os.environ["COLUMNS"] = "88"  # argparse wraps usage lines to the page's code width
        module = importlib.import_module(module_name)
        from rosmo.cli import command_parser

        parser = command_parser(path)  # the parser as `--help` shows it: flags, examples, notes
        out += [f"## {prog}", "", _cell(parser.description or help_text), ""]
        out += ["```text", parser.format_usage().strip(), "```", ""]
        if getattr(module, "CONFIG_OVERRIDES", False):
            out += ["Takes `--config.FIELD=VALUE` overrides of any [config field](config.md).", ""]
        out += ["| flag | default | meaning |", "|---|---|---|"] + _flag_rows(parser) + [""]
        if parser.epilog:
            out += ["```text", parser.epilog.strip("\n"), "```", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------- config fields

_ASSIGN = re.compile(r"^\s*(?:c|config|cfg)\.([A-Za-z_][\w.]*)\s*=(?!=)")
_DICT_ENTRY = re.compile(r"""^\s*["']([A-Za-z_]\w*)["']\s*:""")


def _comments(path: Path) -> dict[int, tuple[str, bool]]:
    """line number -> (comment text, whether the line holds only the comment)."""
    found = {}
    try:
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
        for tok in tokens:
            if tok.type == tokenize.COMMENT:
                alone = not tok.line[: tok.start[1]].strip()
                found[tok.start[0]] = (tok.string.lstrip("#").strip(), alone)
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        pass
    return found


def field_meanings() -> dict[str, str]:
    """Config field -> the comment that explains it in the package source (defining files first)."""
    files = sorted(PACKAGE.rglob("*.py"))
    defining = [p for p in files if "def get_base_config" in p.read_text() or "CONFIG_DEFAULTS" in p.read_text()]
    meanings: dict[str, str] = {}
    defined = set()  # fields met in a defining file: only their defining comment counts
    for path in defining + [p for p in files if p not in defining]:
        is_defining = path in defining
        lines = path.read_text().splitlines()
        comments = _comments(path)
        for number, line in enumerate(lines, start=1):
            match = _ASSIGN.match(line) or _DICT_ENTRY.match(line)
            if not match:
                continue
            key = match.group(1)
            if key in meanings or (key in defined and not is_defining):
                continue
            text = ""
            if number in comments and not comments[number][1]:
                text = comments[number][0]
            else:
                # a comment block just above, unless it opens a section (a blank line above the block)
                above = []
                k = number - 1
                while k in comments and comments[k][1]:
                    above.insert(0, comments[k][0])
                    k -= 1
                if above and k >= 1 and lines[k - 1].strip():
                    text = " ".join(above)
            if is_defining:
                defined.add(key)
            if text and not text.startswith("noqa"):
                meanings[key] = text
    return meanings


def _flatten(config, prefix: str = "") -> Iterator[tuple[str, object]]:
    import ml_collections

    for key in config.keys():
        value = config[key]
        name = f"{prefix}{key}"
        if isinstance(value, ml_collections.ConfigDict):
            yield from _flatten(value, name + ".")
        else:
            yield name, value


def _meaning(meanings: dict[str, str], field: str) -> str:
    return meanings.get(field) or meanings.get(field.rsplit(".", 1)[-1], "")


def config_page() -> str:
    """Markdown of every config field per suite (each env's differing values) and per agent."""
    from rosmo.agents import AGENTS
    from rosmo.suites import SUITES

    meanings = field_meanings()
    agent_fields = {field for spec in AGENTS.values() for field in spec.config_defaults}
    out = [
        "# Config fields",
        "",
        "Generated from the suite and agent registries (`rosmo.suites.SUITES`, `rosmo.agents.AGENTS`); the",
        "meaning of a field is the comment that defines it in the source. Set any field with",
        "`--config.FIELD=VALUE` (`rosmo train`, `rosmo sweep --set FIELD=VALUE`, `rosmo deploy`).",
        "",
        "## Suites",
        "",
        "`--config=<suite>:<arg>` loads a suite's config. Each table lists the fields of the suite's first",
        "config with their defaults, and the values of the suite's other configs where they differ.",
        "Agent fields appear here only where the suite changes the agent's default.",
        "",
    ]
    for name, suite in SUITES.items():
        envs = list(suite.env_names())
        shown = envs if len(envs) <= 6 else envs[:3]
        configs = {}
        for env in shown:
            try:
                configs[env] = dict(_flatten(suite.get_config(env)))
            except Exception as exc:  # a config that needs a dataset or an extra package: say so, go on
                configs[env] = {"(error)": f"{type(exc).__name__}: {exc}"}
        first = configs[shown[0]]
        out += [f"### {name}", "", _cell(getattr(suite, "description", "")), ""]
        more = f" ({len(envs)} envs; the first {len(shown)} shown)" if len(envs) > len(shown) else ""
        out += [
            f"Configs: {', '.join(f'`{name}:{e}`' for e in envs[:12])}{' ...' if len(envs) > 12 else ''}{more}.",
            "",
        ]
        out += ["| field | `" + f"{name}:{shown[0]}`" + " | other configs | meaning |", "|---|---|---|---|"]
        for field, value in first.items():
            agent_default = None
            for spec in AGENTS.values():
                if field in spec.config_defaults:
                    agent_default = spec.config_defaults[field]
            if field in agent_fields:
                try:
                    same = agent_default == value or (hasattr(agent_default, "get") and agent_default.get() == value)
                except Exception:
                    same = False
                if same and all(c.get(field) == value for c in configs.values()):
                    continue
            others = [
                f"{env}: {_code(c.get(field))}"
                for env, c in configs.items()
                if env != shown[0] and c.get(field) != value
            ]
            out.append(
                f"| `{field}` | {_code(value)} | {_cell(', '.join(others))} | {_cell(_meaning(meanings, field))} |"
            )
        out.append("")
    out += [
        "## Agents",
        "",
        "`--config.algo` picks an agent; its own fields are in every config and checked only",
        "when it is selected.",
        "",
    ]
    for name, spec in AGENTS.items():
        out += [f"### {name}", "", _cell(spec.description), ""]
        rules = ", ".join(f"`{p}`" for p in spec.act_policies)
        out += [f"Acting rules (`--config.act_policy`, the default first): {rules}.", ""]
        acting = set(getattr(spec, "acting_fields", ()) or ())
        if spec.config_defaults:
            out += ["| field | default | meaning |", "|---|---|---|"]
            for field, default in spec.config_defaults.items():
                if hasattr(default, "get") and hasattr(default, "get_type"):
                    default = default.get()
                note = " (acting: `rosmo evaluate --set` may change it)" if field in acting else ""
                out.append(f"| `{field}` | {_code(default)} | {_cell(_meaning(meanings, field))}{note} |")
        else:
            out.append("No fields of its own.")
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------- API


def api_modules() -> list[str]:
    """Every importable module of the package, found by walking the tree (packages first)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__main__" or "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(not re.fullmatch(r"[A-Za-z_]\w*", p) for p in parts):
            continue
        names.append(".".join(parts))
    return sorted(set(names))
