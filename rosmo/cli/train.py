"""`rosmo train` / `experiments/*/main.py`: absl flags with an ml_collections config file.

    rosmo train --config=experiments/bsuite/config.py:catch --workdir runs/catch --config.unroll_steps=5
"""

from __future__ import annotations

import json
import sys
from typing import List, Optional

from absl import app, flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "experiment config file, e.g. experiments/bsuite/config.py:catch")
_WORKDIR = flags.DEFINE_string("workdir", None, "run directory (resumes from its latest checkpoint)")
_PROGRESS = flags.DEFINE_boolean("progress", True, "show a progress bar")


_ARGV: List[str] = []


def _main(argv) -> None:
    del argv
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    if _CONFIG.value is None:
        raise app.UsageError("--config is required, e.g. --config=experiments/bsuite/config.py:catch")
    if not _WORKDIR.value:
        raise app.UsageError("--workdir is required, e.g. --workdir runs/catch")
    from rosmo.training.distributed import maybe_initialize
    from rosmo.training.loop import train

    maybe_initialize()  # multi-host when launched by SLURM or with ROSMO_COORDINATOR (launch/)

    config = _CONFIG.value
    if "network_preset" in config:  # Atari: a preset given on the command line brings its budget too
        from rosmo.configs.atari import apply_preset, explicit_fields

        explicit = explicit_fields(_ARGV)
        if "network_preset" in explicit:
            apply_preset(config, config.network_preset, keep=explicit)
    from rosmo.configs.validation import ConfigError
    from rosmo.data.rlds import DatasetError

    try:
        summary = train(config, _WORKDIR.value, progress=_PROGRESS.value)
    except (ConfigError, DatasetError) as err:  # the user's input: a message, not a traceback
        print(f"rosmo train: error: {err}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(summary, indent=2))


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(argv if argv is not None else sys.argv)
    _ARGV[:] = argv
    app.run(_main, argv=argv)
    return 0
