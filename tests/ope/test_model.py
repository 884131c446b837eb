"""The model estimates equal a latent rollout rolled by hand; the policy's probabilities follow its acting rule."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from rosmo import ops
from rosmo.agents import make_agent
from rosmo.suites.configs.bsuite import get_config
from rosmo.networks.mlp import make_mlp_networks
from rosmo.ope import model as ope_model
from rosmo.ope.policy import latent_actor, policy_probs

NUM_BINS = 21


def random_params(networks, seed=0):
    """Initial parameters with every leaf redrawn (the heads start at zero: they would predict nothing)."""
    params = networks.init(jax.random.PRNGKey(seed), np.zeros((1, 10, 5), np.float32))
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
    return jax.tree.unflatten(tree, [0.5 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])


def config(**fields) -> ml_collections.ConfigDict:
    c = get_config("catch")
    c.num_bins = NUM_BINS
    c.update(fields)
    return c


def hand_rollout(networks, params, o0, horizon, gamma):
    """One initial observation at a time, greedy prior actions, as the module docstring writes it."""
    state = networks.represent(params, o0[None])
    total = 0.0
    for k in range(horizon):
        action = int(np.argmax(np.asarray(networks.predict(params, state).policy_logits)[0]))
        state = networks.dynamics(params, state, jnp.asarray([action]))
        reward = float(ops.logits_to_scalar(networks.predict(params, state).reward_logits, NUM_BINS)[0])
        total += gamma**k * reward
    value = float(ops.logits_to_scalar(networks.predict(params, state).value_logits, NUM_BINS)[0])
    return total + gamma**horizon * value


def test_model_rollout_equals_a_hand_rolled_latent_rollout():
    networks = make_mlp_networks(3, NUM_BINS)
    params = random_params(networks)
    obs = np.random.default_rng(0).random((3, 10, 5)).astype(np.float32)
    act = latent_actor(networks, config(act_policy="prior", act_greedy=True))
    for horizon in (0, 3):
        got = ope_model.latent_rollout_returns(
            networks, params, jnp.asarray(obs), act, horizon, 0.9, jax.random.PRNGKey(0)
        )
        want = [hand_rollout(networks, params, o, horizon, 0.9) for o in obs]
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)
        assert float(
            ope_model.model_rollout(networks, params, jnp.asarray(obs), act, horizon, 0.9, jax.random.PRNGKey(0))
        ) == pytest.approx(np.mean(want), rel=1e-4, abs=1e-5)
    values = [hand_rollout(networks, params, o, 0, 0.9) for o in obs]  # H = 0: the value head alone
    assert float(ope_model.model_value(networks, params, jnp.asarray(obs))) == pytest.approx(np.mean(values), rel=1e-4)


def test_policy_probabilities_follow_the_acting_rule():
    networks = make_mlp_networks(3, NUM_BINS)
    params = random_params(networks, seed=3)
    obs = np.random.default_rng(1).random((7, 10, 5)).astype(np.float32)
    logits = np.asarray(networks.predict(params, networks.represent(params, obs)).policy_logits)
    key = jax.random.PRNGKey(0)
    greedy = config(algo="bc", act_policy="prior", act_greedy=True)
    probs = policy_probs(make_agent(greedy, networks), greedy, params, obs, key)
    np.testing.assert_array_equal(probs, np.eye(3)[np.argmax(logits, -1)])
    sampled = config(algo="bc", act_policy="prior", act_greedy=False)
    probs = policy_probs(make_agent(sampled, networks), sampled, params, obs, key, chunk=3)  # chunks of 3, 3, 1
    np.testing.assert_allclose(probs, np.asarray(jax.nn.softmax(logits)), rtol=1e-5, atol=1e-6)
    # a search policy sampled: Monte Carlo frequencies, rows summing to 1
    mcts = config(algo="mzu", act_policy="mcts", act_greedy=False, num_simulations=4)
    probs = policy_probs(make_agent(mcts, networks), mcts, params, obs, key, num_samples=8)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)
    assert set(np.unique(probs * 8).round(4)) <= set(float(i) for i in range(9))
