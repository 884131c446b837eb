"""A tiny example suite, the whole of what "add a suite" takes (docs/guides/adding-a-suite.md).

The environment (what `rosmo/envs/<name>.py` would hold): a chain of `n` cells,
start in cell 0, action 1 moves right, action 0 stays; reaching cell n-1 ends
the episode with reward 1; at most 2n steps. The suite (what
`rosmo/suites/<name>.py` would hold): RLDS datasets read by the shared loader,
the chain env for evaluation, references from the dataset's metadata.
Registering it is one line in `rosmo/suites/__init__.py` (`_SUITES`).
"""

from typing import Any

import dm_env
import numpy as np
from dm_env import specs

from rosmo.suites.configs.base import get_base_config
from rosmo.data import loader
from rosmo.evaluation.loops import play_dm_env
from rosmo.suites.base import DatasetSpec, Reference, Suite, per_process_batch_size


class Chain(dm_env.Environment):
    def __init__(self, n: int, seed: int = 0):
        self.n, self._cell, self._t = n, 0, 0
        del seed  # deterministic

    def _obs(self):
        return np.eye(self.n, dtype=np.float32)[self._cell][None]

    def reset(self):
        self._cell, self._t = 0, 0
        return dm_env.restart(self._obs())

    def step(self, action):
        self._cell = min(self._cell + int(action == 1), self.n - 1)
        self._t += 1
        if self._cell == self.n - 1:
            return dm_env.termination(1.0, self._obs())
        if self._t >= 2 * self.n:
            return dm_env.truncation(0.0, self._obs())
        return dm_env.transition(0.0, self._obs())

    def observation_spec(self):
        return specs.Array((1, self.n), np.float32)

    def action_spec(self):
        return specs.DiscreteArray(2)


class ChainSuite(Suite):
    name = "chain"
    description = "a chain MDP (the docs' example suite)"

    def get_config(self, arg: str = "5"):
        c = get_base_config()
        c.suite, c.env, c.dataset_dir = "chain", self.canonical_env(arg or "5"), ""
        c.update(
            batch_size=16,
            num_steps=50,
            eval_every=50,
            eval_episodes=4,
            eval_parallel=4,
            warmup_steps=0,
            use_tensorboard=False,
            num_bins=11,
        )
        return c

    def env_names(self):
        return ("chain5",)

    def canonical_env(self, name: str) -> str:
        length = int(str(name).removeprefix("chain"))
        if length < 2:
            raise ValueError(f"chain length must be >= 2, got {name!r}")
        return f"chain{length}"

    def dataset_spec(self, config) -> DatasetSpec:
        spec = loader.dataset_spec(config.dataset_dir)
        return DatasetSpec(
            spec["path"],
            spec["observation_shape"],
            spec["observation_dtype"],
            2,
            spec["num_episodes"],
            spec["num_steps"],
            spec["metadata"],
        )

    def make_batches(self, config, start_batch: int = 0):
        return loader.make_loader(
            config.dataset_dir,
            unroll_steps=config.unroll_steps,
            td_steps=config.td_steps,
            batch_size=per_process_batch_size(config.batch_size),
            seed=config.seed,
            start_batch=start_batch,
        )

    def env_spec(self, env: str, metadata: dict[str, Any]):
        return (1, int(env.removeprefix("chain"))), 2

    def make_env(self, env: str, seed: int, metadata: dict[str, Any], **options):
        return Chain(int(env.removeprefix("chain")), seed)

    def play(
        self, env, act_fn, params, metadata, num_episodes, num_envs, seed, progress=False, jitted_act=None, **options
    ):
        return play_dm_env(
            lambda s: self.make_env(env, s, metadata),
            act_fn,
            params,
            num_episodes,
            num_envs,
            seed,
            progress,
            jitted_act,
        )

    def references(self, env: str, metadata: dict[str, Any]):
        return [Reference("optimal", 0.0, 1.0, "never reaching the end / reaching it")]


SUITE = ChainSuite()
