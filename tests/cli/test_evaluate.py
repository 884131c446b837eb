"""`rosmo evaluate` on tiny checkpoints (Atari and BSuite), its statistics, errors, video, and checkpoint policies."""

import json
import os

import jax
import numpy as np
import pytest

from rosmo import cli
from rosmo.configs import atari as atari_configs
from rosmo.configs import bsuite as bsuite_configs
from rosmo.data import atari_maker, rlds
from rosmo.cli.evaluate import EvaluateError, parse_env_spec
from rosmo.training.checkpoint import load_agent
from rosmo.evaluation.statistics import bootstrap_ci, interquartile_mean, normalize_statistics, return_statistics
from rosmo.evaluation.video import observation_frame, resolve_path
from tests.conftest import make_episode, write_dataset

FAST_INIT = jax.threefry_partitionable(False)  # other random bits, ~10x faster init compile on XLA:CPU


def _train(config, workdir):
    from rosmo.training.loop import train

    config.update(num_steps=1, warmup_steps=1, log_every=1, eval_every=1, checkpoint_every=1, eval_episodes=1,
                  eval_parallel=1, use_tensorboard=False)
    with FAST_INIT:
        train(config, workdir, progress=False)
    return workdir


@pytest.fixture(scope="module")
def atari_run(tmp_path_factory):
    """ROSMO (small ResNet, K = n = 1) trained 1 step on 200 random Pong steps made by `rosmo dataset atari`."""
    root = tmp_path_factory.mktemp("atari_eval")
    atari_maker.make_dataset("Pong", 200, str(root / "data"), seed=2, num_envs=2, max_episode_frames=400, show_progress=False)
    c = atari_configs.get_config("Pong,small")
    c.update(data_dir=str(root / "data"), batch_size=2, unroll_steps=1, td_steps=1, shuffle_buffer=10, shuffle_episodes=2,
             eval_max_episode_frames=80)
    return _train(c, str(root / "run"))


@pytest.fixture(scope="module")
def catch_run(tmp_path_factory):
    """ROSMO trained 1 step on a tiny catch-shaped dataset whose metadata names catch and its references."""
    root = tmp_path_factory.mktemp("catch_eval")
    episodes = [make_episode(e, 9, obs_shape=(10, 5)) for e in range(4)]
    meta = {"env": "catch", "num_actions": 3, "random_return": -0.5, "dqn_return": 1.0}
    path = write_dataset(str(root / "data"), episodes, metadata=meta)
    c = bsuite_configs.get_config("catch")
    c.update(dataset_dir=path, batch_size=4)
    return _train(c, str(root / "run"))


