"""Shared pytest fixtures: tiny RLDS datasets written locally with `rlds.RldsWriter`.

Episode `e` of a tiny dataset has recognisable values at step `t`:
observation = e * 1000 + t (every element), action = (e + t) % 3,
reward = e + t / 10, discount = 0 on a terminal last step else 1,
is_first = (t == 0), is_last = (t == T - 1), is_terminal = is_last on even
episodes (odd episodes end truncated). The last step's action and reward are
padding 0, as in RLDS.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

# Set before JAX or TensorFlow is imported (here and in every subprocess a test starts, which inherits them):
# - a JAX compilation cache: the many tiny runs compile the same learner, actor and evaluation programs again
#   and again; a cache hit loads the executable instead. By default it persists between sessions in the user's
#   cache directory, `${XDG_CACHE_HOME:-~/.cache}/rosmo/jax-tests` (`make clean` removes it there), or
#   ROSMO_TEST_JAX_CACHE_DIR (kept to ROSMO_TEST_JAX_CACHE_MAX_MB by deleting its oldest JAX entries), shared by
#   every checkout on the machine, so a second `make test`, in a fresh clone too, mostly loads programs. JAX
#   keys an entry by the program, the jax/jaxlib version, XLA_FLAGS and the compile options (the cheap compile
#   mode below included), so a changed program or setting is a miss, never a stale hit.
#   ROSMO_TEST_JAX_CACHE=tmp: a fresh cache for this session only, removed at its end (a cold run, as on a new
#   machine); ROSMO_TEST_JAX_CACHE=0: no cache. A user-set JAX_COMPILATION_CACHE_DIR is used as it is.
# - one XLA and TensorFlow thread per process: the tests' programs are tiny, and threads waiting on each
#   other only cost CPU time on a small machine.
# - XLA's cheap compile mode (`jax_disable_most_optimizations`: LLVM backend optimisation level 0, no expensive
#   LLVM passes): most of the suite's CPU time is compiling small learner, search and acting programs that then
#   run a few steps, so a compile a third cheaper is worth a slower program. Results may differ from the
#   optimised build in the last bits (two copies of one expression fused into two kernels can round
#   differently); a test that asserts bit equality inside one program takes the `optimized_compiles` fixture.
# ROSMO_TEST_THREADS=0 / ROSMO_TEST_FAST_COMPILE=0 turn the other two off (to measure them).
_CACHE_MODE = os.environ.get("ROSMO_TEST_JAX_CACHE", "1")
PERSISTENT_JAX_CACHE = os.environ.get("ROSMO_TEST_JAX_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "rosmo", "jax-tests"
)
PERSISTENT_JAX_CACHE_MAX_BYTES = int(os.environ.get("ROSMO_TEST_JAX_CACHE_MAX_MB", "1024")) * 2**20
_JAX_CACHE = None  # the cache directory this process chose (the xdist controller; workers inherit the variable)
_JAX_CACHE_IS_TEMPORARY = False
if _CACHE_MODE != "0" and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    if _CACHE_MODE != "tmp":
        try:
            os.makedirs(PERSISTENT_JAX_CACHE, exist_ok=True)
            _JAX_CACHE = PERSISTENT_JAX_CACHE
        except OSError:  # no writable cache directory: a session cache instead
            pass
    if _JAX_CACHE is None:
        _JAX_CACHE = tempfile.mkdtemp(prefix="rosmo-tests-jax-cache-")
        _JAX_CACHE_IS_TEMPORARY = True
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _JAX_CACHE
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
if os.environ.get("ROSMO_TEST_THREADS", "1") != "0":
    _flags = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in _flags:
        os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1 {_flags}".strip()
    for _name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(_name, "1")
if os.environ.get("ROSMO_TEST_FAST_COMPILE", "1") != "0":
    os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

from typing import Any, Optional, Sequence  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# JAX, TensorFlow and rosmo are imported inside the fixtures and helpers that use them: the pytest-xdist
# controller process loads this file too and runs no test, so it does not pay for their import (~5 s).


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: trains, deploys or sweeps end to end (seconds to minutes); `make test-fast` leaves these out"
    )


# Under `pytest -n 2 --dist loadfile` (pytest-xdist, `make test`): each file's tests run on one worker (its module
# fixtures are built once), and files sharing a costly session fixture run on one worker too, so the fixture is
# built once (session fixtures are per worker). Files not listed are their own group.
SHARED_FIXTURE_GROUPS = {
    "tests/cli/test_evaluate.py": "trained_runs",  # tiny_catch_run, tiny_atari_run
    "tests/cli/test_errors.py": "trained_runs",  # tiny_catch_run
    "tests/training/test_loop_atari.py": "trained_runs",  # tiny_atari_run
    "tests/sweep/test_local.py": "sweep",  # tiny_root, compile_cache
    "tests/sweep/test_slurm.py": "sweep",
    "tests/sweep/test_executors.py": "sweep",
}


def _group(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return SHARED_FIXTURE_GROUPS.get(path, path)


def pytest_collection_modifyitems(config, items):
    """On an xdist worker: the groups holding `slow` tests first, so the scheduler hands out the long ones before
    the many short files (no long tail on one worker). Every worker sorts its identical collection the same way."""
    if not hasattr(config, "workerinput"):
        return
    slow = {_group(item.nodeid) for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: _group(item.nodeid) not in slow)  # stable: collection order within each part


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pytest-xdist not installed: plain `pytest` needs none of this
    LoadScopeScheduling = None
else:

    class _FileGroupScheduling(LoadScopeScheduling):
        """`--dist loadfile` whose units are the groups of `_group`, handed out in collection order."""

        def __init__(self, config, log=None):
            super().__init__(config, log)
            config.option.loadscopereorder = False

        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid)

    def pytest_xdist_make_scheduler(config, log):
        if config.getvalue("dist") == "loadfile":
            return _FileGroupScheduling(config, log)
        return None


@pytest.fixture
def optimized_compiles():
    """This test's programs are compiled with XLA's full optimisations (the session default is the cheap mode)."""
    import jax

    previous = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", False)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)


JAX_CACHE_ENTRY = re.compile(r".+-[0-9a-f]{64}-(cache|atime)")
"""The name of a file JAX's compilation cache writes: `<program>-<sha256 key>-cache` (and `-atime`)."""


