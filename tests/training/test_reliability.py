"""Runs that cannot silently go wrong (issue 13): non-finite guard, data checks, checkpoint fallback,
workdir lock, config drift, own files only, SIGTERM, killed makers' temp directories."""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import jax
import numpy as np
import pytest

from rosmo.suites.configs.bsuite import get_config
from rosmo.data import loader, rlds
from rosmo.errors import NonFiniteError
from rosmo.training import workdir as workdirs
from rosmo.training.checkpoint import MANIFEST_FILE, CheckpointError, Checkpointer, load_params
from rosmo.training.loop import train
from rosmo.signals import Stopped
from tests.conftest import TINY_METADATA, make_episode, write_dataset
from tests.helpers import make_learner, small_config, synthetic_batch

FAST_INIT = jax.threefry_partitionable(False)  # ~10x faster init compile on XLA:CPU
CATCH_META = {"env": "catch", "num_actions": 3, "random_return": -0.5, "dqn_return": 1.0}


def _episodes(n=6, length=9):
    return [make_episode(e, length, obs_shape=(10, 5)) for e in range(n)]


@pytest.fixture(scope="module")
def catch_data(tmp_path_factory):
    """Catch-shaped tiny dataset (6 episodes of 9 steps) whose metadata names catch and its references."""
    return write_dataset(str(tmp_path_factory.mktemp("rel") / "catch"), _episodes(), metadata=CATCH_META)


def _config(data, **overrides):
    c = get_config("catch")
    c.update(
        dataset_dir=data,
        batch_size=8,
        num_bins=11,
        warmup_steps=0,
        num_steps=4,
        log_every=1,
        eval_every=100,
        checkpoint_every=2,
        eval_episodes=1,
        eval_parallel=1,
        use_tensorboard=False,
    )
    c.update(overrides)
    return c


def _train(config, workdir, **kwargs):
    with FAST_INIT:
        return train(config, str(workdir), progress=False, **kwargs)


def _features_shape(path, shape):
    """Rewrite the observation shape in `path`/features.json (the data keeps its own)."""
    features = os.path.join(path, "features.json")
    spec = json.load(open(features))
    steps = spec["featuresDict"]["features"]["steps"]["sequence"]["feature"]["featuresDict"]["features"]
    steps["observation"]["tensor"]["shape"]["dimensions"] = [str(d) for d in shape]
    json.dump(spec, open(features, "w"))


def _all_finite(tree):
    return all(np.isfinite(x).all() for x in jax.tree.leaves(tree))


# ---------------------------------------------------------------------------
# 1. Non-finite guard
# ---------------------------------------------------------------------------
def test_learner_skips_a_non_finite_update_and_names_it():
    config = small_config()  # the other learner tests' program: a compilation-cache hit
    learner = make_learner(config)
    batch = synthetic_batch(config.batch_size, config.unroll_steps + config.td_steps + 1)
    learner.step(batch)
    before = jax.device_get(learner.params)
    bad = dict(batch, reward=np.full_like(batch["reward"], np.nan))
    metrics = learner.step(bad)
    assert not np.isfinite(float(metrics["loss"]))
    for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(jax.device_get(learner.params))):
        np.testing.assert_array_equal(a, b)  # the update was not applied
    report = learner.nonfinite()
    assert report.skipped == 1 and report.first_step == 2
    assert "loss" in report.bad and "reward_loss" in report.bad
    assert int(jax.device_get(learner.state.step)) == 2  # the step counts the batch all the same
    learner.step(batch)
    assert learner.nonfinite().skipped == 1 and int(metrics["skipped_updates"]) == 1


@pytest.mark.slow
def test_diverging_run_stops_and_its_checkpoints_are_finite(catch_data, tmp_path):
    config = _config(
        catch_data,
        learning_rate=1e4,
        warmup_steps=6,
        num_steps=40,
        checkpoint_every=1,
        log_every=1,
        keep_checkpoints=40,
    )
    with pytest.raises(NonFiniteError, match=r"non-finite .*loss.* at step (\d+)") as err:
        _train(config, tmp_path / "run")
    first = int(str(err.value).split(" at step ")[1].split()[0])
    ckpt = Checkpointer(str(tmp_path / "run" / "checkpoints"), read_only=True)
    steps = ckpt.all_steps()
    assert steps and max(steps) < first  # none at or after the first non-finite update
    for step in steps:
        state, _ = ckpt.restore(None, step=step)
        assert _all_finite(state["params"]) and _all_finite(state["opt_state"])
    assert not os.path.exists(tmp_path / "run" / workdirs.LOCK_FILE)  # released