def _evaluate(capsys, *args):
    code = cli.main(["evaluate", *args, "--no-progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------------------
# Statistics (hand-computed)
# ---------------------------------------------------------------------------


def test_interquartile_mean_hand_computed():
    assert interquartile_mean([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5  # drop 2 each end: mean(3, 4, 5, 6)
    assert interquartile_mean([100, 0, 0, 10, 0]) == pytest.approx(10 / 3)  # drop 1 each end: mean(0, 0, 10)
    assert interquartile_mean([1, 2, 3]) == 2.0  # floor(3/4) = 0: the plain mean
    with pytest.raises(ValueError, match="empty"):
        interquartile_mean([])


def test_bootstrap_ci_and_statistics():
    assert bootstrap_ci([3.0] * 10) == (3.0, 3.0)
    x = np.random.default_rng(0).normal(10.0, 2.0, size=64)
    low, high = bootstrap_ci(x, seed=1)
    assert low < interquartile_mean(x) < high and high - low < 2.0
    assert bootstrap_ci(x, seed=1) == (low, high)  # seeded
    stats = return_statistics([0.0, 1.0, 2.0, 3.0, 10.0])
    assert stats["episodes"] == 5 and stats["mean"] == 3.2 and stats["median"] == 2.0 and stats["iqm"] == 2.0
    norm = normalize_statistics(stats, low=2.0, high=4.0)  # (R - 2) / 2
    assert (norm["mean"], norm["median"], norm["iqm"]) == pytest.approx((0.6, 0.0, 0.0))


def test_env_spec_parsing_and_errors():
    assert parse_env_spec("atari:pong") == ("atari", "Pong")
    assert parse_env_spec("bsuite:catch") == ("bsuite", "catch")
    for bad in ("pong", "atari:", "gym:CartPole", "bsuite:walker"):
        with pytest.raises(EvaluateError, match="--env"):
            parse_env_spec(bad)
    with pytest.raises(EvaluateError, match="unknown Atari game 'NoSuchGame'"):
        parse_env_spec("atari:NoSuchGame")


def test_video_helpers():
    stack = np.zeros((84, 84, 4), np.uint8)
    stack[..., -1] = 7
    frame = observation_frame(stack)
    assert frame.shape == (168, 168) and (frame == 7).all()  # newest frame, enlarged x2
    board = observation_frame(np.eye(10, 5, dtype=np.float32))  # catch: 10x5 -> x34 (min side >= 168)
    assert board.shape == (340, 170) and board.max() == 255 and board.min() == 0
    with pytest.raises(ValueError, match="--video out.avi"):
        resolve_path("out.avi")


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def test_evaluate_atari_checkpoint(atari_run, tmp_path, capsys):
    out_json = tmp_path / "pong.json"
    code, out, err = _evaluate(capsys, "--checkpoint", atari_run, "--env", "atari:Pong", "--episodes", "3", "--num-envs", "2",
                               "--max-episode-frames", "80", "--json", str(out_json), "--video", str(tmp_path / "pong.gif"))
    assert code == 0, err
    assert "mean" in out and "median" in out and "IQM" in out and "DQN-normalised" in out and "human-normalised" in out
    result = json.load(open(out_json))
    assert result["env"] == "atari:Pong" and result["episodes"] == 3 and len(result["returns"]) == 3
    assert result["lengths"] == [20, 20, 20]  # 80 frames = 20 agent steps each
    assert result["mean_return"] == pytest.approx(np.mean(result["returns"]))
    assert result["dqn_normalized"]["mean"] == pytest.approx((result["mean_return"] + 20.3) / (18.25 + 20.3))
    lo, hi = result["iqm_return_ci95"]
    assert lo <= result["iqm_return"] <= hi
    import imageio

    assert result["video_frames"] == 21  # the reset frame + 20 steps of sub-env 0's first episode
    frames = imageio.mimread(result["video"])  # (the gif writer merges identical consecutive frames)
    assert 1 <= len(frames) <= 21 and frames[0].shape[:2] == (168, 168)


def test_evaluate_bsuite_checkpoint(catch_run, tmp_path, capsys):
    out_json = tmp_path / "catch.json"
    code, out, err = _evaluate(capsys, "--checkpoint", catch_run, "--env", "bsuite:catch", "--episodes", "6",
                               "--num-envs", "3", "--sample", "--json", str(out_json))
    assert code == 0, err
    result = json.load(open(out_json))
    assert result["episodes"] == 6 and result["act_greedy"] is False
    assert set(result["returns"]) <= {-1.0, 1.0}  # catch: +1 or -1 per episode
    assert result["normalized"]["mean"] == pytest.approx((result["mean_return"] + 0.5) / 1.5)  # the dataset's references
    assert "normalised" in out


def test_evaluate_errors(atari_run, catch_run, tmp_path, capsys):
    code, _, err = _evaluate(capsys, "--checkpoint", atari_run, "--env", "pong")
    assert code == 2 and "--env 'pong': expected 'atari:<Game>'" in err
    code, _, err = _evaluate(capsys, "--checkpoint", catch_run, "--env", "atari:Pong")
    assert code == 2 and "the env has 6 actions but the checkpoint's agent was trained with 3" in err
    empty = tmp_path / "empty_run"
    (empty / "checkpoints").mkdir(parents=True)
    code, _, err = _evaluate(capsys, "--checkpoint", str(empty), "--env", "bsuite:catch")
    assert code == 2 and f"--checkpoint {empty}" in err and "no complete checkpoint" in err
    code, _, err = _evaluate(capsys, "--checkpoint", str(tmp_path / "missing"), "--env", "bsuite:catch")
    assert code == 2 and "neither a run directory" in err


def test_dataset_atari_records_with_a_checkpoint_policy(atari_run, tmp_path):
    policy = atari_maker.load_policy(atari_run, num_actions=6, seed=0)
    agent, params, config, _ = load_agent(atari_run)
    obs = np.random.default_rng(0).integers(0, 256, (3, 84, 84, 4), dtype=np.uint8)
    expected = np.argmax(np.asarray(agent.networks.predict(params, agent.networks.represent(params, obs)).policy_logits), -1)
    assert config.act_greedy and np.array_equal(policy(obs), expected)  # greedy prior, as the run was configured
    with pytest.raises(ValueError, match="the agent has 6 actions, the game has 4"):
        atari_maker.load_policy(atari_run, num_actions=4)
    out = atari_maker.make_dataset("Pong", 40, str(tmp_path / "data"), policy=atari_run, seed=5, num_envs=2,
                                   max_episode_frames=400, show_progress=False)
    meta = rlds.metadata(rlds.load_builder("rlu_atari/Pong_run_1", str(tmp_path / "data")))
    assert os.path.isdir(out) and meta["policy"] == atari_run and meta["num_transitions"] == 40
