"""Atari experiment configs: `--config=experiments/atari/config.py:Pong` (or `:Pong,small`),
the same as `--config=atari:Pong`.

Override any field from the command line, e.g. `--config.data_dir=datasets/atari`.
The defaults live in `rosmo/suites/configs/atari.py` so the library and the CLI share them.
"""

from rosmo.suites.configs.atari import PRESET_SETTINGS, get_config

__all__ = ["PRESET_SETTINGS", "get_config"]
