"""`--config.FIELD=VALUE` (and its synonym `--set FIELD=VALUE`) on every command that takes config fields."""

import importlib

import pytest

import rosmo.cli.deploy  # noqa: F401
import rosmo.cli.sweep  # noqa: F401
import rosmo.cli.train  # noqa: F401
import rosmo.configs.loading  # noqa: F401  the library the commands import in run(), imported before any capture
import rosmo.sweep.executors  # noqa: F401
import rosmo.deploy.jobs  # noqa: F401
import rosmo.training.loop  # noqa: F401
from rosmo import cli
from rosmo.cli import ConfigFlag, spell_as_typed, split_config_flags, typed_flag

# a minimal valid command line per command that takes config fields
CONFIG_COMMANDS = {
    ("train",): ["--config=bsuite:catch"],
    ("evaluate",): ["--checkpoint", "runs/x"],
    ("deploy",): ["--agent", "bc"],
    ("sweep",): ["--config", "bsuite:catch", "--out", "runs/s"],
}


def test_the_commands_that_take_config_fields():
    taking = {
        path
        for path, (module, _) in cli.COMMANDS.items()
        if getattr(importlib.import_module(module), "CONFIG_OVERRIDES", False)
    }
    assert taking == set(CONFIG_COMMANDS)


def test_split_keeps_order_and_spelling():
    rest, flags = split_config_flags(
        [
            "train",
            "--config=bsuite:catch",
            "--config.num_steps=60",
            "--set",
            "algo=mzu",
            "--config.trpo.iterations",
            "5",
            "--set=seed=3",
            "--workdir",
            "w",
        ]
    )
    assert rest == ["train", "--config=bsuite:catch", "--workdir", "w"]
    assert flags == ["num_steps=60", "algo=mzu", "trpo.iterations=5", "seed=3"]
    assert [f.typed for f in flags] == ["--config.", "--set", "--config.", "--set"]
    assert [typed_flag(f) for f in flags] == ["--config.num_steps", "--set", "--config.trpo.iterations", "--set"]
    after_dashes = ["a", "--", "--config.x=1", "--set", "y=2"]
    assert split_config_flags(after_dashes) == (after_dashes, [])


@pytest.mark.parametrize("argv", [["--config.num_steps"], ["--set"]])
def test_a_flag_without_a_value_is_a_usage_error(argv, capsys):
    with pytest.raises(ValueError, match="expected"):
        split_config_flags(argv)
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(["train", "--config=bsuite:catch", *argv])
    assert exit_info.value.code == 2 and f"rosmo train: error: {argv[0]}: expected" in capsys.readouterr().err


@pytest.mark.parametrize("path", list(CONFIG_COMMANDS), ids=" ".join)
def test_every_config_command_takes_both_spellings(path, capsys):
    base = [*path, *CONFIG_COMMANDS[path]]
    for flags in (
        ["--config.num_steps=60"],
        ["--config.num_steps", "60"],
        ["--set", "num_steps=60"],
        ["--set=num_steps=60"],
    ):
        _, args = cli.parse_args(base + flags)
        assert args.config_overrides == ["num_steps=60"], flags
    _, args = cli.parse_args(base + ["--config.a=1", "--set", "b=2", "--config.a=3"])
    assert args.config_overrides == ["a=1", "b=2", "a=3"]  # applied in the order given: the last one wins
    help_text = capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main([*path, "--help"])
    help_text = capsys.readouterr().out
    assert "--config.FIELD VALUE" in help_text and "--set FIELD=VALUE" in help_text


def test_commands_without_config_fields_refuse_them(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(["report", "runs/x", "--config.num_steps=60"])
    assert exit_info.value.code == 2 and "unrecognized arguments: --config.num_steps=60" in capsys.readouterr().err


def test_errors_spell_the_flag_as_typed():
    as_set, as_config = ConfigFlag("num_steps=six", "--set"), ConfigFlag("search_depth=deep", "--config.")
    assert (
        spell_as_typed("--config.num_steps=six: expected an integer", [as_set])
        == "--set num_steps=six: expected an integer"
    )
    assert (
        spell_as_typed("--set search_depth=deep: expected an integer", [as_config])
        == "--config.search_depth=deep: expected an integer"
    )
    # other fields, longer and nested names are left alone
    message = "--config.num_steps_max=1, --config.num_steps.x=2, --config.batch_size=3"
    assert spell_as_typed(message, [as_set]) == message


def test_train_applies_both_spellings_in_order(capsys):
    code = cli.main(
        [
            "train",
            "--config=bsuite:catch",
            "--config.num_steps",
            "77",
            "--set",
            "unroll_steps=3",
            "--config.unroll_steps=4",
            "--print-config",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "num_steps: 77" in out and "unroll_steps: 4" in out
    code = cli.main(["train", "--config=bsuite:catch", "--set", "num_steps=six", "--print-config"])
    assert code == 2 and "rosmo train: error: --set num_steps=six: expected an integer" in capsys.readouterr().err
    code = cli.main(["train", "--config=bsuite:catch", "--config.num_stepz=6", "--print-config"])
    assert (
        code == 2
        and "--config.num_stepz: the config has no field 'num_stepz'; did you mean num_steps?"
        in capsys.readouterr().err
    )


def test_sweep_takes_config_flags(tmp_path, capsys):
    """`rosmo sweep ... --config.num_steps=60` fixes the field for every run (it used to want `--set`)."""
    out = str(tmp_path / "sweep")
    code = cli.main(
        [
            "sweep",
            "--config",
            "bsuite:catch",
            "--grid",
            "unroll_steps=1,3",
            "--seeds",
            "0",
            "--config.num_steps=60",
            "--out",
            out,
            "--dry-run",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and printed.count("60 steps") == 2, printed
    code = cli.main(
        ["sweep", "--config", "bsuite:catch", "--seeds", "0", "--set", "num_steps=six", "--out", out, "--dry-run"]
    )
    assert code == 2 and "--set num_steps=six: expected an integer" in capsys.readouterr().err
    code = cli.main(
        ["sweep", "--config", "bsuite:catch", "--seeds", "0", "--config.num_steps=six", "--out", out, "--dry-run"]
    )
    assert code == 2 and "--config.num_steps=six: expected an integer" in capsys.readouterr().err


def test_deploy_takes_config_flags(capsys):
    code = cli.main(["deploy", "--agent", "bc", "--env", "bsuite:catch", "--config.batch_size", "24", "--print-config"])
    assert code == 0 and "batch_size: 24" in capsys.readouterr().out
    code = cli.main(["deploy", "--agent", "bc", "--env", "bsuite:catch", "--set", "batch_size=big", "--print-config"])
    assert code == 2 and "--set batch_size=big: expected an integer" in capsys.readouterr().err
