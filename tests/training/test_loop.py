"""End-to-end training: learning reaches a score on catch, and resume gives the same parameters."""

import collections
import csv
import json
import os

import jax
import numpy as np
import pytest

from rosmo import cli
from rosmo.training.checkpoint import load_params
from rosmo.suites.configs.bsuite import get_config
from rosmo.data import bsuite_maker
from rosmo.training import learner as learner_module
from rosmo.training import loop as loop_module
from rosmo.training.learner import make_mesh, update_program_key
from rosmo.training.loop import train


@pytest.fixture(scope="module")
def catch_dataset(tmp_path_factory):
    """A small catch dataset logged from a DQN's whole run (exploration included)."""
    out = tmp_path_factory.mktemp("bsuite")
    summary = bsuite_maker.make_bsuite_dataset(
        "catch", str(out), num_episodes=300, seed=1, reference_episodes=100, progress=False
    )
    return summary["path"]


def _config(dataset, **overrides):
    c = get_config("catch")
    c.dataset_dir = dataset
    c.use_tensorboard = False
    for k, v in overrides.items():
        c[k] = v
    return c


@pytest.mark.slow
def test_rosmo_learns_catch(catch_dataset, tmp_path, optimized_compiles):
    # (2000 updates and 100 episodes: run time, not compile time, dominates; the optimised build is cheaper.
    # Measured on this data: 1000 updates score 0.27, 1500, 2000, 2500, 3000 and 4000 all score 1.0.)
    # Mostly-exploratory data (300 episodes of a DQN's run): the model has to learn the action effects,
    # so a higher learning rate and faster target copies than the paper's 200k-step schedule.
    # One evaluation env: the 100 episodes run in acme.EnvironmentLoop with the Acme actor.
    config = _config(
        catch_dataset,
        batch_size=128,
        num_steps=2000,
        learning_rate=2e-3,
        target_update_interval=100,
        warmup_steps=100,
        eval_every=2000,
        checkpoint_every=2000,
        log_every=500,
        eval_parallel=1,
    )
    summary = train(config, str(tmp_path / "run"), progress=False)
    result = summary["final_eval"]
    assert result["episodes"] == 100 and result["num_envs"] == 1
    assert result["normalized_score"] >= 0.8, result
    saved = json.load(open(tmp_path / "run" / "summary.json"))
    assert saved["final_eval"]["normalized_score"] == pytest.approx(result["normalized_score"])
    assert os.path.exists(tmp_path / "run" / "train.csv") and os.path.exists(tmp_path / "run" / "eval.csv")


@pytest.mark.slow
def test_resumed_run_ends_with_the_same_parameters_and_one_curve_row_per_evaluation(catch_dataset, tmp_path):
    # batch 8, warm-up 1, 2 eval envs, non-partitionable threefry: the programs of tests/evaluation/test_watch.py
    common = dict(
        batch_size=8, warmup_steps=1, eval_every=2, eval_episodes=2, eval_parallel=2, checkpoint_every=2, log_every=1
    )
    with jax.threefry_partitionable(False):
        train(_config(catch_dataset, num_steps=6, **common), str(tmp_path / "straight"), progress=False)
        # The same run, stopped after 4 steps and started again with the same workdir.
        train(_config(catch_dataset, num_steps=4, **common), str(tmp_path / "resumed"), progress=False)
        halfway, _ = load_params(str(tmp_path / "resumed"))
        summary = train(_config(catch_dataset, num_steps=6, **common), str(tmp_path / "resumed"), progress=False)
    assert summary["num_steps"] == 6
    straight, _ = load_params(str(tmp_path / "straight"))
    resumed, extra = load_params(str(tmp_path / "resumed"))
    assert extra["step"] == 6
    for a, b, _h in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed), jax.tree.leaves(halfway)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, h) for a, h in zip(jax.tree.leaves(straight), jax.tree.leaves(halfway)))
    rows = open(tmp_path / "resumed" / "train.csv").read().strip().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == [1, 2, 3, 4, 5, 6]
    # The learning curve: one row per evaluation, clocks cumulative across the resume.
    rows = list(csv.DictReader(open(tmp_path / "resumed" / "eval.csv")))
    assert [int(r["step"]) for r in rows] == [2, 4, 6]
    wall = [float(r["wall_seconds"]) for r in rows]
    train_s = [float(r["train_seconds"]) for r in rows]
    assert all(float(r["eval_seconds"]) > 0 for r in rows) and all("normalized_score" in r for r in rows)
    assert wall == sorted(wall) and train_s == sorted(train_s)  # cumulative across the resume
    assert all(0 < t < w for t, w in zip(train_s, wall))  # training clock excludes evaluation time
    # the run's totals: the same two clocks, the last evaluation being the run's end
    assert summary["wall_seconds_total"] == pytest.approx(
        summary["train_seconds_total"] + summary["eval_seconds_total"]
    )
    assert wall[-1] <= summary["wall_seconds_total"] < wall[-1] + 5
    assert train_s[-1] <= summary["train_seconds_total"] < train_s[-1] + 5
    assert extra["wall_seconds"] == pytest.approx(extra["train_seconds"] + extra["eval_seconds"])


