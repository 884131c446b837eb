"""Every user error of issue 13 ends in one line naming the file, field or flag (exit 2), never a traceback."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from rosmo import cli
from rosmo.data import atari_maker, rlds
from rosmo.training.checkpoint import Checkpointer, load_params
from rosmo.training.workdir import WorkdirLock
from tests.conftest import make_episode, write_dataset

FAST_INIT = jax.threefry_partitionable(False)  # ~10x faster init compile on XLA:CPU
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CATCH_META = {"env": "catch", "num_actions": 3, "random_return": -0.5, "dqn_return": 1.0}
FAST = [
    "--config.batch_size=8",
    "--config.num_bins=11",
    "--config.warmup_steps=0",
    "--config.eval_episodes=1",
    "--config.eval_parallel=1",
    "--config.use_tensorboard=false",
    "--no-progress",
]


def _features_shape(path, shape):
    """Rewrite the observation shape in `path`/features.json (the data keeps its own)."""
    features = os.path.join(path, "features.json")
    spec = json.load(open(features))
    steps = spec["featuresDict"]["features"]["steps"]["sequence"]["feature"]["featuresDict"]["features"]
    obs = steps["observation"]
    (obs.get("tensor") or obs["image"])["shape"]["dimensions"] = [str(d) for d in shape]
    json.dump(spec, open(features, "w"))


@pytest.fixture(scope="module")
def data(tmp_path_factory, tiny_catch_data):
    """Catch-shaped tiny datasets: good, with an inf reward, num_actions 2 with action 2, a truncated shard,
    a features.json that disagrees with the data."""
    root = tmp_path_factory.mktemp("errors")
    episodes = [make_episode(e, 9, obs_shape=(10, 5)) for e in range(6)]
    out = {"good": tiny_catch_data}  # the data of the shared `tiny_catch_run`
    bad = [dict(e, steps=dict(e["steps"])) for e in episodes]
    bad[4]["steps"]["reward"] = bad[4]["steps"]["reward"].copy()
    bad[4]["steps"]["reward"][1] = np.inf
    out["inf_reward"] = write_dataset(str(root / "inf_reward"), bad, metadata=CATCH_META)
    out["num_actions"] = write_dataset(str(root / "num_actions"), episodes, metadata=dict(CATCH_META, num_actions=2))
    out["truncated"] = shutil.copytree(out["good"], str(root / "truncated"))
    shard = os.path.join(out["truncated"], "tiny-train.tfrecord-00001")
    with open(shard, "r+b") as f:
        f.truncate(os.path.getsize(shard) // 2)
    out["reshaped"] = shutil.copytree(out["good"], str(root / "reshaped"))
    _features_shape(out["reshaped"], (10, 6))
    return out


@pytest.fixture(scope="module")
def run(tiny_catch_run):
    """A run trained 2 steps (checkpoints 1 and 2) on the good data: the session's shared `tiny_catch_run`."""
    return tiny_catch_run


def _main(capsys, *args):
    with FAST_INIT:
        code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line(code, err, *fragments, exit_code=2):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == exit_code, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _train(capsys, data_dir, workdir, *args):
    return _main(
        capsys,
        "train",
        "--config=bsuite:catch",
        f"--workdir={workdir}",
        f"--config.dataset_dir={data_dir}",
        "--config.num_steps=2",
        *FAST,
        *args,
    )


# ---------------------------------------------------------------------------
# rosmo train
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--config.learning_rat=1"], ["--config.learning_rat", "did you mean learning_rate"]),
        (["--config.keep_checkpoints=0"], ["--config.keep_checkpoints=0", "expected an integer >= 1"]),
        (["--config.network=foo"], ["--config.network='foo'", "expected one of"]),
        (["--config.seed=-1"], ["--config.seed=-1", "expected an integer >= 0"]),
        (["--config.learning_rate=nan"], ["--config.learning_rate=nan"]),
        (["--config.nonfinite=maybe"], ["--config.nonfinite='maybe'", "('stop', 'skip')"]),
        (["--config.env=cartpole"], ["--config.env='cartpole'", "holds 'catch' data"]),
    ],
)
def test_bad_config_fields(capsys, data, tmp_path, args, fragments):
    code, _, err = _train(capsys, data["good"], tmp_path / "run", *args)
    _one_line(code, err, *fragments)
    assert not os.path.exists(tmp_path / "run" / "config.json")


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("nope.py", "no config file 'nope.py'"),
        ("bsuite:pong", "unknown BSuite config 'pong'"),
        ("gym:ant", "no config file 'gym'"),
    ],
)
def test_config_name_or_file_that_does_not_exist(capsys, tmp_path, spec, fragment):
    code, _, err = _main(capsys, "train", f"--config={spec}", f"--workdir={tmp_path / 'run'}")
    _one_line(code, err, f"--config={spec}", fragment)


def test_train_on_the_mujoco_suite_is_refused_in_one_line(capsys, tmp_path):
    """mujoco:<env> is BREMEN's config (continuous actions): `rosmo train` has no window learner for it."""
    code, _, err = _main(capsys, "train", "--config=mujoco:ant", f"--workdir={tmp_path / 'run'}")
    _one_line(code, err, "--config.algo='bremen'")


