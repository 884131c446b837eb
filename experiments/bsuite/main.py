"""Train an agent on a BSuite offline dataset.

    python experiments/bsuite/main.py --config=experiments/bsuite/config.py:catch --workdir runs/catch
    python experiments/bsuite/main.py --config=experiments/bsuite/config.py:cartpole --workdir runs/cartpole \
        --config.unroll_steps=5 --config.algo=rosmo
"""

import sys

from rosmo.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
