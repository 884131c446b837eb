"""Offline BREMEN vs BC on one fixed dataset, over seeds (the slides' offline comparison, on our data).

    python experiments/mujoco/bremen_offline.py OUT --behaviour-run RUN_DIR:DEPLOYMENT [FIELD=VALUE ...]
    python experiments/mujoco/bremen_offline.py OUT --dataset DATASET_DIR [FIELD=VALUE ...]

1. With --behaviour-run, makes `OUT/dataset` (if missing): `dataset_transitions` (default 100000)
   transitions of deployment DEPLOYMENT's policy of a BREMEN run (mean + N(0, 0.1^2), clipped: our
   "medium" recipe, `rosmo.deploy.bremen.make_behaviour_dataset`), seed `dataset_seed`.
2. For each seed in `seeds` (default 0,1,2): BREMEN (`OUT/bremen/seed<s>`) and BC (`OUT/bc/seed<s>`)
   on that dataset, each evaluated over `eval_episodes` episodes (resumable: finished runs are read back).
3. Writes `OUT/results.json` and `OUT/results.md`: per algorithm the IQM of all evaluation episodes of
   all seeds with a 95% percentile-bootstrap CI, the mean of per-seed means and its std, the dataset's
   behaviour return, and the per-seed IQMs.

FIELD=VALUE overrides `rosmo.agents.bremen.cpu_config(env)` fields, plus `seeds=0,1,2`,
`dataset_transitions=N`, `dataset_seed=S`, `noise_std=X`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from rosmo.agents.bremen import ConfigError, cpu_config
from rosmo.configs.loading import apply_overrides
from rosmo.data import rlds
from rosmo.statistics import return_statistics
from rosmo.deploy.bremen import make_behaviour_dataset, run_offline
from rosmo.training.run_logging import write_json_atomic

USAGE = (
    "usage: python experiments/mujoco/bremen_offline.py OUT (--behaviour-run RUN_DIR:DEPLOYMENT | "
    "--dataset DATASET_DIR) [FIELD=VALUE ...]"
)
EXTRA = {"seeds": "0,1,2", "dataset_transitions": "100000", "dataset_seed": "0", "noise_std": "0.1"}


def _parse(argv):
    if len(argv) < 3 or argv[1] not in ("--behaviour-run", "--dataset"):
        raise SystemExit(USAGE)
    out, mode, source, rest = argv[0], argv[1], argv[2], argv[3:]
    extra = dict(EXTRA)
    overrides = []
    for item in rest:
        field, _, value = item.partition("=")
        if field in extra:
            extra[field] = value
        else:
            overrides.append(item)
    return out, mode, source, extra, overrides


def main(argv) -> int:
    out, mode, source, extra, overrides = _parse(argv)
    env = next((o.split("=", 1)[1] for o in overrides if o.startswith("env=")), None)
    try:
        seeds = [int(s) for s in extra["seeds"].split(",") if s.strip()]
        if mode == "--behaviour-run":
            run_dir, _, dep = source.rpartition(":")
            if not run_dir or not dep.isdigit():
                raise ValueError(f"--behaviour-run {source}: expected RUN_DIR:DEPLOYMENT (e.g. runs/hc:3)")
            dataset = os.path.join(out, "dataset")
            if not os.path.exists(dataset):
                summary = make_behaviour_dataset(
                    run_dir,
                    int(dep),
                    dataset,
                    int(extra["dataset_transitions"]),
                    float(extra["noise_std"]),
                    int(extra["dataset_seed"]),
                )
                print(f"dataset {dataset}: {summary}")
        else:
            dataset = source
        meta = rlds.metadata(rlds.load_builder(dataset))
        env = env or meta["env"]
        results: dict[str, Any] = {
            "dataset": os.path.abspath(dataset),
            "env": env,
            "seeds": seeds,
            "behaviour_return": meta.get("behaviour_return"),
            "random_return": meta.get("random_return"),
            "dataset_episode_return_mean": meta.get("episode_return_mean"),
            "num_transitions": meta.get("num_transitions"),
            "algos": {},
        }
        for algo in ("bc", "bremen"):
            runs: list[dict[str, Any]] = []
            for seed in seeds:
                config = cpu_config(env)
                apply_overrides(config, [o for o in overrides if not o.startswith("env=")])
                config.seed = seed
                ev = run_offline(config, [dataset], os.path.join(out, algo, f"seed{seed}"), algo=algo)
                runs.append(ev)
                print(f"{algo} seed {seed}: mean {ev['mean_return']:.1f} iqm {ev['iqm_return']:.1f}")
            pooled = return_statistics([r for ev in runs for r in ev["returns"]])
            seed_means = np.array([ev["mean_return"] for ev in runs])
            results["algos"][algo] = {
                "iqm_return": pooled["iqm"],
                "iqm_return_ci95": pooled["iqm_ci95"],
                "mean_return": pooled["mean"],
                "seed_mean_returns": seed_means.tolist(),
                "seed_iqm_returns": [ev["iqm_return"] for ev in runs],
                "mean_of_seed_means": float(seed_means.mean()),
                "std_of_seed_means": float(seed_means.std()),
                "episodes": pooled["episodes"],
            }
    except (ValueError, FileNotFoundError, ConfigError, rlds.DatasetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_json_atomic(os.path.join(out, "results.json"), results)
    lines = [
        f"# Offline {env}: {results['num_transitions']} transitions, behaviour return "
        f"{results['behaviour_return']}, seeds {seeds}",
        "",
        "| algo | IQM return (all episodes) | 95% CI | mean of seed means ± std | per-seed IQM |",
        "|---|---|---|---|---|",
    ]
    for algo, r in results["algos"].items():
        lo, hi = r["iqm_return_ci95"]
        lines.append(
            f"| {algo} | {r['iqm_return']:.1f} | [{lo:.1f}, {hi:.1f}] | {r['mean_of_seed_means']:.1f} ± "
            f"{r['std_of_seed_means']:.1f} | {', '.join(f'{v:.1f}' for v in r['seed_iqm_returns'])} |"
        )
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