@pytest.mark.parametrize(
    "name, fragments",
    [
        ("inf_reward", ["step field 'reward' holds a non-finite value", "episode 4"]),
        ("num_actions", ["step field 'action' holds 2", "num_actions=2 in the metadata"]),
        ("truncated", ["truncated or corrupt"]),
        ("reshaped", ["cannot be decoded as the dataset's features"]),
    ],
)
def test_bad_data(capsys, data, tmp_path, name, fragments):
    code, _, err = _train(capsys, data[name], tmp_path / "run")
    _one_line(code, err, data[name], *fragments)


def test_workdir_that_is_a_file_or_not_writable(capsys, data, tmp_path):
    (tmp_path / "afile").write_text("mine")
    code, _, err = _train(capsys, data["good"], tmp_path / "afile")
    _one_line(code, err, f"--workdir {tmp_path / 'afile'}: is a file")
    assert (tmp_path / "afile").read_text() == "mine"
    code, _, err = _train(capsys, data["good"], "/proc/rosmo-run")
    _one_line(code, err, "--workdir /proc/rosmo-run: cannot create it")


@pytest.mark.slow
def test_second_trainer_and_config_drift(capsys, data, run):
    lock = WorkdirLock(run)
    lock.acquire()
    try:
        code, _, err = _train(capsys, data["good"], run, "--config.num_steps=4")
        _one_line(code, err, f"--workdir {run}: another trainer is using this run directory (pid {os.getpid()}")
    finally:
        lock.release()
    code, _, err = _train(capsys, data["good"], run, "--config.num_steps=4", "--config.algo=bc")
    _one_line(code, err, "algo 'rosmo' -> 'bc'", "--allow-config-change")


def test_atari_frames_of_another_size(capsys, tmp_path):
    """An rlu_atari dataset whose PNG frames are 64x64 (RL Unplugged's are 84x84)."""
    tfds = rlds.tfds
    features = tfds.features.FeaturesDict(
        {
            "steps": tfds.features.Dataset(rlds.step_features(tfds.features.Image(shape=(64, 64, 1), dtype=np.uint8))),
            "episode_id": tfds.features.Scalar(dtype=np.int64),
            "checkpoint_id": tfds.features.Scalar(dtype=np.int64),
            "episode_return": tfds.features.Scalar(dtype=np.float32),
        }
    )
    rng = np.random.default_rng(0)
    writer = atari_maker.RluAtariWriter(str(tmp_path / "data"), "Pong", 1, metadata={"num_steps": 42})
    writer.features = features
    with writer:
        for e in range(2):
            frames = rng.integers(0, 256, (21, 64, 64), dtype=np.uint8)
            writer.add_episode(atari_maker.episode_to_rlds(frames, rng.integers(0, 6, 20), np.zeros(20), True, e))
    code, _, err = _main(
        capsys,
        "train",
        "--config=atari:Pong,small",
        f"--workdir={tmp_path / 'run'}",
        f"--config.data_dir={tmp_path / 'data'}",
        "--config.batch_size=2",
        "--config.unroll_steps=1",
        "--config.td_steps=1",
        "--config.episodes_in_flight=2",
        "--config.num_steps=1",
        "--config.use_tensorboard=false",
        "--no-progress",
    )
    _one_line(code, err, "rlu_atari/Pong_run_1", "cannot be decoded as the dataset's features", "4096 values")


# ---------------------------------------------------------------------------
# rosmo dataset bsuite
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "flag, value, fragment",
    [
        ("--reward-noise", "nan", "expected a finite number >= 0"),
        ("--reward-noise", "inf", "expected a finite number >= 0"),
        ("--reward-noise", "-1", "expected a finite number >= 0"),
        ("--sticky-action-prob", "nan", "expected a probability in [0, 1]"),
        ("--sticky-action-prob", "1.5", "expected a probability in [0, 1]"),
    ],
)
def test_dataset_noise_flags(capsys, tmp_path, flag, value, fragment):
    code, _, err = _main(
        capsys,
        "dataset",
        "bsuite",
        "--env",
        "catch",
        "--episodes",
        "2",
        flag,
        value,
        "--out",
        tmp_path / "ds",
        "--no-progress",
    )
    _one_line(code, err, f"{flag} {float(value)}", fragment)
    assert not os.path.exists(tmp_path / "ds")


# ---------------------------------------------------------------------------
# rosmo evaluate
# ---------------------------------------------------------------------------
def _evaluate(capsys, run, *args):
    return _main(capsys, "evaluate", "--checkpoint", run, "--episodes", "1", "--num-envs", "1", "--no-progress", *args)


@pytest.mark.slow
def test_evaluate_on_an_env_with_other_observations(capsys, run):
    code, _, err = _evaluate(capsys, run, "--env", "bsuite:cartpole")
    _one_line(code, err, "--env bsuite:cartpole: the env gives observations of shape (1, 6)", "takes (10, 5)")


