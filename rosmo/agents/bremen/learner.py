"""One round of BREMEN's offline optimisation (steps 4-9 of Algorithm 1 of Matsushima et al. 2021), and the BC baseline.

    train_bremen(config, data_all, data_new, key, env_fns):
        1. fit the K-member dynamics ensemble on D_all                              (dynamics.py)
        2. behaviour-clone pi_beta on D (this deployment's data)                    (bc.py)
        3. pi_theta_0 = Normal(mu_beta, exp(init_log_std)^2)   (init_log_std = 0: std 1; with
           policy.init_std_from_data the std of the BC residuals a - mu_beta(s), per action dimension)
        4. T TRPO iterations, each on `trpo.batch_size // trpo.horizon` imaginary rollouts of
           `trpo.horizon` steps from start states of D_all, every step from a uniformly picked member
           (rollout.py); advantages by GAE with a learned value function, normalised per batch; the value
           net is then regressed on the lambda-returns (trpo.py)

Departure from BREMEN (off by default): `trpo.uncertainty_penalty = lambda > 0` scores imagined steps with
MOPO's penalised reward r - lambda * u, u the ensemble's disagreement on the next state
(`dynamics.disagreement`, in units of the data's std of the state change).

The value function reads observations through the policy's normalizer and is scaled by
`value_scale = (|mean r| + std r) / (1 - gamma)` of D_all, so its network outputs stay O(1).

The returned state is a dict of arrays (checkpointable): policy, obs_norm, value, ensemble.
`act_params(state)` is what `networks.make_act_fn` acts with.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import tqdm

import rosmo.agents.bremen.bc as bc_lib
import rosmo.agents.bremen.dynamics as dynamics
import rosmo.agents.bremen.rollout as rollout_lib
import rosmo.agents.bremen.trpo as trpo
from rosmo.agents.bremen.networks import (
    GaussianPolicy,
    Normalizer,
    make_policy,
    make_value,
    normalize,
    normalizer_dict,
    normalizer_from_dict,
)
from rosmo.data.transitions import Transitions

Params = Any


class EnvFunctions(NamedTuple):
    """The environment's known functions, given by its suite (`rosmo.suites.mujoco.MuJoCo.env_functions`).

    termination: next_obs [N, O] -> bool [N], whether the env ends the episode there.
    reward: (obs [N, O], action [N, A], next_obs [N, O]) -> reward [N]; used when `config.trpo.reward` is "true".
    """

    termination: Callable[[jnp.ndarray], jnp.ndarray]
    reward: Callable[[jnp.ndarray, jnp.ndarray, jnp.ndarray], jnp.ndarray]


class Networks(NamedTuple):
    policy: GaussianPolicy
    value: hk.Transformed
    dynamics: hk.Transformed


def make_networks(config: ml_collections.ConfigDict, obs_dim: int, act_dim: int) -> Networks:
    """The policy, value and dynamics networks of `config` (the same objects for the same sizes, so that
    jitted functions built on them are reused across deployments)."""
    return _networks(
        int(obs_dim),
        int(act_dim),
        tuple(config.policy.hidden_sizes),
        tuple(config.value.hidden_sizes),
        tuple(config.dynamics.hidden_sizes),
    )


@functools.lru_cache(maxsize=8)
def _networks(obs_dim, act_dim, policy_hidden, value_hidden, dynamics_hidden) -> Networks:
    return Networks(
        make_policy(act_dim, policy_hidden), make_value(value_hidden), dynamics.make_network(obs_dim, dynamics_hidden)
    )


def act_params(state: dict[str, Any]) -> dict[str, Any]:
    """The acting part of a BREMEN (or BC) state: {"policy", "obs_norm"}."""
    return {"policy": state["policy"], "obs_norm": state["obs_norm"]}


def start_states(data: Transitions, which: str) -> np.ndarray:
    """Start states of imaginary rollouts: the data's episode starts ("initial") or every state ("any")."""
    if which == "initial" and data.first.any():
        return data.observation[data.first]
    return data.observation


def value_scale(reward: np.ndarray, discount: float) -> float:
    """(|mean r| + std r) / (1 - discount) (1 / (1 - discount) when r is constant 0)."""
    scale = (abs(float(np.mean(reward))) + float(np.std(reward))) / (1.0 - min(discount, 0.999))
    return scale if scale > 0 else 1.0 / (1.0 - min(discount, 0.999))


