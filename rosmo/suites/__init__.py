"""Environment suites: the registry. `_TABLE` below lists every suite; it is the only list.

Adding a suite: write `rosmo/suites/<name>.py` (a `Suite` subclass: its config, dataset
source, online env, evaluation, references, and `SUITE = <the subclass>()`) and
`rosmo/envs/<name>.py` (the environment), then add the module's row to `_TABLE`.

The rows hold what `rosmo <command> --help` shows (name, description), so the help lists the
suites without importing JAX or TensorFlow: a suite's module is imported when its name is first
looked up in `SUITES` (`rosmo.registry.LazyRegistry`). tests/suites/test_registry.py checks
every row against its module's `SUITE`.
"""

from typing import NamedTuple, Optional

from rosmo.errors import ConfigError
from rosmo.registry import LazyRegistry


class SuiteEntry(NamedTuple):
    """One row of the registry: where the suite's `SUITE` lives and what `--help` says about it."""

    module: Optional[str]  # the module defining SUITE (None: registered at run time)
    description: str  # = SUITE.description


_TABLE = {
    "bsuite": SuiteEntry(
        "rosmo.suites.bsuite",
        "BSuite catch, cartpole, mountain_car (datasets: an online DQN's whole run, made locally)",
    ),
    "atari": SuiteEntry(
        "rosmo.suites.atari", "Atari 2600 (RL Unplugged datasets; ALE vector env under the RL Unplugged protocol)"
    ),
    "mujoco": SuiteEntry(
        "rosmo.suites.mujoco", "gymnasium MuJoCo locomotion (continuous actions; agent: bremen via `rosmo deploy`)"
    ),
    "minatar": SuiteEntry(
        "rosmo.suites.minatar",
        "MinAtar asterix, breakout, freeway, seaquest, space_invaders (datasets: an online DQN's whole run)",
    ),
}


def _entry_of(suite) -> SuiteEntry:
    return SuiteEntry(None, suite.description)


SUITES = LazyRegistry(_TABLE, "SUITE", _entry_of)  # name -> Suite


def get_suite(name: str):
    """The registered suite `name` (a Suite); ConfigError naming the field `suite` and the choices otherwise."""
    if name not in SUITES:
        raise ConfigError(f"suite={name!r} is not available; choose one of {sorted(SUITES)}", field="suite")
    return SUITES[name]


def parse_env(text: str) -> tuple:
    """ "atari:pong" -> (the Atari suite, "Pong"); ValueError saying what is expected otherwise."""
    head, sep, name = str(text).partition(":")
    if not sep or head.strip().lower() not in SUITES or not name.strip():
        usage = "expected <suite>:<env> with suite one of " + ", ".join(
            f"{s.name} (e.g. {s.name}:{s.env_names()[0]})" for s in SUITES.values()
        )
        raise ValueError(f"{text!r}: {usage}")
    suite = SUITES[head.strip().lower()]
    return suite, suite.canonical_env(name.strip())


__all__ = ["SUITES", "SuiteEntry", "get_suite", "parse_env"]