@pytest.mark.slow
def test_runs_with_equal_update_programs_share_one_and_train_as_without_it(catch_dataset, tmp_path, monkeypatch):
    """Runs in one process whose configs differ only in run-only fields (seed, logging, evaluation) reuse the
    first run's agent and jitted update; a learning field makes new ones; reused ones train the same parameters
    as freshly built ones."""
    programs, agents = collections.OrderedDict(), collections.OrderedDict()
    monkeypatch.setattr(learner_module, "_update_programs", programs)
    monkeypatch.setattr(loop_module, "_agents", agents)
    common = dict(batch_size=8, warmup_steps=1, eval_every=2, eval_episodes=2, checkpoint_every=2, num_steps=2)
    with jax.threefry_partitionable(False):
        train(_config(catch_dataset, seed=0, **common), str(tmp_path / "first"), progress=False)
        (first,) = programs.values()
        train(_config(catch_dataset, seed=1, log_every=1, **common), str(tmp_path / "reused"), progress=False)
        assert list(programs.values()) == [first] and len(agents) == 1  # one agent: its acting programs too
        train(_config(catch_dataset, learning_rate=1e-4, **common), str(tmp_path / "other"), progress=False)
        assert len(programs) == 2 and len(agents) == 2 and first.check_names[-1] == "params"
        programs.clear()
        agents.clear()
        train(_config(catch_dataset, seed=1, log_every=1, **common), str(tmp_path / "fresh"), progress=False)
        assert len(programs) == 1 and list(programs.values()) != [first]
    final = {name: json.load(open(tmp_path / name / "summary.json"))["final_eval"] for name in ("reused", "fresh")}
    assert final["reused"]["returns"] == final["fresh"]["returns"]  # the reused acting program plays the same
    reused, _ = load_params(str(tmp_path / "reused"))
    fresh, _ = load_params(str(tmp_path / "fresh"))
    first_params, _ = load_params(str(tmp_path / "first"))
    for a, b in zip(jax.tree.leaves(reused), jax.tree.leaves(fresh)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(reused), jax.tree.leaves(first_params)))


def test_update_program_key_leaves_out_only_run_only_fields():
    """Seed, data selection, logging, evaluation and checkpoint fields do not change the key; any other field,
    another agent object, the observation shape and dtype, and the batch transform do."""
    mesh = make_mesh(jax.devices()[:1])
    obs = np.zeros((1, 10, 5), np.float32)
    agent, other_agent = object(), object()
    base = _config("/data/a")
    key = update_program_key(base, agent, obs, None, mesh)
    same = _config("/data/b", seed=5, log_every=7, eval_every=9, checkpoint_every=4, data_percentage=10.0)
    assert update_program_key(same, agent, obs, None, mesh) == key
    for field, value in [("learning_rate", 0.5), ("num_steps", 17), ("discount", 0.9), ("unroll_steps", 2)]:
        assert update_program_key(_config("/data/a", **{field: value}), agent, obs, None, mesh) != key, field
    assert update_program_key(base, other_agent, obs, None, mesh) != key
    assert update_program_key(base, agent, np.zeros((1, 10, 6), np.float32), None, mesh) != key
    assert update_program_key(base, agent, obs.astype(np.uint8), None, mesh) != key
    assert update_program_key(base, agent, obs, lambda batch: batch, mesh) != key


@pytest.mark.slow
def test_rosmo_train_applies_config_overrides(catch_dataset, tmp_path, capsys):
    # In this process (`cli.main`), with tests/conftest.py's tiny_catch_run's random bits, so its programs load.
    # A real `rosmo train` process's stderr (TensorFlow's start-up lines silenced) is checked by
    # tests/cli/test_errors.py, whose child processes must print exactly one line.
    with jax.threefry_partitionable(False):
        code = cli.main(
            [
                "train",
                "--config=bsuite:catch",
                f"--workdir={tmp_path / 'cli'}",
                f"--config.dataset_dir={catch_dataset}",
                "--config.num_steps=2",
                "--config.num_bins=11",  # with batch 8 and no warm-up: TINY_CATCH_FLAGS' learner, a cache hit
                "--config.warmup_steps=0",
                "--config.batch_size",
                "8",
                "--config.eval_episodes=2",
                "--config.eval_every=2",
                "--config.use_tensorboard=False",
                "--no-progress",
            ]
        )
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err, err[-2000:]
    workdir = tmp_path / "cli"
    saved = json.load(open(workdir / "config.json"))
    assert saved["num_bins"] == 11 and saved["warmup_steps"] == 0 and saved["num_steps"] == 2
    assert saved["batch_size"] == 8  # given as two arguments
    assert json.load(open(workdir / "summary.json"))["num_steps"] == 2


@pytest.mark.slow
def test_rosmo_train_rejects_bad_overrides_in_one_line(catch_dataset, tmp_path, capsys):
    # In this process (`cli.main`): the exit code and stderr are the command's; no second interpreter start-up.
    code = cli.main(
        [
            "train",
            "--config=bsuite:catch",
            f"--workdir={tmp_path / 'bad'}",
            f"--config.dataset_dir={catch_dataset}",
            "--config.unroll_steps=0",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "--config.unroll_steps=0" in err and "expected an integer >= 1" in err
    code = cli.main(["train", "--config=bsuite:catch", f"--workdir={tmp_path / 'bad'}", "--config.learning_rat=1"])
    err = capsys.readouterr().err
    assert code == 2 and "did you mean learning_rate" in err and "Traceback" not in err
