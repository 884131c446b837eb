"""The fields every experiment config shares; suite configs (bsuite.py, atari.py) extend it.

Agent-specific fields come from the agent registry (`AgentSpec.config_defaults`),
so `--config.algo=mzu --config.num_simulations=50` works from any config and a
new agent brings its own fields. They are validated only when that agent is
selected (`rosmo.configs.validation`).
"""

from __future__ import annotations

import ml_collections

from rosmo.agents import AGENTS

LR_SCHEDULES = ("step", "cosine")
"""`config.lr_schedule`: "step" (x lr_decay_factor every lr_decay_steps, the paper's) or "cosine"
(to learning_rate * lr_decay_factor at num_steps); both after the linear warm-up."""

NONFINITE_POLICIES = ("stop", "skip")
"""`config.nonfinite`: on a non-finite loss, gradient or parameter, stop the run (naming the step and the
metric) or skip that update and count it (`skipped_updates` in train.csv). Either way no checkpoint holds
non-finite parameters."""


def get_base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.algo = "rosmo"  # a name of rosmo.agents.AGENTS
    c.suite = "bsuite"  # a name of rosmo.suites.SUITES
    c.env = ""  # the suite's env name (e.g. catch, Pong); must match the dataset's
    c.data_percentage = 100.0  # share of the dataset's episodes kept (seeded)
    c.seed = 0

    # model and targets (MuZero family)
    c.network = "mlp"  # mlp | resnet
    c.num_bins = 51  # value / reward support bins (odd: symmetric around 0)
    c.unroll_steps = 3  # K
    c.td_steps = 3  # n
    c.discount = 0.997**4
    c.dynamics_gradient_scale = 0.5
    c.reward_loss_weight = 1.0
    c.value_loss_weight = 0.25
    c.policy_loss_weight = 1.0

    # each agent's own fields, e.g. policy_samples (rosmo), num_simulations (mzu), cql_alpha (cql)
    for spec in AGENTS.values():
        for field, default in spec.config_defaults.items():
            if isinstance(default, ml_collections.FieldReference):  # a typed placeholder: a fresh one per config
                default = ml_collections.FieldReference(default.get(), field_type=default.get_type())
            c[field] = default

    # optimisation
    c.batch_size = 512
    c.learning_rate = 7e-4
    c.warmup_steps = 1_000
    c.lr_decay_steps = 100_000
    c.lr_decay_factor = 0.1
    c.weight_decay = 1e-4
    c.max_grad_norm = 5.0
    c.nonfinite = "stop"  # stop | skip: what a non-finite update does (NONFINITE_POLICIES)
    c.target_update_interval = 200
    c.target_update_tau = 0.0  # > 0: Polyak target update every step instead of hard copies (stabiliser, off)
    c.lr_schedule = "step"  # step | cosine (LR_SCHEDULES)
    c.num_steps = 10_000

    # acting and evaluation
    c.act_policy = "prior"  # one of the agent's acting rules (rosmo.agents.AGENTS[algo].act_policies)
    c.act_greedy = True
    c.eval_every = 1_000
    c.eval_episodes = 100
    c.eval_parallel = 50

    # bookkeeping
    c.log_every = 100
    c.checkpoint_every = 1_000
    c.keep_checkpoints = 3
    c.use_tensorboard = True
    c.use_wandb = False
    c.wandb_project = "rosmo"
    c.shuffle_buffer = 10_000
    return c
