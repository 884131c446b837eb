"""A sweep's plots, each as PNG and SVG (matplotlib, Agg backend; rliable's plot helpers where they fit).

final_scores_<env>.png         IQM / mean / median with 95% CIs per group (rliable plot_interval_estimates)
performance_profile.png        fraction of runs with score > tau, per group (rliable)
probability_of_improvement.png P(X > Y) of the chosen group over each other group (rliable's statistic and plot)
learning_curves_steps.png      IQM and 95% CI over seeds against training steps, one panel per env
learning_curves_wallclock.png  the same against training seconds (log axis when groups' times differ >= 20x)
score_vs_<field>.png           final IQM and CI against a swept number, one line per other group
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot (and rliable's plot_utils, which imports it)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from rliable import plot_utils  # noqa: E402

from rosmo.figures import FORMATS, plt, save  # noqa: E402, F401  (FORMATS, save: the files every plot writes)
from rosmo.report.collect import RunRecord  # noqa: E402
from rosmo.report.stats import curve_estimates, performance_profiles  # noqa: E402
from rosmo.report.tables import ALL_ENVS, Grouping, final_matrix, ordered_envs  # noqa: E402


def _colors(groups: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    return dict(zip(groups, sns.color_palette("colorblind", n_colors=max(1, len(groups)))))


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text)


def plot_final_scores(table: pd.DataFrame, out_dir: str, metric_label: str) -> list[str]:
    """One interval-estimate figure per env (and for `all envs`): IQM, mean, median with CIs per group."""
    paths = []
    for env, rows in table.groupby("env", sort=False):
        groups = list(rows["group"])
        points = {g: np.array([r["iqm"], r["mean"], r["median"]]) for g, r in zip(groups, rows.to_dict("records"))}
        intervals = {
            g: np.array(
                [[r["iqm_low"], r["mean_low"], r["median_low"]], [r["iqm_high"], r["mean_high"], r["median_high"]]]
            )
            for g, r in zip(groups, rows.to_dict("records"))
        }
        height = 0.5 * len(groups)  # rliable's figure: row_height x groups; place the labels in inches
        fig, _ = plot_utils.plot_interval_estimates(
            points,
            intervals,
            metric_names=["IQM", "Mean", "Median"],
            algorithms=groups,
            colors=_colors(groups),
            xlabel=metric_label,
            row_height=0.5,
            subfigure_width=3.6,
            xlabel_y_coordinate=-0.55 / height,
        )
        fig.suptitle(f"{env}: final score, 95% stratified bootstrap CIs", y=1.0 + 0.6 / height)
        paths += save(fig, out_dir, f"final_scores_{_safe(env)}")
    return paths


def plot_performance_profile(grouping: Grouping, out_dir: str, metric_label: str, reps: int, seed: int) -> list[str]:
    matrices = {}
    for g in grouping.groups:
        members = grouping.members(g)
        matrix = final_matrix(members, [e for e in ordered_envs(members)])
        if matrix is not None:
            matrices[g] = matrix
    if not matrices:
        return []
    scores = np.concatenate([m.ravel() for m in matrices.values()])
    low, high = min(0.0, float(scores.min())), max(1.0, float(scores.max()))
    taus = np.linspace(low, high, 101)
    profiles, cis = performance_profiles(matrices, taus, reps=reps, seed=seed)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_utils.plot_performance_profiles(
        profiles,
        taus,
        performance_profile_cis=cis,
        colors=_colors(list(matrices)),
        ax=ax,
        xlabel=rf"{metric_label} ($\tau$)",
        ylabel=r"Fraction of runs with score $> \tau$",
        labelsize="large",
        ticklabelsize="large",
    )
    ax.legend(loc="best", fontsize="small")
    ax.set_title("Performance profiles (score distributions over runs and envs)")
    return save(fig, out_dir, "performance_profile")


def plot_improvement(table: pd.DataFrame, out_dir: str) -> list[str]:
    """P(X > Y) with CIs of the chosen group X over each other group Y (rliable's plot)."""
    if table.empty:
        return []
    records = table.to_dict("records")
    # rliable splits each pair key on the separator; group labels hold commas, so the pairs are joined with a tab
    pairs = {f"{r['x']}\t{r['y']}": np.array([r["probability"]]) for r in records}
    intervals = {f"{r['x']}\t{r['y']}": np.array([[r["low"]], [r["high"]]]) for r in records}
    fig, ax = plt.subplots(figsize=(5, 0.6 + 0.5 * len(pairs)))
    plot_utils.plot_probability_of_improvement(
        pairs, intervals, pair_separator="\t", ax=ax, xlabel="P(X > Y)", left_ylabel="X", right_ylabel="Y"
    )
    return save(fig, out_dir, "probability_of_improvement")


def curve_arrays(grouping: Grouping) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """(group, env) -> {"steps" [T], "scores" [runs, 1, T], "seconds" [T]} at the steps all its runs evaluated.

    Finished runs only, when a group/env has any (a run still going would cut the curve short)."""
    out = {}
    for g in grouping.groups:
        for env in ordered_envs(grouping.records):
            members = [r for r in grouping.members(g) if r.env == env and len(r.curve)]
            if any(r.finished for r in members):
                members = [r for r in members if r.finished]
            if not members:
                continue
            steps = sorted(set.intersection(*(set(r.curve["step"]) for r in members)))
            if not steps:
                continue
            frames = [r.curve.set_index("step").loc[steps] for r in members]
            scores = np.stack([f["score"].to_numpy(np.float64) for f in frames])[:, None, :]
            if np.isnan(scores).any():
                continue
            seconds = np.nanmean(np.stack([f["train_seconds"].to_numpy(np.float64) for f in frames]), axis=0)
            out[(g, env)] = {
                "steps": np.asarray(steps, np.float64),
                "scores": scores,
                "seconds": seconds,
                "estimated": any(bool(f["train_seconds_estimated"].any()) for f in frames),
            }
    return out


def seconds_axis_is_log(final_seconds: Sequence[float]) -> bool:
    """Scores against training seconds on a log axis when the groups' run times (final seconds, one per curve)
    differ by >= 20x: a linear axis squeezes the fast groups' curves against zero."""
    values = np.asarray([s for s in final_seconds if np.isfinite(s) and s > 0], np.float64)
    return len(values) > 1 and values.max() / values.min() >= 20


def plot_learning_curves(grouping: Grouping, out_dir: str, metric_label: str, reps: int, seed: int) -> list[str]:
    arrays = curve_arrays(grouping)
    if not arrays:
        return []
    estimates = curve_estimates({f"{g} | {e}": a["scores"] for (g, e), a in arrays.items()}, reps=reps, seed=seed)
    envs = [e for e in ordered_envs(grouping.records) if any(k[1] == e for k in arrays)]
    groups = [g for g in grouping.groups if any(k[0] == g for k in arrays)]
    colors = _colors(groups)
    paths = []
    estimated = any(a["estimated"] for a in arrays.values())
    for axis, stem, xlabel in (
        ("steps", "learning_curves_steps", "training steps"),
        (
            "seconds",
            "learning_curves_wallclock",
            "training seconds" + (" (spread from each run's total)" if estimated else ""),
        ),
    ):
        fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4), squeeze=False)
        for ax, env in zip(axes[0], envs):
            for g in groups:
                if (g, env) not in arrays:
                    continue
                x = arrays[(g, env)][axis]
                iqm, ci = estimates[f"{g} | {env}"]
                n = arrays[(g, env)]["scores"].shape[0]
                ax.plot(x, iqm, marker="o", color=colors[g], label=f"{g} (n={n})")
                ax.fill_between(x, ci[0], ci[1], color=colors[g], alpha=0.2)
            curves = [arrays[(g, env)][axis] for g in groups if (g, env) in arrays]
            log_x = axis == "seconds" and seconds_axis_is_log([c[-1] for c in curves])
            if log_x:
                ax.set_xscale("log")
            ax.set_title(env)
            ax.set_xlabel(xlabel + (" (log scale)" if log_x else ""))
            ax.set_ylabel(f"IQM {metric_label}")
            ax.grid(alpha=0.25)
        axes[0][-1].legend(loc="best", fontsize="small")
        fig.suptitle("Learning curves: IQM over seeds, 95% bootstrap CI")
        paths += save(fig, out_dir, stem)
    return paths