def make_trpo_iteration(config: ml_collections.ConfigDict, networks: Networks, env_fns: EnvFunctions) -> Callable:
    """A jitted TRPO iteration on imaginary rollouts (cached: one compilation per config and data shapes).

    `env_fns` gives the termination rule of imagined steps and, with `config.trpo.reward = "true"`, their reward.

    iteration(policy, value, value_opt_state, ensemble_state, obs_norm, start_obs [N, O], obs_low, obs_high,
              value_scale, key) -> (policy, value, value_opt_state, metrics)
    """
    t, v = config.trpo, config.value
    return _trpo_iteration(
        networks,
        env_fns,
        t.horizon,
        t.discount,
        t.gae_lambda,
        t.max_kl,
        t.cg_iters,
        t.cg_damping,
        t.backtrack_coeff,
        t.max_backtracks,
        v.learning_rate,
        v.batch_size,
        v.steps_per_iteration,
        t.get("reward", "learned"),
        float(t.get("sampling_noise_std", -1.0)),
        float(t.get("uncertainty_penalty", 0.0)),
    )


def rollout_sampler(policy_net: GaussianPolicy, policy_params: Params, norm: Normalizer, noise_std: float):
    """Actions of imagined rollouts and their log-probabilities under the policy being optimised.

    noise_std < 0: a ~ pi(.|s) (sample the policy). noise_std >= 0: a = mean(s) + N(0, noise_std^2), whatever
    the policy's std (the BREMEN authors' `--const_sampling --gaussian 0.1`, used in all their commands); the
    log-probability is still that of pi(.|s), so TRPO's ratio and trust region are unchanged.
    """

    def sample_fn(obs, k):
        dist = policy_net.distribution(policy_params, normalize(norm, obs))
        if noise_std < 0:
            action = dist.sample(seed=k)
        else:
            mean = dist.mean()
            action = mean + noise_std * jax.random.normal(k, mean.shape, mean.dtype)
        return action, dist.log_prob(action)

    return sample_fn


