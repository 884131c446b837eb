"""Baselines an off-policy estimator has to beat.

    behaviour return  mean over the logged episodes of their undiscounted return (a constant per dataset)
    agreement         mean over logged transitions of pi(a_logged | o)  (1: the policy repeats the data)

"Take the last checkpoint" is a selection rule, not an estimate: `rosmo.ope.metrics`.
"""

from __future__ import annotations

import numpy as np


def behaviour_return(episode_returns: np.ndarray) -> float:
    """mean_e R_e. episode_returns [E] -> float."""
    returns = np.asarray(episode_returns, np.float64)
    if returns.size == 0:
        raise ValueError("behaviour_return of no episode")
    return float(np.mean(returns))


def action_agreement(probs: np.ndarray, actions: np.ndarray) -> float:
    """mean_j pi(a_j | o_j). probs [M, A] (the policy at the logged observations), actions int[M] -> float."""
    probs = np.asarray(probs)
    if len(probs) == 0:
        raise ValueError("action_agreement of no transition")
    return float(np.mean(probs[np.arange(len(probs)), np.asarray(actions, np.int64)]))