def _prune_cache(directory: str, max_bytes: int) -> None:
    """Delete the oldest-written entries of a JAX cache directory over `max_bytes`, down to half of it (JAX
    rewrites an entry it misses, so this only costs compiles). Only files named as JAX names its entries are
    counted or deleted, so a chosen directory's other files are left alone. Our own because JAX's size-bounded
    LRU eviction needs the `filelock` package, which the pinned environment does not have."""
    entries = []
    for entry in os.scandir(directory):
        if entry.is_file() and JAX_CACHE_ENTRY.fullmatch(entry.name):
            stat = entry.stat()
            entries.append((stat.st_mtime, stat.st_size, entry.path))
    total = sum(size for _, size, _ in entries)
    if total <= max_bytes:
        return
    for _, size, path in sorted(entries):
        if total <= max_bytes // 2:
            break
        try:
            os.remove(path)
        except OSError:
            continue
        total -= size


def pytest_unconfigure(config):
    """Remove this session's temporary JAX compilation cache, or keep the persistent one under its size limit."""
    if _JAX_CACHE is None:
        return
    if _JAX_CACHE_IS_TEMPORARY:
        shutil.rmtree(_JAX_CACHE, ignore_errors=True)
    else:
        _prune_cache(_JAX_CACHE, PERSISTENT_JAX_CACHE_MAX_BYTES)


TINY_LENGTHS = (4, 7, 3, 5, 6)
TINY_OBS_SHAPE = (2, 3)
TINY_METADATA = {"env": "catch", "num_actions": 3, "seed": 7, "behaviour": "test"}


def make_episode(e: int, length: int, obs_shape: Sequence[int] = TINY_OBS_SHAPE) -> dict[str, Any]:
    """Episode `e` of `length` steps with the recognisable values described in the module docstring."""
    t = np.arange(length)
    last = t == length - 1
    terminal = last & (e % 2 == 0)
    obs = (e * 1000 + t).astype(np.float32).reshape(length, *([1] * len(obs_shape)))
    steps = {
        "observation": np.broadcast_to(obs, (length, *obs_shape)).astype(np.float32),
        "action": np.where(last, 0, (e + t) % 3).astype(np.int64),
        "reward": np.where(last, 0.0, e + t / 10).astype(np.float32),
        "discount": np.where(terminal, 0.0, 1.0).astype(np.float32),
        "is_first": t == 0,
        "is_last": last,
        "is_terminal": terminal,
    }
    return {"steps": steps, "episode_id": e, "episode_return": np.float32(steps["reward"].sum())}


def write_dataset(
    path: str,
    episodes: list[dict[str, Any]],
    features=None,
    metadata: Optional[dict[str, Any]] = None,
    name: str = "tiny",
    max_episodes_per_shard: int = 1000,
) -> str:
    """Write `episodes` to `path` with `RldsWriter` (BSuite schema of the first episode's obs shape by default)."""
    from rosmo.data import rlds

    if features is None:
        features = rlds.bsuite_features(episodes[0]["steps"]["observation"].shape[1:])
    meta = metadata if metadata is not None else dict(TINY_METADATA)
    with rlds.RldsWriter(str(path), name, features, meta, max_episodes_per_shard=max_episodes_per_shard) as w:
        for ep in episodes:
            w.add_episode(ep)
    return str(path)


