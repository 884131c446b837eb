"""Hand-computed checks of rosmo.ops.targets (windows crossing episode ends).

Discount 0.9 throughout: 0.9^2 = 0.81, 0.9^3 = 0.729.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rosmo import ops

G = 0.9
F, T = False, True


def _b(*xs):
    return jnp.array(xs, dtype=bool)


# Window A: K=3, n=3 (L=7). The root episode TERMINATES at position 2 (its
# is_last step carries padding reward 5.0 that must be ignored); the next
# episode starts at 3 with large rewards/values that must never leak in.
A = dict(
    rewards=jnp.array([1.0, 2.0, 5.0, 100.0, 200.0, 300.0, 400.0]),
    values=jnp.array([10.0, 20.0, 30.0, 1000.0, 2000.0, 3000.0, 4000.0]),
    is_first=_b(F, F, F, T, F, F, F),
    is_last=_b(F, F, T, F, F, F, F),
    is_terminal=_b(F, F, T, F, F, F, F),
)

# Window B: K=3, n=3 (L=7). The root episode is TRUNCATED (is_last, not
# terminal) at position 4; the next episode starts at 5.
B = dict(
    rewards=jnp.array([1.0, 2.0, 3.0, 4.0, 9.0, 100.0, 200.0]),
    values=jnp.array([10.0, 20.0, 30.0, 40.0, 50.0, 6000.0, 7000.0]),
    is_first=_b(F, F, F, F, F, T, F),
    is_last=_b(F, F, F, F, T, F, F),
    is_terminal=_b(F, F, F, F, F, F, F),
)


def _nstep(w, td_steps, num_targets, discount=G):
    return ops.n_step_value_targets(
        w["rewards"],
        w["values"],
        w["is_first"],
        w["is_last"],
        w["is_terminal"],
        discount,
        td_steps,
        num_targets,
    )


def test_episode_masks_hand():
    in_ep, valid = ops.episode_masks(A["is_first"], A["is_last"])
    np.testing.assert_array_equal(in_ep, [T, T, T, F, F, F, F])
    np.testing.assert_array_equal(valid, [T, T, F, F, F, F, F])
    in_ep, valid = ops.episode_masks(B["is_first"], B["is_last"])
    np.testing.assert_array_equal(in_ep, [T, T, T, T, T, F, F])
    np.testing.assert_array_equal(valid, [T, T, T, T, F, F, F])


def test_episode_masks_first_at_root_and_is_first_without_is_last():
    # is_first at position 0 is the root's own start and cuts nothing.
    in_ep, valid = ops.episode_masks(_b(T, F, F, F), _b(F, F, F, F))
    np.testing.assert_array_equal(in_ep, [T, T, T, T])
    np.testing.assert_array_equal(valid, [T, T, T, T])
    # A new episode at 2 with no is_last before it still ends the root episode.
    in_ep, valid = ops.episode_masks(_b(F, F, T, F), _b(F, F, F, F))
    np.testing.assert_array_equal(in_ep, [T, T, F, F])
    np.testing.assert_array_equal(valid, [T, T, F, F])
    # Window starting on an episode's last step: nothing valid.
    in_ep, valid = ops.episode_masks(_b(F, T, F), _b(T, F, F))
    np.testing.assert_array_equal(in_ep, [T, F, F])
    np.testing.assert_array_equal(valid, [F, F, F])


def test_n_step_terminal_inside_horizon_and_after():
    z = _nstep(A, td_steps=3, num_targets=4)
    # z0 = 1 + .9*2 (+ r2 is padding, masked; terminal at 2 -> no bootstrap) = 2.8
    # z1 = 2 (terminal one step later -> no bootstrap)                      = 2.0
    # z2 = 0 (the terminal step itself)
    # z3 = 0 (next episode: its rewards 100, 200, 300 and values never count)
    np.testing.assert_allclose(z, [2.8, 2.0, 0.0, 0.0], rtol=1e-6, atol=1e-6)


def test_n_step_truncation_bootstraps():
    z = _nstep(B, td_steps=3, num_targets=4)
    # z0 = 1 + .9*2 + .81*3 + .729*v3(40)                   = 1 + 1.8 + 2.43 + 29.16 = 34.39
    # z1 = 2 + .9*3 + .81*4 + .729*v4(50)  (is_last at k+n)  = 2 + 2.7 + 3.24 + 36.45 = 44.39
    # z2 = 3 + .9*4 + .81*v4(50)  (truncated inside horizon) = 3 + 3.6 + 40.5        = 47.1
    # z3 = 4 + .9*v4(50)                                     = 4 + 45               = 49.0
    # The padding reward 9.0 at the last step and the next episode never count.
    np.testing.assert_allclose(z, [34.39, 44.39, 47.1, 49.0], rtol=1e-6)


def test_n_step_one_step_up_to_truncated_last():
    z = _nstep(B, td_steps=1, num_targets=6)
    # zk = r_k + .9 v_{k+1}: 1+18=19, 2+27=29, 3+36=39, 4+45=49;
    # at the truncated last step itself the target is its own value 50;
    # position 5 is in the next episode -> 0.
    np.testing.assert_allclose(z, [19.0, 29.0, 39.0, 49.0, 50.0, 0.0], rtol=1e-6)


def test_n_step_terminal_exactly_at_bootstrap_position():
    w = dict(B, is_terminal=_b(F, F, F, F, T, F, F))  # B, but the end at 4 is terminal
    z = _nstep(w, td_steps=3, num_targets=4)
    # z1 = 2 + .9*3 + .81*4 = 7.94; z2 = 3 + 3.6 = 6.6; z3 = 4; z0 unchanged = 34.39
    np.testing.assert_allclose(z, [34.39, 7.94, 6.6, 4.0], rtol=1e-6)


def test_n_step_no_boundary_is_plain_n_step_return():
    w = dict(
        rewards=jnp.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
        values=jnp.array([0.0, 0.0, 10.0, 10.0, 10.0, 10.0]),
        is_first=_b(T, F, F, F, F, F),
        is_last=_b(F, F, F, F, F, F),
        is_terminal=_b(F, F, F, F, F, F),
    )
    z = _nstep(w, td_steps=2, num_targets=4)
    # zk = 1 + .9 + .81 * 10 = 10.0 for every k.
    np.testing.assert_allclose(z, [10.0, 10.0, 10.0, 10.0], rtol=1e-6)


def test_n_step_batched_and_jit():
    stack = {k: jnp.stack([A[k], B[k]]) for k in A}
    fn = jax.jit(ops.n_step_value_targets, static_argnums=(6, 7))
    z = fn(stack["rewards"], stack["values"], stack["is_first"], stack["is_last"], stack["is_terminal"], G, 3, 4)
    assert z.shape == (2, 4)
    np.testing.assert_allclose(z, [[2.8, 2.0, 0.0, 0.0], [34.39, 44.39, 47.1, 49.0]], rtol=1e-6, atol=1e-6)


def test_n_step_window_too_short_raises():
    with pytest.raises(ValueError, match="L=7"):
        _nstep(A, td_steps=4, num_targets=4)  # needs L >= 3 + 4 + 1 = 8


def test_reward_targets():
    np.testing.assert_allclose(ops.reward_targets(A["rewards"], A["is_first"], A["is_last"], 3), [1.0, 2.0, 0.0])
    np.testing.assert_allclose(
        ops.reward_targets(B["rewards"], B["is_first"], B["is_last"], 5), [1.0, 2.0, 3.0, 4.0, 0.0]
    )
    # Window starting on the last step: all zero.
    np.testing.assert_allclose(ops.reward_targets(jnp.array([7.0, 8.0, 9.0]), _b(F, T, F), _b(T, F, F), 2), [0.0, 0.0])


def test_unroll_actions_replaced_after_boundary():
    actions = jnp.array([0, 1, 2, 3, 0, 1, 2])
    random = jnp.array([9, 8, 7, 6, 5, 4, 3])
    np.testing.assert_array_equal(ops.unroll_actions(actions, A["is_first"], A["is_last"], random, 3), [0, 1, 7])
    np.testing.assert_array_equal(ops.unroll_actions(actions, B["is_first"], B["is_last"], random, 5), [0, 1, 2, 3, 5])
    # Batched [B, L].
    out = ops.unroll_actions(
        jnp.stack([actions, actions]),
        jnp.stack([A["is_first"], B["is_first"]]),
        jnp.stack([A["is_last"], B["is_last"]]),
        jnp.stack([random, random]),
        3,
    )
    np.testing.assert_array_equal(out, [[0, 1, 7], [0, 1, 2]])


def test_one_step_advantage_data():
    adv, mask = ops.one_step_advantage_data(
        A["rewards"], A["values"], A["is_first"], A["is_last"], A["is_terminal"], G, 4
    )
    # adv0 = 1 + .9*20 - 10 = 9; adv1 = 2 + 0 (terminal next) - 20 = -18; rest masked.
    np.testing.assert_allclose(adv, [9.0, -18.0, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(mask, [1.0, 1.0, 0.0, 0.0])
    adv, mask = ops.one_step_advantage_data(
        B["rewards"], B["values"], B["is_first"], B["is_last"], B["is_terminal"], G, 5
    )
    # adv3 = 4 + .9*50 - 40 = 9 (truncated next step still bootstraps).
    np.testing.assert_allclose(adv, [9.0, 9.0, 9.0, 9.0, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(mask, [1.0, 1.0, 1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="num_targets"):
        ops.one_step_advantage_data(B["rewards"], B["values"], B["is_first"], B["is_last"], B["is_terminal"], G, 7)


def _reference_n_step(rewards, values, is_first, is_last, is_terminal, discount, n, num_targets):
    """The docstring's definition, one position at a time in float64."""
    length = len(rewards)
    in_ep = np.zeros(length, bool)
    for t in range(length):
        in_ep[t] = not any(is_last[:t]) and not any(is_first[1 : t + 1])
    valid = in_ep & ~is_last
    boot_ok = in_ep & ~(is_last & is_terminal)
    z = np.zeros(num_targets)
    for k in range(num_targets):
        m = k
        while m < k + n and valid[m]:
            z[k] += discount ** (m - k) * rewards[m]
            m += 1
        z[k] += discount ** (m - k) * values[m] * boot_ok[m]
    return z


