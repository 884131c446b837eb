"""BC and discrete CQL: hand-computed losses and masks, losses falling, BC accuracy,
CQL's pessimism on unseen actions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rosmo.agents import make_agent
from rosmo.agents.bc import make_bc_actor, make_bc_loss
from rosmo.agents.cql import cql_regulariser, double_q_td_errors, make_cql_loss
from rosmo.configs.validation import ConfigError, validate_config
from rosmo.networks.base import Networks, Prediction
from tests.helpers import make_learner, small_config, synthetic_batch


def identity_networks(num_actions: int = 3) -> Networks:
    """Hand-built torso: the policy logits / Q-values ARE the observation vector [A] (scaled by params['w'])."""

    def represent(params, obs):
        return obs * params["w"]

    def predict(params, state):
        zeros = jnp.zeros(state.shape[:1] + (5,))
        return Prediction(policy_logits=state, value_logits=zeros, reward_logits=zeros)

    return Networks(lambda key, obs: {"w": jnp.ones(())}, represent, lambda p, s, a: s, predict, num_actions, 5)


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    return x - np.log(np.sum(np.exp(x), -1, keepdims=True))


# ---------------------------------------------------------------- BC


def test_bc_loss_hand_computed_with_episode_masks():
    # one window of 4 steps: t=0,1 valid; t=2 is the episode's last step (padding action); t=3 next episode
    logits = np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0], [5.0, 0.0, 0.0], [0.0, 0.0, 9.0]], np.float32)
    batch = dict(
        observation=jnp.asarray(logits)[None],
        action=jnp.array([[0, 2, 1, 1]]),
        reward=jnp.zeros((1, 4)),
        is_first=jnp.array([[True, False, False, True]]),
        is_last=jnp.array([[False, False, True, False]]),
        is_terminal=jnp.array([[False, False, True, False]]),
    )
    loss, metrics = make_bc_loss(identity_networks(), small_config(algo="bc"))({"w": jnp.ones(())}, None, batch, None)
    ls = _log_softmax(logits)
    expected = -(ls[0, 0] + ls[1, 2]) / 2
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert float(metrics["action_accuracy"]) == pytest.approx(0.5)  # argmax 0 (right), 1 (wrong)


def deterministic_batch(batch_size: int, length: int, seed: int):
    """Observation = a category c in 0..5 marked in row 0 plus noise; action = c % 3 at valid steps.

    At invalid steps (an episode's last step, steps of the next episode) the logged
    action contradicts the rule, so only a correct mask gives high accuracy.
    """
    batch = synthetic_batch(batch_size, length, seed=seed)
    rng = np.random.default_rng(seed + 100)
    category = rng.integers(0, 6, (batch_size, length))
    obs = 0.1 * rng.random((batch_size, length, 10, 5)).astype(np.float32)
    obs[..., 0, :] = 0.0
    np.put_along_axis(obs[..., 0, :], category[..., None] % 5, 1.0, axis=-1)
    obs[..., 1, 0] = (category >= 5).astype(np.float32)
    last_before = np.cumsum(batch["is_last"], 1) - batch["is_last"]
    first_upto = np.cumsum(np.concatenate([np.zeros((batch_size, 1), bool), batch["is_first"][:, 1:]], 1), 1)
    valid = (last_before == 0) & (first_upto == 0) & ~batch["is_last"]
    batch["observation"] = obs
    batch["action"] = np.where(valid, category % 3, (category + 1) % 3).astype(np.int32)
    return batch, valid, category % 3


def test_bc_loss_falls_and_reaches_high_accuracy_on_deterministic_data():
    config = small_config(algo="bc", batch_size=64, learning_rate=3e-3)
    learner = make_learner(config)
    length = config.unroll_steps + config.td_steps + 1
    batch, _, _ = deterministic_batch(config.batch_size, length, seed=0)
    first = float(learner.step(batch)["loss"])
    for i in range(150):
        metrics = learner.step(deterministic_batch(config.batch_size, length, seed=i % 8)[0])
    last = float(metrics["loss"])
    assert np.isfinite(last) and last < 0.3 * first
    # greedy acting on fresh observations: high accuracy on the valid steps
    test, valid, rule = deterministic_batch(256, length, seed=999)
    act = jax.jit(make_bc_actor(learner.agent.networks, config))
    obs = test["observation"].reshape((-1, 10, 5))
    actions = np.asarray(act(learner.params, obs, jax.random.PRNGKey(0))).reshape(rule.shape)
    accuracy = np.mean(actions[valid] == rule[valid])
    assert accuracy > 0.95, accuracy


# ---------------------------------------------------------------- CQL


def test_double_q_td_errors_and_cql_regulariser_by_hand():
    q = jnp.array([[1.0, 2.0, 3.0], [0.5, 0.0, 0.0]])
    q_online_next = jnp.array([[0.0, 3.0, 1.0], [2.0, 0.0, 0.0]])
    q_target_next = jnp.array([[5.0, 7.0, 9.0], [4.0, 8.0, 8.0]])
    actions = jnp.array([2, 0])
    td = double_q_td_errors(q, actions, jnp.array([1.0, 0.5]), jnp.array([0.5, 0.0]), q_target_next, q_online_next)
    # online argmax = 1 -> target net says 7 -> y = 1 + 0.5 * 7 = 4.5, td = 4.5 - 3; terminal (discount 0) -> y = 0.5
    np.testing.assert_allclose(np.asarray(td), [1.5, 0.0])
    # any leading dims: [2, 2] windows of the same transitions
    td2 = double_q_td_errors(
        jnp.stack([q, q]),
        jnp.stack([actions, actions]),
        jnp.ones((2, 2)),
        jnp.zeros((2, 2)),
        jnp.stack([q_target_next] * 2),
        jnp.stack([q_online_next] * 2),
    )
    np.testing.assert_allclose(np.asarray(td2), [[-2.0, 0.5], [-2.0, 0.5]])
    np.testing.assert_allclose(
        np.asarray(cql_regulariser(q[:1], jnp.array([2]))), [np.log(np.exp([1, 2, 3]).sum()) - 3.0], rtol=1e-6
    )


def test_cql_loss_hand_computed_on_one_window():
    # Q(o_t) = the observation; target params scale Q by 2. Window: o0 -> o1 -> o2 (terminal last), o3 next episode.
    q = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 1.0], [3.0, 3.0, 3.0], [9.0, 9.0, 9.0]], np.float32)
    batch = dict(
        observation=jnp.asarray(q)[None],
        action=jnp.array([[0, 2, 0, 1]]),
        reward=jnp.array([[1.0, -1.0, 0.0, 5.0]]),
        is_first=jnp.array([[True, False, False, True]]),
        is_last=jnp.array([[False, False, True, False]]),
        is_terminal=jnp.array([[False, False, True, False]]),
    )
    gamma, alpha = 0.5, 0.3
    config = small_config(algo="cql", discount=gamma, cql_alpha=alpha)
    loss, metrics = make_cql_loss(identity_networks(), config)(
        {"w": jnp.ones(())}, {"w": 2.0 * jnp.ones(())}, batch, None
    )
    # t=0: a=0, Q=1; online argmax at o1 = 1, target Q(o1, 1) = 4 -> y = 1 + 0.5 * 4 = 3; td = huber(-2) = 1.5
    # t=1: a=2, Q=1; o2 is terminal -> y = -1; td = huber(2) = 1.5
    td = (1.5 + 1.5) / 2
    lse = lambda row: np.log(np.exp(row).sum())
    reg = ((lse(q[0]) - 1.0) + (lse(q[1]) - 1.0)) / 2
    assert float(metrics["td_loss"]) == pytest.approx(td, rel=1e-5)
    assert float(metrics["cql_loss"]) == pytest.approx(reg, rel=1e-5)
    assert float(loss) == pytest.approx(td + alpha * reg, rel=1e-5)


def test_cql_loss_finite_and_falls_on_a_fixed_batch():
    config = small_config(algo="cql")
    learner = make_learner(config)
    batch = synthetic_batch(config.batch_size, config.unroll_steps + config.td_steps + 1)
    first = learner.step(batch)
    assert all(np.isfinite(float(v)) for v in first.values())
    for _ in range(60):
        metrics = learner.step(batch)
    assert np.isfinite(float(metrics["loss"]))
    assert float(metrics["loss"]) < 0.8 * float(first["loss"])


def logged_one_action_per_state(batch_size: int, length: int, seed: int):
    """4 states visited in a cycle 0,1,2,3,0,...; the logged action is always STATE_ACTION[s]; reward 0.5 at state 2."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 4, (batch_size, 1))
    states = (start + np.arange(length)[None]) % 4
    obs = np.zeros((batch_size, length, 10, 5), np.float32)
    np.put_along_axis(obs[..., 0, :], states[..., None], 1.0, axis=-1)
    zeros = np.zeros((batch_size, length), bool)
    return dict(
        observation=obs,
        action=STATE_ACTION[states].astype(np.int32),
        reward=np.where(states == 2, 0.5, 0.0).astype(np.float32),
        discount=np.ones((batch_size, length), np.float32),
        is_first=zeros.copy(),
        is_last=zeros.copy(),
        is_terminal=zeros.copy(),
    )


STATE_ACTION = np.array([0, 1, 2, 1])


def test_cql_q_values_of_unseen_actions_fall_below_the_logged_action():
    config = small_config(algo="cql", cql_alpha=1.0, discount=0.9, target_update_interval=20)
    learner = make_learner(config)
    length = config.unroll_steps + config.td_steps + 1
    for i in range(200):
        learner.step(logged_one_action_per_state(config.batch_size, length, seed=i % 10))
    obs = np.zeros((4, 10, 5), np.float32)
    obs[np.arange(4), 0, np.arange(4)] = 1.0
    networks = learner.agent.networks
    q = np.asarray(networks.predict(learner.params, networks.represent(learner.params, obs)).policy_logits)
    for s in range(4):
        logged = q[s, STATE_ACTION[s]]
        unseen = np.delete(q[s], STATE_ACTION[s])
        assert np.all(unseen < logged), (s, q[s])
    greedy = jax.jit(make_agent(config, networks).act)(learner.params, obs, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(greedy), STATE_ACTION)


def test_bc_and_cql_reject_search_act_policies():
    for algo in ("bc", "cql"):
        with pytest.raises(ConfigError, match="act_policy"):
            validate_config(small_config(algo=algo, act_policy="improved"))
        with pytest.raises(ValueError, match="act_policy"):
            make_agent(small_config(algo=algo, act_policy="mcts"), identity_networks())
    with pytest.raises(ConfigError, match="cql_alpha"):
        validate_config(small_config(algo="cql", cql_alpha=-1.0))
