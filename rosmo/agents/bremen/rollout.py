"""Imaginary rollouts in the learned ensemble, one uniformly picked member per step (BREMEN, Matsushima et al. 2021).

For N start states s_0 and t = 0 .. H-1:

    a_t ~ pi(.|s_t),   i_t ~ Uniform{0 .. K-1} (independently per rollout and step),
    s_{t+1} = f_{i_t}(s_t, clip(a_t, -1, 1)),   r_t = reward_{i_t}(s_t, clip(a_t, -1, 1))
                                                or, with a known reward function, r_t = R(s_t, clip(a_t), s_{t+1})

With an uncertainty function u (the ensemble's disagreement, `dynamics.disagreement`) and a penalty
lambda > 0, the reward is r_t - lambda * u(all members' s_{t+1}) (MOPO's penalised reward; a departure
from BREMEN, off by default: `trpo.uncertainty_penalty = 0`). u is recorded either way.

A rollout stops at the env's termination rule `done(s_{t+1})`: `terminal_t = alive_t & done(s_{t+1})`,
`alive_{t+1} = alive_t & ~terminal_t`; after that its state is frozen and its steps are masked out
(`mask_t = alive_t`, rewards 0). All arrays are time-major.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

# (obs [N, O], key) -> (action [N, A], log_prob [N])
SampleFn = Callable[[jnp.ndarray, jax.Array], tuple[jnp.ndarray, jnp.ndarray]]
# (obs [N, O], action [N, A]) -> (next_obs [K, N, O], reward [K, N])
ModelFn = Callable[[jnp.ndarray, jnp.ndarray], tuple[jnp.ndarray, jnp.ndarray]]
# next_obs [N, O] -> bool [N]
DoneFn = Callable[[jnp.ndarray], jnp.ndarray]
# (obs [N, O], action [N, A], next_obs [N, O]) -> reward [N]
RewardFn = Callable[[jnp.ndarray, jnp.ndarray, jnp.ndarray], jnp.ndarray]
# every member's next_obs [K, N, O] -> uncertainty [N]
UncertaintyFn = Callable[[jnp.ndarray], jnp.ndarray]


class Rollout(NamedTuple):
    """observation [H+1, N, O]; action [H, N, A] (as sampled, unclipped); log_prob, reward [H, N];
    terminal, mask [H, N] (bool); member [H, N] (int32, the ensemble member of each step);
    uncertainty [H, N] (u of each step, 0 after termination and without an uncertainty function)."""

    observation: jnp.ndarray
    action: jnp.ndarray
    log_prob: jnp.ndarray
    reward: jnp.ndarray
    terminal: jnp.ndarray
    mask: jnp.ndarray
    member: jnp.ndarray
    uncertainty: jnp.ndarray


def imagine(
    key: jax.Array,
    sample_fn: SampleFn,
    model_fn: ModelFn,
    done_fn: DoneFn,
    start_obs: jnp.ndarray,
    horizon: int,
    obs_low: jnp.ndarray = None,
    obs_high: jnp.ndarray = None,
    reward_fn: Optional[RewardFn] = None,
    uncertainty_fn: Optional[UncertaintyFn] = None,
    uncertainty_penalty: float = 0.0,
) -> Rollout:
    """Roll `sample_fn`'s policy for `horizon` steps from `start_obs` [N, O] in the ensemble `model_fn`.

    Next observations are clipped to [obs_low, obs_high] [O] when given (keeps a wrong model finite).
    `reward_fn` (the env's known reward of (s, a, s')) replaces the members' learned reward when given.
    `uncertainty_fn` (all members' next observations -> [N]) is recorded, and with `uncertainty_penalty`
    > 0 (a Python float) subtracted, times the penalty, from every step's reward.
    """
    num = start_obs.shape[0]

    def step(carry, step_key):
        obs, alive = carry
        act_key, member_key = jax.random.split(step_key)
        action, log_prob = sample_fn(obs, act_key)
        next_all, reward_all = model_fn(obs, jnp.clip(action, -1.0, 1.0))
        member = jax.random.randint(member_key, (num,), 0, next_all.shape[0])
        next_obs = jnp.take_along_axis(next_all, member[None, :, None], axis=0)[0]
        reward = jnp.take_along_axis(reward_all, member[None, :], axis=0)[0]
        if obs_low is not None:
            next_obs = jnp.clip(next_obs, obs_low, obs_high)
        if reward_fn is not None:
            reward = reward_fn(obs, jnp.clip(action, -1.0, 1.0), next_obs)
        if uncertainty_fn is not None:
            uncertainty = uncertainty_fn(next_all)
            if uncertainty_penalty > 0:
                reward = reward - uncertainty_penalty * uncertainty
        else:
            uncertainty = jnp.zeros((num,), reward.dtype)
        terminal = alive & done_fn(next_obs)
        next_alive = alive & ~terminal
        next_obs = jnp.where(alive[:, None], next_obs, obs)
        out = (
            obs,
            action,
            log_prob,
            jnp.where(alive, reward, 0.0),
            terminal,
            alive,
            member.astype(jnp.int32),
            jnp.where(alive, uncertainty, 0.0),
        )
        return (next_obs, next_alive), out

    (last_obs, _), (obs, action, log_prob, reward, terminal, mask, member, uncertainty) = jax.lax.scan(
        step, (start_obs, jnp.ones((num,), bool)), jax.random.split(key, horizon)
    )
    observation = jnp.concatenate([obs, last_obs[None]], 0)
    return Rollout(observation, action, log_prob, reward, terminal, mask, member, uncertainty)
