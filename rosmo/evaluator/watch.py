"""The evaluator job: follow a run's checkpoints and evaluate each one once (`rosmo evaluate --watch RUN_DIR`).

Each complete step is claimed (`evaluator/claims/<step>.json`, O_EXCL; a dead evaluator's claim is taken
over), held (hard-linked into `evaluator/hold/`), evaluated with the run's own settings
(`checkpoint_eval.evaluate_checkpoint`), recorded (`evaluator/results/<step>.json`, `eval.csv`, TensorBoard,
W&B) and kept in `best/` if best by `metric`. The watcher exits once the run is finished and every step is
evaluated, or after `timeout` seconds, and fills the summary's `final_eval`.
With `WatchSettings.ope`, the off-policy estimates of `rosmo.ope.job` are added as `ope_*` entries
(`online=False`: no play).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import math
import os
import shutil
import socket
import sys
import threading
import time
import uuid
from typing import Any, Callable, Iterator, Optional

import ml_collections

from rosmo.errors import UserError
from rosmo.evaluator.checkpoint_eval import EvaluateError, evaluate_checkpoint
from rosmo.evaluation.evaluate import format_result, scalar_metrics
from rosmo.jsonio import read_json_or_none
from rosmo.owner import pid_alive
from rosmo.ope.settings import OpeError, OpeSettings, format_columns, scalar_columns
from rosmo.suites import get_suite
from rosmo.signals import stop_sleep
from rosmo.training.checkpoint import CHECKPOINTS_SUBDIR, COMMIT_FILE, CheckpointError, complete_steps
from rosmo.training.run_logging import RunLogger, write_json_atomic

EVAL_SEED_OFFSET = 10_000  # as rosmo.training.loop: evaluation envs are seeded apart from the training seed
EVALUATOR_DIR = "evaluator"
BEST_DIR = "best"
BEST_FILE = "best.json"
SUMMARY_FILE = "summary.json"
CONFIG_FILE = "config.json"
START_WAIT_SECONDS = 300.0  # how long a run directory that does not exist yet is waited for


class WatchError(UserError):
    """A run the evaluator cannot watch (the message names the flag)."""


@dataclasses.dataclass
class WatchSettings:
    """How checkpoints are evaluated; None fields come from the run's config.json."""

    episodes: Optional[int] = None  # config.eval_episodes
    num_envs: Optional[int] = None  # config.eval_parallel
    seed: Optional[int] = None  # config.seed + EVAL_SEED_OFFSET
    metric: str = "normalized_score"  # best/ by this result key (mean_return when the env has no references)
    poll_seconds: float = 10.0
    timeout: Optional[float] = None  # seconds; None: until the run's summary.json
    stale_seconds: float = 600.0  # a claim not refreshed for this long is taken over
    online: bool = True  # False: play nothing (off-policy estimates only)
    ope: Optional[OpeSettings] = None  # off-policy estimates added as ope_* columns (rosmo.ope.job)


# ---------------------------------------------------------------------------
# Paths and small file helpers
# ---------------------------------------------------------------------------
def evaluator_paths(run_dir: str) -> dict[str, str]:
    base = os.path.join(run_dir, EVALUATOR_DIR)
    return {
        "base": base,
        "claims": os.path.join(base, "claims"),
        "results": os.path.join(base, "results"),
        "hold": os.path.join(base, "hold"),
        "lock": os.path.join(base, "lock"),
        "wandb": os.path.join(base, "wandb"),
        "best": os.path.join(run_dir, BEST_DIR),
        "checkpoints": os.path.join(run_dir, CHECKPOINTS_SUBDIR),
    }


def evaluated_steps(run_dir: str) -> list[int]:
    """Steps whose result is recorded (`evaluator/results/<step>.json`), ascending."""
    directory = evaluator_paths(run_dir)["results"]
    names = os.listdir(directory) if os.path.isdir(directory) else []
    return sorted(int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit())


def run_finished(run_dir: str) -> bool:
    """The learner is done: summary.json exists and reports at least config.json's num_steps."""
    summary = read_json_or_none(os.path.join(run_dir, SUMMARY_FILE))
    if summary is None:
        return False
    config = read_json_or_none(os.path.join(run_dir, CONFIG_FILE)) or {}
    return int(summary.get("num_steps", 0)) >= int(config.get("num_steps", 0))


