"""BREMEN (Matsushima et al., ICLR 2021): behaviour-regularised model-ensemble offline optimisation.

    config.py    get_config / cpu_config / validate_config (all hyper-parameters, paper defaults)
    networks.py  Gaussian policy, value MLP, input normalisation, acting functions
    dynamics.py  K-member dynamics ensemble (state delta + reward), early-stopped training, predict
    rollout.py   imaginary rollouts, one uniformly picked member per step
    trpo.py      conjugate gradient, GAE (rlax), one KL-constrained TRPO step
    bc.py        behaviour cloning of the data's policy
    learner.py   train_bremen (ensemble -> BC -> Normal(pi_beta, 1) -> TRPO) and the BC baseline

The deployment loop that calls these is `rosmo.deploy.loop` / `rosmo.deploy.bremen`. `SPEC` registers
BREMEN in `rosmo.agents.AGENTS` as a transition learner (`learns_from="transitions"`).
"""

from rosmo.agents.base import TRANSITIONS, AgentSpec

from rosmo.agents.bremen.bc import bc_loss, train_bc
from rosmo.agents.bremen.config import ConfigError, cpu_config, get_config, validate_config
from rosmo.agents.bremen.dynamics import Ensemble, predict, train_ensemble
from rosmo.agents.bremen.learner import (
    EnvFunctions,
    Networks,
    act_params,
    make_networks,
    optimize_policy,
    train_bc_baseline,
    train_bremen,
)
from rosmo.agents.bremen.networks import GaussianPolicy, Normalizer, fit_normalizer, make_act_fn, make_policy
from rosmo.agents.bremen.rollout import Rollout, imagine
from rosmo.agents.bremen.trpo import Batch, conjugate_gradient, gae, mean_kl, surrogate, trpo_step

SPEC = AgentSpec(
    name="bremen",
    description="BREMEN: dynamics ensemble + BC initialisation + TRPO on imagined rollouts (continuous actions)",
    make_loss=None,
    make_actor=None,
    act_policies=("mean",),
    validate=validate_config,
    learns_from=TRANSITIONS,
)

__all__ = [
    "Batch",
    "ConfigError",
    "EnvFunctions",
    "Ensemble",
    "GaussianPolicy",
    "Networks",
    "Normalizer",
    "Rollout",
    "act_params",
    "bc_loss",
    "conjugate_gradient",
    "cpu_config",
    "fit_normalizer",
    "gae",
    "get_config",
    "imagine",
    "make_act_fn",
    "make_networks",
    "make_policy",
    "mean_kl",
    "optimize_policy",
    "predict",
    "surrogate",
    "train_bc",
    "train_bc_baseline",
    "train_bremen",
    "train_ensemble",
    "trpo_step",
    "validate_config",
]
