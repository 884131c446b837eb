"""A tiny catch-shaped dataset (observations 10x5, 3 actions, normalisation references) for real sweep runs."""

import os

import numpy as np
import pytest

from rosmo.sweep.spec import load_sweep_file
from tests.conftest import make_episode, write_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_SWEEP = os.path.join(ROOT, "experiments", "sweeps", "tiny.yaml")
# experiments/sweeps/tiny.yaml's `set` (tests/conftest.py TINY_CATCH_FLAGS' learner), as --set items
TINY_SETTINGS = [f"{field}={value}" for field, value in load_sweep_file(TINY_SWEEP).fixed.items()]
# The random bits of the in-process tiny runs (`jax.threefry_partitionable(False)` in tests/conftest.py): with
# them a sweep's worker loads those runs' compiled programs instead of compiling its own.
SESSION_RANDOM_BITS = {"JAX_THREEFRY_PARTITIONABLE": "false"}


@pytest.fixture(autouse=True)
def _session_random_bits(monkeypatch):
    for name, value in SESSION_RANDOM_BITS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """<root>/catch: 12 short episodes shaped like BSuite catch; use --set 'dataset_dir=<root>/{env}'."""
    root = tmp_path_factory.mktemp("datasets")
    episodes = [make_episode(e, 5 + e % 4, obs_shape=(10, 5)) for e in range(12)]
    for ep in episodes:
        ep["steps"]["observation"] = (ep["steps"]["observation"] % 2).astype(np.float32)
    meta = {"env": "catch", "num_actions": 3, "random_return": -0.6, "dqn_return": 1.0}
    write_dataset(str(root / "catch"), episodes, metadata=meta)
    return str(root)


@pytest.fixture(scope="session")
def compile_cache(tmp_path_factory):
    """One JAX compilation cache for every worker of the sweep tests (the second run of a program is faster):
    the test session's (tests/conftest.py; persistent by default, so a later session loads the sweep runs'
    programs too), else a new directory."""
    return os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(tmp_path_factory.mktemp("jax_cache"))
