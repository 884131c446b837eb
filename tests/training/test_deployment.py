"""End-to-end smoke test of the deployment loop with BREMEN on HalfCheetah-v5 (tiny budget), and resuming."""

import json
import os

import numpy as np
import pytest

from rosmo.agents.bremen import get_config
from rosmo.data import rlds
from rosmo.deploy import bremen as deploy_bremen
from rosmo.deploy import loop as deployment


def tiny_config():
    c = get_config("HalfCheetah-v5")
    c.num_deployments = 2
    c.transitions_per_deployment = 300
    c.max_episode_steps = 100
    c.collect_num_envs = 4
    c.eval_episodes = 2
    c.eval_num_envs = 2
    c.dynamics.hidden_sizes = (16,)
    c.dynamics.num_members = 2
    c.dynamics.batch_size = 32
    c.dynamics.max_epochs = 2
    c.dynamics.steps_per_epoch = 5
    c.policy.hidden_sizes = (8,)
    c.value.hidden_sizes = (8,)
    c.value.batch_size = 16
    c.value.steps_per_iteration = 2
    c.bc.num_steps = 20
    c.bc.eval_every = 10
    c.trpo.iterations = 2
    c.trpo.horizon = 10
    c.trpo.batch_size = 40
    return c


class CountingAgent(deploy_bremen.BremenDeployment):
    """BREMEN's agent, counting the calls the loop makes."""

    def __init__(self, config):
        super().__init__(config)
        self.calls = {"collect": 0, "train": 0, "evaluate": 0, "restore": 0}

    def collect(self, *args):
        self.calls["collect"] += 1
        return super().collect(*args)

    def train(self, *args):
        self.calls["train"] += 1
        return super().train(*args)

    def evaluate(self, *args):
        self.calls["evaluate"] += 1
        return super().evaluate(*args)

    def restore(self, *args):
        self.calls["restore"] += 1
        return super().restore(*args)


@pytest.mark.slow
def test_two_deployments_layout_and_resume(tmp_path):
    config = tiny_config()
    workdir = str(tmp_path / "run")
    agent = CountingAgent(config)
    summary = deployment.run_deployments(agent, workdir, 2, config.to_dict(), progress=False)
    assert agent.calls == {"collect": 2, "train": 2, "evaluate": 2, "restore": 0}
    for i in (1, 2):
        d = deployment.deployment_dir(workdir, i)
        for name in ("data", "checkpoint", "train.json", "evaluation.json", "collect.json", "result.json"):
            assert os.path.exists(os.path.join(d, name)), name
        builder = rlds.load_builder(os.path.join(d, "data"))
        meta = rlds.metadata(builder)
        assert meta["num_transitions"] == 300 and meta["env"] == "HalfCheetah-v5" and meta["deployment"] == i
        assert meta["behaviour"]["name"] == ("uniform_random" if i == 1 else "bremen")
    with open(os.path.join(deployment.deployment_dir(workdir, 2), "train.json")) as f:
        train = json.load(f)
    assert train["transitions_all"] == 600 and train["transitions_new"] == 300  # D_all grows, D is this one
    rows = summary["deployments"]
    assert [r["deployment"] for r in rows] == [1, 2] and [r["env_steps"] for r in rows] == [300, 600]
    assert all(np.isfinite(r["mean_return"]) for r in rows)
    assert os.path.exists(os.path.join(workdir, "deployments.csv"))

    # resuming a finished run does nothing; asking for one more deployment restores deployment 2's policy
    again = CountingAgent(config)
    deployment.run_deployments(again, workdir, 2, config.to_dict(), progress=False)
    assert again.calls == {"collect": 0, "train": 0, "evaluate": 0, "restore": 0}

    # an interrupted deployment 3 whose data is already collected: not collected again
    more = CountingAgent(config)
    d3 = deployment.deployment_dir(workdir, 3)
    more.collect(
        3, more.restore(os.path.join(deployment.deployment_dir(workdir, 2), "checkpoint")), os.path.join(d3, "data")
    )
    deployment.write_json_atomic(os.path.join(d3, "collect.json"), {"transitions": 300})
    more.calls = {k: 0 for k in more.calls}
    summary = deployment.run_deployments(more, workdir, 3, config.to_dict(), progress=False)
    assert more.calls == {"collect": 0, "train": 1, "evaluate": 1, "restore": 1}
    assert [r["env_steps"] for r in summary["deployments"]] == [300, 600, 900]


def test_resume_with_a_different_config_is_refused(tmp_path):
    workdir = str(tmp_path / "run")
    deployment.check_config(workdir, {"a": 1, "num_deployments": 2, "trpo": {"max_kl": 0.1}})
    deployment.check_config(workdir, {"a": 1, "num_deployments": 5, "trpo": {"max_kl": 0.1}})  # more: fine
    with pytest.raises(deployment.DeploymentError, match="trpo.max_kl: saved 0.1, now 0.05"):
        deployment.check_config(workdir, {"a": 1, "num_deployments": 5, "trpo": {"max_kl": 0.05}})


@pytest.mark.slow
def test_offline_bremen_and_bc_on_the_same_data(tmp_path):
    config = tiny_config()
    agent = deploy_bremen.BremenDeployment(config)
    data = str(tmp_path / "data")
    agent.collect(1, None, data)
    for algo in ("bremen", "bc"):
        result = deploy_bremen.run_offline(config, [data], str(tmp_path / algo), algo=algo, progress=False)
        assert result["algo"] == algo and result["episodes"] == 2 and np.isfinite(result["iqm_return"])
        assert os.path.exists(tmp_path / algo / "evaluation.json")
