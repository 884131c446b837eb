"""`rosmo report SWEEP_DIR --ope`: how well each off-policy estimator ranks checkpoints and runs.

Reads every run's eval.csv (rows merged by step: the online `metric` of one row and the `ope_*`
columns of another, as inline evaluation and `rosmo evaluate --watch RUN --ope ... --no-online`
write them) and scores each estimator per env (and per `group_by` fields) on two selections:

    checkpoints  the candidates are one run's checkpoints; "last" (take the last checkpoint) competes
    runs         the candidates are the runs of one seed (the sweep's configs) at their last estimated step

with `rosmo.ope.metrics`: Spearman's rho, regret@1, regret@3 and (for return estimates) the absolute
error against the online normalised score. Each is averaged per seed, then over seeds with a
percentile bootstrap 95% CI over seeds.

    <out>/ope.md                     the tables
    <out>/ope.csv                    the same as numbers (env, group fields, estimator, selection, metric, mean,
                                     low, high)
    <out>/ope_checkpoints.csv        one row per run and step: online score and every estimate
    <out>/plots/ope_scatter_<estimator>.png|svg   estimate against online score, one colour per env
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rosmo.ope import metrics  # noqa: E402
from rosmo.report.collect import ReportError, load_runs  # noqa: E402
from rosmo.report.plots import save  # noqa: E402

ESTIMATORS = ("fqe", "model_value", "model_rollout", "behaviour", "agreement")
RETURN_ESTIMATORS = ("fqe", "model_value", "model_rollout", "behaviour")
LAST = "last"  # "take the last checkpoint": the step is its estimate
METRICS = ("spearman", "regret@1", "regret@3", "abs_error")


def checkpoint_table(sweep_dir: str, metric: str = "normalized_score", fields: Sequence[str] = ()) -> pd.DataFrame:
    """One row per run and step: run, env, seed, the `fields`, step, score (online `metric`), ope_<estimator>..."""
    records = load_runs(sweep_dir, metric, fields)
    frames = []
    for r in records:
        path = os.path.join(r.run_dir, "eval.csv")
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            continue
        try:
            raw = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise ReportError(f"{path}: cannot read ({err})") from None
        if "step" not in raw:
            raise ReportError(f"{path}: no 'step' column (expected the eval.csv of a run)")
        columns = [c for c in [metric] + [f"ope_{e}" for e in ESTIMATORS] if c in raw]
        merged = (
            raw[["step"] + columns].groupby("step", sort=True).last().reset_index()
        )  # last non-empty value per step
        frame = pd.DataFrame({"run": r.name, "env": r.env, "seed": r.seed, "step": merged["step"].astype(int)})
        for f in fields:
            frame[f] = str(r.fields.get(f))
        frame["score"] = merged[metric].astype(float) if metric in merged else np.nan
        for e in ESTIMATORS:
            frame[e] = merged[f"ope_{e}"].astype(float) if f"ope_{e}" in merged else np.nan
        frames.append(frame)
    if not frames:
        raise ReportError(f"{sweep_dir}: no run has an eval.csv")
    table = pd.concat(frames, ignore_index=True)
    if not any(table[e].notna().any() for e in ESTIMATORS):
        raise ReportError(
            f"{sweep_dir}: no eval.csv has ope_* columns (run `rosmo evaluate --watch RUN --ope ...` first)"
        )
    return table


def _scored(rows: pd.DataFrame, estimator: str) -> pd.DataFrame:
    est = rows["step"].astype(float) if estimator == LAST else rows[estimator]
    out = rows.assign(estimate=est)
    return out[np.isfinite(out["estimate"]) & np.isfinite(out["score"])]


def _selection_metrics(cands: pd.DataFrame, with_error: bool) -> dict[str, float]:
    e, y = cands["estimate"].to_numpy(), cands["score"].to_numpy()
    return {
        "spearman": metrics.spearman(e, y),
        "regret@1": metrics.regret_at_k(e, y, 1),
        "regret@3": metrics.regret_at_k(e, y, 3),
        "abs_error": metrics.absolute_error(e, y) if with_error else float("nan"),
    }


def unit_metrics(table: pd.DataFrame, estimator: str, selection: str) -> pd.DataFrame:
    """Per seed: the metrics of `estimator` averaged over that seed's selections (one env / group's rows)."""
    rows = _scored(table, estimator)
    with_error = estimator in RETURN_ESTIMATORS
    out = []
    if selection == "checkpoints":
        for (seed, _run), cands in rows.groupby(["seed", "run"], sort=True):
            out.append({"seed": seed, "candidates": len(cands), **_selection_metrics(cands, with_error)})
    else:
        finals = rows.sort_values("step").groupby("run", sort=False).tail(1)
        for seed, cands in finals.groupby("seed", sort=True):
            out.append({"seed": seed, "candidates": len(cands), **_selection_metrics(cands, with_error)})
    frame = pd.DataFrame(out, columns=["seed", "candidates", *METRICS])
    return frame.groupby("seed", sort=True).mean(numeric_only=True).reset_index() if len(frame) else frame


def ope_metrics(table: pd.DataFrame, group_by: Sequence[str] = (), reps: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Long table: env, group fields, estimator, selection, metric, mean, low, high, seeds, candidates."""
    keys = ["env", *group_by]
    estimators = [e for e in ESTIMATORS if table[e].notna().any()]
    out = []
    for group_key, rows in table.groupby(keys, sort=False):
        group_key = group_key if isinstance(group_key, tuple) else (group_key,)
        for selection in ("checkpoints", "runs"):
            for estimator in estimators + ([LAST] if selection == "checkpoints" else []):
                units = unit_metrics(rows, estimator, selection)
                if not len(units):
                    continue
                for name in METRICS:
                    if name == "abs_error" and estimator not in RETURN_ESTIMATORS:
                        continue
                    mean, low, high = metrics.bootstrap_mean_ci(units[name], reps=reps, seed=seed)
                    out.append(
                        {
                            **dict(zip(keys, group_key)),
                            "estimator": estimator,
                            "selection": selection,
                            "metric": name,
                            "mean": mean,
                            "low": low,
                            "high": high,
                            "seeds": int(np.isfinite(units[name]).sum()),
                            "candidates": float(units["candidates"].mean()),
                        }
                    )
    return pd.DataFrame(
        out, columns=[*keys, "estimator", "selection", "metric", "mean", "low", "high", "seeds", "candidates"]
    )


