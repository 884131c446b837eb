"""`rosmo sweep`: a grid of runs over config fields and seeds, locally or as a SLURM job array.

    rosmo sweep experiments/sweeps/unroll.yaml --out runs/unroll               # a sweep file
    rosmo sweep --config bsuite:catch --grid unroll_steps=1,3,5,10 --seeds 0-4 --config.num_steps=3000 --out runs/k
    rosmo sweep experiments/sweeps/unroll.yaml --out runs/unroll --dry-run     # list the runs
    rosmo sweep --out runs/unroll                                              # resume a sweep
    rosmo sweep experiments/sweeps/coverage.yaml --out runs/cov --only algo=rosmo,mzu   # a slice now, the rest later
    rosmo sweep experiments/sweeps/coverage.yaml --out /shared/cov --executor slurm \\
        --partition gpu --gpus 1 --cpus 8 --time 4:00:00 --setup "source .venv/bin/activate"

Each run is an ordinary run directory `<out>/<field=value,...>` named from the
fields the sweep varies; `--config.FIELD=VALUE` (or `--set FIELD=VALUE`) fixes a field
for every run. Finished runs are skipped, interrupted or failed ones
resume from their latest checkpoint. Then: `rosmo report <out>`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from rosmo.cli import cannot_write, user_message

CONFIG_OVERRIDES = True  # fields fixed for every run

EXIT_FAILED_RUNS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def parse_minutes(text: str) -> int:
    """ "90" -> 90; "4:00:00" -> 240; "1-00:00:00" (days) -> 1440; "30:00" -> 30 (M:SS is minutes:seconds)."""
    try:
        days, _, rest = text.rpartition("-") if "-" in text else ("0", "", text)
        parts = [int(p) for p in rest.split(":")]
        if len(parts) == 1:
            minutes = parts[0]
        elif len(parts) == 2:
            minutes = parts[0] + (parts[1] > 0)
        elif len(parts) == 3:
            minutes = parts[0] * 60 + parts[1] + (parts[2] > 0)
        else:
            raise ValueError
        minutes += int(days or 0) * 1440
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected minutes or [D-]H:MM:SS, got {text!r}") from None
    if minutes < 1:
        raise argparse.ArgumentTypeError(f"expected at least one minute, got {text!r}")
    return minutes


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rosmo.cli import add_config_flags

    parser.add_argument("sweep_file", nargs="?", help="sweep file: .yaml, .json or .py[:arg] with get_sweep()")
    parser.add_argument("--out", required=True, help="sweep directory (one run directory per run in it)")
    parser.add_argument(
        "--config", help="base config spec (bsuite:catch, atari:Pong,small, file.py:arg); replaces the file's"
    )
    parser.add_argument(
        "--grid", action="append", default=[], metavar="FIELD=V1,V2,...", help="sweep a config field (repeatable)"
    )
    parser.add_argument(
        "--seeds",
        help="seeds: 0-4, 0,2,5 or 0-1,7 (replaces the file's; with one seed the runs keep `seed=N` in their names "
        "when the file has several, so they join its other runs)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="FIELD=V1,V2,...",
        help="run only the runs whose config field has one of these values (repeatable; config=SPEC for the config); "
        "the others stay planned for a later call",
    )
    parser.add_argument("--dry-run", action="store_true", help="list the runs and their state, run nothing")
    parser.add_argument("--executor", choices=("local", "slurm"), default="local")
    parser.add_argument("--no-progress", action="store_true", help="no live progress line")
    add_config_flags(parser, "fix a config field for every run (replaces the sweep file's value)")
    local = parser.add_argument_group("local executor")
    local.add_argument("--workers", type=_positive, help="worker processes (default: as many as fit CPUs and memory)")
    local.add_argument("--threads", type=_positive, help="JAX/TF threads per run (default: CPUs // workers)")
    local.add_argument("--no-pin", action="store_true", help="do not pin each worker to its own CPUs")
    parser.add_argument(
        "--compile-cache",
        metavar="DIR",
        help="JAX compilation cache shared by the runs (default: OUT/.jax_cache; 'none': no cache)",
    )
    slurm = parser.add_argument_group("slurm executor (submitit: one job array, one run per task)")
    slurm.add_argument("--partition")
    slurm.add_argument("--gpus", type=int, default=0, help="GPUs per task (default 0)")
    slurm.add_argument("--cpus", type=_positive, default=4, help="CPUs per task (default 4)")
    slurm.add_argument(
        "--time", type=parse_minutes, default=240, help="time limit per task: minutes or [D-]H:MM:SS (default 4:00:00)"
    )
    slurm.add_argument("--mem-gb", type=float, help="memory per task in GB")
    slurm.add_argument("--array-parallelism", type=_positive, default=64, help="tasks running at once (default 64)")
    slurm.add_argument("--account")
    slurm.add_argument("--qos")
    slurm.add_argument("--constraint")
    slurm.add_argument(
        "--setup", action="append", default=[], metavar="LINE", help="shell line run before each task (repeatable)"
    )
    slurm.add_argument("--wait", action="store_true", help="stay and show progress until the array has finished")


def load_spec(args):
    """The sweep (a SweepSpec) from the file and flags, or the one stored in --out when neither is given."""
    from rosmo.sweep.runs import read_sweep
    from rosmo.sweep.spec import SweepError, amend, load_sweep_file, sweep_from_dict

    flags_given = bool(args.config or args.grid or args.seeds or args.config_overrides)
    if args.sweep_file:
        spec = load_sweep_file(args.sweep_file)
    elif flags_given and args.config:
        spec = None
    else:
        stored = read_sweep(args.out)
        if stored is None:
            raise SweepError(
                f"no sweep file and no --config, and {os.path.join(args.out, 'sweep.json')} does not exist: "
                "give a sweep file or --config with --grid/--seeds"
            )
        spec = sweep_from_dict(stored["spec"], f"{os.path.join(args.out, 'sweep.json')}")
    return amend(spec, config=args.config, grid=args.grid, seeds=args.seeds, fixed=args.config_overrides)


def _resources(args):
    from rosmo.sweep.executors import SlurmResources

    return SlurmResources(
        partition=args.partition,
        time_min=args.time,
        gpus_per_node=args.gpus,
        cpus_per_task=args.cpus,
        mem_gb=args.mem_gb,
        array_parallelism=args.array_parallelism,
        account=args.account,
        qos=args.qos,
        constraint=args.constraint,
        setup=list(args.setup),
    )


def _print_dry_run(args, spec, runs) -> None:
    from rosmo.sweep.executors import sbatch_script
    from rosmo.sweep.runs import describe

    rows = describe(args.out, runs)
    if spec.description:
        print(spec.description)
    print(f"{len(rows)} runs in {args.out} ({spec.source}):")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        extra = f" (step {r['step']})" if r["step"] else ""
        extra += f": {r['conflict']}" if r["conflict"] else ""
        print(f"  {r['state']:<11} {r['name']:<{width}}  {r['num_steps']} steps{extra}")
    states = [r["state"] for r in rows]
    print("  " + ", ".join(f"{states.count(s)} {s}" for s in dict.fromkeys(states)))
    if args.executor == "slurm":
        todo = sum(s != "done" for s in states)
        print(f"\nsbatch script for {todo} runs:\n")
        print(sbatch_script(_resources(args), os.path.join(args.out, ".submitit"), todo))


def run(args) -> int:
    # the library is imported here, not at the top: `rosmo sweep --help` stays fast
    from rosmo.cli import spell_as_typed
    from rosmo.errors import ConfigError
    from rosmo.signals import Stopped, StopSignals
    from rosmo.sweep.grid import plan_runs, select_runs
    from rosmo.sweep.runs import SweepLock, prepare
    from rosmo.training.workdir import WorkdirError

    try:
        spec = load_spec(args)
        runs = plan_runs(spec)
        selected = {run.name for run in select_runs(runs, args.only)} if args.only else None
        if args.dry_run:
            _print_dry_run(args, spec, [run for run in runs if selected is None or run.name in selected])
            return 0
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"--out {args.out}: cannot create it ({err.strerror or err})") from None
        lock = SweepLock(args.out)
        lock.acquire()  # one sweep per --out: a second one is refused here, before it touches a run
        run_dirs = prepare(args.out, spec, runs)  # every run is planned; --only picks the ones run now
        if selected is not None:
            run_dirs = [d for d, run in zip(run_dirs, runs) if run.name in selected]
    except (ConfigError, WorkdirError) as err:  # SweepError too: the message names the file, field or flag
        print(f"rosmo sweep: error: {spell_as_typed(user_message(err), args.config_overrides)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        print(f"rosmo sweep: error: {cannot_write(f'--out {args.out}', 'the sweep', err)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with StopSignals():
            return _run(args, run_dirs, cache_flag=args.compile_cache)
    except Stopped as stop:
        print(f"rosmo sweep: {stop}: running runs saved a checkpoint; run the same command to resume", file=sys.stderr)
        return stop.exit_code
    finally:
        lock.release()


def _run(args, run_dirs, cache_flag) -> int:
    from rosmo.sweep.executors import (
        available_cpus,
        default_workers,
        monitor,
        run_local,
        submit_slurm,
        threads_per_worker,
    )
    from rosmo.sweep.progress import SweepProgress

    progress = SweepProgress(enabled=not args.no_progress)
    cache = {None: os.path.join(args.out, ".jax_cache"), "none": None}.get(cache_flag, cache_flag)
    if args.executor == "slurm":
        jobs = submit_slurm(run_dirs, _resources(args), os.path.join(args.out, ".submitit"), compile_cache=cache)
        if not jobs:
            print(f"all {len(run_dirs)} runs are done; rosmo report {args.out}")
            return 0
        print(
            f"submitted {len(jobs)} runs as job array {str(jobs[0].job_id).split('_')[0]} "
            f"(logs in {os.path.join(args.out, '.submitit')}, each run's worker.log)"
        )
        if not args.wait:
            return 0
        statuses = monitor(run_dirs, jobs, progress)
    else:
        workers = args.workers or default_workers(args.threads or 1)
        threads = args.threads or threads_per_worker(workers)
        print(
            f"sweep: {len(run_dirs)} runs in {args.out}, {workers} worker(s) x {threads} thread(s) "
            f"on {available_cpus()} CPU(s){'' if args.no_pin else ', each worker pinned to its own CPUs when they fit'}"
        )
        statuses = run_local(run_dirs, workers, threads, compile_cache=cache, progress=progress, pin=not args.no_pin)
    failed = [d for d, s in statuses.items() if s.get("state") == "failed"]
    for run_dir in failed:
        print(f"failed: {os.path.basename(run_dir)}: {statuses[run_dir].get('error')}", file=sys.stderr)
    for run_dir in [d for d, s in statuses.items() if s.get("state") == "running"]:
        print(
            f"still running: {os.path.basename(run_dir)}: {statuses[run_dir].get('note')}; run the same command "
            "after it ends",
            file=sys.stderr,
        )
    print(f"report: rosmo report {args.out}")
    return EXIT_FAILED_RUNS if failed else 0


def main(argv: Optional[list[str]] = None) -> int:
    from rosmo import cli

    return cli.main(["sweep", *(sys.argv[1:] if argv is None else argv)])
