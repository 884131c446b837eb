"""Reports of sweeps the way the field reports them (rliable): IQM with stratified bootstrap CIs per group and env,
probability of improvement, performance profiles, learning curves, score against a swept number.

    make_report("runs/unroll")          # report.md, results.csv, groups.csv, improvement.csv, plots/

The command line is `rosmo report` (rosmo/cli/report.py).
"""

from rosmo.report.build import make_report
from rosmo.report.collect import ReportError, RunRecord, load_runs
from rosmo.report.stats import curve_estimates, interval_estimates, performance_profiles, probability_of_improvement

__all__ = [
    "ReportError",
    "RunRecord",
    "curve_estimates",
    "interval_estimates",
    "load_runs",
    "make_report",
    "performance_profiles",
    "probability_of_improvement",
]
