"""Atari experiment configs (`atari:Pong`, any of the 46 RL Unplugged games; `atari:Pong,small`).

Hyper-parameters follow the ROSMO paper's Atari code: K = 5, n = 5, 601 bins, batch 512, lr 7e-4 (1k warm-up,
x0.1 after 100k), weight decay 1e-4, clip 5, target copy every 200 updates, discount 0.997**4 per agent step,
the pre-activation LayerNorm ResNet. Presets `full`, `light`, `small` set the ResNet sizes (`network_preset`)
and the budget fields of `PRESET_SETTINGS`; explicit fields override them.
"""

import ml_collections

from rosmo.data.rlu_names import canonical_game
from rosmo.suites.configs.base import get_base_config

# Per-preset budgets, applied by `get_config` for the preset named in the config string.
PRESET_SETTINGS = {
    "full": dict(
        batch_size=512,
        num_steps=200_000,
        warmup_steps=1_000,
        episodes_in_flight=300,
        eval_every=10_000,
        eval_episodes=32,
        eval_parallel=32,
        log_every=100,
        checkpoint_every=5_000,
    ),
    "light": dict(
        batch_size=512,
        num_steps=200_000,
        warmup_steps=1_000,
        episodes_in_flight=300,
        eval_every=10_000,
        eval_episodes=32,
        eval_parallel=32,
        log_every=100,
        checkpoint_every=5_000,
    ),
    "small": dict(
        batch_size=32,
        num_steps=3_000,
        warmup_steps=100,
        episodes_in_flight=64,
        eval_every=1_000,
        eval_episodes=16,
        eval_parallel=16,
        log_every=50,
        checkpoint_every=500,
    ),
}


def get_config(arg: str = "Pong") -> ml_collections.ConfigDict:
    """The Atari config of a game: `atari:Pong` (full preset) or `atari:Pong,small` (small preset)."""
    game, _, preset = str(arg).partition(",")
    preset = preset or "full"
    if preset not in PRESET_SETTINGS:
        raise ValueError(f"unknown Atari preset {preset!r} in {arg!r}; expected one of {sorted(PRESET_SETTINGS)}")
    c = get_base_config()
    c.suite = "atari"
    c.env = canonical_game(game)
    c.run = 1  # rlu_atari run 1..5
    c.dataset = "rlu_atari"  # or rlu_atari_checkpoints_ordered
    c.data_dir = "datasets/atari"  # TFDS data_dir holding rlu_atari/<game>_run_<run>/
    # batches: windows drawn without replacement from `episodes_in_flight` whole episodes held at once
    # (a batch of B draws from ~P (1 - exp(-B / P)) of them; memory ~ P x 7 KB per step of an episode)
    c.episodes_in_flight = 300
    c.read_cycle_length = 16  # files read at once, interleaved episode by episode; files reshuffled every epoch
    c.ordered_checkpoints = False  # rlu_atari_checkpoints_ordered: True reads checkpoint after checkpoint (curriculum)
    c.stack_on_device = True  # ship single frames, stack the 4-frame observations inside the jitted step
    c.gather_threads = 2  # threads copying a batch's windows out of the pool (1.5x one thread on 2 cores)

    # model and targets
    c.network = "resnet"
    c.network_preset = (
        preset  # full (the original's network) | light (lighter heads, no block between the pools) | small (CPU)
    )
    c.architecture = ml_collections.config_dict.placeholder(str)  # None: from the preset; "original" | "light"
    c.channels = ml_collections.config_dict.placeholder(int)  # None: from the preset
    c.representation_blocks = ml_collections.config_dict.placeholder(int)
    c.dynamics_blocks = ml_collections.config_dict.placeholder(int)
    c.prediction_blocks = ml_collections.config_dict.placeholder(int)
    c.head_channels = ml_collections.config_dict.placeholder(int)
    c.head_hidden_sizes = ml_collections.config_dict.placeholder(tuple)  # original heads' MLP, e.g. (128, 128)
    c.num_bins = 601
    c.unroll_steps = 5
    c.td_steps = 5
    c.discount = 0.997**4
    c.learning_rate = 7e-4
    c.target_update_interval = 200

    # evaluation (RL Unplugged protocol)
    c.eval_max_episode_frames = 108_000
    c.update(PRESET_SETTINGS[preset])
    return c


__all__ = ["PRESET_SETTINGS", "get_config"]
