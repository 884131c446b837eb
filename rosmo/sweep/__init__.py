"""Sweeps: grids of ordinary runs over config fields and seeds, run locally or as a SLURM job array.

    spec = load_sweep_file("experiments/sweeps/unroll.py")   # or spec.amend(None, config=..., grid=[...])
    runs = plan_runs(spec)                                    # named, resolved, validated configs
    run_dirs = prepare("runs/unroll", spec, runs)             # plans on disk (nothing overwritten)
    run_local(run_dirs, workers=2, threads=1)                 # or submit_slurm(run_dirs, SlurmResources(...), folder)

The command line is `rosmo sweep` (rosmo/cli/sweep.py); results: `rosmo report`.
"""

from rosmo.sweep.executors import SlurmResources, SweepTask, make_submitit_executor, run_local, submit_slurm
from rosmo.sweep.grid import RunPlan, expand, plan_runs
from rosmo.sweep.runs import prepare, run_state
from rosmo.sweep.spec import SweepError, SweepSpec, amend, load_sweep_file, parse_seeds

__all__ = [
    "RunPlan",
    "SlurmResources",
    "SweepError",
    "SweepSpec",
    "SweepTask",
    "amend",
    "expand",
    "load_sweep_file",
    "make_submitit_executor",
    "parse_seeds",
    "plan_runs",
    "prepare",
    "run_local",
    "run_state",
    "submit_slurm",
]