def _cell(row: Optional[dict[str, Any]]) -> str:
    if row is None or not np.isfinite(row["mean"]):
        return "–"
    return f"{row['mean']:.2f} [{row['low']:.2f}, {row['high']:.2f}]"


def markdown(scores: pd.DataFrame, group_by: Sequence[str]) -> str:
    """Two tables per env / group (checkpoint selection, run selection): estimator x metric, mean [95% CI]."""
    keys = ["env", *group_by]
    lines: list[str] = []
    for group_key, rows in scores.groupby(keys, sort=False):
        group_key = group_key if isinstance(group_key, tuple) else (group_key,)
        title = ", ".join(f"{k}={v}" for k, v in zip(keys, group_key))
        for selection, label in (("checkpoints", "checkpoints within a run"), ("runs", "runs within a sweep")):
            part = rows[rows["selection"] == selection]
            if not len(part):
                continue
            seeds = int(part["seeds"].max())
            lines += [
                f"### {title}: {label} ({seeds} seeds, {part['candidates'].mean():.1f} candidates on average)",
                "",
                "| estimator | " + " | ".join(METRICS) + " |",
                "|---|" + "---|" * len(METRICS),
            ]
            for estimator, est_rows in part.groupby("estimator", sort=False):
                cells = {r["metric"]: r for r in est_rows.to_dict("records")}
                lines.append(f"| {estimator} | " + " | ".join(_cell(cells.get(m)) for m in METRICS) + " |")
            lines.append("")
    return "\n".join(lines)


def plot_scatter(table: pd.DataFrame, out_dir: str, metric_label: str) -> list[str]:
    """One figure per estimator: estimate (x) against the online score (y), one colour per env, y = x dashed."""
    paths = []
    for estimator in ESTIMATORS:
        rows = table[np.isfinite(table[estimator]) & np.isfinite(table["score"])]
        if not len(rows):
            continue
        fig, ax = plt.subplots(figsize=(4.5, 4))
        for env, env_rows in rows.groupby("env", sort=False):
            ax.scatter(env_rows[estimator], env_rows["score"], s=12, alpha=0.7, label=str(env))
        if estimator in RETURN_ESTIMATORS:
            low = float(min(rows[estimator].min(), rows["score"].min()))
            high = float(max(rows[estimator].max(), rows["score"].max()))
            ax.plot([low, high], [low, high], "k--", lw=0.8)
        ax.set_xlabel(f"ope_{estimator}")
        ax.set_ylabel(f"online {metric_label}")
        ax.set_title(f"{estimator}: estimate vs online")
        ax.legend(fontsize=7)
        paths += save(fig, os.path.join(out_dir, "plots"), f"ope_scatter_{estimator}")
    return paths


def make_ope_report(
    sweep_dir: str,
    out_dir: Optional[str] = None,
    group_by: Sequence[str] = (),
    reps: int = 2000,
    seed: int = 0,
    make_plots: bool = True,
    metric: str = "normalized_score",
) -> dict[str, Any]:
    """Write ope.md, ope.csv, ope_checkpoints.csv and the scatter plots (module docstring); returns the paths."""
    out_dir = out_dir or sweep_dir
    os.makedirs(out_dir, exist_ok=True)
    table = checkpoint_table(sweep_dir, metric, group_by)
    scores = ope_metrics(table, group_by, reps=reps, seed=seed)
    text = "\n".join(
        [
            f"# Off-policy evaluation: {sweep_dir}",
            "",
            f"Online score: `{metric}`. Mean over seeds [95% bootstrap CI over seeds] of each seed's mean over its "
            "selections. regret@k: online score of the best candidate minus the best of the estimator's top k (ties "
            "drawn at random, in expectation); "
            "`last`: take the last checkpoint.",
            "",
            markdown(scores, group_by),
        ]
    )
    paths = {
        "report": os.path.join(out_dir, "ope.md"),
        "scores": os.path.join(out_dir, "ope.csv"),
        "checkpoints": os.path.join(out_dir, "ope_checkpoints.csv"),
    }
    for key, content in (
        ("report", text),
        ("scores", scores.to_csv(index=False)),
        ("checkpoints", table.to_csv(index=False)),
    ):
        tmp = f"{paths[key]}.tmp"
        with open(tmp, "w") as f:
            f.write(content)
        os.replace(tmp, paths[key])
    paths["plots"] = plot_scatter(table, out_dir, metric.replace("_", " ")) if make_plots else []
    return paths
