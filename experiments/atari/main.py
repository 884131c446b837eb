"""Train an agent on RL Unplugged Atari data (`rlu_atari`, bucket copy or `rosmo dataset atari` output).

    python experiments/atari/main.py --config=experiments/atari/config.py:Pong --workdir runs/pong \
        --config.data_dir=datasets/atari --config.network_preset=small

`--config.network_preset=small` also brings the small preset's batch and step
budget (`rosmo.configs.atari.apply_preset`) unless those fields are given on
the command line too; `rosmo train` does the same. Training itself is the
shared `rosmo.training.loop.train`.
"""

import sys

from rosmo.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
