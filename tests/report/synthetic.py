"""Synthetic run directories (the files `rosmo train` + `rosmo sweep` write) for report tests."""

from __future__ import annotations

import json
import os
from typing import Any, Optional, Sequence


def write_run(
    root: str,
    name: str,
    point: dict[str, Any],
    env: str,
    seed: int,
    steps: Sequence[int],
    scores: Sequence[float],
    finished: bool = True,
    train_seconds: Optional[Sequence[float]] = None,
    config_spec: str = "bsuite:catch",
) -> str:
    """A run directory with sweep_run.json, config.json, eval.csv and (when finished) summary.json."""
    run_dir = os.path.join(root, name)
    os.makedirs(run_dir, exist_ok=True)
    config = {
        "algo": point.get("algo", "rosmo"),
        "env": env,
        "seed": seed,
        "num_steps": int(steps[-1]) if finished else 10**6,
    }
    with open(os.path.join(run_dir, "sweep_run.json"), "w") as f:
        json.dump({"name": name, "point": {**point, "seed": seed}, "config_spec": config_spec, "config": config}, f)
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(run_dir, "eval.csv"), "w") as f:
        f.write("step,episodes,mean_return,normalized_score" + (",train_seconds" if train_seconds else "") + "\n")
        for i, (step, score) in enumerate(zip(steps, scores)):
            f.write(f"{step},100,{2 * score - 1},{score}" + (f",{train_seconds[i]}" if train_seconds else "") + "\n")
    if finished:
        with open(os.path.join(run_dir, "summary.json"), "w") as f:
            json.dump(
                {
                    "env": env,
                    "seed": seed,
                    "num_steps": int(steps[-1]),
                    "train_seconds_total": 10.0 * len(steps),
                    "final_eval": {"normalized_score": scores[-1], "mean_return": 2 * scores[-1] - 1, "episodes": 100},
                },
                f,
            )
    return run_dir
