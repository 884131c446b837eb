"""The evaluator job (`rosmo evaluate --watch`): rows equal inline evaluation, each step once, claims, best/, resume."""

import csv
import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from rosmo import cli
from rosmo.suites.configs.bsuite import get_config
from rosmo.evaluator import watch as watching
from rosmo.evaluator.checkpoint_eval import evaluate_checkpoint
from rosmo.training.checkpoint import load_params
from rosmo.training.loop import train
from tests.conftest import make_episode, write_dataset

STEPS = (5, 10)
NOT_COMPARED = {"env_steps_per_second", "wall_seconds", "train_seconds", "eval_seconds"}  # clocks


@pytest.fixture(scope="module")
def inline_run(tmp_path_factory):
    """10 steps of ROSMO on catch-shaped data, evaluated inline and checkpointed at steps 5 and 10."""
    root = tmp_path_factory.mktemp("watch")
    data = write_dataset(root / "data", [make_episode(e, 5 + e % 7, obs_shape=(10, 5)) for e in range(12)])
    c = get_config("catch")
    c.update(
        dataset_dir=data,
        num_steps=10,
        batch_size=8,
        warmup_steps=1,
        log_every=5,
        eval_every=5,
        checkpoint_every=5,
        keep_checkpoints=5,
        eval_episodes=4,
        eval_parallel=2,
        use_tensorboard=False,
    )
    with jax.threefry_partitionable(False):
        train(c, str(root / "inline"), progress=False)
    return str(root / "inline")


def _copy_without_evaluations(run, dst):
    shutil.copytree(run, dst)
    os.remove(os.path.join(dst, "eval.csv"))
    summary = json.load(open(os.path.join(dst, "summary.json")))
    summary["final_eval"] = None  # as a learner trained with eval_every=0 leaves it
    json.dump(summary, open(os.path.join(dst, "summary.json"), "w"))
    return str(dst)


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _settings(**kw):
    return watching.WatchSettings(poll_seconds=0.05, **kw)


@pytest.mark.slow
def test_watcher_evaluates_each_checkpoint_once_as_inline_evaluation_does(inline_run, tmp_path):
    run = _copy_without_evaluations(inline_run, tmp_path / "run")
    summary = watching.watch(run, _settings(), log=lambda _: None)
    assert summary["stopped"] == "finished" and summary["evaluated"] == list(STEPS)

    inline, watched = _rows(os.path.join(inline_run, "eval.csv")), _rows(os.path.join(run, "eval.csv"))
    assert [int(r["step"]) for r in watched] == list(STEPS)
    for a, b in zip(inline, watched):  # same params, envs, seeds -> the same returns and statistics
        assert {k: v for k, v in a.items() if k not in NOT_COMPARED} == {
            k: v for k, v in b.items() if k not in NOT_COMPARED
        }
    assert list(inline[0]) == list(watched[0])  # the same columns, in the same order
    assert all(
        float(r["wall_seconds"]) >= float(r["train_seconds"]) > 0 and float(r["eval_seconds"]) > 0 for r in watched
    )

    final = json.load(open(os.path.join(run, "summary.json")))["final_eval"]  # filled for `rosmo report`
    assert final["step"] == 10 and final["mean_return"] == pytest.approx(float(watched[-1]["mean_return"]))

    # a restarted evaluator finds nothing to do: no step twice
    again = watching.watch(run, _settings(), log=lambda _: None)
    assert again["evaluated"] == [] and again["all_evaluated"] == list(STEPS)
    assert len(_rows(os.path.join(run, "eval.csv"))) == 2

    # best/ survives the learner's rotation (here: every checkpoint deleted)
    best = json.load(open(os.path.join(run, "best", "best.json")))
    returns = {int(r["step"]): float(r["mean_return"]) for r in watched}
    assert best["metric"] == "mean_return" and best["value"] == max(returns.values())
    assert best["step"] == min(s for s in STEPS if returns[s] == best["value"])  # ties keep the earlier step
    expected, _ = load_params(run, step=best["step"])
    shutil.rmtree(os.path.join(run, "checkpoints"))
    kept, extra = load_params(os.path.join(run, "best"))
    assert extra["step"] == best["step"]
    jax.tree.map(np.testing.assert_array_equal, kept, expected)
    assert (
        os.listdir(os.path.join(run, "evaluator", "hold")) == []
        and os.listdir(os.path.join(run, "evaluator", "claims")) == []
    )


