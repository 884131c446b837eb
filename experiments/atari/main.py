"""Train an agent on RL Unplugged Atari data (`rlu_atari`, bucket copy or `rosmo dataset atari` output).

    python experiments/atari/main.py --config=experiments/atari/config.py:Pong --workdir runs/pong \
        --config.data_dir=datasets/atari --config.network_preset=small

`--config.network_preset=small` also brings the small preset's batch and step
budget (`rosmo.configs.atari.apply_preset`) unless those fields are given on
the command line too. Training itself is the shared `rosmo.train.train`.
"""

import json
import sys

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "experiment config file, e.g. experiments/atari/config.py:Pong")
_WORKDIR = flags.DEFINE_string("workdir", None, "run directory (resumes from its latest checkpoint)")
_PROGRESS = flags.DEFINE_boolean("progress", True, "show a progress bar")


def _main(argv) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    if _CONFIG.value is None:
        raise app.UsageError("--config is required, e.g. --config=experiments/atari/config.py:Pong")
    if not _WORKDIR.value:
        raise app.UsageError("--workdir is required, e.g. --workdir runs/pong")
    from rosmo.configs.atari import apply_preset, explicit_fields
    from rosmo.distributed import maybe_initialize
    from rosmo.train import train

    maybe_initialize()  # multi-host when launched by SLURM or with ROSMO_COORDINATOR (launch/), as `rosmo train`

    config = _CONFIG.value
    explicit = explicit_fields(sys.argv)
    if "network_preset" in explicit:
        apply_preset(config, config.network_preset, keep=explicit)
    summary = train(config, _WORKDIR.value, progress=_PROGRESS.value)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    app.run(_main)
