"""Atari training end to end on a tiny local rlu_atari dataset: config, data/eval dispatch, ROSMO updates,
checkpoint."""

import csv
import math
import os

import numpy as np
import pytest

from rosmo.training.checkpoint import load_params
from rosmo.suites.configs.atari import get_config
from rosmo.suites import SUITES


@pytest.mark.slow
def test_atari_spec_reads_the_rlu_builder(tiny_atari_data):
    c = get_config("Pong,small")
    c.data_dir = tiny_atari_data
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
def test_train_rosmo_on_rlu_atari(tiny_atari_run):
    """The session's `tiny_atari_run`: `atari:Pong,small`, batch 4, 2 steps, evaluated at step 2 (conftest.py)."""
    workdir, summary = tiny_atari_run
    assert summary["num_steps"] == 2 and (summary["suite"], summary["env"]) == ("atari", "Pong")
    rows = list(csv.DictReader(open(os.path.join(workdir, "train.csv"))))
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
    evals = list(csv.DictReader(open(os.path.join(workdir, "eval.csv"))))  # the learning curve: one row per evaluation
    assert [int(r["step"]) for r in evals] == [2] and float(evals[0]["normalized_score"]) == pytest.approx(
        final["normalized_score"]
    )
    params, extra = load_params(workdir)
    assert extra["step"] == 2 and extra["observation_shape"] == [84, 84, 4] and extra["num_actions"] == 6
    assert extra["config"]["network"] == "resnet" and extra["config"]["network_preset"] == "small"
    assert params["representation/stem"]["w"].shape == (3, 3, 4, 8)