def numeric_fields(records: Sequence[RunRecord], fields: Sequence[str]) -> list[str]:
    """Group fields whose values are numbers (not bools) with more than one value."""
    out = []
    for f in fields:
        values = [r.fields[f] for r in records if f in r.fields]
        if (
            values
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            and len(set(values)) > 1
        ):
            out.append(f)
    return out


def _text(value) -> Optional[str]:
    """A field value as a label (None when missing; 3.0 from a float column as "3")."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def field_axis(ax, values: np.ndarray) -> None:
    """x axis of a score-vs-field plot: ticks at the swept values only, log scale when they span >= 20x."""
    if len(values) and np.all(values > 0) and values.max() / values.min() >= 20:
        ax.set_xscale("log")
    ax.set_xticks(sorted(set(values.tolist())))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.get_xaxis().set_minor_formatter(matplotlib.ticker.NullFormatter())  # a log axis labels no "3x10^0"


def plot_score_vs_field(
    table: pd.DataFrame, fields: Sequence[str], field: str, out_dir: str, metric_label: str
) -> list[str]:
    """Final IQM [CI] against `field`, one line per combination of the other group fields, a panel per env;
    groups without `field` (e.g. another algorithm) as a horizontal band."""
    rows = table[table["env"] != ALL_ENVS]
    envs = list(dict.fromkeys(rows["env"]))
    others = [f for f in fields if f != field]
    fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4), squeeze=False)
    for ax, env in zip(axes[0], envs):
        sub = rows[rows["env"] == env]
        has = sub[sub[field].notna()] if field in sub else sub.iloc[0:0]
        keys = (
            [tuple(_text(v) for v in values) for values in has[others].itertuples(index=False)]
            if others
            else [()] * len(has)
        )
        lines = [(key, has[[k == key for k in keys]]) for key in dict.fromkeys(keys)]
        flat = sub[sub[field].isna()].to_dict("records") if field in sub else []
        palette = sns.color_palette("colorblind", n_colors=max(1, len(lines) + len(flat)))
        for color, (key, part) in zip(palette, lines):
            label = ",".join(f"{f}={v}" for f, v in zip(others, key) if v is not None) or "IQM"
            part = part.sort_values(field)
            x = part[field].astype(float).to_numpy()
            ax.plot(x, part["iqm"], marker="o", color=color, label=label)
            ax.fill_between(x, part["iqm_low"], part["iqm_high"], color=color, alpha=0.2)
        for color, row in zip(palette[len(lines) :], flat):  # groups without the field: a band across
            ax.axhline(row["iqm"], linestyle="--", color=color, label=row["group"])
            ax.axhspan(row["iqm_low"], row["iqm_high"], color=color, alpha=0.1)
        field_axis(ax, has[field].astype(float).to_numpy() if len(has) else np.zeros(0))
        ax.set_title(env)
        ax.set_xlabel(field)
        ax.set_ylabel(f"final IQM {metric_label}")
        ax.grid(alpha=0.25)
        ax.legend(loc="best", fontsize="small")
    fig.suptitle(f"Final score against {field}: IQM over seeds, 95% bootstrap CI")
    return save(fig, out_dir, f"score_vs_{_safe(field)}")
