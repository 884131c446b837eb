"""Config validation of the algorithm options: each bad value names its --config flag."""

import pytest

from rosmo.configs.validation import ConfigError, validate_config
from tests.helpers import small_config


def test_defaults_are_valid_and_even_bins_allowed():
    validate_config(small_config())
    validate_config(small_config(num_bins=20))  # the original code's BSuite support


@pytest.mark.parametrize("field, bad", [
    ("num_bins", 2), ("policy_temperature", 0.0), ("policy_adv_clip", -1.0), ("bc_advantage", "logged"),
    ("target_update_tau", 1.5), ("lr_schedule", "linear"), ("gumbel_considered_actions", 0),
])
def test_bad_option_names_the_flag(field, bad):
    with pytest.raises(ConfigError, match=f"--config.{field}="):
        validate_config(small_config(**{field: bad}))
