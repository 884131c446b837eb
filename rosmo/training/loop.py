"""One training run, top to bottom: suite data -> networks -> agent -> learner -> logs, evaluations, checkpoints.

A run lives in `workdir`: `config.json`, `checkpoints/<step>` (resumed from the latest by itself), `train.csv`,
`eval.csv`, `tb/`, `summary.json`, `train.lock`, `config_changes.jsonl`, `dataset.json`. Every checkpoint carries the
config, the number of actions, the observation shape and the dataset's metadata, so it is usable without the dataset.
One trainer per workdir; a non-finite update stops the run or is skipped (`config.nonfinite`) and never
reaches a checkpoint; SIGINT/SIGTERM save a checkpoint and raise `Stopped`. `dataset.json` records the
dataset's absolute path and content fingerprint: a resume on other data is refused.
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import time
from typing import Any, Hashable, Optional

import jax
import numpy as np

from rosmo.agents import agent_spec, make_agent
from rosmo.configs.validation import validate_config
from rosmo.errors import NonFiniteError
from rosmo.evaluation.evaluate import evaluate_agent, scalar_metrics
from rosmo.networks.factory import make_networks
from rosmo.suites import get_suite
from rosmo.training import dataset_record
from rosmo.training import workdir as workdirs
from rosmo.training.checkpoint import Checkpointer, checkpoint_clocks, finite_params_check
from rosmo.training.distributed import agreed_stop, is_main_process
from rosmo.training.learner import UPDATE_PROGRAMS_KEPT, Learner, check_batch_size, program_fields, to_host
from rosmo.training.prefetch import DevicePrefetcher
from rosmo.training.run_logging import NullLogger, ProgressBar, RunLogger, write_json_atomic
from rosmo.signals import Stopped, StopSignals

EVAL_SEED_OFFSET = 10_000  # evaluation envs are seeded apart from the training seed
PREFETCH_BATCHES = 2  # batches on the device ahead of the update

_agents: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()


def train(config, workdir: str, progress: Optional[bool] = None, allow_config_change: bool = False) -> dict[str, Any]:
    """Train (or resume) the run in `workdir` and return its summary.

    Raises ConfigError / DatasetError / WorkdirError / CheckpointError on bad input,
    NonFiniteError when an update is non-finite under `config.nonfinite="stop"`, and
    `Stopped` after saving a checkpoint when SIGINT/SIGTERM arrives.
    """
    validate_config(config)
    workdir = workdirs.prepare_workdir(workdir)
    # multi-host: a signal is acted on at the next log step, where the processes agree to stop together
    with workdirs.WorkdirLock(workdir, enabled=is_main_process()), StopSignals(immediate=_stop_at_once()) as signals:
        return _train(config, workdir, progress, allow_config_change, signals)


def _stop_at_once() -> bool:
    """One process stops at the signal; several stop together at the next log step (`agreed_stop`)."""
    return jax.process_count() == 1


def _nonfinite_message(report, config) -> str:
    return (
        f"non-finite {', '.join(report.bad) or 'values'} at step {report.first_step} "
        f"(learning_rate={config.learning_rate}); the run stopped and no checkpoint after step "
        f"{report.first_step - 1} was written; lower the learning rate or check the data, "
        "or set the config field nonfinite=skip to skip such updates"
    )


def _agent(config, num_actions: int):
    """`make_agent(config, make_networks(config, num_actions))`, the same object again for the same registered agent,
    a config equal up to the run-only fields (`rosmo.training.learner.RUN_ONLY_FIELDS`) and the same number of
    actions. An agent is pure functions; one reused lets JAX reuse its traced and compiled programs (the learner's
    update, the acting) in a process that trains several runs (`rosmo deploy`'s deployments, a test session)."""
    spec = agent_spec(config.algo)
    key = (id(spec), program_fields(config), num_actions)
    if key in _agents:
        _agents.move_to_end(key)
        return _agents[key][1]
    agent = make_agent(config, make_networks(config, num_actions))
    _agents[key] = (spec, agent)  # the spec held, so its id is not reused while the entry lives
    while len(_agents) > UPDATE_PROGRAMS_KEPT:
        _agents.popitem(last=False)
    return agent


def _train(config, workdir: str, progress: Optional[bool], allow_config_change: bool, signals: StopSignals):
    check_batch_size(config.batch_size, jax.device_count())  # the learner's mesh; before the data is read
    suite = get_suite(config.suite)
    spec = suite.dataset_spec(config)
    agent = _agent(config, spec.num_actions)
    learner = Learner(
        agent,
        config,
        np.zeros((1,) + spec.observation_shape, spec.observation_dtype),
        batch_transform=suite.batch_transform(config),
    )

    checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), max_to_keep=config.keep_checkpoints)
    start_step, last_eval, previous_seconds, previous_eval_seconds = 0, None, 0.0, 0.0
    changes = {}
    data_identity = dataset_record.identify(spec.path)
    if checkpointer.latest_step() is not None:
        previous = workdirs.read_run_config(workdir)
        if previous is not None:
            changes = workdirs.config_changes(previous, config.to_dict())
            workdirs.check_config_changes(workdir, changes, allow_config_change)
        data_change = dataset_record.check_same_dataset(workdir, data_identity, allow_config_change)
        if data_change is not None:
            changes[dataset_record.CHANGE_FIELD] = data_change
        state, extra = checkpointer.restore(learner.state, check=finite_params_check)
        learner.restore(state, skipped_updates=int(extra.get("skipped_updates", 0)))
        start_step = int(to_host(state.step))
        last_eval = extra.get("last_eval")
        previous_seconds = (checkpoint_clocks(extra) or {"wall_seconds": 0.0})["wall_seconds"]
        previous_eval_seconds = float(extra.get("eval_seconds", 0.0))
        print(f"resuming {workdir} from step {start_step}")
    main = is_main_process()  # process 0 writes config, logs and summary; every process checkpoints
    transitions = None if spec.num_steps is None else int(spec.num_steps) - int(spec.num_episodes)
    if main and transitions is not None and 0 < transitions < int(config.batch_size):
        print(
            f"rosmo: warning: --config.batch_size={config.batch_size} is larger than the dataset "
            f"({transitions} transitions in {spec.num_episodes} episodes): every batch repeats samples and steps "
            "are slow; lower --config.batch_size",
            file=sys.stderr,
            flush=True,
        )
    if main and jax.process_count() > 1:
        print(f"learner mesh: {learner.mesh.devices.size} devices over {jax.process_count()} processes")
    if main:
        note = workdirs.record_config_changes(workdir, changes, start_step)
        if note:
            print(note)
        write_json_atomic(os.path.join(workdir, "config.json"), config.to_dict())
        dataset_record.write_record(workdir, data_identity)
    extra_static = {
        "config": config.to_dict(),
        "num_actions": spec.num_actions,
        "observation_shape": list(spec.observation_shape),
        "observation_dtype": str(np.dtype(spec.observation_dtype)),
        "dataset_metadata": spec.metadata,
        "dataset_path": spec.path,
    }

    logger = (
        RunLogger(
            workdir,
            use_tensorboard=config.use_tensorboard,
            use_wandb=config.use_wandb,
            wandb_project=config.wandb_project,
            config=config.to_dict(),
            resume_step=start_step,
            prefixes=("train", "eval") if config.eval_every else ("train",),  # eval.csv belongs to the evaluator job
        )
        if main
        else NullLogger()
    )
    # two batches in flight on the device; the loop dispatches updates and syncs with the host only at log steps
    batches = DevicePrefetcher(
        suite.make_batches(config, start_batch=start_step), learner.put_batch, size=PREFETCH_BATCHES
    )
    show = (None if progress is None else progress) if main else False
    bar = ProgressBar(
        total=config.num_steps,
        initial=start_step,
        desc=f"train {config.algo}",
        disable=None if show is None else not show,
    )
    started, window_start, window_step = time.time(), time.time(), start_step
    step = start_step
    metrics_host: dict[str, float] = {}
    skipped_seen = learner.nonfinite().skipped
    eval_seconds = previous_eval_seconds  # cumulative wall-clock spent in evaluations (across resumes)

    def wall_seconds() -> float:
        """Wall-clock of the run so far, evaluations included (across resumes)."""
        return previous_seconds + time.time() - started

    def evaluate() -> dict[str, Any]:
        nonlocal eval_seconds
        eval_started = time.time()
        result = evaluate_agent(
            suite,
            spec.metadata["env"],
            agent.act,
            to_host(learner.params),
            spec.metadata,
            num_episodes=config.eval_episodes,
            num_envs=config.eval_parallel,
            seed=config.seed + EVAL_SEED_OFFSET,
            options=suite.eval_options(config),
        )
        eval_seconds += time.time() - eval_started
        wall = wall_seconds()
        # learning-curve clocks: the run's wall-clock so far with / without evaluations, and this evaluation's
        clocks = dict(wall_seconds=wall, train_seconds=wall - eval_seconds, eval_seconds=time.time() - eval_started)
        result.update(step=step, **clocks)
        with signals.deferred():
            logger.write(step, dict(scalar_metrics(result), **clocks), prefix="eval")
        return result

    def check_finite() -> int:
        """Stop (config.nonfinite="stop") or warn ("skip") when updates were non-finite; the skipped count."""
        nonlocal skipped_seen
        report = learner.nonfinite()
        if report.first_step is not None and config.get("nonfinite", "stop") == "stop":
            raise NonFiniteError(_nonfinite_message(report, config))
        if report.skipped > skipped_seen and main:
            print(
                f"rosmo: warning: {report.skipped - skipped_seen} update(s) skipped up to step {step} for non-finite "
                f"values ({report.skipped} in all; the first at step {report.first_step}: {', '.join(report.bad)})",
                file=sys.stderr,
                flush=True,
            )
        skipped_seen = report.skipped
        return report.skipped

    def save(current: int, force: bool = False) -> None:
        wall = wall_seconds()
        extra = dict(
            extra_static,
            last_eval=last_eval,
            step=current,
            wall_seconds=wall,
            train_seconds=wall - eval_seconds,
            eval_seconds=eval_seconds,
            skipped_updates=check_finite(),
        )
        checkpointer.save(current, learner.state, extra=extra, force=force)

    try:
        while step < config.num_steps:
            signals.check()  # a signal is a flag: acted on here and at the end of each deferred block
            batch = next(batches)
            with signals.deferred():  # the update donates the state: a signal waits until it is replaced
                metrics = learner.step(batch)
                step += 1
                if step % config.log_every == 0 or step == config.num_steps:
                    check_finite()
                    metrics_host = {k: float(v) for k, v in to_host(metrics).items()}
                    now = time.time()  # after to_host(metrics): the window's updates have run on the device
                    window = max(now - window_start, 1e-9)
                    waited = batches.take_wait_seconds()
                    metrics_host["steps_per_second"] = (step - window_step) / window
                    metrics_host["data_wait_fraction"] = min(1.0, waited / window)
                    metrics_host["update_ms"] = 1000.0 * (window - waited) / max(step - window_step, 1)
                    window_start, window_step = now, step
                    logger.write(step, metrics_host, prefix="train")
                if not signals.immediate and step % config.log_every == 0:
                    stop = agreed_stop(signals.pending)
                    if stop is not None:
                        signals.pending = None
                        raise Stopped(stop)
            batches.refill()  # the next batches' copies overlap the update just dispatched
            if config.eval_every and (step % config.eval_every == 0 or step == config.num_steps):
                check_finite()
                last_eval = evaluate()
            if step % config.checkpoint_every == 0 or step == config.num_steps:
                with signals.deferred():
                    save(step)
            score = None if last_eval is None else last_eval.get("normalized_score")
            bar.update(
                1,
                loss=metrics_host.get("loss"),
                eval=score if score is not None or last_eval is None else last_eval["mean_return"],
            )
    except KeyboardInterrupt as err:
        signum = err.signum if isinstance(err, Stopped) else signal.SIGINT
        name = signal.Signals(signum).name
        with signals.deferred(swallow=True):  # a second Ctrl-C does not abort the save
            bar.close()
            if step == start_step:
                raise Stopped(
                    signum, f"stopped by {name} at step {step}, before any update (nothing new to save)"
                ) from None
            save(step, force=True)
            checkpointer.wait()
        raise Stopped(
            signum,
            f"stopped by {name} at step {step}; checkpoint saved in "
            f"{os.path.join(workdir, 'checkpoints', str(step))}; run the same command to resume",
        ) from None
    finally:
        batches.close()
        bar.close()
        checkpointer.wait()
        logger.close()

    wall = wall_seconds()
    summary = {
        "workdir": workdir,
        "algo": config.algo,
        "suite": suite.name,
        "env": spec.metadata["env"],
        "dataset": spec.path,
        "data_percentage": config.data_percentage,
        "seed": config.seed,
        "num_steps": step,
        "wall_seconds_this_session": time.time() - started,
        "wall_seconds_total": wall,  # = train_seconds_total + eval_seconds_total
        "train_seconds_total": wall - eval_seconds,
        "eval_seconds_total": eval_seconds,
        "final_eval": last_eval,
    }
    if main:
        write_json_atomic(os.path.join(workdir, "summary.json"), summary)
    return summary
