"""Baselines on the BSuite datasets: every registered agent x catch, cartpole, mountain_car x 3 seeds (a sweep file).

    rosmo sweep experiments/bsuite/compare.py --out runs/compare            # each env's config budget
    rosmo sweep experiments/bsuite/compare.py:2000 --out runs/compare2k     # 2000 learner steps for every run
    rosmo report runs/compare

Same data pipeline, learner, evaluation and checkpoints for every agent. MZU
acts with MCTS (`act_policy=mcts`, no root noise) with its learner's
`num_simulations` (20); ROSMO acts from its prior (the config default); BC and
CQL act greedily on their head. Runs are ordered seed -> env -> algo, so a
sweep cut short still compares every agent on every env with the seeds it has.
"""

from typing import Any, Optional

from rosmo.agents import window_learners

ENVS = ("catch", "cartpole", "mountain_car")
SEARCH_AGENTS = ("mzu",)  # evaluated acting with their search (act_policy=mcts)


def get_sweep(steps: Optional[str] = None) -> dict[str, Any]:
    fixed: dict[str, Any] = {"use_tensorboard": False}
    if steps:
        fixed.update(num_steps=int(steps), eval_every=int(steps), checkpoint_every=min(int(steps), 1000))
    return {
        "description": f"Baselines: {' / '.join(window_learners())} on catch, cartpole, mountain_car, 3 seeds"
        + (f", {steps} steps" if steps else ""),
        "config": [f"bsuite:{env}" for env in ENVS],
        "set": fixed,
        "grid": [
            {"algo": [a for a in window_learners() if a not in SEARCH_AGENTS]},  # every registered agent
            {"algo": [a for a in window_learners() if a in SEARCH_AGENTS], "act_policy": ["mcts"]},
        ],
        "seeds": "0-2",
    }
