"""BREMEN deployments on a MuJoCo env, resumable (the deployment-efficiency measurement).

    python experiments/mujoco/bremen_deploy.py WORKDIR [FIELD=VALUE ...]

FIELD=VALUE overrides fields of `rosmo.agents.bremen.cpu_config(env)` (e.g. env=Hopper-v5,
num_deployments=5, transitions_per_deployment=100000, trpo.iterations=500, seed=1). Prints the return
after each deployment; the run directory layout is in `rosmo.deploy.loop`.
"""

from __future__ import annotations

import sys

from rosmo.agents.bremen import ConfigError, cpu_config
from rosmo.configs.loading import apply_overrides
from rosmo.deploy.bremen import run_bremen_deployments

USAGE = "usage: python experiments/mujoco/bremen_deploy.py WORKDIR [FIELD=VALUE ...]"


def main(argv) -> int:
    if not argv or argv[0].startswith("-") or "=" in argv[0]:
        print(USAGE, file=sys.stderr)
        return 2
    workdir, overrides = argv[0], argv[1:]
    env = next((o.split("=", 1)[1] for o in overrides if o.startswith("env=")), "HalfCheetah-v5")
    try:
        config = cpu_config(env)
        apply_overrides(config, [o for o in overrides if not o.startswith("env=")])
        summary = run_bremen_deployments(config, workdir)
    except (ValueError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{'deployment':>10} {'env_steps':>10} {'mean':>9} {'iqm':>9} {'iqm 95% CI':>21} {'wall s':>8}")
    for r in summary["deployments"]:
        print(
            f"{r['deployment']:>10} {r['env_steps']:>10} {r['mean_return']:>9.1f} {r['iqm_return']:>9.1f} "
            f"[{r['iqm_return_ci_low']:>8.1f}, {r['iqm_return_ci_high']:>8.1f}] {r['wall_seconds']:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
