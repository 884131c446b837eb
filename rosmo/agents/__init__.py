"""Agents: the registry. `_TABLE` below lists every agent; it is the only list.

Adding an agent: write `rosmo/agents/<name>.py` with a `SPEC = AgentSpec(...)` and add its
row to `_TABLE`. Config defaults, validation, `--config.algo`, `rosmo evaluate --act-policy`
and the docs all come from here.

The rows hold what `rosmo <command> --help` shows (name, description, acting rules) and the names
of the agent's own config fields (what `rosmo report` needs), so the help and the report know the
agents without importing JAX: an agent's module is imported when its name is first looked up in
`AGENTS` (`rosmo.registry.LazyRegistry`). tests/agents/test_registry.py checks every row against
its module's `SPEC`.
"""

from typing import NamedTuple, Optional

from rosmo.errors import ConfigError
from rosmo.registry import LazyRegistry

TRANSITIONS = "transitions"  # = rosmo.agents.base.TRANSITIONS (kept light: base imports JAX)
WINDOWS = "windows"  # = rosmo.agents.base.WINDOWS


class AgentEntry(NamedTuple):
    """One row of the registry: where the agent's `SPEC` lives and what `--help` says about it."""

    module: Optional[str]  # the module defining SPEC (None: registered at run time)
    description: str  # = SPEC.description
    act_policies: tuple[str, ...]  # = SPEC.act_policies, the default first
    learns_from: str = "windows"  # = SPEC.learns_from: "windows" (rosmo train) or "transitions" (rosmo deploy)
    config_fields: tuple[str, ...] = ()  # = tuple(SPEC.config_defaults): the agent's own config fields, in order


_TABLE = {
    "rosmo": AgentEntry(
        "rosmo.agents.rosmo",
        "ROSMO: one-step look-ahead policy targets with the learned model + filtered BC",
        ("prior", "improved"),
        config_fields=("policy_samples", "bc_loss_weight", "policy_temperature", "policy_adv_clip", "bc_advantage"),
    ),
    "mzu": AgentEntry(
        "rosmo.agents.muzero_unplugged",
        "MuZero Unplugged: MCTS policy targets and Reanalyse value bootstrap (mctx)",
        ("prior", "mcts", "improved"),
        config_fields=(
            "num_simulations",
            "search_depth",
            "act_search_depth",
            "mcts_dirichlet_fraction",
            "mcts_dirichlet_alpha",
            "act_exploration_noise",
            "search",
            "mcts_qtransform",
            "gumbel_scale",
            "gumbel_considered_actions",
            "gumbel_rescale_values",
            "mzu_bc_loss_weight",
        ),
    ),
    "bc": AgentEntry("rosmo.agents.bc", "behaviour cloning of the logged actions on the MuZero torso", ("prior",)),
    "cql": AgentEntry(
        "rosmo.agents.cql",
        "discrete CQL(H): double-DQN TD loss + conservative regulariser, policy head read as Q",
        ("prior",),
        config_fields=("cql_alpha",),
    ),
    "bremen": AgentEntry(
        "rosmo.agents.bremen",
        "BREMEN: dynamics ensemble + BC initialisation + TRPO on imagined rollouts (continuous actions)",
        ("mean",),
        "transitions",
    ),
}


def _entry_of(spec) -> AgentEntry:
    return AgentEntry(None, spec.description, tuple(spec.act_policies), spec.learns_from, tuple(spec.config_defaults))


AGENTS = LazyRegistry(_TABLE, "SPEC", _entry_of)  # name -> AgentSpec


def window_learners() -> dict:
    """name -> AgentSpec of the agents `rosmo train` trains (`learns_from == "windows"`), in registry order."""
    return {name: AGENTS[name] for name, entry in AGENTS.entries().items() if entry.learns_from == WINDOWS}


def agent_spec(name: str):
    """The registered agent `name` (an AgentSpec); ConfigError naming the field `algo` and the choices otherwise."""
    if name not in AGENTS:
        raise ConfigError(f"algo={name!r} is not available; choose one of {sorted(AGENTS)}", field="algo")
    return AGENTS[name]


def act_policies() -> tuple:
    """Every acting rule some window learner accepts (for `rosmo evaluate --act-policy`); imports no agent."""
    return tuple(
        sorted({p for entry in AGENTS.entries().values() if entry.learns_from == WINDOWS for p in entry.act_policies})
    )


def make_agent(config, networks):
    """The agent (an Agent) named by `config.algo`, acting by `config.act_policy`."""
    spec = agent_spec(config.algo)
    if spec.learns_from != WINDOWS:
        raise ConfigError(
            f"algo={spec.name!r} learns from {spec.learns_from}, not windows: it runs with "
            f"`rosmo deploy --agent {spec.name}`",
            field="algo",
        )
    if config.act_policy not in spec.act_policies:
        raise ConfigError(
            f"act_policy={config.act_policy!r}: expected one of {spec.act_policies} with algo={spec.name}",
            field="act_policy",
        )
    return spec.make(networks, config)


__all__ = [
    "AGENTS",
    "TRANSITIONS",
    "WINDOWS",
    "AgentEntry",
    "act_policies",
    "agent_spec",
    "make_agent",
    "window_learners",
]
