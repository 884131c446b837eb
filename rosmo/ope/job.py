"""Off-policy estimates of one checkpoint from its run's dataset alone (`rosmo evaluate --ope ...`).

    columns, details = estimate_checkpoint("runs/catch", estimators=("fqe", "model_value"))
    columns["ope_fqe"]          # FQE's estimate of the normalised score (the online evaluation's references)

The run's data are the episodes it trained on (its `dataset_dir`, `data_percentage`, `seed`), split
by episode into fit / held-out (`rosmo.ope.data.split_episodes`, `heldout_fraction`, `seed`).
Estimators (`rosmo.ope.settings.ESTIMATORS`; "model" = both model estimates, "all" = every one):

    fqe            FQE fitted on the fit episodes, estimate at the held-out initial observations (`rosmo.ope.fqe`)
    model_value    the value head at every kept initial observation             (ROSMO, MZU; `rosmo.ope.model`)
    model_rollout  H-step latent rollout under the policy, bootstrapped          (ROSMO, MZU)
    behaviour      the mean return of the kept episodes (a constant per dataset)
    agreement      mean pi(a_logged | o) over the kept transitions (a probability, not normalised)

Each return estimate `X` gives the columns `ope_X` (normalised with the suite's primary reference,
as `rosmo.evaluation.evaluate`; the raw return when the env has none), `ope_X_return` and
`ope_X_seconds`; FQE adds `ope_fqe_iterations` and `ope_fqe_heldout_td`. An estimator an agent
cannot give (the model ones for BC / CQL) is left out and named in `details["notes"]`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from typing import Any, Callable, Optional

import jax
import numpy as np

from rosmo.data import rlds
from rosmo.data.loader import dataset_list
from rosmo.networks.factory import make_networks
from rosmo.ope import baselines, data as ope_data, model as ope_model
from rosmo.ope.fqe import FQETransitions, fit_fqe
from rosmo.ope.policy import latent_actor, policy_probs
from rosmo.ope.settings import MODEL_ALGOS, MODEL_ESTIMATORS, RETURN_ESTIMATORS, OpeError, OpeSettings
from rosmo.suites import SUITES
from rosmo.training.restore import load_agent


def resolve_dataset(config, extra: dict[str, Any], override: Optional[str]) -> list:
    """The dataset directories the run trained on: `override`, else its recorded path, else config.dataset_dir."""
    if override:
        candidates = [override]
    else:
        candidates = [p for p in (extra.get("dataset_path"), config.get("dataset_dir")) if p]
    if not candidates:
        raise OpeError(f"the run records no dataset (suite {config.get('suite')!r}); pass --ope-dataset DIR")
    for candidate in candidates:
        paths = dataset_list(candidate)
        if all(os.path.isdir(p) for p in paths):
            return paths
    flag = "--ope-dataset" if override else "the run's dataset"
    raise OpeError(
        f"{flag} {candidates[0]}: not found (expected the RLDS dataset directory the run trained on; "
        "pass --ope-dataset DIR)"
    )


@functools.lru_cache(maxsize=2)
def _cached_data(paths: tuple[str, ...], data_percentage: float, seed: int, num_actions: int) -> ope_data.LoggedData:
    """The kept steps of a run's datasets, read once per process (an evaluator reads them for every checkpoint)."""
    return ope_data.logged_data(ope_data.load_kept_steps(paths, data_percentage, seed, num_actions))


def normaliser(config, extra: dict[str, Any]) -> tuple[Optional[str], Callable[[float], float]]:
    """(primary reference name or None, R -> normalised R) with the references the online evaluation uses."""
    suite = SUITES.get(config.get("suite"))
    metadata = extra.get("dataset_metadata") or {}
    refs = [] if suite is None or metadata.get("env") is None else suite.references(metadata["env"], metadata)
    refs = [r for r in refs if r.high != r.low]
    if not refs:
        return None, lambda x: float(x)
    ref = refs[0]
    return ref.name, lambda x: (float(x) - ref.low) / (ref.high - ref.low)


def _fqe_transitions(data: ope_data.LoggedData, positions: np.ndarray, probs: np.ndarray) -> FQETransitions:
    t, next_t = data.t[positions], data.next_t[positions]
    return FQETransitions(
        t=t,
        next_t=next_t,
        action=data.action[t],
        reward=data.reward[t],
        terminal=data.terminal[positions],
        pi_next=probs[next_t],
    )


