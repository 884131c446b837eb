"""`rosmo deploy` end to end on a tiny budget: BSuite catch, 2 deployments; resume; warm start; errors.

Also `rosmo deploy --agent bremen` on the mujoco suite (1 deployment, a few hundred transitions) and the
suite registry's mujoco entry.
"""

import csv
import json
import os

import shutil

import pytest

from rosmo.cli import main
from rosmo.suites import SUITES, parse_env
from rosmo.deploy import loop as deployment

TINY = [
    "--transitions",
    "60",
    "--steps",
    "6",
    "--config.batch_size=8",
    "--config.eval_episodes=4",
    "--config.eval_parallel=4",
    "--config.log_every=3",
    "--config.use_tensorboard=False",
    "--no-progress",
]


def _deploy(workdir, *extra):
    return main(["deploy", "--agent", "bc", "--env", "bsuite:catch", "--workdir", str(workdir), *TINY, *extra])


def _mtime(workdir, i, name="result.json"):
    return os.path.getmtime(os.path.join(deployment.deployment_dir(str(workdir), i), name))


@pytest.fixture(scope="module")
def two_deployments(tmp_path_factory):
    """A finished 2-deployment run (tests copy it before changing it)."""
    workdir = tmp_path_factory.mktemp("deploy") / "dep"
    assert _deploy(workdir, "--deployments", "2") == 0
    return workdir


