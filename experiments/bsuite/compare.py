"""Compare algorithms on the BSuite offline datasets: algos x envs x seeds, same step budget.

    python experiments/bsuite/compare.py --algos rosmo,mzu,bc,cql --envs catch,cartpole,mountain_car \
        --seeds 0,1,2 --steps 2000 --out runs/compare --batch-size 128 --set learning_rate=2e-3

Every run trains through `rosmo.training.loop.train` in its own workdir
`<out>/<env>/<algo>/seed<seed>` (resumable; a run whose summary.json exists
with the requested step count is not trained again). Then writes

    <out>/results.csv   one row per run: env, algo, seed, steps, normalised score, mean return, wall seconds
    <out>/results.md    mean ± std normalised score per algo (rows) and env (columns), number of seeds,
                        and the mean wall time per run

MZU acts with MCTS (`act_policy=mcts`, no root noise) with `--num-simulations`
(20 by default) for its learner targets and acting; ROSMO acts from its
prior (the config default); BC and CQL act greedily on their head. Runs are
ordered seed -> env -> algo so that a cut-off table still compares all algos
on every env with the seeds it has; `--max-minutes` stops starting new runs after that long.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import traceback
from typing import Any, Dict, List, Optional

import numpy as np

from rosmo.agents import AGENTS
from rosmo.configs.bsuite import ENVS, get_config

ALGOS = tuple(AGENTS)  # the agent registry
FIELDS = ("env", "algo", "seed", "num_steps", "normalized_score", "mean_return", "wall_seconds", "status", "workdir")


def _csv_list(text: str, allowed=None, kind=str, flag: str = "") -> List:
    items = [kind(x.strip()) for x in text.split(",") if x.strip()]
    if not items:
        raise SystemExit(f"{flag}: expected a comma-separated list, got {text!r}")
    if allowed is not None:
        bad = [x for x in items if x not in allowed]
        if bad:
            raise SystemExit(f"{flag}: unknown {bad}; expected some of {list(allowed)}")
    return items


def run_config(args, env: str, algo: str, seed: int):
    """The config of one run: the env's BSuite config with the comparison's overrides."""
    c = get_config(env)
    c.algo = algo
    c.seed = seed
    c.dataset_dir = os.path.join(args.dataset_root, env)
    c.num_steps = args.steps
    c.eval_every = args.eval_every or args.steps
    c.eval_episodes = args.eval_episodes
    c.checkpoint_every = min(args.steps, args.checkpoint_every)
    c.log_every = min(args.steps, c.log_every)
    c.use_tensorboard = False
    if args.batch_size:
        c.batch_size = args.batch_size
    c.num_simulations = args.num_simulations
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in c:
            raise SystemExit(f"--set {item}: the config has no field {key!r}")
        c[key] = type(c[key])(value) if c[key] is not None and not isinstance(c[key], bool) else _parse_bool_or(value)
    if algo == "mzu":
        c.act_policy = "mcts"
        c.act_exploration_noise = False
    return c


def _parse_bool_or(value: str):
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return int(value) if value.lstrip("-").isdigit() else value


def _summary_path(workdir: str) -> str:
    return os.path.join(workdir, "summary.json")


def _done(workdir: str, steps: int) -> Optional[Dict[str, Any]]:
    path = _summary_path(workdir)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        summary = json.load(f)
    return summary if summary.get("num_steps") == steps else None


def _row(env, algo, seed, workdir, summary=None, wall=None, status="ok") -> Dict[str, Any]:
    final = (summary or {}).get("final_eval") or {}
    timing_path = os.path.join(workdir, "compare_wall_seconds.json")
    if wall is None and os.path.exists(timing_path):
        with open(timing_path) as f:
            wall = json.load(f)["wall_seconds"]
    return dict(
        env=env, algo=algo, seed=seed,
        num_steps=(summary or {}).get("num_steps"),
        normalized_score=final.get("normalized_score"),
        mean_return=final.get("mean_return"),
        wall_seconds=wall,
        status=status,
        workdir=workdir,
    )


def train_one(args, env: str, algo: str, seed: int) -> Dict[str, Any]:
    from rosmo.training.loop import train

    workdir = os.path.join(args.out, env, algo, f"seed{seed}")
    summary = _done(workdir, args.steps)
    if summary is not None:
        print(f"[skip] {env} {algo} seed {seed}: {_summary_path(workdir)} exists", flush=True)
        return _row(env, algo, seed, workdir, summary)
    if not os.path.exists(os.path.join(args.dataset_root, env, "dataset_info.json")):
        print(f"[missing] {env}: no dataset at {os.path.join(args.dataset_root, env)}", flush=True)
        return _row(env, algo, seed, workdir, status="no dataset")
    print(f"[train] {env} {algo} seed {seed} ({args.steps} steps) -> {workdir}", flush=True)
    started = time.time()
    try:
        summary = train(run_config(args, env, algo, seed), workdir, progress=False)
    except Exception:  # one failing run must not lose the others
        traceback.print_exc()
        return _row(env, algo, seed, workdir, status="error")
    wall = time.time() - started
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "compare_wall_seconds.json"), "w") as f:
        json.dump({"wall_seconds": wall}, f)
    row = _row(env, algo, seed, workdir, summary, wall=wall)
    print(f"[done] {env} {algo} seed {seed}: normalised {row['normalized_score']}, {wall:.0f}s", flush=True)
    return row


def write_csv(rows: List[Dict[str, Any]], path: str) -> None:
    with open(path + ".tmp", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(path + ".tmp", path)


def markdown_table(rows: List[Dict[str, Any]], algos: List[str], envs: List[str], steps: int) -> str:
    """mean ± std (over seeds, population std) of the normalised score; n = finished seeds; wall = mean s/run."""
    lines = [
        f"Normalised score (R - random) / (DQN - random), mean ± std over seeds [n seeds], {steps} learner steps per run; "
        "wall = mean seconds per run (training + evaluation).",
        "",
        "| algo | " + " | ".join(envs) + " | " + " | ".join(f"wall {e} (s)" for e in envs) + " |",
        "|---" * (1 + 2 * len(envs)) + "|",
    ]
    for algo in algos:
        scores, walls = [], []
        for env in envs:
            vals = [r["normalized_score"] for r in rows if r["algo"] == algo and r["env"] == env and r["normalized_score"] is not None]
            ws = [r["wall_seconds"] for r in rows if r["algo"] == algo and r["env"] == env and r["wall_seconds"] is not None]
            scores.append(f"{np.mean(vals):.2f} ± {np.std(vals):.2f} [{len(vals)}]" if vals else "–")
            walls.append(f"{np.mean(ws):.0f}" if ws else "–")
        lines.append(f"| {algo} | " + " | ".join(scores) + " | " + " | ".join(walls) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", default="rosmo,mzu,bc,cql")
    parser.add_argument("--envs", default="catch,cartpole,mountain_car")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, required=True, help="learner steps per run (the same for every run)")
    parser.add_argument("--out", default="runs/compare")
    parser.add_argument("--dataset-root", default="datasets/bsuite")
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=0, help="0: evaluate only at the end")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=0, help="0: the config's (512)")
    parser.add_argument("--num-simulations", type=int, default=20, help="MZU simulations (learner and acting)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a config field for every run, e.g. --set learning_rate=2e-3 (repeatable)")
    parser.add_argument("--max-minutes", type=float, default=0.0, help="start no new run after this long (0: no limit)")
    args = parser.parse_args(argv)
    algos = _csv_list(args.algos, ALGOS, flag="--algos")
    envs = _csv_list(args.envs, ENVS, flag="--envs")
    seeds = _csv_list(args.seeds, kind=int, flag="--seeds")
    if args.steps < 1:
        raise SystemExit(f"--steps={args.steps}: expected an integer >= 1")
    os.makedirs(args.out, exist_ok=True)

    started = time.time()
    rows: List[Dict[str, Any]] = []
    for seed in seeds:
        for env in envs:
            for algo in algos:
                workdir = os.path.join(args.out, env, algo, f"seed{seed}")
                over = args.max_minutes and time.time() - started > 60 * args.max_minutes
                if over and _done(workdir, args.steps) is None:
                    rows.append(_row(env, algo, seed, workdir, status="not run (time budget)"))
                    continue
                rows.append(train_one(args, env, algo, seed))
                write_csv(rows, os.path.join(args.out, "results.csv"))
    write_csv(rows, os.path.join(args.out, "results.csv"))
    table = markdown_table(rows, algos, envs, args.steps)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table)
    print(table)
    not_run = [f"{r['env']}/{r['algo']}/seed{r['seed']} ({r['status']})" for r in rows if r["status"] != "ok"]
    if not_run:
        print("not in the table: " + ", ".join(not_run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
