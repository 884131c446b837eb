"""Modules that plan, validate or report load no JAX, TensorFlow or plotting library when imported: `rosmo report
--no-plots` tabulates runs and a run checks its dataset directory without paying their import (seconds of CPU per
process); `rosmo sweep` imports its planning without them, though building a config still loads the agent and
suite registries' modules, which import JAX (not TensorFlow). The evaluator job reads no dataset without --ope."""

import os
import subprocess
import sys

from tests.cli.test_help import HEAVY, ROOT, _imported_modules

LIGHT_MODULES = ("rosmo.sweep", "rosmo.configs.validation", "rosmo.report", "rosmo.data.paths", "rosmo.networks")
PLOTTING = ("matplotlib", "seaborn", "scipy", "rliable")


def _importtime(code: str) -> str:
    """stderr of `python -X importtime -c CODE` in a fresh interpreter (one line per module it imported)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


def test_planning_validating_and_reporting_modules_load_no_heavy_library():
    modules = _imported_modules(_importtime("; ".join(f"import {m}" for m in LIGHT_MODULES)))
    assert {"rosmo", "pandas"} <= modules  # the report is read right
    assert not modules & set(HEAVY + PLOTTING), sorted(modules & set(HEAVY + PLOTTING))


def test_the_evaluator_job_loads_no_tensorflow_without_ope():
    """`rosmo evaluate --watch` plays checkpoints (JAX) but reads no dataset unless asked for off-policy estimates."""
    stderr = _importtime("import rosmo.evaluator.watch, rosmo.evaluator.checkpoint_eval")
    modules = {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}
    assert "jax" in modules  # the evaluator plays the agent
    # full names: TensorFlow Probability's JAX substrate registers stand-ins under tensorflow.python.*
    assert not modules & {"tensorflow", "tensorflow_datasets", "rosmo.data.rlds"}, sorted(modules)
