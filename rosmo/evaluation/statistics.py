"""Vectorised online evaluation (Atari over `AtariVectorEnv`, BSuite over lockstep envs) and return statistics.

Statistics of a set of episode returns `x[0..N)` (the field's reporting, rliable):

    mean, median, std, min, max
    IQM  = mean of the sorted returns with floor(N / 4) dropped at each end
           (scipy.stats.trim_mean(x, 0.25), rliable's interquartile mean)
    CI   = percentile bootstrap: resample x with replacement R times,
           take the (alpha/2, 1 - alpha/2) quantiles of the statistic

Normalised scores are affine in the return, so the normalised mean / median /
IQM are the normalised return statistics:

    dqn_normalized(R)   = (R - random) / (online DQN - random)     (RL Unplugged, ROSMO)
    human_normalized(R) = (R - human_random) / (human - human_random)
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import jax
import numpy as np

ActFn = Callable  # (params, obs[B, ...], key) -> int32[B]


# ---------------------------------------------------------------------------
# Statistics (pure numpy)
# ---------------------------------------------------------------------------


def interquartile_mean(values: Sequence[float]) -> float:
    """Mean of `values` after dropping floor(N/4) of the lowest and of the highest. values [N] -> float."""
    x = np.sort(np.asarray(values, np.float64).reshape(-1))
    if x.size == 0:
        raise ValueError("interquartile_mean of an empty set of returns")
    cut = x.size // 4
    return float(x[cut : x.size - cut].mean())


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[[np.ndarray], float] = interquartile_mean,
    num_resamples: int = 2_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Tuple[float, float]:
    """Percentile bootstrap confidence interval of `statistic(values)`.

    Draws `num_resamples` resamples of size N with replacement (seeded), and
    returns the (1 - confidence)/2 and (1 + confidence)/2 quantiles of the
    statistic over them. values [N] -> (low, high).
    """
    x = np.asarray(values, np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("bootstrap_ci of an empty set of returns")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(num_resamples, x.size))
    stats = np.array([statistic(x[row]) for row in idx])
    alpha = 1.0 - confidence
    low, high = np.quantile(stats, [alpha / 2, 1.0 - alpha / 2])
    return float(low), float(high)


def return_statistics(returns: Sequence[float], seed: int = 0, num_resamples: int = 2_000) -> Dict[str, object]:
    """{"episodes", "mean", "median", "iqm", "iqm_ci95": [low, high], "std", "min", "max"} of episode returns."""
    x = np.asarray(returns, np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("no episode finished: cannot compute return statistics")
    return {
        "episodes": int(x.size),
        "mean": float(x.mean()),
        "median": float(np.median(x)),
        "iqm": interquartile_mean(x),
        "iqm_ci95": list(bootstrap_ci(x, interquartile_mean, num_resamples, 0.95, seed)),
        "std": float(x.std()),
        "min": float(x.min()),
        "max": float(x.max()),
    }


def flat_statistics(stats: Dict[str, object]) -> Dict[str, object]:
    """`return_statistics` keys as result keys: episodes, mean_return, ..., iqm_return_ci95."""
    return {"episodes": stats["episodes"], **{f"{k}_return": stats[k] for k in ("mean", "median", "iqm", "std", "min", "max")},
            "iqm_return_ci95": stats["iqm_ci95"]}


def normalize_statistics(stats: Dict[str, object], low: float, high: float) -> Dict[str, object]:
    """Map mean/median/iqm/iqm_ci95 of `return_statistics` through (R - low) / (high - low)."""
    span = high - low
    if span == 0:
        raise ValueError(f"normalisation references coincide (low = high = {low})")

    def f(v: float) -> float:
        return float((v - low) / span)

    return {
        "mean": f(stats["mean"]),
        "median": f(stats["median"]),
        "iqm": f(stats["iqm"]),
        "iqm_ci95": sorted(f(v) for v in stats["iqm_ci95"]),
        "references": {"low": float(low), "high": float(high)},
    }


def atari_normalized(game: str, stats: Dict[str, object]) -> Dict[str, object]:
    """{"dqn_normalized": ..., "human_normalized": ...} of an Atari game's return statistics.

    Each is None where the reference is missing (games outside RL Unplugged's 46; no human score).
    """
    from rosmo.envs.reference_scores import atari_scores

    try:
        s = atari_scores(game)
    except KeyError:
        return {"dqn_normalized": None, "human_normalized": None}
    out = {"dqn_normalized": normalize_statistics(stats, s["random"], s["dqn"]), "human_normalized": None}
    if s["human"] is not None:
        out["human_normalized"] = normalize_statistics(stats, s["human_random"], s["human"])
    return out


# ---------------------------------------------------------------------------
# Atari: ALE's vector env
# ---------------------------------------------------------------------------


def evaluate_atari(
    game: str,
    act_fn: ActFn,
    params,
    num_episodes: int,
    num_envs: int = 16,
    seed: int = 0,
    max_episode_frames: Optional[int] = None,
    sticky_action_prob: Optional[float] = None,
    progress: bool = False,
    jitted_act: Optional[ActFn] = None,
    record_frames: Optional[List[np.ndarray]] = None,
    max_record_frames: int = 10_000,
) -> Dict[str, object]:
    """Play `num_episodes` full episodes of `game` under the RL Unplugged protocol, `num_envs` at a time.

    Every sub-env plays episodes until `num_episodes` have been started; each
    started episode is played to its end (terminal or the frame cap), so
    short episodes are not favoured. One jitted `act_fn` call per vector step
    on the uint8 observations [num_envs, 84, 84, 4]; sub-env `i` is seeded
    `seed + i`. When `record_frames` is a list, the newest 84x84 frame of
    sub-env 0's first episode is appended to it at every step (at most
    `max_record_frames`).

    Returns return statistics (`return_statistics`), DQN/human-normalised
    statistics, the per-episode `returns` and `lengths` (agent steps), env
    steps/s and wall seconds.
    """
    from rosmo.envs import atari as atari_env

    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    num_envs = max(1, min(int(num_envs), int(num_episodes)))
    kwargs = {}
    if max_episode_frames is not None:
        kwargs["max_episode_frames"] = int(max_episode_frames)
    if sticky_action_prob is not None:
        kwargs["sticky_action_prob"] = float(sticky_action_prob)
    act = jitted_act or jax.jit(act_fn)
    key = jax.random.PRNGKey(seed)
    returns: List[float] = []
    lengths: List[int] = []
    episode_return = np.zeros(num_envs)
    episode_length = np.zeros(num_envs, np.int64)
    active = np.ones(num_envs, bool)
    started = num_envs
    env_steps = 0
    recording = record_frames is not None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=num_episodes, desc=f"evaluate {game}", unit="ep")
    start = time.time()
    with atari_env.AtariVectorEnv(game, num_envs, seed, **kwargs) as env:
        obs = env.reset()
        if recording:
            record_frames.append(obs[0, :, :, -1].copy())
        while active.any():
            key, act_key = jax.random.split(key)
            actions = np.asarray(act(params, obs, act_key)).astype(np.int32)
            obs, reward, terminated, truncated = env.step(actions)
            counted = active & ~env.is_first  # an auto-reset step is not an agent step
            env_steps += int(counted.sum())
            episode_return[counted] += reward[counted]
            episode_length[counted] += 1
            if recording:
                if len(record_frames) < max_record_frames:
                    record_frames.append(obs[0, :, :, -1].copy())
                recording = not (terminated[0] or truncated[0])
            for i in np.flatnonzero(active & (terminated | truncated)):
                returns.append(float(episode_return[i]))
                lengths.append(int(episode_length[i]))
                episode_return[i], episode_length[i] = 0.0, 0
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(mean_return=f"{np.mean(returns):.1f}")
                if started < num_episodes:
                    started += 1
                else:
                    active[i] = False
    if bar is not None:
        bar.close()
    elapsed = time.time() - start
    stats = return_statistics(returns, seed=seed)
    return {
        "env": f"atari:{atari_env.game_name(game)}",
        **flat_statistics(stats),
        **atari_normalized(game, stats),
        "returns": returns,
        "lengths": lengths,
        "env_steps": env_steps,
        "env_steps_per_second": env_steps / max(elapsed, 1e-9),
        "wall_seconds": elapsed,
        "num_envs": num_envs,
    }


# ---------------------------------------------------------------------------
# BSuite (or any dm_env): lockstep envs
# ---------------------------------------------------------------------------


def evaluate_dm_env(
    make_env: Callable[[int], object],
    act_fn: ActFn,
    params,
    num_episodes: int,
    num_envs: int = 16,
    seed: int = 0,
    progress: bool = False,
    references: Optional[Tuple[float, float]] = None,
) -> Dict[str, object]:
    """`rosmo.evaluation.evaluate` (num_envs envs in lockstep) + return statistics.

    `references` = (random, reference) returns give `normalized` statistics
    (BSuite: the dataset's uniform-random and behaviour-DQN returns; None when they coincide).
    """
    from rosmo.evaluation.loops import evaluate

    start = time.time()
    raw = evaluate(make_env, act_fn, params, num_episodes, seed=seed, num_parallel=num_envs, progress=progress)
    stats = return_statistics(raw["returns"], seed=seed)
    result: Dict[str, object] = {
        **flat_statistics(stats),
        "normalized": None,
        "returns": raw["returns"],
        "env_steps_per_second": raw["env_steps_per_second"],
        "wall_seconds": time.time() - start,
        "num_envs": max(1, min(num_envs, num_episodes)),
    }
    if references is not None and references[0] != references[1]:
        result["normalized"] = normalize_statistics(stats, *references)
    return result
