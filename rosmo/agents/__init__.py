"""Agents: a loss for the learner and an acting rule each; `make_agent(config, networks)` picks by `config.algo`."""

from rosmo.agents.base import Agent
from rosmo.agents.bc import make_bc_agent
from rosmo.agents.cql import make_cql_agent
from rosmo.agents.muzero_unplugged import make_mzu_agent
from rosmo.agents.rosmo import make_rosmo_agent

AGENTS = {"rosmo": make_rosmo_agent, "mzu": make_mzu_agent, "bc": make_bc_agent, "cql": make_cql_agent}


def make_agent(config, networks) -> Agent:
    """The agent named by `config.algo`."""
    if config.algo not in AGENTS:
        raise ValueError(f"--config.algo={config.algo!r} is not available; choose one of {sorted(AGENTS)}")
    return AGENTS[config.algo](networks, config)


__all__ = ["Agent", "AGENTS", "make_agent", "make_bc_agent", "make_cql_agent", "make_mzu_agent", "make_rosmo_agent"]
