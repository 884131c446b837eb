"""Errors a user's input can cause, shared by every layer (the bottom of the import graph).

Every error caused by a user's input (a flag, a config field, a file or directory) is a `UserError`:
the CLI prints its message in one line and exits with code 2 (`rosmo.cli.main`).
"""

from __future__ import annotations

from typing import Any, Optional


class UserError(ValueError):
    """An input the user gave cannot be used; the message names it (file, field or flag) and what was expected."""


class DatasetError(UserError):
    """A dataset on disk is missing, malformed, or does not match the expected schema."""


class ConfigError(UserError):
    """A config (or one of its fields) the run cannot use.

    The library names fields, not flags: with `field` (dotted, e.g. "unroll_steps", "trpo.horizon") the
    message starts with it ("unroll_steps=0: expected an integer >= 1"); with `spec` (a config's name or
    file, e.g. "bsuite:pong") it starts with that. The CLI spells them as its flags
    (`rosmo.cli.user_message`: "--config.unroll_steps=0: ...", "--config=bsuite:pong: ...").
    """

    def __init__(self, message: str, field: Optional[str] = None, spec: Optional[str] = None):
        super().__init__(message)
        self.field = field
        self.spec = spec


def check_field(condition: bool, field: str, expected: str, value: Any) -> None:
    """Raise `ConfigError("<field>=<value>: expected <expected>", field=field)` unless `condition`.

    Args:
      condition: whether the value is usable.
      field: the dotted config field.
      expected: what a usable value is, in words ("an integer >= 1").
      value: the value found (shown with repr).
    """
    if not condition:
        raise ConfigError(f"{field}={value!r}: expected {expected}", field=field)


class NonFiniteError(RuntimeError):
    """Training produced a non-finite loss, gradient or parameter; the message names the step and the metric."""
