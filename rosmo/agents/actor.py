"""An agent acting through Acme's interfaces: `acme.core.Actor` and `acme.core.VariableSource`.

    actor = Actor(agent.act, FixedVariables({"params": params}), seed=0)
    acme.EnvironmentLoop(env, actor, should_update=False).run(num_episodes=100)

`Actor` wraps an agent's batched act function `act(params, obs[B, ...], key) ->
int32[B]` (`rosmo.agents.base`) for one environment: each `select_action` is one
jitted call on `observation[None]`. It takes its parameters from a variable
source: the `rosmo.training.learner.Learner` while training, or
`FixedVariables` for a checkpoint's parameters.

dm-acme 0.2.4's core only (`acme.core`, `acme.EnvironmentLoop`, `acme.utils`);
its JAX layer (`acme.jax`, `acme.agents.jax`) does not import with current JAX.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

import acme
import dm_env
import jax
import numpy as np

KEYS_PER_DRAW = 1024


class FixedVariables(acme.core.VariableSource):
    """Named variables that do not change (e.g. a checkpoint's parameters).

    `get_variables(["params"]) -> [params]`; an unknown name raises a KeyError naming the known ones.
    """

    def __init__(self, variables: Mapping[str, Any]):
        self._variables = dict(variables)

    def get_variables(self, names: Sequence[str]) -> list[Any]:
        missing = [n for n in names if n not in self._variables]
        if missing:
            raise KeyError(f"no variables named {missing}; this source has {sorted(self._variables)}")
        return [self._variables[n] for n in names]


class Actor(acme.core.Actor):
    """An agent's act function as an Acme actor, one observation at a time.

    `select_action(o)` = `act(params, o[None], key_t)[0]`, one jitted call; the keys
    `key_t` are `jax.random.split(PRNGKey(seed), ...)`, drawn `KEYS_PER_DRAW` at a
    time to the host so that a step makes no other device call. The agents learn
    offline, so `observe_first` / `observe` record nothing; `update()` re-reads the
    parameters named `variable` from the variable source (the constructor reads them once).
    """

    def __init__(
        self,
        act_fn: Callable,
        variable_source: acme.core.VariableSource,
        seed: int = 0,
        jitted_act: Optional[Callable] = None,
        variable: str = "params",
    ):
        self._act = jitted_act or jax.jit(act_fn)
        self._source = variable_source
        self._variable = variable
        self._key = jax.random.PRNGKey(seed)
        self._keys = np.zeros((0, 2), np.uint32)
        self._params = None
        self.update(wait=True)

    def _next_key(self) -> np.ndarray:
        if not len(self._keys):
            keys = jax.random.split(self._key, KEYS_PER_DRAW + 1)
            self._key, self._keys = keys[0], np.asarray(keys[1:])
        key, self._keys = self._keys[0], self._keys[1:]
        return key

    def select_action(self, observation) -> int:
        return int(np.asarray(self._act(self._params, np.asarray(observation)[None], self._next_key()))[0])

    def observe_first(self, timestep: dm_env.TimeStep) -> None:
        del timestep

    def observe(self, action, next_timestep: dm_env.TimeStep) -> None:
        del action, next_timestep

    def update(self, wait: bool = False) -> None:
        del wait
        self._params = self._source.get_variables([self._variable])[0]
