"""MinAtar experiment configs: `--config=minatar:breakout` (asterix, breakout, freeway, seaquest, space_invaders).

    rosmo dataset minatar --game breakout --out datasets/minatar
    rosmo train --config=minatar:breakout --workdir runs/breakout --config.data_percentage=10

Data: `dataset_dir` (default `datasets/minatar/<game>`), the RLDS directory made by
`rosmo dataset minatar`: every transition of an online DQN's run, split by the DQN's
training checkpoint (`checkpoint_00` ..) as `rlu_atari_checkpoints_ordered` is;
`data_percentage` and `ordered_checkpoints` mean what they mean on Atari. Batches come
from the Atari path's episode pool (`rosmo.data.minatar_data`).

Model and targets: K = 3 unroll steps, n = 3 TD steps, 51 value/reward bins, the
MinAtar conv torso (`rosmo.networks.minatar`: `torso_channels` 16, `hidden_size` 128,
the MinAtar paper's DQN sizes), batch 128, discount 0.99 per agent step (one MinAtar
step is one frame; the MinAtar paper's discount), lr 7e-4 with 1k warm-up, target copy
every 200 updates. Evaluation: the dataset's own protocol (sticky actions, action set),
episodes capped at `eval_max_episode_steps` agent steps, scored against the random and
final-behaviour returns measured when the dataset was made.
"""

import ml_collections

from rosmo.suites.configs.base import get_base_config
from rosmo.envs.minatar import GAMES, MAX_EPISODE_STEPS, game_name
from rosmo.networks.minatar import DEFAULT_CHANNELS, DEFAULT_HIDDEN


def get_config(arg: str = "breakout") -> ml_collections.ConfigDict:
    """The MinAtar config of a game: `minatar:breakout`."""
    game = game_name(arg or "breakout")
    c = get_base_config()
    c.suite = "minatar"
    c.env = game
    c.dataset_dir = f"datasets/minatar/{game}"  # an RLDS directory made by `rosmo dataset minatar`
    # batches (the Atari path's episode pool): windows drawn without replacement from whole episodes in flight
    c.episodes_in_flight = 64
    c.read_cycle_length = 8
    c.ordered_checkpoints = False  # True: checkpoint after checkpoint (a curriculum), as on Atari

    c.network = "minatar"
    c.torso_channels = DEFAULT_CHANNELS  # 3x3 conv channels of the representation
    c.hidden_size = DEFAULT_HIDDEN  # latent state and MLP width
    c.num_bins = 51
    c.unroll_steps = 3
    c.td_steps = 3
    c.discount = 0.99
    c.batch_size = 128
    c.learning_rate = 7e-4
    c.warmup_steps = 1_000
    c.target_update_interval = 200
    c.num_steps = 6_000  # ROSMO reaches the behaviour DQN's score on breakout by 6k (results/minatar, learning curves)
    c.lr_decay_steps = 100_000

    c.eval_every = 1_000
    c.eval_episodes = 100
    c.eval_parallel = 50
    c.eval_max_episode_steps = MAX_EPISODE_STEPS
    c.checkpoint_every = 2_000
    c.log_every = 200
    return c


__all__ = ["GAMES", "get_config"]