@pytest.mark.slow
def test_skip_mode_counts_skipped_updates_and_finishes(catch_data, tmp_path):
    config = _config(catch_data, learning_rate=1e4, warmup_steps=6, num_steps=12, checkpoint_every=4, nonfinite="skip")
    summary = _train(config, tmp_path / "run")
    assert summary["num_steps"] == 12
    params, extra = load_params(str(tmp_path / "run"))
    assert _all_finite(params) and extra["skipped_updates"] > 0
    rows = [r.split(",") for r in open(tmp_path / "run" / "train.csv").read().split()]
    column = rows[0].index("skipped_updates")
    assert int(rows[-1][column]) == extra["skipped_updates"]


def test_loading_refuses_non_finite_parameters(tmp_path):
    directory = str(tmp_path / "checkpoints")
    with Checkpointer(directory) as ckpt:
        ckpt.save(1, {"params": {"w": np.ones(3, np.float32)}})
        ckpt.save(2, {"params": {"w": np.array([1.0, np.nan, 2.0], np.float32)}})
    with pytest.raises(CheckpointError, match=r"/2 cannot be used: non-finite parameters .*params w"):
        load_params(directory, step=2)
    params, _ = load_params(directory)  # latest is refused: falls back to step 1
    np.testing.assert_array_equal(params["w"], np.ones(3))


# ---------------------------------------------------------------------------
# 1. Data checked while reading
# ---------------------------------------------------------------------------
def _bad_dataset(tmp_path, name, edit, metadata=TINY_METADATA):
    episodes = [make_episode(e, 6) for e in range(5)]
    edit(episodes)
    return write_dataset(str(tmp_path / name), episodes, metadata=dict(metadata), max_episodes_per_shard=2)


@pytest.mark.parametrize("in_memory", [True, False])
@pytest.mark.parametrize("case", ["reward", "observation", "action"])
def test_bad_values_are_named_with_field_episode_and_file(tmp_path, in_memory, case):
    def edit(episodes):
        steps = episodes[3]["steps"]
        if case == "reward":
            steps["reward"][2] = np.inf
        elif case == "observation":
            steps["observation"][1, 0, 1] = np.nan
        else:
            steps["action"][1] = 3  # metadata: num_actions = 3

    path = _bad_dataset(tmp_path, case, edit)
    expected = {
        "reward": "holds a non-finite value",
        "observation": "holds a non-finite value",
        "action": r"holds 3 in episode 3 .*expected actions in \[0, 3\)",
    }[case]
    with pytest.raises(rlds.DatasetError, match=rf"step field '{case}' {expected}") as err:
        batches = loader.make_loader(
            path, unroll_steps=1, td_steps=1, batch_size=4, in_memory=in_memory, shuffle_buffer=1
        )
        for _ in range(20):
            next(batches)
    message = str(err.value)
    assert message.startswith(path) and "episode 3 (in file order, file tiny-train.tfrecord-00001)" in message
    assert "\n" not in message


