"""`rosmo <command> --help`: answers without importing JAX/TensorFlow, and every example in it parses as written."""

import os
import re
import shlex
import subprocess
import sys

import pytest

from rosmo import cli
from rosmo.sweep.spec import load_sweep_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAVY = ("jax", "jaxlib", "tensorflow", "tensorflow_datasets", "haiku", "optax", "orbax", "rlax", "mctx", "distrax")
HELP_PATHS = [()] + sorted({path[:1] for path in cli.COMMANDS if len(path) > 1}) + list(cli.COMMANDS)
INPUT_SUFFIXES = (".py", ".yaml", ".yml")  # files an example reads (configs, sweep files); outputs (.json) are made


def _imported_modules(stderr: str) -> set:
    """Top-level names of the modules `python -X importtime` reports."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "imported package":
                names.add(name.split(".")[0])
    return names


@pytest.mark.parametrize("path", HELP_PATHS, ids=lambda p: " ".join(p) or "rosmo")
def test_help_imports_no_jax(path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rosmo.cli", *path, "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f"usage: {' '.join(('rosmo',) + path)}"), proc.stdout[:200]
    modules = _imported_modules(proc.stderr)
    assert "rosmo" in modules  # the report is read right
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def _help_text(path, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*path, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def help_examples(text: str):
    """The command lines of a help text's `examples:` block (up to a blank line), `\\` continuations joined."""
    _, found, block = text.partition("\nexamples:\n")
    assert found, "no examples: block"
    examples, current = [], None
    for line in block.split("\n\n")[0].splitlines():
        stripped = line.strip()
        if current is None:
            assert stripped.startswith("rosmo "), line
            current = ""
        current += " " + stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            examples.append(shlex.split(current, comments=True))
            current = None
    return examples


def _input_files(argv):
    """Paths of the files an example reads: sweep files, config files (`path.py:arg`), anything under experiments/."""
    for token in argv:
        value = token.split("=", 1)[1] if token.startswith("--") and "=" in token else token
        path = value.split(":", 1)[0] if ".py:" in value else value
        if path.startswith("experiments/") or (not path.startswith("-") and path.endswith(INPUT_SUFFIXES)):
            yield path


@pytest.mark.parametrize("path", list(cli.COMMANDS), ids=" ".join)
def test_every_help_example_parses_as_written(path, capsys):
    module, _ = cli.COMMANDS[path]
    examples = help_examples(_help_text(path, capsys))
    assert examples, f"rosmo {' '.join(path)} --help shows no example"
    for argv in examples:
        assert argv[0] == "rosmo" and tuple(argv[1 : 1 + len(path)]) == path, argv
        try:
            _, args = cli.parse_args(argv[1:])
        except SystemExit:
            pytest.fail(f"the example does not parse: {shlex.join(argv)}\n{capsys.readouterr().err}")
        assert args._module == module
        for name in _input_files(argv):
            assert os.path.isfile(os.path.join(ROOT, name)), f"{shlex.join(argv)}: {name} is not in the repository"


@pytest.mark.parametrize("path", list(cli.COMMANDS), ids=" ".join)
def test_command_parser_is_the_help(path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert cli.command_parser(path).format_help() == _help_text(path, capsys)


def test_help_examples_are_found():
    text = (
        "usage\n\nexamples:\n    rosmo sweep a.yaml --out x   # note\n    rosmo sweep --out y \\\n"
        "        --dry-run\n\nrosmo b\n"
    )
    assert help_examples(text) == [
        ["rosmo", "sweep", "a.yaml", "--out", "x"],
        ["rosmo", "sweep", "--out", "y", "--dry-run"],
    ]
    argv = ["rosmo", "train", "--config=experiments/bsuite/config.py:cartpole", "--json", "o.json"]
    assert list(_input_files(argv)) == ["experiments/bsuite/config.py"]


def test_sweep_examples_name_sweep_files_that_load(capsys):
    files = [argv[2] for argv in help_examples(_help_text(("sweep",), capsys)) if not argv[2].startswith("-")]
    assert files and all(re.match(r"experiments/sweeps/\w+\.yaml$", f) for f in files), files
    for name in files:
        assert load_sweep_file(os.path.join(ROOT, name)).seeds
