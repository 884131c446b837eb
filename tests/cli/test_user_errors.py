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


@pytest.mark.parametrize("cls", [ConfigError, ConfigDriftError, CheckpointError, DatasetError, DeploymentError,
                                 EvaluateError, ReportError, SweepError, VideoError, WatchError, WorkdirError])
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
