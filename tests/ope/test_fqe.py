"""FQE recovers the value of a known policy on a small MDP solved by hand; data helpers split by episode."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rosmo.ope import data as ope_data
from rosmo.ope.fqe import FQEConfig, FQETransitions, fit_fqe

# A 2-step chain. s0 --a--> s1 with reward R0[a]; s1 --a--> end (terminal) with reward R1[a].
# pi(.|s0) = (0.3, 0.7), pi(.|s1) = (0.6, 0.4), gamma = 0.9:
#   V(s1)    = 0.6 * 2 + 0.4 * 0           = 1.2
#   Q(s0, a) = R0[a] + 0.9 * 1.2           = (1.08, 2.08)
#   V(s0)    = 0.3 * 1.08 + 0.7 * 2.08     = 1.78
R0, R1 = (0.0, 1.0), (2.0, 0.0)
PI = {0: (0.3, 0.7), 1: (0.6, 0.4), 2: (0.5, 0.5)}
GAMMA, V_S0 = 0.9, 1.78


def chain_steps(num_episodes: int, seed: int = 0, truncate_every: int = 0):
    """RLDS-like flat steps of uniformly random behaviour on the chain (observation = one-hot state)."""
    rng = np.random.default_rng(seed)
    obs, action, reward, first, last, terminal = [], [], [], [], [], []
    for _e in range(num_episodes):
        a0, a1 = rng.integers(0, 2, 2)
        obs += [np.eye(3)[0], np.eye(3)[1], np.eye(3)[2]]
        action += [a0, a1, 0]
        reward += [R0[a0], R1[a1], 0.0]
        first += [True, False, False]
        last += [False, False, True]
        terminal += [False, False, True]
    return dict(
        observation=np.asarray(obs, np.float32),
        action=np.asarray(action),
        reward=np.asarray(reward, np.float32),
        is_first=np.asarray(first),
        is_last=np.asarray(last),
        is_terminal=np.asarray(terminal),
    )


def table_q(params, obs):
    """Tabular Q: one-hot observations [B, 3] @ table [3, 2]."""
    return obs @ params


def run_fqe(steps, config, q_fn=table_q, params=None, seed=0):
    data = ope_data.logged_data(steps)
    fit_eps, held_eps = ope_data.split_episodes(data.num_episodes, 0.25, seed)
    state = np.argmax(data.observation, axis=-1)
    probs = np.asarray([PI[s] for s in state], np.float32)

    def transitions(eps):
        pos = ope_data.transitions_of(data, eps)
        t = data.t[pos]
        return FQETransitions(
            t, data.next_t[pos], data.action[t], data.reward[t], data.terminal[pos], probs[data.next_t[pos]]
        )

    start = ope_data.initial_steps_of(data, held_eps)
    params = jnp.zeros((3, 2)) if params is None else params
    return fit_fqe(
        q_fn,
        params,
        data.observation,
        transitions(fit_eps),
        transitions(held_eps),
        start,
        probs[start],
        1.0,
        config,
        jax.random.PRNGKey(seed),
    )


def test_fqe_recovers_the_hand_computed_value():
    config = FQEConfig(
        num_steps=4000,
        target_update_period=200,
        batch_size=64,
        learning_rate=0.05,
        discount=GAMMA,
        min_iterations=3,
        patience=3,
    )
    result = run_fqe(chain_steps(200), config)
    assert result.estimate == pytest.approx(V_S0, abs=0.03)
    # Q(s1, .) is read at o' of the s0 transitions: the estimate needs >= 2 iterations to propagate
    assert result.estimates[0] == pytest.approx(0.3 * 0.0 + 0.7 * 1.0, abs=0.05)  # one iteration: E_pi R0 only
    assert result.iterations < 4000 // 200  # early stopping ended it
    assert result.heldout_td[result.best_iteration - 1] < 1e-3


def test_fqe_with_an_mlp_torso_recovers_the_value():
    from rosmo.networks.mlp import make_mlp_networks

    networks = make_mlp_networks(2, 5)
    q_fn = lambda p, o: networks.predict(p, networks.represent(p, o)).policy_logits  # noqa: E731
    params = networks.init(jax.random.PRNGKey(0), np.zeros((1, 3), np.float32))
    config = FQEConfig(num_steps=3000, target_update_period=150, batch_size=64, learning_rate=3e-3, discount=GAMMA)
    result = run_fqe(chain_steps(200), config, q_fn=q_fn, params=params)
    assert result.estimate == pytest.approx(V_S0, abs=0.05)


def test_truncated_episodes_bootstrap_and_terminal_ones_do_not():
    steps = chain_steps(3)
    steps["is_terminal"][5] = False  # episode 1 ends truncated: its last transition bootstraps from o_2
    data = ope_data.logged_data(steps)
    np.testing.assert_array_equal(data.t, [0, 1, 3, 4, 6, 7])
    np.testing.assert_array_equal(data.terminal, [False, True, False, False, False, True])
    np.testing.assert_array_equal(data.episode, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    np.testing.assert_allclose(
        ope_data.episode_returns(data), [steps["reward"][3 * e : 3 * e + 3].sum() for e in range(3)]
    )


def test_split_episodes_is_seeded_disjoint_and_keeps_both_sides():
    fit, held = ope_data.split_episodes(10, 0.2, seed=3)
    assert len(held) == 2 and len(fit) == 8 and not set(fit) & set(held)
    np.testing.assert_array_equal(held, ope_data.split_episodes(10, 0.2, seed=3)[1])
    assert len(ope_data.split_episodes(3, 0.01, 0)[1]) == 1 and len(ope_data.split_episodes(3, 0.99, 0)[0]) == 1
    with pytest.raises(ValueError, match="heldout_fraction"):
        ope_data.split_episodes(10, 1.0, 0)
