"""Run logging: CSV + TensorBoard (+ optional W&B) metrics, atomic JSON, a progress bar.

Files written under a run's `workdir`::

    <workdir>/<prefix>.csv     one row per `RunLogger.write(step, metrics, prefix)`;
                               header `step,<metric keys...>`
    <workdir>/tb/              TensorBoard events, scalars tagged `<prefix>/<key>`
    <workdir>/wandb_id.txt     the W&B run id (only with use_wandb), so a resumed
                               run continues the same W&B run

A resumed run (`resume_step=S`) drops CSV rows with step > S and tells
TensorBoard to purge events after S, so the logs show no duplicates. Only the
logger's own files are touched: `<prefix>.csv` of the `prefixes` it is given
(at start) and of any other prefix it writes (at its first write); any other
file in the workdir (a user's `notes.csv`, say) is never read or changed.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import tempfile
import time
from typing import Any, Optional, Sequence

from rosmo.jsonio import to_jsonable, write_json_atomic  # noqa: F401  (re-exported: the run's JSON files)

STEP_COLUMN = "step"


# ---------------------------------------------------------------------------
# CSV helpers
# ---------------------------------------------------------------------------
def format_value(value: float) -> str:
    """Compact text for a CSV cell: integral values as integers, others with 7 significant digits.

    e.g. 3.0 -> "3", 0.123456789 -> "0.1234568", 1e-9 -> "1e-09", nan -> "nan".
    """
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".7g")


def _to_float(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as e:
        shape = getattr(value, "shape", None)
        raise TypeError(
            f"metric {key!r}: expected a scalar number (python/numpy/jax), got {type(value).__name__}"
            + (f" with shape {shape}" if shape is not None else f" {value!r}")
        ) from e


def _read_csv(path: str) -> tuple:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return [], []
    return rows[0], rows[1:]


def _write_csv_atomic(path: str, header: list[str], rows: list[list[str]]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def truncate_csv(path: str, max_step: int) -> int:
    """Drop rows of a `step,...` CSV whose step is > `max_step`; returns the number dropped.

    Files whose first column is not `step` are left untouched (returns 0).
    """
    header, rows = _read_csv(path)
    if not header or header[0] != STEP_COLUMN:
        return 0
    kept = []
    for row in rows:
        if not row:
            continue
        try:
            step = float(row[0])
        except ValueError:
            raise ValueError(f"{path}: row {row!r} has a non-numeric step {row[0]!r}") from None
        if step <= max_step:
            kept.append(row)
    dropped = len(rows) - len(kept)
    if dropped:
        _write_csv_atomic(path, header, kept)
    return dropped


# ---------------------------------------------------------------------------
# RunLogger
# ---------------------------------------------------------------------------
class NullLogger:
    """The logger of processes other than 0 in a multi-host run: writes nothing."""

    def write(self, *args, **kwargs) -> None:
        del args, kwargs

    def close(self) -> None:
        pass


class RunLogger:
    """Writes scalar metrics to `<workdir>/<prefix>.csv`, TensorBoard and (optionally) W&B.

    Args:
      workdir: the run directory (created if missing).
      use_tensorboard: write TensorBoard events to `<workdir>/tb/`.
      use_wandb: also log to Weights & Biases (needs `pip install wandb`).
      wandb_project: the W&B project name.
      config: the run's config (a dict), given to W&B.
      resume_step: when resuming from a checkpoint at this step, CSV rows with
        a larger step are dropped and TensorBoard purges events after it.
      prefixes: the CSV files (`<prefix>.csv`) truncated at start on resume; other
        prefixes are truncated at their first write.
      tensorboard_subdir: TensorBoard events go to `<workdir>/<tensorboard_subdir>` (an evaluator
        job writes `tb/eval`, apart from the learner's purges of `tb/` on resume).
      wandb_id_path: where the W&B run id is kept (default `<workdir>/wandb_id.txt`); an
        evaluator job keeps its own, so it never writes into the learner's W&B run.
      wandb_resume: resume the run named in `wandb_id_path` even without `resume_step`
        (an evaluator restarted on the same run).
      wandb_init: extra `wandb.init` arguments (group, job_type, name).
      wandb_step_metric: log each row with this key holding the step, declared as the x-axis
        of every metric (`define_metric`), instead of W&B's own monotonic step; rows may then
        come out of order (several evaluators).
    """

    def __init__(
        self,
        workdir: str,
        use_tensorboard: bool = True,
        use_wandb: bool = False,
        wandb_project: Optional[str] = None,
        config: Optional[dict] = None,
        resume_step: Optional[int] = None,
        prefixes: Sequence[str] = ("train", "eval"),
        tensorboard_subdir: str = "tb",
        wandb_id_path: Optional[str] = None,
        wandb_resume: bool = False,
        wandb_init: Optional[dict[str, Any]] = None,
        wandb_step_metric: Optional[str] = None,
    ):
        self.workdir = os.fspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self._columns: dict[str, list[str]] = {}  # prefix -> CSV header
        self._tb = None
        self._wandb_run = None
        self._resume_step = resume_step
        self._wandb_id_path = wandb_id_path or os.path.join(self.workdir, "wandb_id.txt")
        self._wandb_step_metric = wandb_step_metric
        if resume_step is not None:
            for prefix in prefixes:
                if os.path.isfile(self.csv_path(prefix)):
                    truncate_csv(self.csv_path(prefix), resume_step)
                self._columns.setdefault(prefix, [])  # marks it truncated; the header is read at the first write
        if use_wandb:  # before TensorBoard, so a missing wandb fails fast
            resume = resume_step is not None or wandb_resume
            self._wandb_run = self._init_wandb(wandb_project, config, resume, dict(wandb_init or {}))
        if use_tensorboard:
            from tensorboardX import SummaryWriter

            purge = None if resume_step is None else int(resume_step) + 1
            self._tb = SummaryWriter(
                logdir=os.path.join(self.workdir, tensorboard_subdir), purge_step=purge, flush_secs=30
            )

    def _init_wandb(self, project: Optional[str], config: Optional[dict], resume: bool, extra: dict[str, Any]):
        try:
            import wandb  # noqa: PLC0415 - optional dependency, imported only when asked for
        except ImportError as e:
            raise ImportError(
                "RunLogger(use_wandb=True) needs the `wandb` package, which is not installed: "
                "run `pip install wandb` or turn W&B logging off"
            ) from e
        id_path = self._wandb_id_path
        run_id = None
        if resume and os.path.isfile(id_path):
            with open(id_path) as f:
                run_id = f.read().strip() or None
        run = wandb.init(
            project=project,
            config=to_jsonable(config) if config is not None else None,
            dir=self.workdir,
            id=run_id,
            resume="allow" if run_id else None,
            **extra,
        )
        if self._wandb_step_metric:
            run.define_metric(self._wandb_step_metric)
            run.define_metric("*", step_metric=self._wandb_step_metric)
        os.makedirs(os.path.dirname(id_path) or ".", exist_ok=True)
        with open(id_path, "w") as f:
            f.write(str(run.id))
        return run

    def csv_path(self, prefix: str) -> str:
        return os.path.join(self.workdir, f"{prefix}.csv")

    def write(self, step: int, metrics: dict[str, Any], prefix: str = "train") -> None:
        """Log `metrics` (scalars: python/numpy/jax) at `step` under `prefix`.

        Appends a row to `<workdir>/<prefix>.csv`; when `metrics` has keys the
        file has not seen, the file is rewritten with the union of columns
        (earlier rows get empty cells). TensorBoard tags are `<prefix>/<key>`.
        """
        if not prefix or os.sep in prefix or prefix.startswith("."):
            raise ValueError(f"RunLogger.write: prefix must be a plain file stem like 'train', got {prefix!r}")
        step = int(step)
        values = {str(k): _to_float(str(k), v) for k, v in metrics.items()}
        if STEP_COLUMN in values:
            raise ValueError(f"RunLogger.write: metric name {STEP_COLUMN!r} is reserved for the step column")
        self._write_csv(prefix, step, values)
        if self._tb is not None:
            for key, value in values.items():
                self._tb.add_scalar(f"{prefix}/{key}", value, global_step=step)
        if self._wandb_run is not None:
            row = {f"{prefix}/{k}": v for k, v in values.items()}
            if self._wandb_step_metric:
                self._wandb_run.log(dict(row, **{self._wandb_step_metric: step}))
            else:
                self._wandb_run.log(row, step=step)

    def _write_csv(self, prefix: str, step: int, values: dict[str, float]) -> None:
        path = self.csv_path(prefix)
        header = self._columns.get(prefix) or None
        if header is None:  # first write for this prefix in this process: adopt the file's header
            if prefix not in self._columns and self._resume_step is not None and os.path.isfile(path):
                truncate_csv(path, self._resume_step)  # a prefix not named at start: truncated now
            header = _read_csv(path)[0] if os.path.isfile(path) else []
            if header and header[0] != STEP_COLUMN:
                raise ValueError(f"{path}: expected a CSV whose first column is {STEP_COLUMN!r}, found {header[:3]}")
        new_keys = [k for k in values if k not in header]
        if not header or new_keys:
            old_header, rows = _read_csv(path) if os.path.isfile(path) else ([], [])
            header = (header or [STEP_COLUMN]) + new_keys
            index = {name: i for i, name in enumerate(old_header)}
            rows = [
                [row[index[c]] if c in index and index[c] < len(row) else "" for c in header] for row in rows if row
            ]
            _write_csv_atomic(path, header, rows)
        self._columns[prefix] = header
        row = [str(step)] + [format_value(values[c]) if c in values else "" for c in header[1:]]
        with open(path, "a", newline="") as f:
            csv.writer(f).writerow(row)

    def flush(self) -> None:
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        """Flush and close TensorBoard and W&B (CSV rows are written as they come)."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._wandb_run is not None:
            self._wandb_run.finish()
            self._wandb_run = None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------
# ProgressBar
# ---------------------------------------------------------------------------
def _format_postfix(postfix: dict[str, Any]) -> str:
    parts = []
    for key, value in postfix.items():
        if value is None:  # e.g. no evaluation yet
            continue
        try:
            text = format(float(value), ".4g") if not isinstance(value, (int, str)) else str(value)
        except (TypeError, ValueError):
            text = str(value)
        parts.append(f"{key}={text}")
    return " ".join(parts)


class ProgressBar:
    """A thin tqdm wrapper for long loops (training, dataset making, evaluation).

    Args:
      total: number of units (steps, episodes) when done.
      initial: units already done (a resumed run starts at its checkpoint step).
      desc: label shown before the bar.
      disable: None (default) shows a tqdm bar when stdout is a terminal and,
        otherwise, prints a one-line status every ~10% of `total` (for log
        files); False forces the tqdm bar; True prints nothing at all.

    `update(n, **postfix)` advances by `n` and sets postfix fields (e.g.
    `loss=..., eval_return=...`); fields persist until overwritten, so the
    last evaluation stays visible between evaluations.
    """

    def __init__(
        self, total: Optional[int], initial: int = 0, desc: str = "train", disable: Optional[bool] = None, file=None
    ):
        self.total = None if total is None else int(total)
        self.n = int(initial)
        self.desc = desc
        self.postfix: dict[str, Any] = {}
        self._file = file if file is not None else sys.stdout
        self._start_time = time.time()
        self._start_n = self.n
        self._bar = None
        self._lines = False
        if disable is None:
            isatty = getattr(self._file, "isatty", None)
            use_bar = bool(isatty and isatty())
            self._lines = not use_bar
        else:
            use_bar = not disable
        if use_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, initial=self.n, desc=desc, file=self._file, dynamic_ncols=True)
        # next ~10% boundary at which a status line is printed
        self._next_decile = self._decile(self.n) + 1

    def _decile(self, n: int) -> int:
        if not self.total:
            return 0
        return int(10 * min(n, self.total) // self.total)

    def status_line(self) -> str:
        elapsed = time.time() - self._start_time
        rate = (self.n - self._start_n) / elapsed if elapsed > 0 else 0.0
        if self.total:
            pct = 100.0 * self.n / self.total
            head = f"{self.desc}: {self.n}/{self.total} ({pct:.0f}%)"
            eta = (self.total - self.n) / rate if rate > 0 else float("nan")
            tail = f" {elapsed:.0f}s elapsed, {rate:.3g}/s, eta {eta:.0f}s"
        else:
            head = f"{self.desc}: {self.n}"
            tail = f" {elapsed:.0f}s elapsed, {rate:.3g}/s"
        post = _format_postfix(self.postfix)
        return head + tail + (f" | {post}" if post else "")

    def update(self, n: int = 1, **postfix: Any) -> None:
        """Advance by `n` units and merge `postfix` into the displayed fields."""
        self.n += int(n)
        if postfix:
            self.postfix.update(postfix)
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix_str(_format_postfix(self.postfix), refresh=False)
            self._bar.update(int(n))
        elif self._lines and self.total:
            decile = self._decile(self.n)
            if decile >= self._next_decile:
                self._next_decile = decile + 1
                print(self.status_line(), file=self._file, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._lines and not self.total:
            print(self.status_line(), file=self._file, flush=True)
        self._lines = False

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
