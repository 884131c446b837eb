"""Atari experiment configs: `--config=experiments/atari/config.py:Pong` (any of the 46 RL Unplugged games).

    python experiments/atari/main.py --config=experiments/atari/config.py:Pong --workdir runs/pong \
        --config.data_dir=datasets/atari --config.network_preset=small

Data: `rlu_atari/<game>_run_<run>` under the TFDS `data_dir` (a copy of the
RL Unplugged bucket, or `rosmo dataset atari --out <data_dir>`).

Hyper-parameters follow the ROSMO paper's Atari code (DESIGN section 2):
K = 5 unroll steps, n = 5 TD steps, 601 value/reward bins, batch 512,
lr 7e-4 with 1k warm-up and x0.1 after 100k, AdamW weight decay 1e-4, clip
5, target copy every 200 updates, the pre-activation LayerNorm ResNet (64
channels, 6/2/2 blocks).

Discount: 0.997**4 per agent step. One Atari agent step is 4 emulator frames;
0.997 is MuZero's per-frame discount, so 0.997**4 ~= 0.988 per agent step is
the same horizon, and it is the value the ROSMO code uses for Atari (and
BSuite). `--config.discount=0.997` gives the longer horizon of MuZero
Unplugged's per-step discount.

Presets: `full` (the paper's ResNet, batch 512) or `small` (16 channels,
1/1/1 blocks, batch 32, 3k steps: for CPU runs and tests), picked by
`--config.network_preset=small` with `experiments/atari/main.py` (which then
also applies the preset's budget, `apply_preset`) or by `config.py:Pong,small`
(any entry point, e.g. `rosmo train`). The explicit sizes (`channels`,
`representation_blocks`, ...) override the preset's network when set. Evaluation runs `eval_parallel` episodes at once in ALE's vector env
under the RL Unplugged protocol (sticky actions, 108k-frame cap).
"""

import ml_collections

from rosmo.configs import bsuite as _bsuite
from rosmo.data.rlu_names import canonical_game

# Per-preset settings; `network_preset` picks one at `get_config` time (see `apply_preset`).
PRESET_SETTINGS = {
    "full": dict(batch_size=512, num_steps=200_000, warmup_steps=1_000, shuffle_buffer=2_000, eval_every=10_000,
                 eval_episodes=32, eval_parallel=32, log_every=100, checkpoint_every=5_000),
    "small": dict(batch_size=32, num_steps=3_000, warmup_steps=100, shuffle_buffer=500, eval_every=1_000,
                  eval_episodes=16, eval_parallel=16, log_every=50, checkpoint_every=500),
}


def get_config(game: str = "Pong") -> ml_collections.ConfigDict:
    """The Atari config of `game` (`config.py:Pong`: full preset; `config.py:Pong,small`: small preset)."""
    game, _, preset = str(game).partition(",")
    preset = preset or "full"
    if preset not in PRESET_SETTINGS:
        raise ValueError(f"unknown Atari preset {preset!r} in --config=...:{game},{preset}; expected one of {sorted(PRESET_SETTINGS)}")
    game = canonical_game(game)
    c = _bsuite.get_config("catch")  # algorithm fields shared with BSuite (mzu/cql/...), then the Atari values
    c.env_kind = "atari"
    c.env = f"atari:{game}"
    c.game = game
    c.run = 1  # rlu_atari run 1..5
    c.dataset = "rlu_atari"  # or rlu_atari_checkpoints_ordered
    c.data_dir = "datasets/atari"  # TFDS data_dir holding rlu_atari/<game>_run_<run>/
    c.dataset_dir = c.get_ref("data_dir")  # what the training summary reports as the data location
    c.data_percentage = 100.0
    c.shuffle_episodes = 100  # episodes in the episode shuffle buffer (shuffle_buffer: windows of 14 frames each)

    # model and targets
    c.network = "resnet"
    c.network_preset = preset  # full | small
    c.channels = ml_collections.config_dict.placeholder(int)  # None: from the preset
    c.representation_blocks = ml_collections.config_dict.placeholder(int)
    c.dynamics_blocks = ml_collections.config_dict.placeholder(int)
    c.prediction_blocks = ml_collections.config_dict.placeholder(int)
    c.head_channels = ml_collections.config_dict.placeholder(int)
    c.num_bins = 601
    c.unroll_steps = 5
    c.td_steps = 5
    c.discount = 0.997**4
    c.policy_samples = 0  # 0: exact one-step target over the (<= 18) actions

    # evaluation (RL Unplugged protocol)
    c.eval_max_episode_frames = 108_000
    c.act_policy = "prior"
    c.act_greedy = True
    c.lr_decay_steps = 100_000
    apply_preset(c, preset)
    return c


def apply_preset(config: ml_collections.ConfigDict, preset: str, keep=()) -> ml_collections.ConfigDict:
    """Set the preset's budget fields (PRESET_SETTINGS) and `network_preset`, except the fields named in `keep`.

    `rosmo train` (and experiments/atari/main.py) calls it with the `--config.*` fields given on
    the command line as `keep`, so `--config.network_preset=small` brings the
    small batch and step budget unless they are set explicitly too.
    """
    if preset not in PRESET_SETTINGS:
        raise ValueError(f"--config.network_preset={preset!r}: expected one of {sorted(PRESET_SETTINGS)}")
    config.network_preset = preset
    for key, value in PRESET_SETTINGS[preset].items():
        if key not in keep:
            config[key] = value
    return config


def explicit_fields(argv) -> set:
    """Config fields set on a command line: `--config.batch_size=64` or `--config.batch_size 64` -> {"batch_size"}."""
    return {arg.split("=", 1)[0][len("--config."):] for arg in argv if arg.startswith("--config.")}


__all__ = ["PRESET_SETTINGS", "apply_preset", "explicit_fields", "get_config"]
