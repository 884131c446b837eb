"""Errors a user's input can cause, shared by every layer (the bottom of the import graph).

Every error caused by a user's input (a flag, a config field, a file or directory) is a `UserError`:
the CLI prints its message in one line and exits with code 2 (`rosmo.cli.main`).
"""

from __future__ import annotations

from typing import Any


class UserError(ValueError):
    """An input the user gave cannot be used; the message names it (file, field or flag) and what was expected."""


class ConfigError(UserError):
    """A config field has a value the run cannot use; the message names the `--config.*` flag."""


def check_field(condition: bool, field: str, expected: str, value: Any) -> None:
    """Raise `ConfigError("--config.<field>=<value>: expected <expected>")` unless `condition`."""
    if not condition:
        raise ConfigError(f"--config.{field}={value!r}: expected {expected}")


class NonFiniteError(RuntimeError):
    """Training produced a non-finite loss, gradient or parameter; the message names the step and the metric."""