def _claim(run, step, pid, ident="other-evaluator"):
    path = os.path.join(run, "evaluator", "claims", f"{step}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    json.dump({"id": ident, "host": watching.socket.gethostname(), "pid": pid, "claimed": 0}, open(path, "w"))
    return path


@pytest.mark.slow
def test_a_live_claim_is_left_alone_and_a_dead_one_taken_over(inline_run, tmp_path):
    run = _copy_without_evaluations(inline_run, tmp_path / "run")
    _claim(run, 5, os.getppid())  # a live process on this host holds step 5
    summary = watching.watch(run, _settings(timeout=1.0), log=lambda _: None)
    assert summary["evaluated"] == [10] and summary["stopped"] == "timeout"  # waits for the other evaluator's step 5

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _claim(run, 5, dead.pid)  # its evaluator died
    summary = watching.watch(run, _settings(), log=lambda _: None)
    assert summary["evaluated"] == [5] and summary["stopped"] == "finished"
    assert [int(r["step"]) for r in _rows(os.path.join(run, "eval.csv"))] == [10, 5]


@pytest.mark.slow
def test_an_interrupted_evaluation_releases_its_step_and_rotation_while_held_is_harmless(inline_run, tmp_path):
    run = _copy_without_evaluations(inline_run, tmp_path / "run")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # SIGTERM / Ctrl-C in the middle of an evaluation

    watcher = watching.Watcher(run, _settings(), log=lambda _: None, evaluate=interrupted)
    with pytest.raises(KeyboardInterrupt):
        watcher.run()
    assert watching.evaluated_steps(run) == []
    assert (
        os.listdir(os.path.join(run, "evaluator", "claims")) == []
        and os.listdir(os.path.join(run, "evaluator", "hold")) == []
    )

    def rotated(checkpoint, step, **kwargs):  # the learner rotates the step out while it is being evaluated
        shutil.rmtree(os.path.join(run, "checkpoints", str(step)))
        return evaluate_checkpoint(checkpoint, step=step, **kwargs)

    summary = watching.Watcher(run, _settings(), log=lambda _: None, evaluate=rotated).run()
    assert summary["evaluated"] == list(STEPS) and os.listdir(os.path.join(run, "checkpoints")) == []


def test_cli_watch_flags(tmp_path, capsys):
    assert cli.main(["evaluate", "--watch", str(tmp_path), "--json", str(tmp_path / "x.json")]) == 2
    assert "--json cannot be used with --watch" in capsys.readouterr().err
    assert cli.main(["evaluate", "--watch", str(tmp_path / "run"), "--timeout", "0"]) == 2
    assert "--timeout 0.0: expected" in capsys.readouterr().err
    assert cli.main(["evaluate", "--watch", str(tmp_path / "run"), "--timeout", "0.2", "--poll", "0.05"]) == 0
    assert "evaluator timeout: 0 checkpoint(s) evaluated" in capsys.readouterr().out


class _FakeWandb:
    """Records `wandb.init` / `log` / `define_metric` calls; each init returns a new run id unless resumed."""

    def __init__(self):
        self.inits, self.logs, self.metrics = [], [], []

    def init(self, **kwargs):
        self.inits.append(kwargs)
        fake = self

        class Run:
            id = kwargs["id"] or f"eval-{len(fake.inits)}"

            def log(self, data, step=None):
                fake.logs.append((self.id, data, step))

            def define_metric(self, name, step_metric=None):
                fake.metrics.append((name, step_metric))

            def finish(self):
                pass

        return Run()


@pytest.mark.slow
def test_evaluator_logs_its_own_wandb_run_under_the_training_step(inline_run, tmp_path, monkeypatch):
    run = _copy_without_evaluations(inline_run, tmp_path / "run")
    config = json.load(open(os.path.join(run, "config.json")))
    json.dump(dict(config, use_wandb=True, wandb_project="proj"), open(os.path.join(run, "config.json"), "w"))
    open(os.path.join(run, "wandb_id.txt"), "w").write("learner-1")  # the learner's own W&B run
    fake = _FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)

    watching.watch(run, _settings(timeout=30.0), log=lambda _: None)
    first = fake.inits[0]
    assert first["project"] == "proj" and first["id"] is None  # a new run, not the learner's
    assert first["group"] == "learner-1" and first["job_type"] == "evaluator" and first["name"] == "run-eval0"
    assert open(os.path.join(run, "wandb_id.txt")).read() == "learner-1"  # the learner's id file is untouched
    assert ("*", "train_step") in fake.metrics
    rows = {data["train_step"]: data for _, data, step in fake.logs}
    assert sorted(rows) == list(STEPS) and all(step is None for _, _, step in fake.logs)
    watched = {int(r["step"]): float(r["mean_return"]) for r in _rows(os.path.join(run, "eval.csv"))}
    assert {s: rows[s]["eval/mean_return"] for s in STEPS} == pytest.approx(watched)

    # a second evaluator running beside the first gets its own run; a restarted one resumes its old run
    held_slot, held_file = watching.take_slot(os.path.join(run, "evaluator", "wandb"))
    assert held_slot == 0  # the first evaluator has exited: its slot is free again
    watching.watch(run, _settings(timeout=0.2), log=lambda _: None)
    assert fake.inits[1]["name"] == "run-eval1" and fake.inits[1]["id"] is None
    held_file.close()
    watching.watch(run, _settings(timeout=0.2), log=lambda _: None)
    assert (
        fake.inits[2]["id"] == "eval-1" and fake.inits[2]["resume"] == "allow" and fake.inits[2]["name"] == "run-eval0"
    )