@contextlib.contextmanager
def file_lock(path: str) -> Iterator[None]:
    """An exclusive flock on `path` (created if missing) for the block: one evaluator writes at a time."""
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def hold_copy(src: str, dst: str) -> None:
    """Hard-link the files of directory `src` into `dst` (a copy where linking fails); `dst` must not exist.

    A hard link keeps the data when the learner's rotation deletes `src`; a checkpoint's
    files are never rewritten in place, so sharing them is safe.
    """

    def link_or_copy(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dst, copy_function=link_or_copy)


def take_slot(directory: str) -> tuple[int, Any]:
    """The smallest n whose `directory/slot-<n>.lock` this process can flock; (n, the open file holding it).

    A slot is held for the evaluator's lifetime and freed when its process ends, so a
    restarted evaluator gets its old slot (and W&B run) back while concurrent ones get others.
    """
    os.makedirs(directory, exist_ok=True)
    n = 0
    while True:
        f = open(os.path.join(directory, f"slot-{n}.lock"), "a")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return n, f
        except BlockingIOError:
            f.close()
            n += 1


def wandb_logger_options(run_dir: str, config: ml_collections.ConfigDict, slot: int) -> dict[str, Any]:
    """RunLogger arguments that give evaluator `slot` its own W&B run next to the learner's.

    id kept in `evaluator/wandb/slot-<slot>.id` (never the learner's `wandb_id.txt`),
    group = the learner's W&B run id (the run directory's name if it has none),
    job_type "evaluator", x-axis `train_step` (rows may arrive out of order).
    """
    learner_id_path = os.path.join(run_dir, "wandb_id.txt")
    group = None
    if os.path.isfile(learner_id_path):
        with open(learner_id_path) as f:
            group = f.read().strip() or None
    name = os.path.basename(os.path.normpath(run_dir))
    return dict(
        use_wandb=True,
        wandb_project=config.get("wandb_project"),
        config=config.to_dict(),
        wandb_id_path=os.path.join(evaluator_paths(run_dir)["wandb"], f"slot-{slot}.id"),
        wandb_resume=True,
        wandb_init={"group": group or name, "job_type": "evaluator", "name": f"{name}-eval{slot}"},
        wandb_step_metric="train_step",
    )


