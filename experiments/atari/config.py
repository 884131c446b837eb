"""Atari experiment configs: `--config=experiments/atari/config.py:Pong` (any RL Unplugged game; `:Pong,small` for the CPU preset).

Override any field from the command line, e.g. `--config.data_dir=datasets/atari --config.network_preset=small`.
The defaults live in `rosmo/configs/atari.py` so the library and the CLI share them.
"""

from rosmo.configs.atari import PRESET_SETTINGS, apply_preset, get_config

__all__ = ["PRESET_SETTINGS", "apply_preset", "get_config"]
