"""One sweep run in its own process: `python -m rosmo.sweep.worker RUN_DIR`.

Reads the run's plan (`sweep_run.json`: config spec + resolved config, written
by the sweep), rebuilds the ConfigDict from the spec so every field keeps its
type, and calls `rosmo.training.loop.train`, which resumes from the run's
latest checkpoint by itself. The executor sets the thread limits in the
environment before this process starts (JAX and TensorFlow read them at
import). Exit status: 0 done, 1 failed (last stderr line `ERROR_PREFIX ...`),
130 interrupted (a checkpoint was saved): by SIGINT, or by SIGTERM / SIGUSR2,
which SLURM sends on preemption and before the time limit.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Any, Optional

import ml_collections

from rosmo.configs.loading import load_config, update_config
from rosmo.errors import ConfigError
from rosmo.jsonio import flatten_dict
from rosmo.signals import exit_on_signal, ignore_repeats
from rosmo.sweep.runs import ERROR_PREFIX, read_run_plan
from rosmo.sweep.spec import SweepError
from rosmo.training.loop import train

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR2)
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _typed(config: ml_collections.ConfigDict, field: str, value: Any) -> Any:
    node = config
    for part in field.split("."):
        node = node[part]
    return tuple(value) if isinstance(node, tuple) and isinstance(value, list) else value


def load_run_config(run_dir: str) -> ml_collections.ConfigDict:
    """The run's config: its spec's config with every field set to the planned (resolved) value."""
    plan = read_run_plan(run_dir)
    if plan is None:
        raise SweepError(f"{run_dir}: no sweep_run.json (expected a run directory planned by `rosmo sweep`)")
    config = load_config(plan["config_spec"])
    values = flatten_dict(plan["config"])
    update_config(config, {field: _typed(config, field, value) for field, value in values.items()})
    return config


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1:
        print(f"{ERROR_PREFIX}usage: python -m rosmo.sweep.worker RUN_DIR", file=sys.stderr)
        return 2
    run_dir = os.path.abspath(argv[0])
    # The sweep stops its workers with SIGINT: never keep one inherited as ignored (a sweep started
    # in the background, `nohup rosmo sweep ... &`, passes SIG_IGN down and the worker would run on).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # before train() installs its flag handlers (it saves a checkpoint at the next step), a signal ends the worker
    exit_on_signal("rosmo sweep worker", (signal.SIGINT,) + STOP_SIGNALS)
    threads = {k: os.environ.get(k) for k in ("XLA_FLAGS", "TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS")}
    print(
        f"rosmo sweep worker: {run_dir} pid {os.getpid()} cpus {sorted(os.sched_getaffinity(0))}; "
        + "; ".join(f"{k}={v}" for k, v in threads.items()),
        flush=True,
    )
    try:
        config = load_run_config(run_dir)
        summary = train(config, run_dir, progress=False)
    except KeyboardInterrupt as stop:
        ignore_repeats((signal.SIGINT,) + STOP_SIGNALS)
        print(f"rosmo sweep worker: {stop}", file=sys.stderr, flush=True)
        print(f"{ERROR_PREFIX}interrupted (checkpoint saved)", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except ConfigError as err:  # the user's input: the message says it all
        print(f"{ERROR_PREFIX}{err}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    except Exception as err:  # any other failure: the traceback for the log, one line for the sweep
        traceback.print_exc()
        message = " ".join(str(err).split()) or "(no message)"
        print(f"{ERROR_PREFIX}{type(err).__name__}: {message}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    final = summary.get("final_eval") or {}
    print(
        f"done: {run_dir} step {summary.get('num_steps')} normalized_score {final.get('normalized_score')}", flush=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
