"""What `rosmo evaluate --ope` computes: the estimator names, `OpeSettings`, the printed lines.

Light (no dataset reading), so `rosmo evaluate` without `--ope` and its flag checks do not load
TensorFlow; `rosmo.ope.job` makes the estimates.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from rosmo.ope.fqe import FQEConfig

ESTIMATORS = ("fqe", "model_value", "model_rollout", "behaviour", "agreement")
ALIASES = {"model": ("model_value", "model_rollout"), "all": ESTIMATORS}
MODEL_ESTIMATORS = ("model_value", "model_rollout")
MODEL_ALGOS = ("rosmo", "mzu")
RETURN_ESTIMATORS = ("fqe", "model_value", "model_rollout", "behaviour")


class OpeError(ValueError):
    """An off-policy estimate that cannot be made as asked (the message names the flag or file)."""


@dataclasses.dataclass(frozen=True)
class OpeSettings:
    """What `estimate_checkpoint` computes and how (module docstring)."""

    estimators: tuple[str, ...] = ("fqe", "model_value", "model_rollout")
    dataset: Optional[str] = None  # None: the run's dataset (its recorded path, else config.dataset_dir)
    heldout_fraction: float = 0.2
    seed: int = 0  # the episode split, FQE's initialisation and batches, sampled policies
    horizon: Optional[int] = None  # model rollout steps H; None: the run's unroll_steps
    policy_samples: int = 16  # Monte Carlo draws of a sampled search policy (pi(a|o) otherwise exact)
    fqe: FQEConfig = FQEConfig()


def parse_estimators(text: str, flag: str = "--ope") -> tuple[str, ...]:
    """ "fqe,model" -> ("fqe", "model_value", "model_rollout"); OpeError naming `flag` on an unknown name."""
    names = []
    for part in str(text).split(","):
        part = part.strip().lower()
        if not part:
            continue
        expanded = ALIASES.get(part, (part,))
        for name in expanded:
            if name not in ESTIMATORS:
                raise OpeError(
                    f"{flag} {text}: unknown estimator {part!r}; expected a comma-separated list of "
                    f"{', '.join(ESTIMATORS + tuple(ALIASES))}"
                )
            if name not in names:
                names.append(name)
    if not names:
        raise OpeError(f"{flag} {text!r}: expected a comma-separated list of {', '.join(ESTIMATORS + tuple(ALIASES))}")
    return tuple(names)


def scalar_columns(result: dict[str, Any]) -> dict[str, float]:
    """The `ope_*` numbers of a result (for eval.csv / TensorBoard rows)."""
    return {k: float(v) for k, v in result.items() if k.startswith("ope_") and isinstance(v, (int, float))}


def format_columns(columns: dict[str, float], details: dict[str, Any]) -> list:
    """Lines `rosmo evaluate` prints for the estimates."""
    ref = details.get("reference")
    lines = [
        f"off-policy estimates from {details['dataset']} ({details['episodes']} episodes, "
        f"{details['heldout_episodes']} held out){'' if ref else '; no references: raw returns'}"
    ]
    for name in ESTIMATORS:
        if f"ope_{name}" not in columns:
            continue
        value = columns[f"ope_{name}"]
        if name in RETURN_ESTIMATORS:
            label = (
                f"normalised ({ref}) {value:.3f}  return {columns[f'ope_{name}_return']:.3f}"
                if ref
                else f"return {value:.3f}"
            )
        else:
            label = f"{value:.3f}"
        lines.append(f"  ope {name:<14} {label}   ({columns[f'ope_{name}_seconds']:.1f}s)")
    lines.extend(f"  note: {n}" for n in details.get("notes", []))
    return lines


__all__ = [
    "ALIASES",
    "ESTIMATORS",
    "OpeError",
    "OpeSettings",
    "format_columns",
    "parse_estimators",
    "scalar_columns",
]
