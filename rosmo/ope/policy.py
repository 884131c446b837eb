"""The evaluated policy as action probabilities pi(a|o), and the same acting rule from latent states.

`policy_probs(agent, config, params, obs, key)` -> [N, A]:

    greedy acting (act_greedy)            one_hot(act(params, o, key))           (deterministic: exact)
    sampled, act_policy "prior"            softmax(f(h(o)).policy_logits)         (every agent: exact)
    sampled, rosmo "improved"              prior * exp(adv) / Z                   (exact, `exact_one_step_target`)
    sampled, anything else (mzu "mcts")    mean of one_hot(act(params, o, key_i)), i < num_samples  (Monte Carlo)

Observations are processed in chunks of `chunk` (one jitted call each).

`latent_actor(networks, config)` gives `act(params, states[M, *S], key) -> int32[M]`: the
run's acting rule applied to latent states (used by the model rollout): the policy head
(prior), ROSMO's one-step improved policy, or MZU's search from those states, argmax or
sampled as `act_greedy` says.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from rosmo import ops
from rosmo.agents.base import Agent, select_actions
from rosmo.agents.muzero_unplugged import make_mzu_state_actor
from rosmo.agents.rosmo import _options as rosmo_options
from rosmo.agents.rosmo import exact_one_step_target
from rosmo.networks.base import Networks

CHUNK = 4096


def _improved_logits(networks: Networks, config, params, states, prior_logits):
    """log of ROSMO's one-step improved policy at latent states [M, *S] -> [M, A]."""
    adv_clip, temperature, _ = rosmo_options(config)
    values = ops.logits_to_scalar(networks.predict(params, states).value_logits, networks.num_bins)
    probs, _ = exact_one_step_target(
        networks, params, states, prior_logits, values, config.discount, adv_clip, temperature
    )
    return jnp.log(probs + 1e-12)


def exact_probs_fn(agent: Agent, config) -> Callable | None:
    """`probs(params, obs[B, ...]) -> [B, A]` where the sampled acting rule has closed-form probabilities, else None."""
    networks = agent.networks
    if config.act_policy == "prior":
        return lambda params, obs: jax.nn.softmax(
            networks.predict(params, networks.represent(params, obs)).policy_logits
        )
    if config.algo == "rosmo" and config.act_policy == "improved":

        def probs(params, obs):
            states = networks.represent(params, obs)
            prior = networks.predict(params, states).policy_logits
            return jax.nn.softmax(_improved_logits(networks, config, params, states, prior))

        return probs
    return None


def policy_probs(
    agent: Agent, config, params, obs: np.ndarray, key: jax.Array, num_samples: int = 16, chunk: int = CHUNK
) -> np.ndarray:
    """pi(a|o) of the run's acting rule for every observation (module docstring). obs [N, ...] -> float32 [N, A]."""
    num_actions = agent.networks.num_actions
    exact = None if config.act_greedy else exact_probs_fn(agent, config)
    if exact is not None:
        fn = jax.jit(exact)
    else:
        draws = 1 if config.act_greedy else int(num_samples)

        def fn(params, obs, key):
            keys = jax.random.split(key, draws)
            hits = jax.vmap(lambda k: jax.nn.one_hot(agent.act(params, obs, k), num_actions))(keys)
            return jnp.mean(hits, axis=0)

        fn = jax.jit(fn)
    out = []
    for i, start in enumerate(range(0, len(obs), chunk)):
        part = obs[start : start + chunk]
        out.append(np.asarray(fn(params, part) if exact is not None else fn(params, part, jax.random.fold_in(key, i))))
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, num_actions), np.float32)


def latent_actor(networks: Networks, config) -> Callable:
    """`act(params, states[M, *S], key) -> int32[M]`: the run's acting rule from latent states (module docstring)."""
    greedy = bool(config.act_greedy)
    mode = config.act_policy

    if config.algo == "mzu":
        return make_mzu_state_actor(networks, config)

    def act(params, states, key):
        logits = networks.predict(params, states).policy_logits
        if config.algo == "rosmo" and mode == "improved":
            logits = _improved_logits(networks, config, params, states, logits)
        return select_actions(logits, key, greedy)

    return act
