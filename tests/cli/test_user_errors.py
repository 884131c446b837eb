"""One base class for user errors: every one is a `UserError`, and the CLI turns one into a line and exit code 2."""

import pytest

from rosmo import cli
from rosmo.data.rlds import DatasetError
from rosmo.deploy.loop import DeploymentError
from rosmo.errors import ConfigError, NonFiniteError, UserError
from rosmo.evaluation.video import VideoError
from rosmo.evaluator.checkpoint_eval import EvaluateError
from rosmo.evaluator.watch import WatchError
from rosmo.report.collect import ReportError
from rosmo.sweep.spec import SweepError
from rosmo.training.checkpoint import CheckpointError, CheckpointWriteError
from rosmo.training.workdir import ConfigDriftError, WorkdirError


@pytest.mark.parametrize(
    "cls",
    [
        ConfigError,
        ConfigDriftError,
        CheckpointError,
        DatasetError,
        DeploymentError,
        EvaluateError,
        ReportError,
        SweepError,
        VideoError,
        WatchError,
        WorkdirError,
    ],
)
def test_every_user_error_is_a_user_error(cls):
    assert issubclass(cls, UserError) and issubclass(cls, ValueError)


@pytest.mark.parametrize("cls", [NonFiniteError, CheckpointWriteError])
def test_failures_of_a_run_are_not_user_errors(cls):
    assert not issubclass(cls, UserError)


def test_the_cli_prints_a_user_error_in_one_line(monkeypatch, capsys, tmp_path):
    import rosmo.cli.report as report_command

    def fail(args):
        raise DatasetError(f"{args.sweep_dir}: no runs (expected run directories with config.json)")

    monkeypatch.setattr(report_command, "run", fail)
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"rosmo report: error: {tmp_path}: no runs (expected run directories with config.json)\n"


def test_the_cli_spells_config_fields_and_names_as_flags():
    from rosmo.errors import check_field

    with pytest.raises(ConfigError) as err:
        check_field(False, "unroll_steps", "an integer >= 1", 0)
    assert str(err.value) == "unroll_steps=0: expected an integer >= 1" and err.value.field == "unroll_steps"
    assert cli.user_message(err.value) == "--config.unroll_steps=0: expected an integer >= 1"
    spec_error = ConfigError("bsuite:pong: unknown BSuite config 'pong'", spec="bsuite:pong")
    assert cli.user_message(spec_error) == "--config=bsuite:pong: unknown BSuite config 'pong'"
    assert cli.user_message(DatasetError("d: missing")) == "d: missing"


def test_library_messages_spell_no_config_flags():
    """Only rosmo/cli/ spells `--config.FIELD` / `--config=NAME` in an error message; the library names fields."""
    import ast
    import os

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "rosmo")
    found = []
    for directory, _, files in os.walk(root):
        if os.path.basename(directory) == "cli":
            continue
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            for node in ast.walk(ast.parse(open(path).read())):
                if isinstance(node, ast.Raise) and node.exc is not None:
                    for part in ast.walk(node.exc):
                        if (
                            isinstance(part, ast.Constant)
                            and isinstance(part.value, str)
                            and ("--config." in part.value or "--config=" in part.value)
                        ):
                            found.append(f"{os.path.relpath(path, root)}:{node.lineno}")
    assert not found, found
