"""Agents: the registry. `_TABLE` below lists every agent; it is the only list.

Adding an agent: write `rosmo/agents/<name>.py` with a `SPEC = AgentSpec(...)` and add its
row to `_TABLE`. Config defaults, validation, `--config.algo`, `rosmo evaluate --act-policy`
and the docs all come from here.

The rows hold what `rosmo <command> --help` shows (name, description, acting rules), so the
help lists the agents without importing JAX: an agent's module is imported when its name is
first looked up in `AGENTS` (`rosmo.registry.LazyRegistry`). tests/agents/test_registry.py
checks every row against its module's `SPEC`.
"""

from typing import NamedTuple, Optional

from rosmo.registry import LazyRegistry


class AgentEntry(NamedTuple):
    """One row of the registry: where the agent's `SPEC` lives and what `--help` says about it."""

    module: Optional[str]  # the module defining SPEC (None: registered at run time)
    description: str  # = SPEC.description
    act_policies: tuple[str, ...]  # = SPEC.act_policies, the default first


_TABLE = {
    "rosmo": AgentEntry("rosmo.agents.rosmo",
                        "ROSMO: one-step look-ahead policy targets with the learned model + filtered BC",
                        ("prior", "improved")),
    "mzu": AgentEntry("rosmo.agents.muzero_unplugged",
                      "MuZero Unplugged: MCTS policy targets and Reanalyse value bootstrap (mctx)",
                      ("prior", "mcts", "improved")),
    "bc": AgentEntry("rosmo.agents.bc", "behaviour cloning of the logged actions on the MuZero torso", ("prior",)),
    "cql": AgentEntry("rosmo.agents.cql",
                      "discrete CQL(H): double-DQN TD loss + conservative regulariser, policy head read as Q",
                      ("prior",)),
}


def _entry_of(spec) -> AgentEntry:
    return AgentEntry(None, spec.description, tuple(spec.act_policies))


AGENTS = LazyRegistry(_TABLE, "SPEC", _entry_of)  # name -> AgentSpec


def agent_spec(name: str):
    """The registered agent `name` (an AgentSpec); ValueError naming `--config.algo` and the choices otherwise."""
    if name not in AGENTS:
        raise ValueError(f"--config.algo={name!r} is not available; choose one of {sorted(AGENTS)}")
    return AGENTS[name]


def act_policies() -> tuple:
    """Every acting rule some agent accepts (for `rosmo evaluate --act-policy`); imports no agent."""
    return tuple(sorted({p for entry in AGENTS.entries().values() for p in entry.act_policies}))


def make_agent(config, networks):
    """The agent (an Agent) named by `config.algo`, acting by `config.act_policy`."""
    spec = agent_spec(config.algo)
    if config.act_policy not in spec.act_policies:
        raise ValueError(
            f"--config.act_policy={config.act_policy!r}: expected one of {spec.act_policies} with --config.algo={spec.name}"
        )
    return spec.make(networks, config)


__all__ = ["AGENTS", "AgentEntry", "act_policies", "agent_spec", "make_agent"]