# ---------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------
class Claims:
    """Atomic per-step claim files; a claim is refreshed (mtime) by a heartbeat thread while it is held."""

    def __init__(self, directory: str, stale_seconds: float, ident: str):
        self.directory = directory
        self.stale_seconds = float(stale_seconds)
        self.ident = ident
        self.host = socket.gethostname()
        os.makedirs(directory, exist_ok=True)

    def path(self, step: int) -> str:
        return os.path.join(self.directory, f"{step}.json")

    def _stale(self, path: str) -> bool:
        owner = read_json_or_none(path)
        try:
            age = time.time() - os.path.getmtime(path)
        except FileNotFoundError:
            return False
        if owner is None:  # being written right now, or garbage
            return age > self.stale_seconds
        if owner.get("id") == self.ident:
            return False
        if owner.get("host") == self.host:
            if owner.get("pid") == os.getpid() or not pid_alive(
                owner.get("pid")
            ):  # our pid reused, or its process gone
                return True
        return age > self.stale_seconds

    def live_other(self, step: int) -> bool:
        path = self.path(step)
        return os.path.exists(path) and not self._stale(path)

    def try_claim(self, step: int) -> bool:
        """True when this evaluator now holds `step`'s claim (fresh, or taken over from a dead evaluator)."""
        path = self.path(step)
        if os.path.exists(path):
            if not self._stale(path):
                return False
            aside = f"{path}.stale-{self.ident}"
            try:
                os.rename(path, aside)  # only one evaluator can move a given stale claim away
            except FileNotFoundError:
                return False
            os.remove(aside)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump({"id": self.ident, "host": self.host, "pid": os.getpid(), "claimed": time.time()}, f)
        return True

    def release(self, step: int) -> None:
        path = self.path(step)
        if (read_json_or_none(path) or {}).get("id") == self.ident:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    @contextlib.contextmanager
    def heartbeat(self, step: int) -> Iterator[None]:
        """Refresh the claim's mtime every stale_seconds / 4 while the block runs."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(max(1.0, self.stale_seconds / 4)):
                with contextlib.suppress(OSError):
                    os.utime(self.path(step))

        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


# ---------------------------------------------------------------------------
# The watcher
# ---------------------------------------------------------------------------
def _metric_value(result: dict[str, Any], metric: str) -> tuple[str, Optional[float]]:
    """(the metric used, its finite value or None); normalized_score falls back to mean_return without references."""
    if metric == "normalized_score" and result.get(metric) is None:
        metric = "mean_return"
    try:
        value = float(result.get(metric))
    except (TypeError, ValueError):
        return metric, None
    return metric, (value if math.isfinite(value) else None)


class Watcher:
    """Follows one run; `run()` evaluates its checkpoints until the run is finished (see the module docstring)."""

    def __init__(
        self,
        run_dir: str,
        settings: WatchSettings = WatchSettings(),
        log: Callable[[str], None] = print,
        evaluate: Callable[..., dict[str, Any]] = evaluate_checkpoint,
    ):
        self.run_dir = os.path.abspath(run_dir)
        self.settings = settings
        self.log = log
        self._evaluate = evaluate
        self.paths = evaluator_paths(self.run_dir)
        self.ident = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.claims: Optional[Claims] = None
        self.logger: Optional[RunLogger] = None
        self.config: Optional[ml_collections.ConfigDict] = None
        self.evaluated: list[int] = []
        self._slot_file = None  # holds this evaluator's W&B slot (see take_slot)

    # -- set-up --------------------------------------------------------------
    def _wait_for_run(self, deadline: Optional[float]) -> bool:
        """Wait until the learner has written config.json (the evaluator may start first); False on timeout."""
        config_path = os.path.join(self.run_dir, CONFIG_FILE)
        if os.path.exists(self.run_dir) and not os.path.isdir(self.run_dir):
            raise WatchError(f"--watch {self.run_dir}: is a file, expected a run directory")
        missing_dir = not os.path.isdir(self.run_dir)
        if missing_dir:  # the evaluator may start before its learner: wait, but not forever for a typo
            limit = START_WAIT_SECONDS
            deadline_dir = time.time() + limit
            self.log(
                f"waiting for {self.run_dir} to appear (a learner starting); giving up after "
                + (
                    f"{limit:g} s"
                    if deadline is None or deadline > deadline_dir
                    else f"--timeout {self.settings.timeout:g} s"
                )
            )
        elif not os.path.isfile(config_path):
            self.log(
                f"waiting for {config_path} (the learner has not started yet)"
                + ("" if deadline is None else f"; giving up after --timeout {self.settings.timeout:g} s")
            )
        while not os.path.isfile(config_path):
            if deadline is not None and time.time() >= deadline:
                return False
            if missing_dir and not os.path.isdir(self.run_dir) and time.time() >= deadline_dir:
                raise WatchError(
                    f"--watch {self.run_dir}: no such run directory after {limit:g} s of waiting "
                    "(check the path, or start the learner first)"
                )
            stop_sleep(self.settings.poll_seconds)
        self.config = ml_collections.ConfigDict(read_json_or_none(config_path) or {})
        for field in ("suite", "eval_episodes", "eval_parallel", "seed"):
            if field not in self.config:
                raise WatchError(
                    f"--watch {self.run_dir}: {config_path} has no {field!r} (expected a run of `rosmo train`)"
                )
        if self.config.get("eval_every", 0):
            self.log(
                f"note: {self.run_dir} also evaluates inline (eval_every={self.config.eval_every}); "
                "train with the config field eval_every=0 to leave evaluation to this job"
            )
        for key in ("claims", "results", "hold"):
            os.makedirs(self.paths[key], exist_ok=True)
        self.claims = Claims(self.paths["claims"], self.settings.stale_seconds, self.ident)
        wandb_options: dict[str, Any] = {}
        if self.config.get("use_wandb", False):
            slot, self._slot_file = take_slot(self.paths["wandb"])
            wandb_options = wandb_logger_options(self.run_dir, self.config, slot)
        self.logger = RunLogger(
            self.run_dir,
            use_tensorboard=bool(self.config.get("use_tensorboard", True)),
            prefixes=(),
            tensorboard_subdir=os.path.join("tb", "eval"),
            **wandb_options,
        )
        return True

    def _eval_kwargs(self) -> dict[str, Any]:
        s, c = self.settings, self.config
        suite = get_suite(c.suite)
        return dict(
            episodes=int(s.episodes or c.eval_episodes),
            num_envs=int(s.num_envs or c.eval_parallel),
            seed=int(c.seed + EVAL_SEED_OFFSET if s.seed is None else s.seed),
            options=suite.eval_options(c),
            progress=False,
            run_dir=self.run_dir,
            **({} if s.online else {"online": False}),
        )

    # -- one step --------------------------------------------------------------
    def evaluate_step(self, step: int) -> Optional[dict[str, Any]]:
        """Hold, evaluate and record a claimed step; None when it was rotated out before it could be held."""
        hold_root = os.path.join(self.paths["hold"], f"{step}-{self.ident}")
        held = os.path.join(hold_root, str(step))
        try:
            try:
                hold_copy(os.path.join(self.paths["checkpoints"], str(step)), held)
            except (FileNotFoundError, shutil.Error):
                self.log(f"step {step}: rotated out by the learner before it could be held; not evaluated")
                return None
            if not os.path.isfile(os.path.join(held, COMMIT_FILE)):
                self.log(f"step {step}: incomplete copy (rotated out while held); not evaluated")
                return None
            started = time.time()
            try:
                with self.claims.heartbeat(step):
                    result = self._evaluate(hold_root, step=step, **self._eval_kwargs())
                    if self.settings.ope is not None:
                        from rosmo.ope.job import add_estimates  # reads the dataset: TensorFlow, only with --ope

                        try:
                            add_estimates(result, hold_root, step, self.settings.ope)
                        except OpeError as err:  # e.g. the dataset is gone: every step would fail alike
                            raise WatchError(f"--ope: {err}") from None
            except (CheckpointError, EvaluateError) as err:  # e.g. non-finite parameters, replaced dataset: recorded,
                # never retried, no row
                self.log(f"step {step}: not evaluated: {err}")
                write_json_atomic(
                    os.path.join(self.paths["results"], f"{step}.json"),
                    {"step": step, "error": str(err), "evaluated_by": self.ident},
                )
                return None
            result.update(step=step, evaluated_by=self.ident, eval_seconds=time.time() - started)
            write_json_atomic(os.path.join(self.paths["results"], f"{step}.json"), result)  # the step is done
            # the row of inline evaluation: its statistics and clocks (the run's at the checkpoint, this evaluation's)
            online = scalar_metrics(result) if self.settings.online else {}
            row = dict(
                online,
                **scalar_columns(result),
                **(result.get("checkpoint_clocks") or {}),
                eval_seconds=result["eval_seconds"],
            )
            with file_lock(self.paths["lock"]):
                self.logger.write(step, row, prefix="eval")
                self.logger.flush()
                self._update_best(step, held, result)
            return result
        finally:
            shutil.rmtree(hold_root, ignore_errors=True)

    def _update_best(self, step: int, held: str, result: dict[str, Any]) -> None:
        """Keep `held` as best/<step>/ when its metric beats best/best.json's (under the lock)."""
        metric, value = _metric_value(result, self.settings.metric)
        if value is None:
            return
        best = read_json_or_none(os.path.join(self.paths["best"], BEST_FILE))
        if best is not None and best.get("metric") == metric and value <= float(best["value"]):
            return
        tmp = f"{self.paths['best']}.tmp-{self.ident}"
        os.makedirs(tmp)
        os.rename(held, os.path.join(tmp, str(step)))
        write_json_atomic(
            os.path.join(tmp, BEST_FILE),
            {
                "step": step,
                "metric": metric,
                "value": value,
                "mean_return": result.get("mean_return"),
                "normalized_score": result.get("normalized_score"),
                "episodes": result.get("episodes"),
                "checkpoint_clocks": result.get("checkpoint_clocks"),
                "updated": time.time(),
            },
        )
        old = f"{self.paths['best']}.old-{self.ident}"
        if os.path.isdir(self.paths["best"]):
            os.rename(self.paths["best"], old)
        os.rename(tmp, self.paths["best"])
        shutil.rmtree(old, ignore_errors=True)  # our own previous copy
        self.log(f"best: step {step} ({metric} {value:.4g})")

    # -- the loop ---------------------------------------------------------------
    def pending(self) -> list[int]:
        done = set(evaluated_steps(self.run_dir))
        return [s for s in complete_steps(self.paths["checkpoints"]) if s not in done]

    def run(self) -> dict[str, Any]:
        """Evaluate checkpoints (oldest first) until the run is finished and all are evaluated, or the timeout."""
        started = time.time()
        deadline = None if self.settings.timeout is None else started + self.settings.timeout
        if not self._wait_for_run(deadline):
            return self._summary(started, "timeout")
        try:
            while True:
                finished = run_finished(self.run_dir)  # read before the scan: its checkpoints are all on disk
                claimed = None
                waiting = []
                for step in self.pending():
                    if self.claims.try_claim(step):
                        claimed = step
                        break
                    waiting.append(step)
                if claimed is not None:
                    try:
                        result = self.evaluate_step(claimed)
                    finally:
                        self.claims.release(claimed)
                    if result is not None:
                        self.evaluated.append(claimed)
                        lines = format_result(result)[1:] if self.settings.online else []
                        if self.settings.ope is not None:
                            lines += format_columns(result, result["ope"])[1:]
                        self.log(f"step {claimed}: " + "  ".join(lines))
                    if deadline is not None and time.time() >= deadline:
                        return self._summary(started, "timeout")
                    continue
                if finished and not any(self.claims.live_other(s) for s in waiting):
                    self._fill_final_eval()
                    return self._summary(started, "finished")
                if deadline is not None and time.time() >= deadline:
                    return self._summary(started, "timeout")
                stop_sleep(self.settings.poll_seconds)
        finally:
            if self.logger is not None:
                self.logger.close()
            if self._slot_file is not None:
                self._slot_file.close()  # frees the W&B slot

    def _fill_final_eval(self) -> None:
        """Put the last step's result into summary.json's `final_eval` when the learner left it empty (eval_every=0)."""
        path = os.path.join(self.run_dir, SUMMARY_FILE)
        with file_lock(self.paths["lock"]):
            summary = read_json_or_none(path)
            if summary is None or summary.get("final_eval") is not None:
                return
            result = read_json_or_none(os.path.join(self.paths["results"], f"{int(summary.get('num_steps', -1))}.json"))
            if result is not None and "error" not in result and result.get("online", True):
                write_json_atomic(path, dict(summary, final_eval=result))

    def _summary(self, started: float, reason: str) -> dict[str, Any]:
        best = read_json_or_none(os.path.join(self.paths["best"], BEST_FILE))
        return {
            "run_dir": self.run_dir,
            "evaluator": self.ident,
            "stopped": reason,
            "evaluated": list(self.evaluated),
            "all_evaluated": evaluated_steps(self.run_dir),
            "best": best,
            "wall_seconds": time.time() - started,
        }


def watch(
    run_dir: str, settings: WatchSettings = WatchSettings(), log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Evaluate `run_dir`'s checkpoints as they appear; the summary (steps evaluated here, all, best,
    why it stopped)."""
    if not os.path.isdir(run_dir) and not os.path.isdir(os.path.dirname(os.path.abspath(run_dir))):
        raise WatchError(f"--watch {run_dir}: neither the run directory nor its parent exists")
    if settings.poll_seconds <= 0:
        raise WatchError(f"--poll {settings.poll_seconds}: expected a number of seconds > 0")
    if settings.timeout is not None and settings.timeout <= 0:
        raise WatchError(f"--timeout {settings.timeout}: expected a number of seconds > 0")
    for name in ("episodes", "num_envs"):
        value = getattr(settings, name)
        if value is not None and value < 1:
            raise WatchError(f"--{name.replace('_', '-')} {value}: expected an integer >= 1")
    return Watcher(run_dir, settings, log).run()


def log_line(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True, file=sys.stdout)