def test_truncated_shard_and_wrong_features_json_are_one_line_errors(tmp_path):
    path = write_dataset(str(tmp_path / "ok"), [make_episode(e, 6) for e in range(6)], max_episodes_per_shard=3)
    truncated = shutil.copytree(path, str(tmp_path / "truncated"))
    shard = os.path.join(truncated, "tiny-train.tfrecord-00001")
    with open(shard, "r+b") as f:
        f.truncate(os.path.getsize(shard) // 2)
    with pytest.raises(rlds.DatasetError, match=r"truncated or corrupt"):
        loader.make_loader(truncated, unroll_steps=1, td_steps=1, batch_size=4, in_memory=True)
    reshaped = shutil.copytree(path, str(tmp_path / "reshaped"))
    _features_shape(reshaped, (4, 3))  # the data holds (2, 3)
    # 6 steps x (2, 3) floats decode as 3 observations of (4, 3): caught by the count check
    with pytest.raises(
        rlds.DatasetError,
        match=r"'observation' decodes to 3 observations for 6 steps in episode 0 .*"
        r"features.json's observation shape \(4, 3\)",
    ):
        loader.make_loader(reshaped, unroll_steps=1, td_steps=1, batch_size=4, in_memory=True)
    _features_shape(reshaped, (5, 3))  # 36 floats are no whole number of (5, 3): TensorFlow cannot decode them
    with pytest.raises(rlds.DatasetError, match=r"cannot be decoded as the dataset's features"):
        loader.make_loader(reshaped, unroll_steps=1, td_steps=1, batch_size=4, in_memory=True)


# ---------------------------------------------------------------------------
# 2. Checkpoint fallback
# ---------------------------------------------------------------------------
def _three_steps(directory):
    with Checkpointer(directory, max_to_keep=5) as ckpt:
        for step in (1, 2, 3):
            ckpt.save(
                step,
                {"params": {"w": np.random.default_rng(step).normal(size=(64, 64)).astype(np.float32)}},
                extra={"step": step},
            )
    return os.path.join(directory, "3")


def _biggest_state_file(step_dir):
    files = [p for p in glob.glob(os.path.join(step_dir, "state", "**"), recursive=True) if os.path.isfile(p)]
    return max(files, key=os.path.getsize)


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_corrupt_latest_falls_back_and_an_explicit_step_names_the_file(tmp_path, capsys, damage):
    directory = str(tmp_path / "checkpoints")
    step_dir = _three_steps(directory)
    assert os.path.isfile(os.path.join(step_dir, MANIFEST_FILE))
    victim = _biggest_state_file(step_dir)
    if damage == "truncate":
        with open(victim, "r+b") as f:
            f.truncate(os.path.getsize(victim) // 2)
    else:
        os.remove(victim)
    relative = os.path.relpath(victim, step_dir)
    why = "missing" if damage == "delete" else r"\d+ bytes, expected \d+"
    with pytest.raises(CheckpointError, match=rf"/3 cannot be used: damaged files {relative}: {why}"):
        load_params(directory, step=3)
    params, extra = load_params(directory)  # read-only: falls back, moves nothing
    assert extra["step"] == 2
    err = capsys.readouterr().err
    assert f"{step_dir} cannot be used (damaged files {relative}" in err and "falling back to step 2" in err
    assert os.path.isdir(step_dir)
    ckpt = Checkpointer(directory)  # writable (a resume): falls back and moves the bad step aside
    state, extra = ckpt.restore({"params": {"w": np.zeros((64, 64), np.float32)}})
    assert extra["step"] == 2 and ckpt.latest_step() == 2
    assert glob.glob(step_dir + ".unreadable-*") and not os.path.exists(step_dir)
    assert ckpt.save(3, state)  # the step can be written again
    ckpt.close()


def test_every_checkpoint_unreadable_is_one_error_listing_them(tmp_path):
    directory = str(tmp_path / "checkpoints")
    _three_steps(directory)
    for step in (1, 2, 3):
        os.remove(_biggest_state_file(os.path.join(directory, str(step))))
    with pytest.raises(CheckpointError, match=r"no usable checkpoint in .*step 3: damaged .*step 2: .*step 1: "):
        load_params(directory)


@pytest.mark.slow
def test_resume_falls_back_past_a_corrupt_checkpoint(catch_data, tmp_path, capsys):
    run = tmp_path / "run"
    _train(_config(catch_data, num_steps=4), run)
    os.remove(_biggest_state_file(str(run / "checkpoints" / "4")))
    summary = _train(_config(catch_data, num_steps=6), run)
    assert summary["num_steps"] == 6
    assert "falling back to step 2" in capsys.readouterr().err
    assert Checkpointer(str(run / "checkpoints"), read_only=True).all_steps() == [2, 4, 6]
    rows = open(run / "train.csv").read().split()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [1, 2, 3, 4, 5, 6]  # steps 3, 4 redone, logged once


# ---------------------------------------------------------------------------
# 3. Workdir lock
# ---------------------------------------------------------------------------
HOLD = (
    "import sys, time; from rosmo.training.workdir import WorkdirLock; "
    "lock = WorkdirLock(sys.argv[1]); lock.acquire(); print('held', flush=True); time.sleep(600)"
)


@pytest.mark.slow
def test_second_trainer_is_refused_and_a_stale_lock_is_replaced(catch_data, tmp_path, capsys):
    run = tmp_path / "run"
    os.makedirs(run)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=root)
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(
            workdirs.WorkdirError, match=rf"another trainer is using this run directory \(pid {holder.pid}"
        ):
            _train(_config(catch_data), run)
    finally:
        holder.kill()
        holder.wait()
    # killed (-9): the lock file stays behind, naming a dead process; the next trainer takes over
    assert json.load(open(run / workdirs.LOCK_FILE))["pid"] == holder.pid
    _train(_config(catch_data, num_steps=2), run)
    assert "replacing the stale lock" in capsys.readouterr().err
    assert not os.path.exists(run / workdirs.LOCK_FILE)


# ---------------------------------------------------------------------------
# 4. Config drift, own files only
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_config_drift_is_refused_allowed_with_the_flag_and_recorded(catch_data, tmp_path, capsys):
    # The drifting field is the seed (it changes the experiment, not the compiled update: one compile)
    run = tmp_path / "run"
    _train(_config(catch_data, num_steps=2), run)
    with pytest.raises(workdirs.ConfigDriftError, match=r"seed 0 -> 1.*--allow-config-change"):
        _train(_config(catch_data, num_steps=4, seed=1), run)
    assert json.load(open(run / "config.json"))["seed"] == 0  # untouched
    _train(_config(catch_data, num_steps=4), run)  # harmless: logged and recorded
    assert "config changed on resume at step 2 (harmless fields): num_steps 2 -> 4" in capsys.readouterr().out
    _train(_config(catch_data, num_steps=6, seed=1), run, allow_config_change=True)
    records = [json.loads(line) for line in open(run / workdirs.CHANGES_FILE)]
    assert [r["allowed_by"] for r in records] == ["harmless", "--allow-config-change"]
    assert records[1]["step"] == 4 and records[1]["changes"]["seed"] == [0, 1]
    assert json.load(open(run / "config.json"))["seed"] == 1


def test_config_changes_classifies_fields():
    old = {"algo": "rosmo", "num_steps": 10, "dataset_dir": "/data/x/../catch", "nested": {"a": 1}, "gone": 1}
    new = {"algo": "bc", "num_steps": 20, "dataset_dir": "/data/catch", "nested": {"a": 2}, "added": 3}
    changes = workdirs.config_changes(old, new)
    assert set(changes) == {"algo", "num_steps", "nested.a", "gone", "added"}  # the same path is no change
    assert workdirs.experiment_changes(changes) == ["algo", "nested.a"]


@pytest.mark.slow
def test_a_fresh_run_leaves_other_csv_files_alone(catch_data, tmp_path):
    run = tmp_path / "run"
    os.makedirs(run)
    (run / "mine.csv").write_text("step,value\n1,a\n100,b\n")
    _train(_config(catch_data, num_steps=2), run)
    assert (run / "mine.csv").read_text() == "step,value\n1,a\n100,b\n"


# ---------------------------------------------------------------------------
# 6. SIGTERM
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_the_resume_is_bit_identical(catch_data, tmp_path):
    common = dict(num_steps=400, checkpoint_every=1000, log_every=1)
    straight = _train(_config(catch_data, num_steps=30, checkpoint_every=1000, log_every=1), tmp_path / "straight")
    assert straight["num_steps"] == 30
    run = tmp_path / "run"

    def kill_after_some_steps():
        while not os.path.exists(run / "train.csv") or len(open(run / "train.csv").read().split()) < 4:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=kill_after_some_steps, daemon=True).start()
    with pytest.raises(Stopped, match=r"stopped by SIGTERM at step (\d+); checkpoint saved") as err:
        _train(_config(catch_data, **common), run)
    assert err.value.exit_code == 143
    stopped_at = int(str(err.value).split(" at step ")[1].split(";")[0])
    assert 3 <= stopped_at < 30
    assert Checkpointer(str(run / "checkpoints"), read_only=True).all_steps() == [stopped_at]
    _train(_config(catch_data, num_steps=30, checkpoint_every=1000, log_every=1), run)
    a, _ = load_params(str(tmp_path / "straight"))
    b, _ = load_params(str(run))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------------------
# 7. Temp directories of killed dataset makers
# ---------------------------------------------------------------------------
def test_killed_makers_temp_directories_are_cleaned_or_named(tmp_path, capsys):
    out = tmp_path / "ds"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / ".ds.tmp-dead"
    os.makedirs(stale)
    (stale / rlds.OWNER_FILE).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": 0}))
    unknown = tmp_path / ".ds.tmp-old"
    os.makedirs(unknown)
    write_dataset(str(out), [make_episode(0, 3)])
    err = capsys.readouterr().err
    assert not stale.exists() and f"removed {stale}" in err
    assert unknown.exists() and f"{unknown} is a temporary dataset directory" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ds.tmp-old", "ds"]  # no temp dir of its own left
