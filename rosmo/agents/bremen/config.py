"""BREMEN hyper-parameters: one ConfigDict, defaults from the paper's code, and a validator.

Defaults follow the BREMEN authors' code (github.com/matsuolab/BREMEN: configs/params_*_offline.json,
the README's commands and recursive.py's flags), where the paper gives no value:

    dynamics      K = 5 members, 2 x 1024 ReLU, Adam 1e-3, batch 1000, <= 200 epochs, early stopping
                  on a held-out 15% split
    policy        2 x 200 ReLU Gaussian, state-independent log-std, re-initialised as Normal(pi_beta, 1)
    BC            Adam 5e-4, batch 256, 300k steps (held-out early stopping)
    TRPO          gamma 0.99, GAE lambda 0.95, 50k imagined steps per iteration, max KL 0.1 and
                  horizon 250 (HalfCheetah; 0.05 / 250 Ant, 0.05 / 1000 Hopper and Walker2d),
                  25 iterations x 80 outer iterations per deployment (2000; offline runs: 25 x 250 = 6250),
                  5 deployments of 200k (1M transitions), exploration noise N(0, 0.1^2) around the mean when
                  collecting; imagined steps scored with the env's known reward function (neural_env.py) and
                  imagined actions mean + N(0, 0.1^2) (--const_sampling --gaussian 0.1)
    value         an MLP (the authors' default is a linear-feature baseline; here a learned value
                  function), 2 x 200, Adam 1e-3

These are GPU-sized; `cpu_config` shrinks them for a shared CPU (what the measurements used).
"""

from __future__ import annotations

import ml_collections

from rosmo.errors import ConfigError  # noqa: F401  (ConfigError re-exported)
from rosmo.errors import check_field as _check

# max KL (delta) and imaginary-rollout horizon per env: the authors' README commands.
PAPER_TRUST_REGION = {
    "HalfCheetah-v5": (0.1, 250),
    "Hopper-v5": (0.05, 1000),
    "Walker2d-v5": (0.05, 1000),
    "Ant-v5": (0.05, 250),
}
ENV_NAMES = tuple(PAPER_TRUST_REGION)
"""The MuJoCo envs BREMEN has settings for (the mujoco suite's envs)."""
START_STATES = ("initial", "any")
REWARDS = ("true", "learned")


def get_config(env: str = "HalfCheetah-v5") -> ml_collections.ConfigDict:
    """The full-size BREMEN config for `env` (one of `ENV_NAMES`)."""
    if env not in PAPER_TRUST_REGION:
        raise ValueError(f"unknown MuJoCo env {env!r}; expected one of {', '.join(ENV_NAMES)}")
    max_kl, horizon = PAPER_TRUST_REGION[env]
    c = ml_collections.ConfigDict()
    c.algo = "bremen"
    c.env = env
    c.seed = 0
    c.max_episode_steps = ml_collections.FieldReference(None, field_type=int)  # None: the env's 1000

    # Deployments: collect B transitions with the current policy, retrain, evaluate.
    c.num_deployments = 5
    c.transitions_per_deployment = 200_000
    c.collect_noise_std = 0.1  # Gaussian exploration noise around the policy mean; < 0: sample the policy
    c.collect_num_envs = 16
    c.eval_episodes = 10
    c.eval_num_envs = 10

    c.dynamics = ml_collections.ConfigDict()
    c.dynamics.num_members = 5
    c.dynamics.hidden_sizes = (1024, 1024)
    c.dynamics.learning_rate = 1e-3
    c.dynamics.batch_size = 1000
    c.dynamics.max_epochs = 200
    c.dynamics.steps_per_epoch = ml_collections.FieldReference(None, field_type=int)  # None: one pass
    c.dynamics.patience = 5  # epochs without a better held-out loss (any member) before stopping
    c.dynamics.validation_fraction = 0.15
    c.dynamics.max_validation = 20_000

    c.policy = ml_collections.ConfigDict()
    c.policy.hidden_sizes = (200, 200)
    c.policy.init_log_std = 0.0  # Normal(pi_beta, 1)
    # True (a departure): Normal(pi_beta, sigma_data^2), sigma_data the held-out BC residuals' std per action
    # dimension (`bc.residual_log_std`); TRPO's KL steps are then in units of the data's own action spread.
    c.policy.init_std_from_data = False

    c.bc = ml_collections.ConfigDict()
    c.bc.learning_rate = 5e-4
    c.bc.batch_size = 256
    c.bc.num_steps = 300_000
    c.bc.eval_every = 1000
    c.bc.patience = 10  # evaluations without a better held-out loss before stopping
    c.bc.validation_fraction = 0.1

    c.trpo = ml_collections.ConfigDict()
    c.trpo.iterations = 2000  # per deployment / per offline run
    c.trpo.batch_size = 50_000  # imagined steps per iteration (batch_size // horizon rollouts)
    c.trpo.horizon = horizon
    c.trpo.discount = 0.99
    c.trpo.gae_lambda = 0.95
    c.trpo.max_kl = max_kl
    c.trpo.cg_iters = 10
    c.trpo.cg_damping = 0.1
    c.trpo.backtrack_coeff = 0.8
    c.trpo.max_backtracks = 10
    c.trpo.start_states = "initial"  # "initial": the data's episode starts; "any": every logged state
    c.trpo.obs_clip = 10.0  # imagined observations are kept within +-obs_clip data std of the data mean
    # The authors' code scores imagined steps with the env's known reward function (envs/neural_env.py:
    # -cost_np_vec(s, a, s')); "learned" uses the ensemble's reward head instead (TRPO then exploits its errors).
    c.trpo.reward = "true"
    # Imagined actions: mean + N(0, sampling_noise_std^2) (the authors' --const_sampling --gaussian 0.1);
    # < 0: sample the policy itself (std 1 after the re-initialisation).
    c.trpo.sampling_noise_std = 0.1
    # DEPARTURE from BREMEN (not in the paper or the authors' code), off by default: lambda of MOPO's
    # penalised imagined reward r - lambda * u, u = max_k ||(s'_k - mean_j s'_j) / std(s' - s)|| the
    # ensemble's disagreement on the next state (`dynamics.disagreement`); curbs TRPO's exploitation of
    # model errors.
    c.trpo.uncertainty_penalty = 0.0

    c.value = ml_collections.ConfigDict()
    c.value.hidden_sizes = (200, 200)
    c.value.learning_rate = 1e-3
    c.value.batch_size = 1000
    c.value.steps_per_iteration = 50
    return c


