"""RLDS episodes -> flat transition arrays (s_t, a_t, r_t, s_{t+1}, terminal), for model and BC fitting.

An episode of `T + 1` RLDS steps gives `T` transitions: step `t < T` contributes
`(o_t, a_t, r_t, o_{t+1})`, and `terminal_t = is_terminal_{t+1}` (the env ended the episode
after `a_t`; a truncation is not terminal). `first_t = is_first_t` marks episode starts
(their observations are the start-state distribution).
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np


class Transitions(NamedTuple):
    """Flat transitions: observation [N, O], action [N, A], reward [N], next_observation [N, O], terminal [N],
    first [N]."""

    observation: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_observation: np.ndarray
    terminal: np.ndarray
    first: np.ndarray

    def __len__(self) -> int:
        return int(self.reward.shape[0])


def episode_transitions(steps: dict[str, np.ndarray]) -> Transitions:
    """The `T` transitions of one episode's RLDS step arrays `[T + 1, ...]`."""
    obs = np.asarray(steps["observation"], np.float32)
    return Transitions(
        observation=obs[:-1],
        action=np.asarray(steps["action"], np.float32)[:-1],
        reward=np.asarray(steps["reward"], np.float32)[:-1],
        next_observation=obs[1:],
        terminal=np.asarray(steps["is_terminal"], bool)[1:],
        first=np.asarray(steps["is_first"], bool)[:-1],
    )


def concatenate(parts: Sequence[Transitions]) -> Transitions:
    """One `Transitions` of all `parts`, in order."""
    if not parts:
        raise ValueError("no transitions to concatenate")
    return Transitions(*(np.concatenate(fields) for fields in zip(*parts)))


def from_episodes(episodes: Iterable[dict[str, Any]]) -> Transitions:
    """Transitions of in-memory RLDS episodes (`{"steps": {...}}`), episodes of one step skipped."""
    parts = [episode_transitions(e["steps"]) for e in episodes if len(e["steps"]["reward"]) > 1]
    return concatenate(parts)