def test_n_step_matches_the_definition_on_random_windows():
    # Jitted as the learner calls it: eagerly, each of its ops would compile on its own for every (n, K).
    n_step_jit = jax.jit(ops.n_step_value_targets, static_argnums=(5, 6, 7))
    rng = np.random.default_rng(0)
    for n, num_targets in ((0, 3), (1, 4), (3, 4), (5, 6)):
        length = num_targets + n
        last = rng.random((64, length)) < 0.2
        first = np.concatenate([rng.random((64, 1)) < 0.5, last[:, :-1]], axis=1)
        first[:, 1:] |= rng.random((64, length - 1)) < 0.05  # an is_first with no is_last before it
        terminal = last & (rng.random((64, length)) < 0.5)
        rewards = rng.standard_normal((64, length)).astype(np.float32)
        values = rng.standard_normal((64, length)).astype(np.float32) * 10
        z = n_step_jit(rewards, values, first, last, terminal, G, n, num_targets)
        expected = [
            _reference_n_step(*(x[i] for x in (rewards, values, first, last, terminal)), G, n, num_targets)
            for i in range(64)
        ]
        np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-5)


def test_one_step_advantage_model_is_the_original_codes():
    # adv_k = rhat_{k+1} + .9 v_{k+1} - v_k with the reward head's rhat at the real next observation,
    # no terminal masking of v_{k+1} (window A terminates at position 2, v_2 = 30 still enters).
    rhat = jnp.array([0.0, 0.5, 3.0, 7.0, 0.0, 0.0, 0.0])
    adv, mask = ops.one_step_advantage_model(rhat, A["values"], A["is_first"], A["is_last"], G, 4)
    # adv0 = .5 + 18 - 10 = 8.5; adv1 = 3 + 27 - 20 = 10 (ours: -18 with the logged reward and v=0 after the terminal)
    np.testing.assert_allclose(adv, [8.5, 10.0, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(mask, [1.0, 1.0, 0.0, 0.0])
    batched, _ = ops.one_step_advantage_model(
        jnp.stack([rhat, rhat]),
        jnp.stack([A["values"]] * 2),
        jnp.stack([A["is_first"]] * 2),
        jnp.stack([A["is_last"]] * 2),
        G,
        4,
    )
    np.testing.assert_allclose(batched[1], adv, rtol=1e-6)
