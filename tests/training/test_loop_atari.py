"""Atari training end to end on a tiny local rlu_atari dataset: config, data/eval dispatch, ROSMO updates,
checkpoint."""

import csv
import math

import jax
import numpy as np
import pytest

from rosmo.training.checkpoint import load_params
from rosmo.suites.configs.atari import get_config
from rosmo.data import atari_maker
from rosmo.suites import SUITES
from rosmo.training.loop import train

GAME = "Pong"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """300 random Pong steps over 2 envs, episodes cut at 400 frames (100 steps)."""
    root = str(tmp_path_factory.mktemp("atari"))
    atari_maker.make_dataset(
        GAME, 300, root, policy="random", seed=3, num_envs=2, max_episode_frames=400, show_progress=False
    )
    return root


@pytest.mark.slow
def test_atari_spec_reads_the_rlu_builder(data_dir):
    c = get_config("Pong,small")
    c.data_dir = data_dir
    suite = SUITES["atari"]
    spec = suite.dataset_spec(c)
    assert spec.observation_shape == (84, 84, 4) and spec.observation_dtype == np.uint8
    assert spec.num_actions == spec.metadata["num_actions"] == 6 and spec.metadata["env"] == "Pong"
    (dqn, human) = suite.references("Pong", spec.metadata)
    assert (dqn.name, dqn.low, dqn.high) == ("dqn", -20.3, 18.25) and (human.low, human.high) == (-20.7, 14.6)
    c.run = 2  # not made
    with pytest.raises(Exception, match="Pong_run_2"):
        suite.dataset_spec(c)


@pytest.mark.slow
def test_train_rosmo_on_rlu_atari(data_dir, tmp_path):
    c = get_config("Pong,small")
    c.data_dir = data_dir
    c.update(
        batch_size=4,
        num_steps=2,
        warmup_steps=1,
        log_every=1,
        eval_every=2,
        checkpoint_every=2,
        eval_episodes=2,
        eval_parallel=2,
        eval_max_episode_frames=200,
        episodes_in_flight=4,
        use_tensorboard=False,
    )
    with jax.threefry_partitionable(False):  # other random bits, ~10x faster init compile on XLA:CPU
        summary = train(c, str(tmp_path / "run"), progress=False)
    assert summary["num_steps"] == 2 and (summary["suite"], summary["env"]) == ("atari", "Pong")
    rows = list(csv.DictReader(open(tmp_path / "run" / "train.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2]
    for row in rows:  # K = 5, n = 5 windows of 84x84x4 frames: every loss finite, gradients non-zero
        for key in ("loss", "reward_loss", "value_loss", "policy_loss", "bc_loss", "grad_norm"):
            assert math.isfinite(float(row[key])), (key, row)
        assert float(row["grad_norm"]) > 0
    final = summary["final_eval"]
    assert final["episodes"] == 2 and len(final) > 5
    # 200-frame cap = 50 agent steps per episode
    assert final["env_steps"] == 100 and final["normalized_score"] == pytest.approx(
        (final["mean_return"] + 20.3) / 38.55
    )
    assert (final["normalized"]["human"]["low"], final["normalized"]["human"]["high"]) == (-20.7, 14.6)
    assert final["reference"] == "dqn" and final["normalized"]["dqn"]["mean"] == final["normalized_score"]
    evals = list(csv.DictReader(open(tmp_path / "run" / "eval.csv")))  # the learning curve: one row per evaluation
    assert [int(r["step"]) for r in evals] == [2] and float(evals[0]["normalized_score"]) == pytest.approx(
        final["normalized_score"]
    )
    params, extra = load_params(str(tmp_path / "run"))
    assert extra["step"] == 2 and extra["observation_shape"] == [84, 84, 4] and extra["num_actions"] == 6
    assert extra["config"]["network"] == "resnet" and extra["config"]["network_preset"] == "small"
    assert params["representation/stem"]["w"].shape == (3, 3, 4, 8)
