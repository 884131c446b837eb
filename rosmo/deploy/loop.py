"""The deployment loop (BREMEN's Algorithm 1, generic over agents): collect -> train -> evaluate, resumable.

For deployments i = 1 .. I: collect B transitions with the policy of deployment i - 1 into D_i, train on
D_all = D_1 .. D_i, evaluate the new policy online. The loop moves data and state between directories
(`<workdir>/deployments/<i>/{data,checkpoint,train.json,evaluation.json,result.json}`, `deployments.csv`,
`summary.json`, `plots/`); what collecting, training and evaluating mean is the `DeploymentAgent`'s.
Finished deployments, complete datasets and complete checkpoints are not redone on resume.
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from typing import Any, Optional, Protocol, Sequence

import tqdm

from rosmo.deploy.plots import plot_deployments
from rosmo.errors import UserError
from rosmo.jsonio import MISSING, config_changes, read_json, to_jsonable, write_json_atomic
from rosmo.signals import check_stop

CSV_FIELDS = (
    "deployment",
    "env_steps",
    "collect_return",
    "mean_return",
    "median_return",
    "iqm_return",
    "iqm_return_ci_low",
    "iqm_return_ci_high",
    "normalized_score",
    "collect_seconds",
    "train_seconds",
    "eval_seconds",
    "wall_seconds",
)


class DeploymentAgent(Protocol):
    """What the loop needs from an agent. `state` is whatever `train` returns and `restore` gives back."""

    def collect(self, deployment: int, state: Optional[Any], out_dir: str) -> dict[str, Any]:
        """Write this deployment's data, collected with `state`'s policy (None: the initial policy), as the
        RLDS dataset `out_dir`; return a JSON-able summary with at least `transitions`."""

    def train(self, deployment: int, dataset_dirs: Sequence[str], previous: Optional[Any]) -> tuple[Any, dict]:
        """Train on D_all = `dataset_dirs` (the last is this deployment's); return (state, JSON-able metrics)."""

    def save(self, state: Any, directory: str) -> None:
        """Save `state` into the (new, empty) `directory`."""

    def restore(self, directory: str) -> Any:
        """The state saved in `directory`."""

    def evaluate(self, deployment: int, state: Any) -> dict[str, Any]:
        """Online evaluation of `state`'s policy: JSON-able, with mean_return / median_return / iqm_return /
        iqm_return_ci95 at least."""


class DeploymentError(UserError):
    """A run directory that cannot be resumed with the given config (the message names the field)."""


def deployment_dir(workdir: str, deployment: int) -> str:
    return os.path.join(workdir, "deployments", f"{deployment:03d}")


def check_config(workdir: str, config: dict[str, Any], ignore: Sequence[str] = ("num_deployments",)) -> None:
    """Write `<workdir>/config.json`, or check that the saved one matches `config` (fields in `ignore` aside)."""
    path = os.path.join(workdir, "config.json")
    config = to_jsonable(config)
    if not os.path.exists(path):
        write_json_atomic(path, config)
        return
    saved = read_json(path)
    changes = config_changes(saved, config, same=lambda field, a, b: field in ignore or _value(a) == _value(b))
    if changes:
        details = "; ".join(f"{k}: saved {_value(a)!r}, now {_value(b)!r}" for k, (a, b) in list(changes.items())[:5])
        raise DeploymentError(
            f"{path}: the run was started with a different config ({details}); use a new workdir or the saved config"
        )
    if saved != config:  # only ignored fields changed (e.g. more deployments): keep the newest
        write_json_atomic(path, config)


def _value(value: Any) -> Any:
    return None if value is MISSING else value


def save_atomic(agent: DeploymentAgent, state: Any, directory: str) -> None:
    """`agent.save` into `<directory>.tmp`, then rename to `directory` (a half-written save never counts)."""
    tmp = directory + ".tmp"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    agent.save(state, tmp)
    os.replace(tmp, directory)


def _dataset_complete(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "dataset_info.json"))


def _row(result: dict[str, Any]) -> dict[str, Any]:
    ev = result["evaluation"]
    low, high = ev.get("iqm_return_ci95", [None, None])
    return {
        "deployment": result["deployment"],
        "env_steps": result["env_steps"],
        "collect_return": result["collect"].get("episode_return_mean"),
        "mean_return": ev.get("mean_return"),
        "median_return": ev.get("median_return"),
        "iqm_return": ev.get("iqm_return"),
        "iqm_return_ci_low": low,
        "iqm_return_ci_high": high,
        "normalized_score": ev.get("normalized_score"),
        **{
            k: result["seconds"].get(k.replace("_seconds", ""))
            for k in ("collect_seconds", "train_seconds", "eval_seconds", "wall_seconds")
        },
    }