@functools.lru_cache(maxsize=8)
def _trpo_iteration(
    networks,
    env_fns,
    horizon,
    discount_factor,
    gae_lambda,
    max_kl,
    cg_iters,
    cg_damping,
    backtrack_coeff,
    max_backtracks,
    value_lr,
    value_batch,
    value_steps,
    reward_mode="learned",
    sampling_noise_std=-1.0,
    uncertainty_penalty=0.0,
) -> Callable:
    done_fn = env_fns.termination
    known_reward = env_fns.reward if reward_mode == "true" else None
    value_opt = optax.adam(value_lr)
    policy_net, value_net = networks.policy, networks.value

    def fit_value(value_params, opt_state, obs_n, targets, mask, scale, key):
        idx = jax.random.choice(key, obs_n.shape[0], (value_steps, value_batch), p=mask / jnp.sum(mask))

        def step(carry, i):
            p, s = carry
            loss, grads = jax.value_and_grad(
                lambda q: 0.5 * jnp.mean((value_net.apply(q, obs_n[i])[..., 0] - targets[i] / scale) ** 2)
            )(p)
            updates, s = value_opt.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), loss

        (value_params, opt_state), losses = jax.lax.scan(step, (value_params, opt_state), idx)
        return value_params, opt_state, jnp.mean(losses)

    @jax.jit
    def iteration(
        policy_params, value_params, value_opt_state, ensemble_state, obs_norm, s0, obs_low, obs_high, scale, key
    ):
        roll_key, value_key = jax.random.split(key)
        norm = normalizer_from_dict(obs_norm)
        ensemble = dynamics.from_state(networks.dynamics, ensemble_state)

        sample_fn = rollout_sampler(policy_net, policy_params, norm, sampling_noise_std)
        scale_delta = dynamics.state_change_scale(ensemble)
        ro = rollout_lib.imagine(
            roll_key,
            sample_fn,
            lambda o, a: dynamics.predict(ensemble, o, a),
            done_fn,
            s0,
            horizon,
            obs_low,
            obs_high,
            reward_fn=known_reward,
            uncertainty_fn=lambda nxt: dynamics.disagreement(nxt, scale_delta),
            uncertainty_penalty=uncertainty_penalty,
        )
        obs_n = normalize(norm, ro.observation)  # [H+1, N, O]
        values = scale * value_net.apply(value_params, obs_n)[..., 0]  # [H+1, N]
        discount = discount_factor * (1.0 - ro.terminal.astype(jnp.float32))
        adv = trpo.gae(ro.reward, discount, values, gae_lambda)
        returns = adv + values[:-1]
        mask = ro.mask.astype(jnp.float32)
        mean = jnp.sum(adv * mask) / jnp.sum(mask)
        std = jnp.sqrt(jnp.sum(((adv - mean) ** 2) * mask) / jnp.sum(mask))
        obs_dim, act_dim = obs_n.shape[-1], ro.action.shape[-1]
        batch = trpo.Batch(
            obs_n[:-1].reshape(-1, obs_dim),
            ro.action.reshape(-1, act_dim),
            ro.log_prob.reshape(-1),
            ((adv - mean) / (std + 1e-8)).reshape(-1),
            mask.reshape(-1),
        )
        new_policy, info = trpo.trpo_step(
            policy_net.distribution, policy_params, batch, max_kl, cg_iters, cg_damping, backtrack_coeff, max_backtracks
        )
        value_params, value_opt_state, value_loss = fit_value(
            value_params, value_opt_state, batch.observation, returns.reshape(-1), batch.mask, scale, value_key
        )
        metrics = {
            "imagined_return": jnp.mean(jnp.sum(ro.reward, 0)),
            "imagined_length": jnp.mean(jnp.sum(mask, 0)),
            # mean ensemble disagreement u per imagined step, and the penalty lambda * sum_t u_t per rollout
            # (imagined_return is after the penalty; imagined_return + imagined_penalty is before it)
            "imagined_uncertainty": jnp.sum(ro.uncertainty * mask) / jnp.sum(mask),
            "imagined_penalty": uncertainty_penalty * jnp.mean(jnp.sum(ro.uncertainty, 0)),
            "value_loss": value_loss,
            "policy_std": jnp.mean(jnp.exp(new_policy["log_std"])),
            **{k: v.astype(jnp.float32) for k, v in info.items()},
        }
        return new_policy, value_params, value_opt_state, metrics

    return iteration


