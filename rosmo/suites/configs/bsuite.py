"""BSuite experiment configs: `--config=experiments/bsuite/config.py:catch` (or cartpole, mountain_car).

Override any field from the command line, e.g. `--config.unroll_steps=5`.
Reference hyper-parameters follow the ROSMO paper's code (DESIGN section 2);
the step budget is sized for a CPU.
"""

import ml_collections

from rosmo.suites.configs.base import get_base_config

ENVS = ("catch", "cartpole", "mountain_car")

# Per-env step budgets and evaluation cadence, set from learning curves measured over 3 seeds
# (batch 512, one evaluation every 1k steps; summarised in docs/departures.md):
# - catch: every seed is at 1.0 from 4k steps on (flat to 20k); 3k was too short (0.63 [0.18, 1.0]).
#   Schedule lr 2e-3 / target copy every 100 (faster than the paper's, which is meant for 200k steps).
#   bc_loss_weight=1 (the shared default is 0.2): with 1% of the episodes the greedy policy of 0.2 misses
#   whole start columns (0.78 [0.71, 0.94], 5 seeds); with 1.0 every coverage reaches an IQM of 1.00
#   (5 seeds; results/bsuite/README.md). Only on catch: on cartpole the larger BC weight costs the 10%
#   and 100% cells (0.77, 0.78 vs 0.91, 1.00), on mountain_car it changes nothing.
# - cartpole: with the paper's policy target (policy_temperature=1) the score peaks at 2k-4k and then
#   falls (IQM 0.19-0.50 at 15k, one seed 0.06) while the value grows towards its fixed point: the
#   one-step advantages are model noise whose spread grows with the value scale (0.04 -> 0.8;
#   the model's best action agrees with the data's only at chance rate), pi* ∝ prior exp(adv)
#   compounds it, and the BC filter drops 25-30% of the (good) data. Faster value convergence
#   (target copy every 50) makes it worse, Polyak / cosine lr / BC weight 1.0 do not fix it.
#   policy_temperature=10 does: IQM >= 0.93 at every evaluation from 2k to 14k, 1.00 at 8k-11k.
# - mountain_car: converged by 7k with policy_temperature=10 (0.98; 10k-11k with temperature 1), flat to 20k.
# MZU on cartpole (1-thread CPU, batch 64, 100 eval episodes): the paper's MZU (no BC) stays at ~0.02 (the prior
#   collapses onto one action; the model's Q argmax matches the logged action at chance, and favours one action
#   in ~all states). `--config.mzu_bc_loss_weight=3` learns it: muzero search 4k steps final 0.84/0.90/0.91,
#   search=gumbel gumbel_rescale_values=False 6k steps 0.96/0.87/0.92 (3 seeds each, ~90 s a run); the same
#   with policy_loss_weight=0 (no search policy target) 0.99/1.00 (2 seeds): the BC term does the work.
# policy_temperature=10 is a departure from the paper (temperature 1) for BSuite: it wins on cartpole,
# converges faster on mountain_car and ties on catch. `--config.policy_temperature=1` restores the paper.
_PER_ENV = {
    "catch": dict(
        num_steps=5_000, eval_every=1_000, learning_rate=2e-3, target_update_interval=100, bc_loss_weight=1.0
    ),
    "cartpole": dict(num_steps=10_000, eval_every=1_000, learning_rate=7e-4, target_update_interval=200),
    "mountain_car": dict(num_steps=10_000, eval_every=1_000, learning_rate=7e-4, target_update_interval=200),
}
BSUITE_POLICY_TEMPERATURE = 10.0


def get_config(env: str = "catch") -> ml_collections.ConfigDict:
    """The BSuite config of `env` (`--config=bsuite:catch`, or `experiments/bsuite/config.py:catch`)."""
    if env not in ENVS:
        raise ValueError(f"unknown BSuite config {env!r}; expected one of {ENVS}")
    c = get_base_config()
    c.suite = "bsuite"
    c.env = env
    c.dataset_dir = f"datasets/bsuite/{env}"  # an RLDS directory made by `rosmo dataset bsuite`
    c.network = "mlp"
    c.num_bins = 51
    c.unroll_steps = 3
    c.td_steps = 3
    c.update(_PER_ENV[env])
    c.policy_temperature = BSUITE_POLICY_TEMPERATURE  # pi* ∝ prior * exp(adv / T); the paper: 1 (see _PER_ENV notes)
    return c