@pytest.mark.slow
def test_evaluate_json_path_checked_before_playing(capsys, run, tmp_path):
    code, _, err = _evaluate(capsys, run, "--json", tmp_path / "missing" / "x.json")
    _one_line(code, err, "--json", "does not exist")
    os.makedirs(tmp_path / "adir.json")
    code, _, err = _evaluate(capsys, run, "--json", tmp_path / "adir.json")
    _one_line(code, err, "is a directory, expected a file name")


@pytest.mark.slow
def test_evaluate_refuses_corrupt_and_non_finite_checkpoints(capsys, run, tmp_path):
    copy = shutil.copytree(run, str(tmp_path / "copy"))
    params, extra = load_params(copy)
    with Checkpointer(os.path.join(copy, "checkpoints"), max_to_keep=5) as ckpt:
        ckpt.save(3, {"params": jax.tree.map(lambda x: np.full_like(x, np.nan), params)}, extra=dict(extra, step=3))
    code, _, err = _evaluate(capsys, copy, "--step", "3")
    _one_line(code, err, f"{copy}/checkpoints/3 cannot be used: non-finite parameters")
    files = [
        p for p in glob.glob(os.path.join(copy, "checkpoints", "2", "state", "**"), recursive=True) if os.path.isfile(p)
    ]
    victim = max(files, key=os.path.getsize)
    os.remove(victim)
    code, _, err = _evaluate(capsys, copy, "--step", "2")
    relative = os.path.relpath(victim, os.path.join(copy, "checkpoints", "2"))
    _one_line(code, err, f"checkpoints/2 cannot be used: damaged files {relative}: missing")
    code, out, err = _evaluate(capsys, copy)  # latest: 3 (NaN) and 2 (damaged) are passed over, with a warning each
    assert code == 0, err
    assert "checkpoint step 1" in out and "Traceback" not in err
    assert [line.split(" cannot be used")[0].rsplit("/", 1)[-1] for line in err.splitlines()] == ["3", "2"]


# ---------------------------------------------------------------------------
# Processes: several devices, Ctrl-C, disk full
# ---------------------------------------------------------------------------
LAUNCH = (
    "import os, resource, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "limit = int(os.environ.get('TEST_FILE_SIZE_LIMIT', '0')); "
    "limit and resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY)); "
    "os.execv(sys.executable, [sys.executable, '-m', 'rosmo.cli'] + sys.argv[1:])"
)


def _rosmo(args, cwd, env=None):
    """`rosmo ...` in a child process with SIGINT at its default (a background shell ignores it) and, with
    TEST_FILE_SIZE_LIMIT in `env`, a file-size limit: writes past it fail with EFBIG, as on a full disk.
    The child draws its random bits as FAST_INIT does, so the FAST runs load `tiny_catch_run`'s programs."""
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_THREEFRY_PARTITIONABLE="false", **(env or {}))
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *map(str, args)],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_batch_not_divisible_by_the_devices(data, tmp_path):
    proc = _rosmo(
        [
            "train",
            "--config=bsuite:catch",
            f"--workdir={tmp_path / 'run'}",
            f"--config.dataset_dir={data['good']}",
            *FAST,
            "--config.batch_size=3",
        ],
        tmp_path,
        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )
    _, err = proc.communicate(timeout=600)
    _one_line(proc.returncode, err, "--config.batch_size=3: expected a multiple of the number of devices (2)")


@pytest.mark.slow
def test_ctrl_c_saves_and_prints_one_line(data, tmp_path):
    run = tmp_path / "run"
    proc = _rosmo(
        [
            "train",
            "--config=bsuite:catch",
            f"--workdir={run}",
            f"--config.dataset_dir={data['good']}",
            *FAST,
            "--config.num_steps=100000",
            "--config.log_every=1",
            "--config.checkpoint_every=100000",
        ],
        tmp_path,
    )
    deadline = time.time() + 600
    while (
        not os.path.exists(run / "train.csv") or len(open(run / "train.csv").read().split()) < 3
    ) and proc.poll() is None:
        assert time.time() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    line = _one_line(proc.returncode, err, "rosmo train: stopped by SIGINT at step", "checkpoint saved", exit_code=130)
    step = int(line.split(" at step ")[1].split(";")[0])
    assert Checkpointer(str(run / "checkpoints"), read_only=True).all_steps() == [step]


@pytest.mark.slow
def test_disk_full_while_saving(data, tmp_path):
    proc = _rosmo(
        [
            "train",
            "--config=bsuite:catch",
            f"--workdir={tmp_path / 'run'}",
            f"--config.dataset_dir={data['good']}",
            *FAST,
            "--config.num_steps=2",
        ],
        tmp_path,
        env={"TEST_FILE_SIZE_LIMIT": str(16 * 1024)},
    )
    _, err = proc.communicate(timeout=600)
    _one_line(
        proc.returncode,
        err,
        f"rosmo train: error: cannot write checkpoint {tmp_path / 'run' / 'checkpoints'}",
        "File too large",
        "run the same command again to resume",
        exit_code=1,
    )
