"""The one evaluation path: play an agent with a suite, then the field's statistics and normalised scores.

Training-time evaluation (`rosmo.training.loop`), `rosmo evaluate` and the evaluator job all
call `evaluate_agent` and get the same result dict:

    suite, env, episodes, num_envs
    mean_return, median_return, iqm_return, iqm_return_ci95 [low, high], std_return, min_return, max_return
    normalized_score   normalised mean against the suite's primary reference (None without references)
    reference          the primary reference's name ("dqn")
    normalized         {name: {"reference": description, "low", "high", "mean", "median", "iqm", "iqm_ci95"}}
    returns, lengths, env_steps, env_steps_per_second, wall_seconds

`scalar_metrics(result)` flattens the numbers for CSV / TensorBoard rows and
`format_result(result)` gives the lines `rosmo evaluate` prints.
"""

from __future__ import annotations

from typing import Any, Optional

import jax

from rosmo.statistics import normalize_statistics, return_statistics


def evaluate_agent(
    suite,
    env: str,
    act_fn,
    params,
    metadata: dict[str, Any],
    num_episodes: int,
    num_envs: int,
    seed: int = 0,
    progress: bool = False,
    jitted_act=None,
    options: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    """Play `num_episodes` episodes of `suite`'s `env` with `act_fn(params, obs, key)`; the result dict above.

    `metadata` is the dataset's (it carries e.g. BSuite's reward noise and references);
    `options` are the suite's keyword arguments of `play` (e.g. Atari's max_episode_frames).
    """
    if num_episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {num_episodes}")
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    act = jitted_act or jax.jit(act_fn)
    episodes = suite.play(
        env,
        act_fn,
        params,
        metadata,
        num_episodes,
        num_envs,
        seed,
        progress=progress,
        jitted_act=act,
        **(options or {}),
    )
    stats = return_statistics(episodes.returns, seed=seed)
    normalized = {}
    for ref in suite.references(env, metadata):
        if ref.high != ref.low:
            norm = normalize_statistics(stats, ref.low, ref.high)
            normalized[ref.name] = {
                "reference": ref.description,
                "low": ref.low,
                "high": ref.high,
                **{k: norm[k] for k in ("mean", "median", "iqm", "iqm_ci95")},
            }
    primary = next(iter(normalized), None)
    return {
        "suite": suite.name,
        "env": env,
        "episodes": stats["episodes"],
        "num_envs": episodes.num_envs,
        **{f"{k}_return": stats[k] for k in ("mean", "median", "iqm")},
        "iqm_return_ci95": stats["iqm_ci95"],
        **{f"{k}_return": stats[k] for k in ("std", "min", "max")},
        "normalized_score": normalized[primary]["mean"] if primary else None,
        "reference": primary,
        "normalized": normalized,
        "returns": list(episodes.returns),
        "lengths": list(episodes.lengths),
        "env_steps": episodes.env_steps,
        "env_steps_per_second": episodes.env_steps / max(episodes.wall_seconds, 1e-9),
        "wall_seconds": episodes.wall_seconds,
    }


def scalar_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The numbers of a result as one flat row: mean_return, ..., iqm_return_ci_low/high, normalized_<ref>_iqm, ..."""
    row = {
        k: float(result[k])
        for k in (
            "episodes",
            "mean_return",
            "median_return",
            "iqm_return",
            "std_return",
            "min_return",
            "max_return",
            "env_steps_per_second",
        )
    }
    row["iqm_return_ci_low"], row["iqm_return_ci_high"] = (float(v) for v in result["iqm_return_ci95"])
    if result.get("normalized_score") is not None:
        row["normalized_score"] = float(result["normalized_score"])
    for name, norm in (result.get("normalized") or {}).items():
        for key in ("mean", "median", "iqm"):
            row[f"normalized_{name}_{key}"] = float(norm[key])
        row[f"normalized_{name}_iqm_ci_low"], row[f"normalized_{name}_iqm_ci_high"] = (
            float(v) for v in norm["iqm_ci95"]
        )
    return row


def format_result(result: dict[str, Any]) -> list[str]:
    """Human-readable lines: returns (mean, median, IQM with CI) and each normalised score with its reference."""
    lo, hi = result["iqm_return_ci95"]
    lines = [
        f"episodes {result['episodes']}  env steps/s {result['env_steps_per_second']:.0f}  "
        f"wall {result['wall_seconds']:.1f}s",
        f"return   mean {result['mean_return']:.2f}  median {result['median_return']:.2f}  "
        f"IQM {result['iqm_return']:.2f} [95% CI {lo:.2f}, {hi:.2f}]  std {result['std_return']:.2f}",
    ]
    for name, norm in (result.get("normalized") or {}).items():
        nlo, nhi = norm["iqm_ci95"]
        lines.append(
            f"normalised ({name}) mean {norm['mean']:.3f}  median {norm['median']:.3f}  "
            f"IQM {norm['iqm']:.3f} [95% CI {nlo:.3f}, {nhi:.3f}]   reference: {norm['reference']} "
            f"({norm['low']:g} -> 0, {norm['high']:g} -> 1)"
        )
    if not result.get("normalized"):
        lines.append("normalised: no references for this env (scores are raw returns)")
    return lines