def write_report(workdir: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """`deployments.csv` (one row per finished deployment), `summary.json` and `plots/deployments.{png,svg}`;
    returns the summary."""
    rows = [_row(r) for r in results]
    path = os.path.join(workdir, "deployments.csv")
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    os.replace(tmp, path)
    summary = {
        "workdir": os.path.abspath(workdir),
        "deployments": rows,
        "final_mean_return": rows[-1]["mean_return"] if rows else None,
        "env_steps": rows[-1]["env_steps"] if rows else 0,
        "wall_seconds": sum(r["wall_seconds"] or 0 for r in rows),
    }
    write_json_atomic(os.path.join(workdir, "summary.json"), summary)
    if rows:
        plot_deployments(rows, os.path.join(workdir, "plots"), title=os.path.basename(os.path.abspath(workdir)))
    return summary


def run_deployments(
    agent: DeploymentAgent,
    workdir: str,
    num_deployments: int,
    config: Optional[dict[str, Any]] = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) `num_deployments` deployments of `agent` in `workdir`; returns the summary."""
    if num_deployments < 1:
        raise ValueError(f"num_deployments must be >= 1, got {num_deployments}")
    os.makedirs(workdir, exist_ok=True)
    if config is not None:
        check_config(workdir, config)
    results: list[dict[str, Any]] = []
    state: Optional[Any] = None
    state_of: Optional[int] = None  # the deployment whose state `state` is
    env_steps = 0
    bar = tqdm.tqdm(range(1, num_deployments + 1), desc="deployments", unit="dep", disable=not progress)
    for i in bar:
        check_stop()  # SIGINT/SIGTERM: stop between stages (each stage's files are written atomically)
        d = deployment_dir(workdir, i)
        result_path = os.path.join(d, "result.json")
        if os.path.exists(result_path):
            result = read_json(result_path)
            results.append(result)
            env_steps = result["env_steps"]
            continue
        os.makedirs(d, exist_ok=True)
        start = time.time()
        seconds: dict[str, float] = {}
        if i > 1 and state_of != i - 1:
            state, state_of = agent.restore(os.path.join(deployment_dir(workdir, i - 1), "checkpoint")), i - 1
        data_dir = os.path.join(d, "data")
        collect_path = os.path.join(d, "collect.json")
        if not (_dataset_complete(data_dir) and os.path.exists(collect_path)):
            t = time.time()
            collect = agent.collect(i, state if i > 1 else None, data_dir)
            seconds["collect"] = round(time.time() - t, 2)
            write_json_atomic(collect_path, {**collect, "seconds": seconds["collect"]})
        check_stop()
        collect = read_json(collect_path)
        seconds.setdefault("collect", collect.get("seconds", 0.0))
        ckpt = os.path.join(d, "checkpoint")
        train_path = os.path.join(d, "train.json")
        if not (os.path.isdir(ckpt) and os.path.exists(train_path)):
            t = time.time()
            datasets = [os.path.join(deployment_dir(workdir, j), "data") for j in range(1, i + 1)]
            state, metrics = agent.train(i, datasets, state if i > 1 else None)
            seconds["train"] = round(time.time() - t, 2)
            write_json_atomic(train_path, {**to_jsonable(metrics), "seconds": seconds["train"]})
            if os.path.isdir(ckpt):
                shutil.rmtree(ckpt)
            save_atomic(agent, state, ckpt)
        else:
            state = agent.restore(ckpt)
            seconds["train"] = read_json(train_path).get("seconds", 0.0)
        state_of = i
        eval_path = os.path.join(d, "evaluation.json")
        if not os.path.exists(eval_path):
            t = time.time()
            evaluation = agent.evaluate(i, state)
            seconds["eval"] = round(time.time() - t, 2)
            write_json_atomic(eval_path, {**to_jsonable(evaluation), "seconds": seconds["eval"]})
        evaluation = read_json(eval_path)
        seconds.setdefault("eval", evaluation.get("seconds", 0.0))
        seconds["wall"] = round(seconds["collect"] + seconds["train"] + seconds["eval"], 2)
        env_steps += int(collect["transitions"])
        result = {
            "deployment": i,
            "env_steps": env_steps,
            "collect": collect,
            "evaluation": evaluation,
            "seconds": seconds,
            "finished_after_s": round(time.time() - start, 2),
        }
        write_json_atomic(result_path, result)
        results.append(result)
        bar.set_postfix(ret=f"{evaluation.get('mean_return', float('nan')):.1f}", steps=env_steps, refresh=False)
        write_report(workdir, results)
    bar.close()
    return write_report(workdir, results)
