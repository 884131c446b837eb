"""Environment suites: the registry. Each suite module exports one `SUITE`; this list is the only one.

Adding a suite: write `rosmo/suites/<name>.py` (a `Suite` subclass: its config, dataset
source, online env, evaluation, references) and `rosmo/envs/<name>.py` (the environment),
then add the module's `SUITE` to `_SUITES` below.
"""

from typing import Dict, Tuple

from rosmo.suites import atari, bsuite, minatar, mujoco
from rosmo.suites.base import DatasetSpec, Reference, Suite

_SUITES = (
    bsuite.SUITE,
    atari.SUITE,
    mujoco.SUITE,
    minatar.SUITE,
)

SUITES: Dict[str, Suite] = {suite.name: suite for suite in _SUITES}


def get_suite(name: str) -> Suite:
    """The registered suite `name`; ValueError naming `--config.suite` and the choices otherwise."""
    if name not in SUITES:
        raise ValueError(f"--config.suite={name!r} is not available; choose one of {sorted(SUITES)}")
    return SUITES[name]


def parse_env(text: str) -> Tuple[Suite, str]:
    """"atari:pong" -> (the Atari suite, "Pong"); ValueError saying what is expected otherwise."""
    head, sep, name = str(text).partition(":")
    usage = "expected <suite>:<env> with suite one of " + ", ".join(
        f"{s.name} (e.g. {s.name}:{s.env_names()[0]})" for s in SUITES.values())
    if not sep or head.strip().lower() not in SUITES or not name.strip():
        raise ValueError(f"{text!r}: {usage}")
    suite = SUITES[head.strip().lower()]
    return suite, suite.canonical_env(name.strip())


__all__ = ["SUITES", "DatasetSpec", "Reference", "Suite", "get_suite", "parse_env"]