def _copy(workdir, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(workdir, target)
    return target


@pytest.mark.slow
def test_deploy_two_then_three_deployments(two_deployments, tmp_path, capsys):
    workdir = two_deployments
    rows = list(csv.DictReader(open(workdir / "deployments.csv")))
    assert [int(r["deployment"]) for r in rows] == [1, 2]
    # env steps accumulate the collected transitions (whole catch episodes of 9 steps: >= 60 each)
    steps = [int(r["env_steps"]) for r in rows]
    assert steps[0] >= 60 and steps[1] - steps[0] >= 60
    assert (workdir / "plots" / "deployments.png").exists() and (workdir / "plots" / "deployments.svg").exists()
    d1, d2 = (deployment.deployment_dir(str(workdir), i) for i in (1, 2))
    collect1, collect2 = (json.load(open(os.path.join(d, "collect.json"))) for d in (d1, d2))
    assert collect1["behaviour"]["name"] == "uniform_random"
    assert collect2["behaviour"]["name"] == "bc" and collect2["behaviour"]["epsilon"] == 0.1
    # deployment 2 trained on D_1 and D_2, warm-started: 2 x 6 steps in all
    train2 = json.load(open(os.path.join(d2, "train.json")))
    assert train2["warm_start"] and train2["num_steps"] == 12
    assert [os.path.basename(os.path.dirname(p)) for p in train2["datasets"]] == ["001", "002"]
    assert json.load(open(os.path.join(d2, "checkpoint", "run.json")))["step"] == 12
    evaluation = json.load(open(os.path.join(d2, "evaluation.json")))
    assert evaluation["episodes"] == 4 and -1.0 <= evaluation["mean_return"] <= 1.0

    # resume: finished deployments are skipped (their files untouched); a third one continues the run
    workdir = _copy(workdir, tmp_path)
    before = [_mtime(workdir, i) for i in (1, 2)]
    capsys.readouterr()
    assert _deploy(workdir, "--deployments", "3") == 0
    assert [_mtime(workdir, i) for i in (1, 2)] == before
    rows = list(csv.DictReader(open(workdir / "deployments.csv")))
    assert [int(r["deployment"]) for r in rows] == [1, 2, 3]
    assert json.load(open(os.path.join(deployment.deployment_dir(str(workdir), 3), "train.json")))["num_steps"] == 18


@pytest.mark.slow
def test_deploy_resumes_an_unfinished_deployment_without_recollecting(two_deployments, tmp_path):
    workdir = _copy(two_deployments, tmp_path)
    d2 = deployment.deployment_dir(str(workdir), 2)
    os.remove(os.path.join(d2, "result.json"))  # as if stopped after training, before the result was written
    os.remove(os.path.join(d2, "evaluation.json"))
    data_mtime = os.path.getmtime(os.path.join(d2, "collect.json"))
    assert _deploy(workdir, "--deployments", "2") == 0
    assert os.path.getmtime(os.path.join(d2, "collect.json")) == data_mtime
    assert os.path.exists(os.path.join(d2, "result.json"))


@pytest.mark.slow
def test_deploy_with_another_config_is_refused(two_deployments, capsys):
    capsys.readouterr()
    assert _deploy(two_deployments, "--deployments", "2", "--epsilon", "0.5") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "epsilon" in err[0]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--agent", "ppo", "--env", "bsuite:catch"], "--agent 'ppo'"),
        (["--agent", "bremen", "--env", "bsuite:catch"], "mujoco suite"),
        (["--agent", "rosmo", "--env", "mujoco:HalfCheetah-v5"], "discrete actions"),
        (["--agent", "rosmo", "--env", "bsuite:catch", "--epsilon", "2"], "--epsilon"),
        (["--agent", "rosmo", "--env", "nosuch:x"], "--env"),
    ],
)
def test_deploy_bad_input_is_one_line(tmp_path, capsys, args, needle):
    assert main(["deploy", *args, "--workdir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_mujoco_suite_is_registered():
    suite, env = parse_env("mujoco:halfcheetah")
    assert suite is SUITES["mujoco"] and env == "HalfCheetah-v5"
    config = suite.get_config("Hopper-v5")
    assert config.algo == "bremen" and config.suite == "mujoco" and config.env == "Hopper-v5"
    assert suite.env_spec("HalfCheetah-v5", {}) == ((17,), 6)
    with pytest.raises(Exception, match="continuous"):
        suite.make_batches(config)
    assert (
        suite.references(
            "HalfCheetah-v5", {"env": "HalfCheetah-v5", "random_return": -300.0, "behaviour_return": 700.0}
        )[0].high
        == 700.0
    )


@pytest.mark.slow
def test_deploy_bremen_tiny(tmp_path):
    tiny = [
        "--config.max_episode_steps=50",
        "--config.collect_num_envs=2",
        "--config.eval_episodes=2",
        "--config.eval_num_envs=2",
        "--config.dynamics.hidden_sizes=(16,)",
        "--config.dynamics.num_members=2",
        "--config.dynamics.batch_size=32",
        "--config.dynamics.max_epochs=1",
        "--config.dynamics.steps_per_epoch=3",
        "--config.policy.hidden_sizes=(8,)",
        "--config.value.hidden_sizes=(8,)",
        "--config.value.batch_size=16",
        "--config.value.steps_per_iteration=2",
        "--config.bc.num_steps=10",
        "--config.bc.eval_every=5",
        "--config.trpo.iterations=1",
        "--config.trpo.horizon=10",
        "--config.trpo.batch_size=20",
    ]
    workdir = tmp_path / "hc"
    assert (
        main(
            [
                "deploy",
                "--agent",
                "bremen",
                "--env",
                "mujoco:HalfCheetah-v5",
                "--workdir",
                str(workdir),
                "--deployments",
                "1",
                "--transitions",
                "150",
                "--no-progress",
                *tiny,
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(workdir / "deployments.csv")))
    assert len(rows) == 1 and int(rows[0]["env_steps"]) == 150
    assert (workdir / "plots" / "deployments.svg").exists()


def test_bsuite_collection_takes_the_reference_datasets_noise_for_its_env():
    suite = SUITES["bsuite"]
    assert suite.collects_online and not SUITES["atari"].collects_online
    default = suite.online_metadata("catch", {})
    assert default == {
        "env": "catch",
        "observation_shape": [10, 5],
        "num_actions": 3,
        "reward_noise": 0.0,
        "sticky_action_prob": 0.0,
    }
    reference = {"env": "catch", "reward_noise": 0.1, "sticky_action_prob": 0.25}
    noisy = suite.online_metadata("catch", reference)
    assert (noisy["reward_noise"], noisy["sticky_action_prob"]) == (0.1, 0.25)
    assert suite.online_metadata("cartpole", reference)["reward_noise"] == 0.0  # another env: no noise
