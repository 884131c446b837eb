"""`rosmo deploy --env minatar:breakout` end to end on a tiny budget: 2 deployments of BC, scores normalised with a
`rosmo dataset minatar`-layout reference dataset whose protocol (sticky actions) the collection and evaluation use."""

import csv
import json
import math
import os

import numpy as np
import pytest

pytest.importorskip("minatar")

from rosmo.cli import main  # noqa: E402
from rosmo.data import loader, minatar_data, minatar_maker, rlds  # noqa: E402
from rosmo.deploy import loop as deployment  # noqa: E402
from rosmo.envs.minatar import MinAtarEnv  # noqa: E402

RANDOM, DQN, STICKY = 0.5, 5.0, 0.2
TINY = [
    "--deployments",
    "2",
    "--transitions",
    "200",
    "--steps",
    "4",
    "--no-progress",
    "--config.batch_size=8",
    "--config.eval_episodes=4",
    "--config.eval_parallel=4",
    "--config.eval_max_episode_steps=50",
    "--config.log_every=2",
    "--config.use_tensorboard=False",
    "--config.hidden_size=16",
    "--config.torso_channels=4",
]


def reference_dataset(path, game="breakout"):
    """A checkpoint-split dataset (the `rosmo dataset minatar` layout) of 3 short episodes with given references."""
    episodes = []
    for e in range(3):
        env = MinAtarEnv(game, seed=e, max_episode_steps=30)
        ts = env.reset()
        obs, actions, rewards = [ts.observation], [], []
        while not ts.last():
            actions.append(e % 6)
            ts = env.step(actions[-1])
            obs.append(ts.observation)
            rewards.append(ts.reward)
        episodes.append(minatar_data.episode_to_rlds(np.stack(obs), actions, rewards, ts.discount == 0.0, e, e % 2))
    meta = {"random_return": RANDOM, "dqn_return": DQN, "sticky_action_prob": STICKY}
    return minatar_maker.write_episodes(str(path), game, episodes, meta)


@pytest.mark.slow
def test_deploy_bc_on_minatar_breakout(tmp_path, capsys):
    reference = reference_dataset(tmp_path / "ref" / "breakout")
    workdir = tmp_path / "dep"
    args = ["deploy", "--agent", "bc", "--env", "minatar:breakout", "--workdir", str(workdir)]
    assert main([*args, *TINY, "--reference-dataset", reference]) == 0
    rows = list(csv.DictReader(open(workdir / "deployments.csv")))
    assert [int(r["deployment"]) for r in rows] == [1, 2]
    data = [os.path.join(deployment.deployment_dir(str(workdir), i), "data") for i in (1, 2)]
    for i, row in enumerate(rows, start=1):
        d = deployment.deployment_dir(str(workdir), i)
        run = json.load(open(os.path.join(d, "checkpoint", "run.json")))
        assert os.path.normpath(os.path.join(d, "checkpoint", run["run_dir"])) == os.path.join(d, "run")
        assert run["step"] == 4 * i  # warm-started: deployment 2 trains 4 more steps
        meta = rlds.metadata(rlds.load_builder(data[i - 1]))
        assert meta["env"] == "breakout" and meta["sticky_action_prob"] == STICKY and meta["num_actions"] == 6
        assert (meta["random_return"], meta["dqn_return"]) == (RANDOM, DQN)
        assert meta["num_transitions"] >= 200 and meta["deployment"] == i
        mean = float(row["mean_return"])
        assert math.isfinite(mean)
        assert float(row["normalized_score"]) == pytest.approx((mean - RANDOM) / (DQN - RANDOM))
    spec = loader.dataset_spec(data[0])
    assert spec["observation_shape"] == (10, 10, 4) and spec["observation_dtype"] == np.uint8
    assert json.load(open(os.path.join(deployment.deployment_dir(str(workdir), 2), "train.json")))["datasets"] == data
    assert json.load(open(os.path.join(deployment.deployment_dir(str(workdir), 1), "collect.json")))["behaviour"] == {
        "name": "uniform_random"
    }
    collect2 = json.load(open(os.path.join(deployment.deployment_dir(str(workdir), 2), "collect.json")))
    assert collect2["behaviour"]["name"] == "bc" and collect2["behaviour"]["epsilon"] == 0.1
    summary = json.load(open(workdir / "summary.json"))
    assert summary["env_steps"] == int(rows[-1]["env_steps"]) >= 400


def test_reference_dataset_of_another_game_is_one_line(tmp_path, capsys):
    reference = reference_dataset(tmp_path / "ref" / "asterix", game="asterix")
    args = ["deploy", "--agent", "bc", "--env", "minatar:breakout", "--workdir", str(tmp_path / "w")]
    assert main([*args, "--reference-dataset", reference]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--reference-dataset" in err[0] and "asterix" in err[0], err
    assert not (tmp_path / "w").exists()


def test_atari_is_refused_naming_the_collecting_suites(tmp_path, capsys):
    assert main(["deploy", "--agent", "rosmo", "--env", "atari:pong", "--workdir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--env" in err[0] and "bsuite, minatar" in err[0], err