def optimize_policy(
    config: ml_collections.ConfigDict,
    networks: Networks,
    ensemble: dynamics.Ensemble,
    policy_params: Params,
    obs_norm: Normalizer,
    data_all: Transitions,
    key: jax.Array,
    env_fns: EnvFunctions,
    progress: bool = False,
) -> tuple[Params, Params, dict[str, Any]]:
    """`config.trpo.iterations` TRPO iterations from `policy_params` in `ensemble`; returns (policy, value, metrics).

    Args:
      config: a BREMEN config (`rosmo.agents.bremen.config`).
      networks: `make_networks(config, obs_dim, act_dim)`.
      ensemble: the fitted dynamics ensemble the rollouts are imagined in.
      policy_params: the starting policy (Normal(pi_beta, std)).
      obs_norm: the policy's observation normalizer.
      data_all: every transition so far [N]: start states and the value scale.
      key: PRNG key.
      env_fns: the env's termination (and true reward) functions.
      progress: show a progress bar.
    """
    start = time.time()
    t = config.trpo
    num_rollouts = max(1, t.batch_size // t.horizon)
    scale = value_scale(data_all.reward, t.discount)
    iteration = make_trpo_iteration(config, networks, env_fns)
    obs_mean, obs_std = data_all.observation.mean(0), np.maximum(data_all.observation.std(0), 1e-6)
    obs_low = jnp.asarray(obs_mean - t.obs_clip * obs_std, jnp.float32)
    obs_high = jnp.asarray(obs_mean + t.obs_clip * obs_std, jnp.float32)
    starts = np.asarray(start_states(data_all, t.start_states), np.float32)
    key, value_key, start_key = jax.random.split(key, 3)
    rng = np.random.default_rng(int(jax.random.randint(start_key, (), 0, 2**31 - 1)))
    value_params = networks.value.init(value_key, jnp.zeros((1, data_all.observation.shape[1])))
    value_opt_state = optax.adam(config.value.learning_rate).init(value_params)
    ensemble_state = ensemble.state()
    norm = normalizer_dict(obs_norm)
    history: list[dict[str, float]] = []
    bar = tqdm.tqdm(range(int(t.iterations)), desc="TRPO (imagined)", unit="it", disable=not progress)
    for it in bar:
        key, it_key = jax.random.split(key)
        s0 = starts[rng.integers(0, len(starts), num_rollouts)]  # fixed shape [N, O]: one compilation
        policy_params, value_params, value_opt_state, m = iteration(
            policy_params,
            value_params,
            value_opt_state,
            ensemble_state,
            norm,
            s0,
            obs_low,
            obs_high,
            jnp.float32(scale),
            it_key,
        )
        row = {"iteration": it + 1, **{k: float(v) for k, v in m.items()}}
        history.append(row)
        bar.set_postfix(
            ret=f"{row['imagined_return']:.1f}", kl=f"{row['kl']:.3f}", std=f"{row['policy_std']:.2f}", refresh=False
        )
    bar.close()
    metrics = {
        "trpo_iterations": int(t.iterations),
        "trpo_rollouts_per_iteration": num_rollouts,
        "value_scale": scale,
        "trpo_seconds": round(time.time() - start, 2),
        "trpo_history": history,
    }
    if history:
        metrics.update({f"final_{k}": history[-1][k] for k in ("imagined_return", "kl", "policy_std", "value_loss")})
    return policy_params, value_params, metrics


def train_bremen(
    config: ml_collections.ConfigDict,
    data_all: Transitions,
    data_new: Transitions,
    key: jax.Array,
    env_fns: EnvFunctions,
    progress: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ensemble on `data_all`, BC on `data_new`, Normal(pi_beta, 1) re-initialisation, TRPO; returns (state, metrics).

    Args:
      config: a BREMEN config (`rosmo.agents.bremen.config`).
      data_all: every transition collected so far (D_all) [N].
      data_new: this deployment's transitions (D) [M].
      key: PRNG key.
      env_fns: the env's termination (and true reward) functions, from its suite.
      progress: show progress bars.
    """
    obs_dim, act_dim = data_all.observation.shape[1], data_all.action.shape[1]
    networks = make_networks(config, obs_dim, act_dim)
    ens_key, bc_key, trpo_key = jax.random.split(key, 3)
    d = config.dynamics
    ensemble, dyn_metrics = dynamics.train_ensemble(
        data_all,
        d.hidden_sizes,
        ens_key,
        d.num_members,
        d.learning_rate,
        d.batch_size,
        d.max_epochs,
        d.steps_per_epoch,
        d.patience,
        d.validation_fraction,
        d.max_validation,
        progress=progress,
    )
    policy_params, obs_norm, bc_metrics = bc_lib.train_bc(
        networks.policy,
        data_new.observation,
        data_new.action,
        bc_key,
        config.bc.learning_rate,
        config.bc.batch_size,
        config.bc.num_steps,
        config.bc.eval_every,
        config.bc.patience,
        config.bc.validation_fraction,
        init_log_std=config.policy.init_log_std,
        progress=progress,
        log_std_from_residuals=bool(config.policy.get("init_std_from_data", False)),
    )
    policy_params, value_params, trpo_metrics = optimize_policy(
        config, networks, ensemble, policy_params, obs_norm, data_all, trpo_key, env_fns, progress=progress
    )
    state = {
        "policy": policy_params,
        "obs_norm": normalizer_dict(obs_norm),
        "value": value_params,
        "ensemble": ensemble.state(),
    }
    return state, {**dyn_metrics, **bc_metrics, **trpo_metrics}


def train_bc_baseline(
    config: ml_collections.ConfigDict, data: Transitions, key: jax.Array, progress: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """BC on `data` with BREMEN's BC settings (the offline comparison's baseline); acts with the mean."""
    policy = make_policy(data.action.shape[1], config.policy.hidden_sizes)
    params, obs_norm, metrics = bc_lib.train_bc(
        policy,
        data.observation,
        data.action,
        key,
        config.bc.learning_rate,
        config.bc.batch_size,
        config.bc.num_steps,
        config.bc.eval_every,
        config.bc.patience,
        config.bc.validation_fraction,
        init_log_std=config.policy.init_log_std,
        progress=progress,
    )
    return {"policy": params, "obs_norm": normalizer_dict(obs_norm)}, metrics
