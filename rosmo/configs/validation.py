"""Check an experiment config at start, with messages that name the field (`ConfigError.field`).

Shared fields are checked here; the selected agent's own fields by its
`AgentSpec.validate`, the suite's own fields by its `Suite.validate`.
"""

from __future__ import annotations

import math

from rosmo.agents import AGENTS, window_learners
from rosmo.suites.configs.base import LR_SCHEDULES, NONFINITE_POLICIES
from rosmo.errors import ConfigError, check_field
from rosmo.networks import NETWORKS
from rosmo.suites import SUITES

__all__ = ["ConfigError", "validate_config"]


def validate_config(c) -> None:
    """Raise ConfigError on the first field that is out of range."""
    learners = tuple(window_learners())
    check_field(
        c.algo in learners,
        "algo",
        f"one of {learners}"
        + (
            f" ({c.algo} learns from {AGENTS[c.algo].learns_from}: `rosmo deploy --agent {c.algo}`)"
            if c.algo in AGENTS
            else ""
        ),
        c.algo,
    )
    check_field(c.suite in SUITES, "suite", f"one of {tuple(SUITES)}", c.suite)
    check_field(c.network in NETWORKS, "network", f"one of {NETWORKS}", c.network)
    check_field(
        isinstance(c.unroll_steps, int) and c.unroll_steps >= 1, "unroll_steps", "an integer >= 1", c.unroll_steps
    )
    check_field(isinstance(c.td_steps, int) and c.td_steps >= 1, "td_steps", "an integer >= 1", c.td_steps)
    check_field(
        isinstance(c.num_bins, int) and c.num_bins >= 3,
        "num_bins",
        "an integer >= 3 (odd: symmetric support; even: the original's layout, e.g. 20)",
        c.num_bins,
    )
    check_field(0.0 < c.discount <= 1.0, "discount", "a number in (0, 1]", c.discount)
    check_field(0.0 < c.data_percentage <= 100.0, "data_percentage", "a number in (0, 100]", c.data_percentage)
    check_field(c.batch_size >= 1, "batch_size", "an integer >= 1", c.batch_size)
    check_field(c.learning_rate > 0, "learning_rate", "a positive number", c.learning_rate)
    check_field(c.warmup_steps >= 0, "warmup_steps", "an integer >= 0", c.warmup_steps)
    check_field(c.lr_decay_steps >= 1, "lr_decay_steps", "an integer >= 1", c.lr_decay_steps)
    check_field(c.target_update_interval >= 1, "target_update_interval", "an integer >= 1", c.target_update_interval)
    check_field(
        0.0 <= c.get("target_update_tau", 0.0) <= 1.0,
        "target_update_tau",
        "0 (hard copies) or a number in (0, 1]",
        c.get("target_update_tau"),
    )
    check_field(
        c.get("lr_schedule", "step") in LR_SCHEDULES, "lr_schedule", f"one of {LR_SCHEDULES}", c.get("lr_schedule")
    )
    check_field(c.num_steps >= 1, "num_steps", "an integer >= 1", c.num_steps)
    check_field(isinstance(c.seed, int) and c.seed >= 0, "seed", "an integer >= 0", c.seed)
    check_field(math.isfinite(c.learning_rate), "learning_rate", "a finite positive number", c.learning_rate)
    check_field(
        math.isfinite(c.weight_decay) and c.weight_decay >= 0, "weight_decay", "a finite number >= 0", c.weight_decay
    )
    check_field(
        math.isfinite(c.max_grad_norm) and c.max_grad_norm > 0,
        "max_grad_norm",
        "a finite positive number",
        c.max_grad_norm,
    )
    check_field(0.0 < c.lr_decay_factor <= 1.0, "lr_decay_factor", "a number in (0, 1]", c.lr_decay_factor)
    check_field(
        c.get("nonfinite", "stop") in NONFINITE_POLICIES,
        "nonfinite",
        f"one of {NONFINITE_POLICIES}",
        c.get("nonfinite"),
    )
    check_field(
        c.eval_every >= 0,
        "eval_every",
        "an integer >= 0 (0: no inline evaluation, an evaluator job follows the checkpoints: rosmo evaluate --watch)",
        c.eval_every,
    )
    for field in ("log_every", "checkpoint_every", "eval_episodes", "eval_parallel", "keep_checkpoints"):
        check_field(c[field] >= 1, field, "an integer >= 1", c[field])
    spec = AGENTS[c.algo]
    check_field(
        c.act_policy in spec.act_policies, "act_policy", f"one of {spec.act_policies} with algo={c.algo}", c.act_policy
    )
    if spec.validate is not None:
        spec.validate(c)
    SUITES[c.suite].validate(c)
