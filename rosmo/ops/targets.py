"""Learning targets for one training window: masks, n-step values, rewards.

A training sample is a window of ``L = K + n + 1`` consecutive logged RLDS
steps (``K`` unroll steps, ``n`` TD steps). Step ``t`` holds observation
``o_t``, the action ``a_t`` taken at ``o_t``, the reward ``r_t`` received
after ``a_t``, and ``is_first`` / ``is_last`` / ``is_terminal``. The last step
of an episode carries the final observation with ``is_last=True`` and padding
action / reward. Position 0 defines "the root episode"; a window may run past
its end into the next episode, whose data must never leak into the targets.

Shapes: every function takes arrays whose LAST axis is the time axis ``L``
and works on any leading batch dims, e.g. ``[L]`` or ``[B, L]`` (no vmap
needed). ``K``, ``n`` and ``num_targets`` are static Python ints.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp

from rosmo.rl_libs import rlax

Array = jax.Array


def _time_len(name: str, x: Array) -> int:
    if x.ndim < 1:
        raise ValueError(f"rosmo.ops.targets: {name} must have a trailing time axis [..., L], got a scalar.")
    return x.shape[-1]


def _require_length(fn: str, length: int, needed: int, what: str) -> None:
    if length < needed:
        raise ValueError(f"rosmo.ops.targets.{fn}: window length L={length} is too short; need L >= {needed} ({what}).")


def episode_masks(is_first: Array, is_last: Array) -> tuple[Array, Array]:
    """Which window positions belong to the root episode.

    ``in_episode[t]``: no episode boundary between position 0 and ``t``, i.e.
    no ``is_last[j]`` for ``j < t`` and no ``is_first[j]`` for ``0 < j <= t``.

    ``valid_step[t] = in_episode[t] and not is_last[t]``: a real transition
    of the root episode (its action and reward are logged data).

    Both masks are monotone: once False they stay False along the window.

    Args:
      is_first: bool[..., L].
      is_last: bool[..., L].

    Returns:
      (in_episode bool[..., L], valid_step bool[..., L]).
    """
    is_first = jnp.asarray(is_first, bool)
    is_last = jnp.asarray(is_last, bool)
    if is_first.shape != is_last.shape:
        raise ValueError(
            f"rosmo.ops.targets.episode_masks: is_first {is_first.shape} and "
            f"is_last {is_last.shape} must have the same shape [..., L]."
        )
    _time_len("is_first", is_first)
    last_i = is_last.astype(jnp.int32)
    # Number of is_last strictly before t (exclusive cumulative sum).
    last_before = jnp.cumsum(last_i, axis=-1) - last_i
    # Number of is_first at 0 < j <= t (position 0 itself is the root's start).
    first_i = is_first.astype(jnp.int32).at[..., 0].set(0)
    first_upto = jnp.cumsum(first_i, axis=-1)
    in_episode = (last_before == 0) & (first_upto == 0)
    valid_step = in_episode & ~is_last
    return in_episode, valid_step


def n_step_value_targets(
    rewards: Array,
    bootstrap_values: Array,
    is_first: Array,
    is_last: Array,
    is_terminal: Array,
    discount: float,
    td_steps: int,
    num_targets: int,
) -> Array:
    """n-step bootstrapped value targets for positions ``k = 0..num_targets-1``.

    With ``n = td_steps``, ``valid = valid_step`` and ``in_ep = in_episode``
    from :func:`episode_masks`:

        z_k = sum_{i<n} discount^i * r_{k+i} * valid[k+i]
              + discount^(m_k - k) * v[m_k] * boot_ok[m_k]

    where ``m_k`` is where the return stops: ``k + n`` if all of
    ``valid[k..k+n-1]`` hold, otherwise the first ``t >= k`` with
    ``valid[t] == False`` (the episode's last step, or a position already
    outside the root episode), and

        boot_ok[t] = in_ep[t] and not (is_last[t] and is_terminal[t]).

    Consequences: a terminal step is worth 0; a truncated (non-terminal)
    last step still bootstraps from its target value, also when it falls
    inside the n-step horizon (``z_k = sum of the rewards up to it +
    discount^(e-k) v[e]``), and also at the truncated step itself
    (``z_e = v[e]``); positions at or after a terminal, and positions in the
    next episode, get exactly 0; the next episode's rewards and values never
    leak in. (When the episode ends at exactly ``k + n`` or runs on, this is
    the plain n-step return ``sum_{i<n} discount^i r_{k+i} + discount^n
    v[k+n] * boot_ok[k+n]``.)

    The recursion is ``rlax.n_step_bootstrapped_returns`` (``G_j = r_j +
    d_j [(1 - lambda_j) v'_j + lambda_j G_{j+1}]``, n times) on the window's
    transitions ``j = 0..L-2`` with ``d_j = discount * boot_ok[j+1]``,
    ``lambda_j = valid[j+1]`` (stop and bootstrap where the root episode's
    logged data ends) and ``v'_j = v[j+1]``. The masks stay the project's
    own: rlax's discounts describe one trajectory and have no notion of a
    window that runs past an RLDS episode's ``is_last`` into the next
    episode, and its ``G_j`` always starts with a reward, so a position with
    no logged transition (``valid[k]`` False) takes ``v[k] * boot_ok[k]``
    here.

    Args:
      rewards: f[..., L] logged rewards ``r_t``.
      bootstrap_values: f[..., L] target-network (or search) values of the
        real observations ``o_t``, raw scale (not transformed).
      is_first, is_last, is_terminal: bool[..., L].
      discount: scalar discount ``gamma``.
      td_steps: ``n >= 0`` (static).
      num_targets: ``K + 1`` (static, >= 1).

    Returns:
      f32[..., num_targets].

    Raises:
      ValueError: if ``L < num_targets - 1 + td_steps + 1`` or the shapes
        disagree.
    """
    if td_steps < 0 or num_targets < 1:
        raise ValueError(
            f"rosmo.ops.targets.n_step_value_targets: need td_steps >= 0 and "
            f"num_targets >= 1, got td_steps={td_steps}, num_targets={num_targets}."
        )
    rewards = jnp.asarray(rewards, jnp.float32)
    bootstrap_values = jnp.asarray(bootstrap_values, jnp.float32)
    is_terminal = jnp.asarray(is_terminal, bool)
    length = _time_len("rewards", rewards)
    for name, arr in (
        ("bootstrap_values", bootstrap_values),
        ("is_first", jnp.asarray(is_first)),
        ("is_last", jnp.asarray(is_last)),
        ("is_terminal", is_terminal),
    ):
        if arr.shape != rewards.shape:
            raise ValueError(
                f"rosmo.ops.targets.n_step_value_targets: {name} has shape "
                f"{arr.shape}, expected the shape of rewards {rewards.shape}."
            )
    _require_length(
        "n_step_value_targets",
        length,
        num_targets - 1 + td_steps + 1,
        f"num_targets - 1 + td_steps + 1 with num_targets={num_targets}, td_steps={td_steps}",
    )
    in_episode, valid = episode_masks(is_first, is_last)
    boot_ok = in_episode & ~(jnp.asarray(is_last, bool) & is_terminal)
    own_value = jnp.where(boot_ok, bootstrap_values, 0.0)[..., :num_targets]
    if td_steps == 0:
        return own_value
    batch_shape = rewards.shape[:-1]

    def flat(x):  # [..., L-1] -> [N, L-1]: rlax works on one sequence, vmap over the rest
        return jnp.reshape(jnp.asarray(x, jnp.float32), (-1, length - 1))

    returns = jax.vmap(rlax.n_step_bootstrapped_returns, in_axes=(0, 0, 0, None, 0))(
        flat(rewards[..., :-1]),
        flat(discount * boot_ok[..., 1:]),
        flat(bootstrap_values[..., 1:]),
        td_steps,
        flat(valid[..., 1:]),
    ).reshape(batch_shape + (length - 1,))
    return jnp.where(valid[..., :num_targets], returns[..., :num_targets], own_value)


def reward_targets(rewards: Array, is_first: Array, is_last: Array, num_unroll: int) -> Array:
    """Reward targets for the model unroll steps ``k = 1..K``.

    Unroll step ``k`` predicts the reward of the transition into ``s_k``,
    i.e. ``r_{k-1}``; after the root episode ended it is 0:

        target[..., k-1] = r_{k-1} * valid_step[k-1]

    Args:
      rewards: f[..., L].
      is_first, is_last: bool[..., L].
      num_unroll: ``K`` (static, ``K <= L``).

    Returns:
      f32[..., K].
    """
    length = _time_len("rewards", rewards)
    _require_length("reward_targets", length, num_unroll, f"num_unroll={num_unroll}")
    _, valid = episode_masks(is_first, is_last)
    rewards = jnp.asarray(rewards, jnp.float32)
    return jnp.where(valid[..., :num_unroll], rewards[..., :num_unroll], 0.0)


def unroll_actions(
    actions: Array,
    is_first: Array,
    is_last: Array,
    random_actions: Array,
    num_unroll: int,
) -> Array:
    """Actions to unroll the model with: logged inside the root episode,
    random after it.

        a'_k = actions[k] if valid_step[k] else random_actions[k],  k < K

    Args:
      actions: int[..., L] logged actions.
      is_first, is_last: bool[..., L].
      random_actions: int[..., L'] with ``L' >= K`` (only the first ``K``
        entries are used).
      num_unroll: ``K`` (static).

    Returns:
      int32[..., K].
    """
    length = _time_len("actions", actions)
    _require_length("unroll_actions", length, num_unroll, f"num_unroll={num_unroll}")
    if random_actions.shape[-1] < num_unroll:
        raise ValueError(
            f"rosmo.ops.targets.unroll_actions: random_actions has "
            f"{random_actions.shape[-1]} steps, need >= num_unroll={num_unroll}."
        )
    _, valid = episode_masks(is_first, is_last)
    return jnp.where(
        valid[..., :num_unroll],
        jnp.asarray(actions, jnp.int32)[..., :num_unroll],
        jnp.asarray(random_actions, jnp.int32)[..., :num_unroll],
    )


def one_step_advantage_data(
    rewards: Array,
    values_target: Array,
    is_first: Array,
    is_last: Array,
    is_terminal: Array,
    discount: float,
    num_targets: int,
) -> tuple[Array, Array]:
    """One-step advantage of the logged action, for filtered BC.

        adv_k  = r_k + discount * v_{k+1} * (not (is_last and is_terminal)[k+1]) - v_k
        mask_k = valid_step[k]                       for k = 0..num_targets-1

    ``v`` are target-network values of the real observations. ``adv`` is set
    to 0 where ``mask`` is 0 (there is no logged transition there).

    Args:
      rewards: f[..., L].
      values_target: f[..., L] raw-scale values of ``o_t``.
      is_first, is_last, is_terminal: bool[..., L].
      discount: scalar.
      num_targets: ``K + 1`` (static), needs ``L >= num_targets + 1``.

    Returns:
      (adv f32[..., num_targets], mask f32[..., num_targets]).
    """
    length = _time_len("rewards", rewards)
    _require_length(
        "one_step_advantage_data",
        length,
        num_targets + 1,
        f"num_targets + 1 with num_targets={num_targets}",
    )
    _, valid = episode_masks(is_first, is_last)
    rewards = jnp.asarray(rewards, jnp.float32)
    values_target = jnp.asarray(values_target, jnp.float32)
    terminal = jnp.asarray(is_last, bool) & jnp.asarray(is_terminal, bool)
    v_next = jnp.where(terminal[..., 1 : num_targets + 1], 0.0, values_target[..., 1 : num_targets + 1])
    adv = rewards[..., :num_targets] + discount * v_next - values_target[..., :num_targets]
    mask = valid[..., :num_targets]
    return jnp.where(mask, adv, 0.0), mask.astype(jnp.float32)


def one_step_advantage_model(
    next_rewards_model: Array,
    values_target: Array,
    is_first: Array,
    is_last: Array,
    discount: float,
    num_targets: int,
) -> tuple[Array, Array]:
    """The original ROSMO code's advantage of the logged action, for filtered BC.

        adv_k  = rhat_{k+1} + discount * v_{k+1} - v_k
        mask_k = valid_step[k]                       for k = 0..num_targets-1

    ``rhat_{t}`` is the target network's reward head read at the REAL
    observation ``o_t`` (``f(h(o_t)).reward``, a head trained only on model
    states ``g(.)``), ``v`` its values of the real observations; no terminal
    masking (sail-sg/rosmo learning.py, "Behavior regularization"). Compare
    :func:`one_step_advantage_data`, which uses the logged reward ``r_k`` and
    ``v_{k+1} = 0`` after a terminal.

    Args:
      next_rewards_model: f[..., L] ``rhat_t`` at every position, raw scale.
      values_target: f[..., L] raw-scale values of ``o_t``.
      is_first, is_last: bool[..., L].
      discount: scalar.
      num_targets: ``K + 1`` (static), needs ``L >= num_targets + 1``.

    Returns:
      (adv f32[..., num_targets], mask f32[..., num_targets]); ``adv`` is 0 where ``mask`` is 0.
    """
    length = _time_len("values_target", values_target)
    _require_length(
        "one_step_advantage_model",
        length,
        num_targets + 1,
        f"num_targets + 1 with num_targets={num_targets}",
    )
    _, valid = episode_masks(is_first, is_last)
    rhat = jnp.asarray(next_rewards_model, jnp.float32)
    values_target = jnp.asarray(values_target, jnp.float32)
    adv = (
        rhat[..., 1 : num_targets + 1]
        + discount * values_target[..., 1 : num_targets + 1]
        - values_target[..., :num_targets]
    )
    mask = valid[..., :num_targets]
    return jnp.where(mask, adv, 0.0), mask.astype(jnp.float32)
