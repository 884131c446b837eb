"""`rosmo report SWEEP_DIR`: IQM [95% CI] tables and plots of a sweep's runs (rliable).

    rosmo report runs/unroll                                  # report.md, results.csv, groups.csv, plots/ in \
runs/unroll
    rosmo report runs/sims --group-by algo,num_simulations --compare algo=rosmo --out reports/sims
    rosmo report runs/ope_bsuite --ope --group-by algo,data_percentage        # off-policy estimators vs online scores
    rosmo report runs/coverage --previous results/coverage/results.csv --out results/coverage   # new runs + recorded

Reads every run's eval.csv and summary.json under SWEEP_DIR (runs of
`rosmo sweep`, or any run directories of `rosmo train`), groups them by the
fields the sweep varies (not the seed), and writes report.md (IQM, mean and
median of the final normalised score with stratified bootstrap CIs per group
and env; probability of improvement of --compare over the other groups),
results.csv (one row per run and evaluation), groups.csv, improvement.csv
and plots as PNG and SVG.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from rosmo.cli import cannot_write, user_message

EXIT_USAGE = 2


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sweep_dir",
        nargs="?",
        help="a sweep directory (rosmo sweep --out) or any directory of run directories (optional with --previous)",
    )
    parser.add_argument(
        "--previous",
        action="append",
        default=[],
        metavar="RESULTS_CSV",
        help="also report the runs an earlier report's results.csv records (e.g. a committed "
        "results/<study>/<question>/results.csv); a run of the same name under SWEEP_DIR replaces them once it "
        "has evaluated; repeatable",
    )
    parser.add_argument("--out", help="where to write the report (default: SWEEP_DIR)")
    parser.add_argument(
        "--group-by", help="comma-separated fields to group runs by (default: the varied fields but seed)"
    )
    parser.add_argument(
        "--compare",
        help="group whose probability of improvement over the others is shown, e.g. "
        "unroll_steps=3 (default: the group with the highest IQM)",
    )
    parser.add_argument(
        "--metric", default="normalized_score", help="eval.csv / final_eval column (default normalized_score)"
    )
    parser.add_argument("--reps", type=_positive, default=5_000, help="bootstrap resamples (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--no-plots", action="store_true", help="tables only")
    parser.add_argument(
        "--ope",
        action="store_true",
        help="score the off-policy estimators (eval.csv's ope_* columns) against the online score: "
        "Spearman, regret@1/@3, absolute error per env (ope.md, ope.csv, scatter plots)",
    )


def run(args) -> int:
    from rosmo.report.build import make_report  # here, not at the top: `rosmo report --help` stays fast
    from rosmo.report.collect import ReportError

    group_by = None if args.group_by is None else [f.strip() for f in args.group_by.split(",") if f.strip()]
    if args.sweep_dir is None and not (args.previous and not args.ope):
        needs = "SWEEP_DIR (--previous does not hold checkpoints' estimates)" if args.ope else "SWEEP_DIR or --previous"
        print(f"rosmo report: error: {needs} is required", file=sys.stderr)
        return EXIT_USAGE
    if args.ope:
        return run_ope(args, group_by or [])
    try:
        out = make_report(
            args.sweep_dir,
            out_dir=args.out,
            group_by=group_by,
            compare=args.compare,
            reps=args.reps,
            seed=args.seed,
            make_plots=not args.no_plots,
            metric=args.metric,
            previous=args.previous,
        )
    except ReportError as err:
        print(f"rosmo report: error: {user_message(err)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:  # the report's directory cannot be made or written
        flag = f"--out {args.out}" if args.out else f"SWEEP_DIR {args.sweep_dir} (the default --out)"
        print(f"rosmo report: error: {cannot_write(flag, 'the report', err)}", file=sys.stderr)
        return EXIT_USAGE
    with open(out["report"]) as f:
        print(f.read())
    print(f"wrote {out['report']}, {out['results']}, {out['groups']}, {len(out['plots'])} plot files")
    return 0


def run_ope(args, group_by) -> int:
    from rosmo.report.collect import ReportError
    from rosmo.report.ope import make_ope_report

    try:
        out = make_ope_report(
            args.sweep_dir,
            out_dir=args.out,
            group_by=group_by,
            reps=args.reps,
            seed=args.seed,
            make_plots=not args.no_plots,
            metric=args.metric,
        )
    except ReportError as err:
        print(f"rosmo report: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    with open(out["report"]) as f:
        print(f.read())
    print(f"wrote {out['report']}, {out['scores']}, {out['checkpoints']}, {len(out['plots'])} plot files")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    from rosmo import cli

    return cli.main(["report", *(sys.argv[1:] if argv is None else argv)])