@pytest.fixture(scope="session")
def tiny_episodes() -> list[dict[str, Any]]:
    """The episodes of `tiny_dataset`, as written."""
    return [make_episode(e, n) for e, n in enumerate(TINY_LENGTHS)]


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, tiny_episodes) -> str:
    """A BSuite-shaped RLDS dataset directory: 5 episodes of lengths 4, 7, 3, 5, 6 (25 steps)."""
    return write_dataset(tmp_path_factory.mktemp("rlds") / "tiny", tiny_episodes)


@pytest.fixture(scope="session")
def many_episodes_dataset(tmp_path_factory) -> str:
    """20 short episodes (lengths 2..5) for data-percentage tests."""
    episodes = [make_episode(e, 2 + e % 4) for e in range(20)]
    return write_dataset(tmp_path_factory.mktemp("rlds") / "many", episodes)


CATCH_META = {"env": "catch", "num_actions": 3, "random_return": -0.5, "dqn_return": 1.0}
TINY_CATCH_FLAGS = [
    "--config.batch_size=8",
    "--config.num_bins=11",
    "--config.warmup_steps=0",
    "--config.eval_episodes=1",
    "--config.eval_parallel=1",
    "--config.use_tensorboard=false",
    "--no-progress",
]


@pytest.fixture(scope="session")
def tiny_catch_data(tmp_path_factory) -> str:
    """6 catch-shaped episodes (observations 10x5) of 9 steps, 3 per shard, whose metadata names catch and
    its references (random -0.5, dqn 1.0)."""
    episodes = [make_episode(e, 9, obs_shape=(10, 5)) for e in range(6)]
    return write_dataset(
        str(tmp_path_factory.mktemp("tiny_catch") / "good"), episodes, metadata=CATCH_META, max_episodes_per_shard=3
    )


@pytest.fixture(scope="session")
def tiny_catch_run(tiny_catch_data, tmp_path_factory) -> str:
    """ROSMO trained 2 steps on `tiny_catch_data` by `rosmo train` (checkpoints 1 and 2, evaluated at step 2).

    Shared by the evaluate and error tests: they read it, and copy it before changing it."""
    import jax

    from rosmo import cli

    workdir = str(tmp_path_factory.mktemp("tiny_catch_run") / "run")
    with jax.threefry_partitionable(False):  # other random bits, ~10x faster init compile on XLA:CPU
        code = cli.main(
            [
                "train",
                "--config=bsuite:catch",
                f"--workdir={workdir}",
                f"--config.dataset_dir={tiny_catch_data}",
                "--config.num_steps=2",
                "--config.checkpoint_every=1",
                "--config.eval_every=2",
                *TINY_CATCH_FLAGS,
            ]
        )
    assert code == 0
    return workdir


@pytest.fixture(scope="session")
def tiny_atari_data(tmp_path_factory) -> str:
    """A local rlu_atari Pong dataset: 300 random steps over 2 envs, episodes cut at 400 frames (100 steps)."""
    from rosmo.data import atari_maker

    root = str(tmp_path_factory.mktemp("atari"))
    atari_maker.make_dataset(
        "Pong", 300, root, policy="random", seed=3, num_envs=2, max_episode_frames=400, show_progress=False
    )
    return root


@pytest.fixture(scope="session")
def tiny_atari_run(tiny_atari_data, tmp_path_factory) -> tuple[str, dict[str, Any]]:
    """ROSMO (`atari:Pong,small`: small ResNet, K = n = 5) trained 2 steps on `tiny_atari_data`, batch 4,
    checkpoint and evaluation (2 episodes of 200 frames) at step 2: (workdir, the summary `train` returned).
    The ResNet has the down-sampling stem's blocks but no representation, dynamics or prediction blocks
    (fewer ops to compile in every program that reads the checkpoint; tests/networks/test_resnet.py covers them).

    Checked by tests/training/test_loop_atari.py; its checkpoint is the one `rosmo evaluate` and the
    checkpoint-policy tests read (tests/cli/test_evaluate.py)."""
    import jax

    from rosmo.suites.configs.atari import get_config
    from rosmo.training.loop import train

    c = get_config("Pong,small")
    c.data_dir = tiny_atari_data
    c.update(
        batch_size=4,
        num_steps=2,
        warmup_steps=1,
        log_every=1,
        eval_every=2,
        checkpoint_every=2,
        eval_episodes=2,
        eval_parallel=2,
        eval_max_episode_frames=200,
        episodes_in_flight=4,
        use_tensorboard=False,
        representation_blocks=0,
        dynamics_blocks=0,
        prediction_blocks=0,
    )
    workdir = str(tmp_path_factory.mktemp("tiny_atari_run") / "run")
    with jax.threefry_partitionable(False):  # other random bits, ~10x faster init compile on XLA:CPU
        summary = train(c, workdir, progress=False)
    return workdir, summary
