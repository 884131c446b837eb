"""Check an experiment config at start, with messages that name the `--config.*` flag."""

from __future__ import annotations

ALGOS = ("rosmo", "mzu", "bc", "cql")
_ACT_POLICIES = {"rosmo": ("prior", "improved"), "mzu": ("prior", "improved", "mcts"), "bc": ("prior",), "cql": ("prior",)}


class ConfigError(ValueError):
    """A config field has a value the run cannot use."""


def _check(condition: bool, field: str, expected: str, value) -> None:
    if not condition:
        raise ConfigError(f"--config.{field}={value!r}: expected {expected}")


def validate_config(c) -> None:
    """Raise ConfigError on the first field that is out of range."""
    _check(c.algo in ALGOS, "algo", f"one of {ALGOS}", c.algo)
    _check(isinstance(c.unroll_steps, int) and c.unroll_steps >= 1, "unroll_steps", "an integer >= 1", c.unroll_steps)
    _check(isinstance(c.td_steps, int) and c.td_steps >= 1, "td_steps", "an integer >= 1", c.td_steps)
    _check(c.num_bins >= 3 and c.num_bins % 2 == 1, "num_bins", "an odd integer >= 3 (symmetric support)", c.num_bins)
    _check(0.0 < c.discount <= 1.0, "discount", "a number in (0, 1]", c.discount)
    _check(0.0 < c.data_percentage <= 100.0, "data_percentage", "a number in (0, 100]", c.data_percentage)
    _check(c.batch_size >= 1, "batch_size", "an integer >= 1", c.batch_size)
    _check(c.learning_rate > 0, "learning_rate", "a positive number", c.learning_rate)
    _check(c.warmup_steps >= 0, "warmup_steps", "an integer >= 0", c.warmup_steps)
    _check(c.lr_decay_steps >= 1, "lr_decay_steps", "an integer >= 1", c.lr_decay_steps)
    _check(c.target_update_interval >= 1, "target_update_interval", "an integer >= 1", c.target_update_interval)
    _check(c.num_steps >= 1, "num_steps", "an integer >= 1", c.num_steps)
    _check(c.policy_samples >= 0, "policy_samples", "0 (exact target) or a number of sampled actions >= 1", c.policy_samples)
    _check(c.act_policy in ("prior", "improved", "mcts"), "act_policy", "'prior', 'improved' or 'mcts'", c.act_policy)
    _check(isinstance(c.num_simulations, int) and c.num_simulations >= 1, "num_simulations", "an integer >= 1", c.num_simulations)
    _check(
        c.search_depth is None or (isinstance(c.search_depth, int) and c.search_depth >= 1),
        "search_depth", "None (unlimited) or an integer >= 1", c.search_depth,
    )
    _check(0.0 <= c.mcts_dirichlet_fraction <= 1.0, "mcts_dirichlet_fraction", "a number in [0, 1]", c.mcts_dirichlet_fraction)
    _check(c.mcts_dirichlet_alpha > 0.0, "mcts_dirichlet_alpha", "a positive number", c.mcts_dirichlet_alpha)
    _check(c.cql_alpha >= 0.0, "cql_alpha", "a number >= 0", c.cql_alpha)
    allowed_act = _ACT_POLICIES.get(c.algo, ("prior",))
    _check(c.act_policy in allowed_act, "act_policy", f"one of {allowed_act} with --config.algo={c.algo}", c.act_policy)
    for field in ("log_every", "eval_every", "checkpoint_every", "eval_episodes"):
        _check(c[field] >= 1, field, "an integer >= 1", c[field])
