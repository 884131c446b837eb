"""Time of each off-policy estimate for one checkpoint (`rosmo.ope.job.estimate_checkpoint`).

    python benchmarks/ope_time.py --checkpoint runs/catch                     # every estimator, the latest step
    python benchmarks/ope_time.py --checkpoint runs/catch --estimators fqe --repeats 3

The dataset is read once first (the evaluator job reads it once for all checkpoints), so the
times are the estimators' own: the policy's probabilities on every logged observation, FQE's
fit (`--fqe-steps` at most, early stopping), the model's value and rollout. Prints the load
average with the numbers (CPU timings on a shared machine vary with it). Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import os
import time

from rosmo.ope.fqe import FQEConfig
from rosmo.ope.job import OpeSettings, estimate_checkpoint, parse_estimators


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a run directory of `rosmo train`")
    parser.add_argument("--estimators", default="all")
    parser.add_argument("--fqe-steps", type=int, default=FQEConfig().num_steps)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    settings = OpeSettings(estimators=parse_estimators(args.estimators), fqe=FQEConfig(num_steps=args.fqe_steps))
    started = time.time()
    estimate_checkpoint(args.checkpoint, settings=OpeSettings(estimators=("behaviour",)))
    print(f"checkpoint load + dataset read: {time.time() - started:.1f}s")
    for i in range(args.repeats):
        load = os.getloadavg()
        started = time.time()
        columns, details = estimate_checkpoint(args.checkpoint, settings=settings)
        total = time.time() - started
        parts = "  ".join(f"{k[4:-8]} {v:.1f}s" for k, v in columns.items() if k.endswith("_seconds"))
        fqe = (
            f"  (fqe: {int(columns['ope_fqe_iterations'])} iterations, {details['fqe']['steps']} steps)"
            if "fqe" in details
            else ""
        )
        print(
            f"repeat {i}: total {total:.1f}s  {parts}{fqe}  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
            f"on {os.cpu_count()} CPUs"
        )
        print("  " + "  ".join(f"{k} {v:.3f}" for k, v in columns.items() if not k.endswith("_seconds")))


if __name__ == "__main__":
    main()
