"""MuZero Unplugged: MCTS on a hand-built model of a 3-state chain, Reanalyse targets, loss falling, acting."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rosmo import ops
from rosmo.agents import make_agent
from rosmo.agents.muzero_unplugged import make_mzu_actor, make_mzu_loss, mzu_bc_loss, mzu_targets, search_from_states
from rosmo.configs.validation import ConfigError, validate_config
from rosmo.networks.base import Networks, Prediction
from rosmo.ops.mcts import most_visited_action
from tests.helpers import make_learner, small_config, synthetic_batch

# ---------------------------------------------------------------------------
# A hand-built model of a deterministic chain MDP, 3 actions:
#   state 0 --a0--> state 1 (r 0)      state 0 --a1/a2--> state 2 (r 0)
#   state 1 --a0--> state 2 (r 1)      state 1 --a1/a2--> state 2 (r 0)
#   state 2 (absorbing) --any--> state 2 (r 0)
# Value head 0 everywhere, uniform prior: only search finds that a0 is optimal
# (Q*(1, a0) = 1, Q*(0, a0) = gamma). The embedding is [one_hot(state), reward
# of the transition into it], so the reward can be read from predict(s').
# ---------------------------------------------------------------------------
NUM_BINS = 21
NUM_ACTIONS = 3
NEXT = jnp.array([[1, 2, 2], [2, 2, 2], [2, 2, 2]])
REWARD = jnp.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
GAMMA = 0.9


def _logits_of(x):
    """Categorical logits whose expected (inverse-transformed) scalar is x."""
    return jnp.log(ops.value_to_target_probs(x, NUM_BINS) + 1e-12)


def chain_networks() -> Networks:
    def represent(params, obs):
        return obs.reshape(obs.shape[0], -1).astype(jnp.float32)

    def dynamics(params, state, action):
        s = jnp.argmax(state[:, :3], axis=-1)
        nxt = NEXT[s, action]
        return jnp.concatenate([jax.nn.one_hot(nxt, 3), REWARD[s, action][:, None]], axis=-1)

    def predict(params, state):
        m = state.shape[0]
        return Prediction(
            policy_logits=jnp.zeros((m, NUM_ACTIONS)),
            value_logits=_logits_of(jnp.zeros(m)),
            reward_logits=_logits_of(state[:, 3]),
        )

    return Networks(lambda key, obs: {}, represent, dynamics, predict, NUM_ACTIONS, NUM_BINS)


def chain_obs(states):
    return jnp.concatenate([jax.nn.one_hot(jnp.asarray(states), 3), jnp.zeros((len(states), 1))], axis=-1)


@functools.partial(jax.jit, static_argnums=(0, 2))
def _search_all_states(num_simulations, key, max_depth):
    """One jitted search from each of the 3 chain states (uniform prior, value 0)."""
    networks = chain_networks()
    obs = chain_obs([0, 1, 2])
    return search_from_states(
        networks,
        {},
        key,
        networks.represent({}, obs),
        jnp.zeros((3, NUM_ACTIONS)),
        jnp.zeros(3),
        GAMMA,
        num_simulations,
        max_depth,
    )


def _search(states, num_simulations, seed=0, max_depth=None):
    result = _search_all_states(num_simulations, jax.random.PRNGKey(seed), max_depth)
    return jax.tree.map(lambda x: x[jnp.asarray(states)], result)


def test_hand_built_model_reads_back_rewards():
    net = chain_networks()
    s1 = net.dynamics({}, chain_obs([1, 1]), jnp.array([0, 1]))
    reward = ops.logits_to_scalar(net.predict({}, s1).reward_logits, NUM_BINS)
    np.testing.assert_allclose(np.asarray(reward), [1.0, 0.0], atol=1e-4)


def test_mcts_picks_optimal_action_and_concentrates_with_more_simulations():
    fractions = {}
    for n in (4, 16, 64):
        result = _search([0, 1], n)
        weights = np.asarray(result.action_weights)
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
        np.testing.assert_array_equal(np.asarray(result.visit_counts).sum(-1), [n, n])
        greedy = np.asarray(most_visited_action(result.visit_counts, jnp.zeros((2, NUM_ACTIONS))))
        np.testing.assert_array_equal(greedy, [0, 0])  # optimal in both states
        fractions[n] = weights[:, 0]
    # the visit share of the optimal action grows with the simulation count
    assert np.all(fractions[4] < fractions[16]) and np.all(fractions[16] < fractions[64]), fractions
    assert np.all(fractions[64] > 0.8), fractions


def test_root_search_value_backs_up_the_discovered_return():
    # value head says 0; the search value of state 1 approaches Q*(1, a0) = 1,
    # that of state 0 approaches gamma * 1, that of the absorbing state stays 0
    result = _search([0, 1, 2], 64)
    v = np.asarray(result.root_value)
    assert 0.6 * GAMMA < v[0] < GAMMA + 1e-4
    assert 0.8 < v[1] <= 1.0 + 1e-4
    assert abs(v[2]) < 1e-4


def test_search_depth_one_cannot_see_two_steps_ahead():
    # from state 0 the reward is two steps away: with max_depth=1 every action looks the same
    result = _search([0], 64, max_depth=1)
    assert float(result.root_value[0]) == pytest.approx(0.0, abs=1e-4)
    deep = _search([0], 64)
    assert float(deep.root_value[0]) > 0.3


def test_reanalyse_targets_on_a_chain_window():
    # one window, K = 2, n = 1: o0 = state 0 --a0--> o1 = state 1 --a0 (r=1)--> o2 = state 2 (terminal)
    # then o3 starts the next episode
    config = small_config(
        unroll_steps=2, td_steps=1, discount=GAMMA, num_simulations=64, num_bins=NUM_BINS, mcts_dirichlet_fraction=0.0
    )
    batch = dict(
        observation=chain_obs([0, 1, 2, 0])[None],
        action=jnp.array([[0, 0, 0, 1]]),
        reward=jnp.array([[0.0, 1.0, 0.0, 0.0]]),
        is_first=jnp.array([[True, False, False, True]]),
        is_last=jnp.array([[False, False, True, False]]),
        is_terminal=jnp.array([[False, False, True, False]]),
    )
    t = jax.jit(lambda b, k: mzu_targets(chain_networks(), {}, b, k, config))(batch, jax.random.PRNGKey(0))
    assert t.policy.shape == (1, 3, NUM_ACTIONS) and t.value.shape == (1, 3) and t.reward.shape == (1, 2)
    policy, value, search_value = np.asarray(t.policy[0]), np.asarray(t.value[0]), np.asarray(t.search_value[0])
    assert policy[0, 0] > 0.8 and policy[1, 0] > 0.8  # visit distributions favour the optimal action
    np.testing.assert_allclose(policy[2], 1.0 / NUM_ACTIONS)  # uniform at the episode's last step
    # value bootstrap from the ROOT SEARCH VALUE (the value head says 0 everywhere)
    np.testing.assert_allclose(np.asarray(t.network_value), 0.0, atol=1e-4)
    assert value[0] == pytest.approx(0.0 + GAMMA * search_value[1], abs=1e-5)
    assert value[0] > 0.7
    assert value[1] == pytest.approx(1.0, abs=1e-5)  # r=1 then terminal: no bootstrap
    assert value[2] == pytest.approx(0.0, abs=1e-6)  # at the terminal
    np.testing.assert_allclose(np.asarray(t.reward[0]), [0.0, 1.0])


def test_mzu_act_with_mcts_on_the_hand_built_model():
    config = small_config(algo="mzu", act_policy="mcts", num_simulations=32, discount=GAMMA)
    act = jax.jit(make_mzu_actor(chain_networks(), config))
    actions = act({}, chain_obs([0, 1, 1, 0]), jax.random.PRNGKey(0))
    assert actions.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(actions), [0, 0, 0, 0])
    # sampling ∝ visits: mostly the optimal action (300 observations: the program of the next test's `deep` actor)
    config.act_greedy = False
    sample = jax.jit(make_mzu_actor(chain_networks(), config))
    actions = np.asarray(sample({}, chain_obs([1] * 300), jax.random.PRNGKey(1)))
    assert 0.7 < np.mean(actions == 0) < 1.0


def test_act_search_depth_limits_only_the_acting_search():
    # from state 0 the reward is two model steps away: a one-step acting search sees no difference between
    # the actions (samples ∝ visits are near uniform), the unlimited one finds a0; from state 1 (reward one
    # step away) both find a0
    config = small_config(algo="mzu", act_policy="mcts", num_simulations=32, discount=GAMMA, act_greedy=False)
    deep = jax.jit(make_mzu_actor(chain_networks(), config))
    config.act_search_depth = 1
    shallow = jax.jit(make_mzu_actor(chain_networks(), config))
    obs0, obs1, key = chain_obs([0] * 300), chain_obs([1] * 300), jax.random.PRNGKey(3)
    share_deep, share_shallow = (float(np.mean(np.asarray(f({}, obs0, key)) == 0)) for f in (deep, shallow))
    assert share_deep > 0.6 and 0.2 < share_shallow < 0.5, (share_deep, share_shallow)
    assert float(np.mean(np.asarray(shallow({}, obs1, key)) == 0)) > 0.6
    assert config.search_depth is None  # the learner's searches are unchanged
    with pytest.raises(ConfigError, match="act_search_depth=0"):
        config.act_search_depth = 0
        validate_config(config)


def test_mzu_loss_finite_and_falls_on_a_fixed_batch():
    config = small_config(algo="mzu", num_simulations=4, batch_size=16)
    learner = make_learner(config)
    batch = synthetic_batch(config.batch_size, config.unroll_steps + config.td_steps + 1)
    first = learner.step(batch)
    assert all(np.isfinite(float(v)) for v in first.values())
    for _ in range(40):
        metrics = learner.step(batch)
    assert np.isfinite(float(metrics["loss"]))
    assert float(metrics["loss"]) < 0.8 * float(first["loss"])
    assert float(metrics["policy_target_entropy"]) <= np.log(3) + 1e-5


def test_config_selects_mzu_and_validates_its_fields():
    config = small_config(algo="mzu", act_policy="mcts")
    validate_config(config)
    assert make_agent(config, chain_networks()).name == "mzu"
    for field, bad in (("num_simulations", 0), ("search_depth", 0), ("mcts_dirichlet_fraction", 1.5)):
        c = small_config(algo="mzu")
        c[field] = bad
        with pytest.raises(ConfigError, match=f"^{field}"):
            validate_config(c)
    with pytest.raises(ConfigError, match="act_policy"):
        validate_config(small_config(algo="rosmo", act_policy="mcts"))


# ---------------------------------------------------------------------------
# Gumbel MuZero (search="gumbel")
# ---------------------------------------------------------------------------
Q_STAR = np.array([[GAMMA, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # Q*(s, a) of the chain


@functools.partial(jax.jit, static_argnums=(0,))
def _gumbel_targets(num_simulations, key):
    """Gumbel search from 8 copies of each chain state (independent Gumbel noise per root)."""
    networks = chain_networks()
    states = jnp.repeat(jnp.arange(3), 8)
    obs = chain_obs(states)
    return search_from_states(
        networks,
        {},
        key,
        networks.represent({}, obs),
        jnp.zeros((24, NUM_ACTIONS)),
        jnp.zeros(24),
        GAMMA,
        num_simulations,
        None,
        search="gumbel",
    )


def test_gumbel_policy_target_is_a_distribution_that_improves_with_simulations():
    expected_q = {}
    for n in (1, 3, 8, 32):
        result = _gumbel_targets(n, jax.random.PRNGKey(0))
        weights = np.asarray(result.action_weights).reshape(3, 8, NUM_ACTIONS)
        assert np.all(weights >= 0.0)
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_array_equal(np.asarray(result.visit_counts).sum(-1), n)
        np.testing.assert_allclose(weights[2], 1.0 / NUM_ACTIONS, atol=1e-5)  # all Q equal: the (uniform) prior
        expected_q[n] = (weights.mean(1) * Q_STAR).sum(-1)[:2]  # E_{a ~ target}[Q*(s, a)] at states 0 and 1
    ns = sorted(expected_q)
    for a, b in zip(ns, ns[1:]):
        assert np.all(expected_q[b] >= expected_q[a] - 1e-6), expected_q
    assert np.all(expected_q[32] > expected_q[1] + 0.4), expected_q
    np.testing.assert_allclose(expected_q[32], [GAMMA, 1.0], rtol=0.02)  # ~all mass on the optimal action


def test_gumbel_reanalyse_targets_and_acting():
    config = small_config(
        unroll_steps=2, td_steps=1, discount=GAMMA, num_simulations=32, num_bins=NUM_BINS, search="gumbel"
    )
    batch = dict(
        observation=chain_obs([0, 1, 2, 0])[None],
        action=jnp.array([[0, 0, 0, 1]]),
        reward=jnp.array([[0.0, 1.0, 0.0, 0.0]]),
        is_first=jnp.array([[True, False, False, True]]),
        is_last=jnp.array([[False, False, True, False]]),
        is_terminal=jnp.array([[False, False, True, False]]),
    )
    t = jax.jit(lambda b, k: mzu_targets(chain_networks(), {}, b, k, config))(batch, jax.random.PRNGKey(0))
    policy, value = np.asarray(t.policy[0]), np.asarray(t.value[0])
    assert policy[0, 0] > 0.9 and policy[1, 0] > 0.9  # completed-Q targets favour the optimal action
    np.testing.assert_allclose(policy[2], 1.0 / NUM_ACTIONS)  # uniform at the episode's last step
    # bootstrap from the root search value (Sequential Halving also visits the worse actions, so it is
    # below MuZero search's ~0.9 here, but well above the value head's 0)
    assert value[0] == pytest.approx(GAMMA * float(t.search_value[0, 1]), abs=1e-5) and value[0] > 0.3
    # acting: greedy (no Gumbel noise) picks the optimal action; sampled acting still mostly does
    config.update(dict(algo="mzu", act_policy="mcts"))
    act = jax.jit(make_mzu_actor(chain_networks(), config))
    np.testing.assert_array_equal(np.asarray(act({}, chain_obs([0, 1, 1, 0]), jax.random.PRNGKey(0))), [0, 0, 0, 0])
    config.act_greedy = False
    sample = jax.jit(make_mzu_actor(chain_networks(), config))
    assert np.mean(np.asarray(sample({}, chain_obs([1] * 100), jax.random.PRNGKey(1))) == 0) > 0.9


def test_search_options_are_validated():
    for field, bad in (("search", "alphazero"), ("mcts_qtransform", "min_max"), ("gumbel_scale", -1.0)):
        with pytest.raises(ConfigError, match=f"^{field}"):
            validate_config(small_config(algo="mzu", **{field: bad}))


def test_gumbel_raw_q_scale_follows_the_size_of_q_differences():
    networks = chain_networks()
    obs = chain_obs([0, 1])
    weights, visits = {}, {}
    for rescale in (True, False):
        result = jax.jit(
            lambda k: search_from_states(
                networks,
                {},
                k,
                networks.represent({}, obs),
                jnp.zeros((2, NUM_ACTIONS)),
                jnp.zeros(2),
                GAMMA,
                16,
                None,
                search="gumbel",
                gumbel_scale=0.0,
                gumbel_rescale_values=rescale,  # noqa: B023 (jitted and called in this iteration)
            )
        )(jax.random.PRNGKey(0))
        weights[rescale], visits[rescale] = np.asarray(result.action_weights), np.asarray(result.visit_counts)
        # state 1: Q = (1, 0, 0) is already in [0, 1], so both give log(p0 / p1) = 0.1 * (50 + max N)
        np.testing.assert_allclose(
            np.log(weights[rescale][1, 0] / weights[rescale][1, 1]), 0.1 * (50 + visits[rescale][1].max()), rtol=1e-4
        )
    # state 0: Q(a0) < 1 (discounted, estimated); raw scale gives a smaller preference than the rescaled [0, 1]
    assert weights[False][0, 0] < weights[True][0, 0]
    assert weights[False][0, 0] > 0.5


def test_mzu_bc_loss_is_the_masked_nll_of_the_logged_actions():
    # K = 2: logits at 3 unroll steps; window L = 4. Row 0: episode ends at t=1 (is_last), so only t=0 counts
    # (t=1 is the last observation, no logged transition; t=2 belongs to the next episode). Row 1: all 3 count.
    logits = jnp.log(
        jnp.array(
            [
                [[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]],
                [[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]],
            ]
        )
    )
    actions = jnp.array([[0, 2, 2, 0], [1, 1, 2, 0]])
    is_first = jnp.array([[True, False, True, False], [False, False, False, False]])
    is_last = jnp.array([[False, True, False, False], [False, False, False, False]])
    expected = -(np.log(0.5) + np.log(0.25) + np.log(0.8) + np.log(0.6)) / 4
    np.testing.assert_allclose(float(mzu_bc_loss(logits, actions, is_first, is_last)), expected, rtol=1e-5)


def test_mzu_bc_loss_weight_enters_the_loss_and_is_validated():
    config = small_config(
        unroll_steps=2, td_steps=1, discount=GAMMA, num_simulations=4, num_bins=NUM_BINS, mzu_bc_loss_weight=2.0
    )
    batch = dict(
        observation=chain_obs([0, 1, 2, 0])[None],
        action=jnp.array([[1, 0, 0, 1]]),
        reward=jnp.array([[0.0, 1.0, 0.0, 0.0]]),
        is_first=jnp.array([[True, False, False, True]]),
        is_last=jnp.array([[False, False, True, False]]),
        is_terminal=jnp.array([[False, False, True, False]]),
    )
    _, m = jax.jit(make_mzu_loss(chain_networks(), config))({}, {}, batch, jax.random.PRNGKey(0))
    m = {k: float(v) for k, v in m.items()}
    assert m["bc_loss"] == pytest.approx(np.log(3), rel=1e-5)  # the chain's uniform prior: log 3 per real step
    expected = (
        config.reward_loss_weight * m["reward_loss"]
        + config.value_loss_weight * m["value_loss"]
        + config.policy_loss_weight * m["policy_loss"]
        + 2.0 * m["bc_loss"]
    )
    np.testing.assert_allclose(m["loss"], expected, rtol=1e-5)
    with pytest.raises(ConfigError, match="mzu_bc_loss_weight"):
        validate_config(small_config(algo="mzu", mzu_bc_loss_weight=-1.0))
