"""Agents: the registry. Each agent module exports one `AgentSpec`; this list is the only one.

Adding an agent: write `rosmo/agents/<name>.py` with a `SPEC = AgentSpec(...)` and add it
to `_SPECS` below. Config defaults, validation, `--config.algo`, `rosmo evaluate --act-policy`
and the docs all come from here.
"""

from typing import Dict

from rosmo.agents import bc, bremen, cql, muzero_unplugged, rosmo
from rosmo.agents.base import TRANSITIONS, WINDOWS, Agent, AgentSpec
from rosmo.errors import ConfigError

_SPECS = (
    rosmo.SPEC,
    muzero_unplugged.SPEC,
    bc.SPEC,
    cql.SPEC,
    bremen.SPEC,
)

AGENTS: Dict[str, AgentSpec] = {spec.name: spec for spec in _SPECS}


def window_learners() -> Dict[str, AgentSpec]:
    """The agents `rosmo train` trains (`learns_from == "windows"`), in registry order."""
    return {name: spec for name, spec in AGENTS.items() if spec.learns_from == WINDOWS}


def agent_spec(name: str) -> AgentSpec:
    """The registered agent `name`; ConfigError (a ValueError) naming the field `algo` and the choices otherwise."""
    if name not in AGENTS:
        raise ConfigError(f"algo={name!r} is not available; choose one of {sorted(AGENTS)}", field="algo")
    return AGENTS[name]


def act_policies() -> tuple:
    """Every acting rule some window learner accepts (for `rosmo evaluate --act-policy`)."""
    return tuple(sorted({p for spec in window_learners().values() for p in spec.act_policies}))


def make_agent(config, networks) -> Agent:
    """The agent named by `config.algo`, acting by `config.act_policy`."""
    spec = agent_spec(config.algo)
    if spec.learns_from != WINDOWS:
        raise ConfigError(f"algo={spec.name!r} learns from {spec.learns_from}, not windows: it runs with "
                          f"`rosmo deploy --agent {spec.name}`", field="algo")
    if config.act_policy not in spec.act_policies:
        raise ConfigError(f"act_policy={config.act_policy!r}: expected one of {spec.act_policies} with algo={spec.name}",
                          field="act_policy")
    return spec.make(networks, config)


__all__ = ["AGENTS", "TRANSITIONS", "WINDOWS", "Agent", "AgentSpec", "act_policies", "agent_spec", "make_agent",
           "window_learners"]
