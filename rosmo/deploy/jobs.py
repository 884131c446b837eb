"""`rosmo deploy`'s jobs: an agent name and a suite env -> its config and its deployment loop.

    make_job("rosmo" | "mzu" | "bc" | "cql", "bsuite:<env>" | "minatar:<game>", ...)
                                                                    OfflineAgentDeployment (deploy_offline)
    make_job("bremen", "mujoco:<env>", ...)                         BremenDeployment (deploy_bremen)

A job holds `config` (the learner's ConfigDict; `--config.FIELD=VALUE` overrides apply to it before
`run`) and runs `rosmo.deploy.loop.run_deployments` in a workdir.
"""

from __future__ import annotations

from typing import Any, Optional

from rosmo.agents import AGENTS, TRANSITIONS
from rosmo.agents.bremen import config as bremen_config
from rosmo.deploy import bremen as deploy_bremen
from rosmo.deploy import offline as deploy_offline
from rosmo.errors import ConfigError
from rosmo.suites import parse_env

DEFAULT_ENVS = {TRANSITIONS: "mujoco:HalfCheetah-v5"}
"""The env of a job without `env`, by the agent's `learns_from` (window learners: `DEFAULT_ENV`)."""
DEFAULT_ENV = "bsuite:catch"
TRANSITION_SUITES = ("mujoco",)
"""Suites a transition learner (BREMEN) is deployed on: continuous actions."""


class WindowLearnerJob:
    """A window learner (rosmo, mzu, bc, cql) deployed on the env of a suite that collects online."""

    def __init__(self, agent: str, suite, env: str, options):
        self.config = suite.get_config(env)
        self.config.algo = agent
        self.options = options

    def describe(self) -> str:
        return f"deployment options:\n{self.options}\nlearner config:\n{self.config}"

    def run(self, workdir: str, progress: bool = True) -> dict[str, Any]:
        return deploy_offline.run_offline_agent_deployments(self.config, self.options, workdir, progress=progress)


class BremenJob:
    """BREMEN deployed on a MuJoCo env (`--deployments` / `--transitions` set its config's fields)."""

    def __init__(self, suite, env: str, deployments: Optional[int], transitions: Optional[int], full_size: bool):
        self.config = bremen_config.get_config(env) if full_size else suite.get_config(env)
        self.config.suite = suite.name
        if deployments is not None:
            self.config.num_deployments = deployments
        if transitions is not None:
            self.config.transitions_per_deployment = transitions

    def describe(self) -> str:
        return f"BREMEN config:\n{self.config}"

    def run(self, workdir: str, progress: bool = True) -> dict[str, Any]:
        return deploy_bremen.run_bremen_deployments(self.config, workdir, progress=progress)


def make_job(
    agent: str,
    env: Optional[str],
    deployments: Optional[int] = None,
    transitions: Optional[int] = None,
    steps: int = 1000,
    epsilon: float = 0.1,
    warm_start: bool = True,
    reference_dataset: Optional[str] = None,
    full_size: bool = False,
):
    """The job of `agent` on `env` ("<suite>:<env>"); ConfigError naming the flag on a bad combination."""
    if agent not in AGENTS:
        raise ConfigError(f"--agent {agent!r}: expected one of {', '.join(sorted(AGENTS))}")
    learns_from = AGENTS[agent].learns_from
    text = env or DEFAULT_ENVS.get(learns_from, DEFAULT_ENV)
    try:
        suite, name = parse_env(text)
    except ValueError as err:
        raise ConfigError(f"--env {err}") from None
    if learns_from == TRANSITIONS:
        if suite.name not in TRANSITION_SUITES:
            raise ConfigError(
                f"--env {text}: --agent {agent} runs on the {', '.join(TRANSITION_SUITES)} suite "
                f"(e.g. {DEFAULT_ENVS[TRANSITIONS]})"
            )
        return BremenJob(suite, name, deployments, transitions, full_size)
    if not suite.collects_online:
        raise ConfigError(
            f"--env {text}: --agent {agent} is deployed on {', '.join(deploy_offline.collecting_suites())} "
            "(window learners need discrete actions; Atari collection is not implemented)"
        )
    options = deploy_offline.deploy_options(
        num_deployments=5 if deployments is None else deployments,
        transitions_per_deployment=1000 if transitions is None else transitions,
        steps_per_deployment=steps,
        epsilon=epsilon,
        warm_start=warm_start,
        reference_dataset=reference_dataset,
    )
    deploy_offline.validate_options(options)
    return WindowLearnerJob(agent, suite, name, options)
