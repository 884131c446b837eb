"""Config validation of the algorithm options: each bad value names its field."""

import pytest

from rosmo.configs.validation import ConfigError, validate_config
from tests.helpers import small_config


def test_defaults_are_valid_and_even_bins_allowed():
    validate_config(small_config())
    validate_config(small_config(num_bins=20))  # the original code's BSuite support


@pytest.mark.parametrize(
    "field, bad, algo",
    [
        ("num_bins", 2, "rosmo"),
        ("policy_temperature", 0.0, "rosmo"),
        ("policy_adv_clip", -1.0, "rosmo"),
        ("bc_advantage", "logged", "rosmo"),
        ("target_update_tau", 1.5, "rosmo"),
        ("lr_schedule", "linear", "bc"),
        ("gumbel_considered_actions", 0, "mzu"),
        ("search", "alphazero", "mzu"),
    ],
)
def test_bad_option_names_the_flag(field, bad, algo):
    with pytest.raises(ConfigError, match=f"^{field}="):
        validate_config(small_config(**{field: bad, "algo": algo}))


def test_agent_options_are_checked_only_for_their_agent():
    validate_config(small_config(algo="bc", policy_temperature=0.0))  # a ROSMO field, unused by BC
