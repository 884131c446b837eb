"""BSuite experiment configs: `--config=experiments/bsuite/config.py:catch` (or cartpole, mountain_car).

Override any field from the command line, e.g. `--config.unroll_steps=5`.
The defaults live in `rosmo/suites/configs/bsuite.py` so the library and `rosmo demo` share them.
"""

from rosmo.suites.configs.bsuite import ENVS, get_config

__all__ = ["ENVS", "get_config"]