def cpu_config(env: str = "HalfCheetah-v5") -> ml_collections.ConfigDict:
    """`get_config(env)` shrunk for a shared 2-core CPU (the budget of the measurements in results/mujoco/README.md).

    100k transitions per deployment; dynamics 2 x 200, batch 256, epochs of 2000 steps, <= 15 epochs,
    patience 3; policy / value 2 x 64; BC <= 20k steps; 500 TRPO iterations of 20k imagined steps
    (80 rollouts of 250) per deployment.
    """
    c = get_config(env)
    c.transitions_per_deployment = 100_000
    c.dynamics.hidden_sizes = (200, 200)
    c.dynamics.batch_size = 256
    c.dynamics.max_epochs = 15
    c.dynamics.steps_per_epoch = 2000
    c.dynamics.patience = 3
    c.policy.hidden_sizes = (64, 64)
    c.value.hidden_sizes = (64, 64)
    c.value.batch_size = 500
    c.bc.num_steps = 20_000
    c.trpo.iterations = 500
    c.trpo.batch_size = 20_000
    return c


def _get(c: ml_collections.ConfigDict, field: str):
    for part in field.split("."):
        c = c[part]
    return c


def _positive_int(c, field: str) -> None:
    value = _get(c, field)
    _check(isinstance(value, int) and not isinstance(value, bool) and value >= 1, field, "an integer >= 1", value)


def validate_config(c: ml_collections.ConfigDict) -> None:
    """Raise ConfigError on the first field out of range."""
    _check(c.env in ENV_NAMES, "env", f"one of {ENV_NAMES}", c.env)
    for field in (
        "num_deployments",
        "transitions_per_deployment",
        "collect_num_envs",
        "eval_episodes",
        "eval_num_envs",
        "dynamics.num_members",
        "dynamics.batch_size",
        "dynamics.max_epochs",
        "dynamics.patience",
        "dynamics.max_validation",
        "bc.batch_size",
        "bc.num_steps",
        "bc.eval_every",
        "bc.patience",
        "trpo.iterations",
        "trpo.batch_size",
        "trpo.horizon",
        "trpo.cg_iters",
        "trpo.max_backtracks",
        "value.batch_size",
        "value.steps_per_iteration",
    ):
        _positive_int(c, field)
    _check(
        c.max_episode_steps is None or c.max_episode_steps >= 1,
        "max_episode_steps",
        "None or an integer >= 1",
        c.max_episode_steps,
    )
    _check(
        c.dynamics.steps_per_epoch is None or c.dynamics.steps_per_epoch >= 1,
        "dynamics.steps_per_epoch",
        "None (one pass over the data) or an integer >= 1",
        c.dynamics.steps_per_epoch,
    )
    _check(
        0.0 < c.dynamics.validation_fraction < 1.0,
        "dynamics.validation_fraction",
        "a number in (0, 1)",
        c.dynamics.validation_fraction,
    )
    _check(
        0.0 < c.bc.validation_fraction < 1.0, "bc.validation_fraction", "a number in (0, 1)", c.bc.validation_fraction
    )
    for field in (
        "dynamics.learning_rate",
        "bc.learning_rate",
        "value.learning_rate",
        "trpo.max_kl",
        "trpo.obs_clip",
        "trpo.backtrack_coeff",
    ):
        value = _get(c, field)
        _check(value > 0, field, "a positive number", value)
    _check(c.trpo.backtrack_coeff < 1.0, "trpo.backtrack_coeff", "a number in (0, 1)", c.trpo.backtrack_coeff)
    _check(
        c.trpo.get("uncertainty_penalty", 0.0) >= 0.0,
        "trpo.uncertainty_penalty",
        "a number >= 0",
        c.trpo.get("uncertainty_penalty"),
    )
    _check(c.trpo.cg_damping >= 0.0, "trpo.cg_damping", "a number >= 0", c.trpo.cg_damping)
    _check(0.0 < c.trpo.discount <= 1.0, "trpo.discount", "a number in (0, 1]", c.trpo.discount)
    _check(0.0 <= c.trpo.gae_lambda <= 1.0, "trpo.gae_lambda", "a number in [0, 1]", c.trpo.gae_lambda)
    _check(
        c.trpo.batch_size >= c.trpo.horizon,
        "trpo.batch_size",
        f"at least trpo.horizon ({c.trpo.horizon})",
        c.trpo.batch_size,
    )
    _check(c.trpo.get("reward", "learned") in REWARDS, "trpo.reward", f"one of {REWARDS}", c.trpo.get("reward"))
    _check(c.trpo.start_states in START_STATES, "trpo.start_states", f"one of {START_STATES}", c.trpo.start_states)
    for field in ("dynamics.hidden_sizes", "policy.hidden_sizes", "value.hidden_sizes"):
        sizes = _get(c, field)
        _check(
            len(sizes) >= 1 and all(isinstance(s, int) and s >= 1 for s in sizes),
            field,
            "a tuple of layer sizes >= 1",
            sizes,
        )