def estimate_checkpoint(
    checkpoint: str,
    step: Optional[int] = None,
    settings: OpeSettings = OpeSettings(),
    log: Optional[Callable[[str], None]] = None,
    act_policy: Optional[str] = None,
    greedy: Optional[bool] = None,
    overrides=(),
) -> tuple[dict[str, float], dict[str, Any]]:
    """The `settings.estimators` of the run (or checkpoint directory) `checkpoint` at `step` (default: latest).

    The policy is the saved acting rule, changed by `act_policy` / `greedy` / acting `overrides` as in
    `rosmo.training.checkpoint.load_agent`. Returns (columns, details): `columns` the flat `ope_*` numbers
    (module docstring); `details` the dataset, reference, episode counts, FQE's per-iteration residuals and estimates,
    and notes.
    Raises OpeError (a flag or file named), FileNotFoundError / CheckpointError from loading.
    """
    agent, params, config, extra = load_agent(checkpoint, step, act_policy, greedy, overrides=overrides)
    paths = resolve_dataset(config, extra, settings.dataset)
    try:
        data = _cached_data(
            tuple(paths),
            float(config.get("data_percentage", 100.0)),
            int(config.get("seed", 0)),
            int(extra["num_actions"]),
        )
    except rlds.DatasetError as err:
        raise OpeError(f"--ope-dataset: {err}") from None
    expected = tuple(extra.get("observation_shape") or ())
    if expected and tuple(data.observation.shape[1:]) != expected:
        raise OpeError(
            f"--ope-dataset {','.join(paths)}: observations of shape {tuple(data.observation.shape[1:])}, "
            f"the agent takes {expected} (OPE reads datasets whose steps are the agent's observations, "
            "e.g. BSuite's; not RL Unplugged's unstacked Atari frames)"
        )
    ref_name, normalise = normaliser(config, extra)
    params = jax.device_put(params)
    key = jax.random.PRNGKey(settings.seed)
    fit_eps, held_eps = ope_data.split_episodes(data.num_episodes, settings.heldout_fraction, settings.seed)
    columns: dict[str, float] = {}
    details: dict[str, Any] = {
        "dataset": ",".join(paths),
        "reference": ref_name,
        "episodes": data.num_episodes,
        "heldout_episodes": int(len(held_eps)),
        "transitions": int(len(data.t)),
        "notes": [],
    }
    wanted = list(settings.estimators)
    if config.algo not in MODEL_ALGOS:
        skipped = [e for e in wanted if e in MODEL_ESTIMATORS]
        if skipped:
            details["notes"].append(f"{', '.join(skipped)}: {config.algo} has no learned model; left out")
        wanted = [e for e in wanted if e not in MODEL_ESTIMATORS]

    def put(name: str, value: float, seconds: float) -> None:
        if name in RETURN_ESTIMATORS:
            columns[f"ope_{name}"] = normalise(value)
            columns[f"ope_{name}_return"] = float(value)
        else:
            columns[f"ope_{name}"] = float(value)
        columns[f"ope_{name}_seconds"] = float(seconds)
        if log:
            log(f"ope {name}: {columns[f'ope_{name}']:.4g} ({seconds:.1f}s)")

    probs = None
    if "fqe" in wanted or "agreement" in wanted:
        started = time.time()
        probs = policy_probs(
            agent, config, params, data.observation, jax.random.fold_in(key, 1), settings.policy_samples
        )
        columns["ope_policy_seconds"] = time.time() - started
    if "behaviour" in wanted:
        started = time.time()
        put("behaviour", baselines.behaviour_return(ope_data.episode_returns(data)), time.time() - started)
    if "agreement" in wanted:
        started = time.time()
        put("agreement", baselines.action_agreement(probs[data.t], data.action[data.t]), time.time() - started)
    initial = np.flatnonzero(data.is_first)
    if any(e in wanted for e in MODEL_ESTIMATORS):
        networks = agent.networks
        initial_obs = jax.numpy.asarray(data.observation[initial])
        if "model_value" in wanted:
            started = time.time()
            value = jax.jit(functools.partial(ope_model.model_value, networks))(params, initial_obs)
            put("model_value", float(value), time.time() - started)
        if "model_rollout" in wanted:
            started = time.time()
            horizon = int(config.unroll_steps if settings.horizon is None else settings.horizon)
            rollout = jax.jit(
                functools.partial(
                    ope_model.model_rollout,
                    networks,
                    act=latent_actor(networks, config),
                    horizon=horizon,
                    discount=float(config.discount),
                )
            )
            value = rollout(params, initial_obs, key=jax.random.fold_in(key, 2))
            put("model_rollout", float(value), time.time() - started)
            details["rollout_horizon"] = horizon
    if "fqe" in wanted:
        started = time.time()
        networks = make_networks(config, int(extra["num_actions"]))
        q_fn = lambda p, o: networks.predict(p, networks.represent(p, o)).policy_logits  # noqa: E731
        q_params = networks.init(jax.random.fold_in(key, 3), data.observation[:1])
        fit_pos, held_pos = ope_data.transitions_of(data, fit_eps), ope_data.transitions_of(data, held_eps)
        returns = ope_data.episode_returns(data)
        scale = max(1.0, float(np.max(np.abs(returns[fit_eps])))) if len(fit_eps) else 1.0
        start_t = ope_data.initial_steps_of(data, held_eps)
        result = fit_fqe(
            q_fn,
            q_params,
            data.observation,
            _fqe_transitions(data, fit_pos, probs),
            _fqe_transitions(data, held_pos, probs),
            start_t,
            probs[start_t],
            scale,
            settings.fqe,
            jax.random.fold_in(key, 4),
        )
        put("fqe", result.estimate, time.time() - started)
        columns["ope_fqe_iterations"] = float(result.iterations)
        columns["ope_fqe_heldout_td"] = (
            float(result.heldout_td[result.best_iteration - 1]) if result.heldout_td else float("nan")
        )
        details["fqe"] = {
            "best_iteration": result.best_iteration,
            "steps": result.steps,
            "heldout_td": result.heldout_td,
            "estimates": result.estimates,
            "reward_scale": result.reward_scale,
            "config": dataclasses.asdict(settings.fqe),
        }
    return columns, details


def add_estimates(
    result: dict[str, Any], checkpoint: str, step: Optional[int], settings: OpeSettings, **acting
) -> dict[str, Any]:
    """`result` (an evaluation's dict) with the estimates' `ope_*` columns and `result["ope"]` = the details."""
    columns, details = estimate_checkpoint(checkpoint, step, settings, **acting)
    result.update(columns)
    result["ope"] = details
    return result


__all__ = ["add_estimates", "estimate_checkpoint"]
