"""`rosmo evaluate` on tiny checkpoints (Atari and BSuite): results, errors, video, and checkpoint policies."""

import json
import os

import imageio
import jax
import numpy as np
import pytest

from rosmo import cli
from rosmo.suites.configs import bsuite as bsuite_configs
from rosmo.data import atari_maker, rlds
from rosmo.training.checkpoint import CheckpointError
from rosmo.training.restore import load_agent, load_policy
from rosmo.training.loop import train
from tests.conftest import make_episode, write_dataset

FAST_INIT = jax.threefry_partitionable(False)  # other random bits, ~10x faster init compile on XLA:CPU


@pytest.fixture(scope="module")
def atari_run(tiny_atari_run):
    """ROSMO (small ResNet) trained 2 steps on 300 random Pong steps: the session's shared `tiny_atari_run`."""
    return tiny_atari_run[0]


def _train_on_tiny_catch(root, **fields):
    """Train 1 step on a tiny catch-shaped dataset whose metadata names catch and its references; a checkpoint
    and no evaluation (the tests evaluate it)."""
    episodes = [make_episode(e, 9, obs_shape=(10, 5)) for e in range(4)]
    meta = {"env": "catch", "num_actions": 3, "random_return": -0.5, "dqn_return": 1.0}
    c = bsuite_configs.get_config("catch")
    c.update(dataset_dir=write_dataset(str(root / "data"), episodes, metadata=meta), batch_size=4, **fields)
    c.update(num_steps=1, warmup_steps=1, log_every=1, eval_every=0, checkpoint_every=1, use_tensorboard=False)
    workdir = str(root / "run")
    with FAST_INIT:
        train(c, workdir, progress=False)
    return workdir


@pytest.fixture(scope="module")
def catch_run(tiny_catch_run):
    """ROSMO trained 2 steps on a tiny catch-shaped dataset: the session's shared `tiny_catch_run`."""
    return tiny_catch_run


@pytest.fixture(scope="module")
def mzu_catch_run(tmp_path_factory):
    """MuZero Unplugged (4 simulations) trained 1 step on the tiny catch-shaped dataset."""
    return _train_on_tiny_catch(tmp_path_factory.mktemp("mzu_eval"), algo="mzu", act_policy="mcts", num_simulations=4)


def _evaluate(capsys, *args):
    code = cli.main(["evaluate", *args, "--no-progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_evaluate_atari_checkpoint(atari_run, tmp_path, capsys):
    out_json = tmp_path / "pong.json"
    code, out, err = _evaluate(
        capsys,
        "--checkpoint",
        atari_run,
        "--env",
        "atari:Pong",
        "--episodes",
        "3",
        "--num-envs",
        "2",
        "--max-episode-frames",
        "80",
        "--json",
        str(out_json),
        "--video",
        str(tmp_path / "pong.gif"),
    )
    assert code == 0, err
    assert (
        "mean" in out and "median" in out and "IQM" in out and "normalised (dqn)" in out and "normalised (human)" in out
    )
    result = json.load(open(out_json))
    assert result["env"] == "atari:Pong" and result["episodes"] == 3 and len(result["returns"]) == 3
    assert result["lengths"] == [20, 20, 20]  # 80 frames = 20 agent steps each
    assert result["mean_return"] == pytest.approx(np.mean(result["returns"]))
    assert result["normalized"]["dqn"]["mean"] == pytest.approx((result["mean_return"] + 20.3) / (18.25 + 20.3))
    assert result["normalized_score"] == result["normalized"]["dqn"]["mean"] and result["reference"] == "dqn"
    lo, hi = result["iqm_return_ci95"]
    assert lo <= result["iqm_return"] <= hi
    assert result["video_frames"] == 21  # the reset frame + 20 steps of sub-env 0's first episode
    frames = imageio.mimread(result["video"])  # (the gif writer merges identical consecutive frames)
    assert 1 <= len(frames) <= 21 and frames[0].shape[:2] == (168, 168)


@pytest.mark.slow
def test_evaluate_bsuite_checkpoint(catch_run, tmp_path, capsys):
    out_json = tmp_path / "catch.json"
    code, out, err = _evaluate(
        capsys,
        "--checkpoint",
        catch_run,
        "--env",
        "bsuite:catch",
        "--episodes",
        "6",
        "--num-envs",
        "3",
        "--sample",
        "--json",
        str(out_json),
    )
    assert code == 0, err
    result = json.load(open(out_json))
    assert result["episodes"] == 6 and result["act_greedy"] is False
    assert set(result["returns"]) <= {-1.0, 1.0}  # catch: +1 or -1 per episode
    assert result["normalized"]["dqn"]["mean"] == pytest.approx(
        (result["mean_return"] + 0.5) / 1.5
    )  # the dataset's references
    assert "normalised" in out


@pytest.mark.slow
def test_evaluate_errors(atari_run, catch_run, tmp_path, capsys):
    code, _, err = _evaluate(capsys, "--checkpoint", atari_run, "--env", "pong")
    assert code == 2 and "--env 'pong': expected <suite>:<env>" in err
    code, _, err = _evaluate(capsys, "--checkpoint", catch_run, "--env", "atari:Pong")
    assert code == 2 and "the env has 6 actions but the checkpoint's agent was trained with 3" in err
    empty = tmp_path / "empty_run"
    (empty / "checkpoints").mkdir(parents=True)
    code, _, err = _evaluate(capsys, "--checkpoint", str(empty), "--env", "bsuite:catch")
    assert code == 2 and f"--checkpoint {empty}" in err and "no complete checkpoint" in err
    code, _, err = _evaluate(capsys, "--checkpoint", str(tmp_path / "missing"), "--env", "bsuite:catch")
    assert code == 2 and "neither a run directory" in err


@pytest.mark.slow
def test_evaluate_set_changes_only_acting_fields(mzu_catch_run, catch_run, tmp_path, capsys):
    _, _, config, _ = load_agent(mzu_catch_run, overrides=("num_simulations=12", "search_depth=2", "search=gumbel"))
    assert (config.num_simulations, config.search_depth, config.search) == (12, 2, "gumbel")
    _, _, saved, _ = load_agent(mzu_catch_run)
    assert (saved.num_simulations, saved.search_depth, saved.search) == (4, None, "muzero")
    out_json = tmp_path / "mzu.json"
    code, out, err = _evaluate(
        capsys,
        "--checkpoint",
        mzu_catch_run,
        "--episodes",
        "2",
        "--num-envs",
        "2",
        "--set",
        "num_simulations=2",
        "--set",
        "search_depth=1",
        "--json",
        str(out_json),
    )
    assert code == 0, err
    assert "(mzu, act mcts, greedy, num_simulations=2, search_depth=1)" in out
    assert json.load(open(out_json))["acting_overrides"] == ["num_simulations=2", "search_depth=1"]
    code, out, err = _evaluate(
        capsys,
        "--checkpoint",
        mzu_catch_run,
        "--episodes",
        "2",
        "--num-envs",
        "2",
        "--config.num_simulations=2",  # the --config spelling, with the values above: the act program is loaded
        "--config.search_depth",
        "1",
    )
    assert code == 0 and "(mzu, act mcts, greedy, num_simulations=2, search_depth=1)" in out, err
    cases = [
        (mzu_catch_run, ["--set", "num_simulations=0"], "--set num_simulations=0: expected an integer >= 1"),
        (mzu_catch_run, ["--config.num_simulations=0"], "--config.num_simulations=0: expected an integer >= 1"),
        (mzu_catch_run, ["--set", "search_depth=deep"], "--set search_depth=deep: expected an integer"),
        (mzu_catch_run, ["--config.search_depth", "deep"], "--config.search_depth=deep: expected an integer"),
        (
            mzu_catch_run,
            ["--set", "learning_rate=1"],
            "'learning_rate' is not an acting field of algo mzu (expected one of: num_simulations, search_depth",
        ),
        (mzu_catch_run, ["--set", "num_simulations"], "--set num_simulations: expected FIELD=VALUE"),
        (catch_run, ["--config.num_simulations=5"], "'num_simulations' is not an acting field of algo rosmo"),
    ]
    for run, flags, message in cases:
        code, _, err = _evaluate(capsys, "--checkpoint", run, "--episodes", "1", *flags)
        assert code == 2 and message in err and "Traceback" not in err, (flags, err)
    code, _, err = _evaluate(capsys, "--watch", mzu_catch_run, "--set", "num_simulations=2")
    assert code == 2 and "--set cannot be used with --watch" in err
    code, _, err = _evaluate(capsys, "--watch", mzu_catch_run, "--config.num_simulations=2")
    assert code == 2 and "--config.num_simulations cannot be used with --watch" in err


@pytest.mark.slow
def test_dataset_atari_records_with_a_checkpoint_policy(atari_run, tmp_path):
    policy = load_policy(atari_run, num_actions=6, seed=0)
    agent, params, config, _ = load_agent(atari_run)
    obs = np.random.default_rng(0).integers(0, 256, (3, 84, 84, 4), dtype=np.uint8)
    expected = np.argmax(
        np.asarray(agent.networks.predict(params, agent.networks.represent(params, obs)).policy_logits), -1
    )
    assert config.act_greedy and np.array_equal(policy(obs), expected)  # greedy prior, as the run was configured
    with pytest.raises(CheckpointError, match="the agent has 6 actions, the env has 4"):
        load_policy(atari_run, num_actions=4)
    out = atari_maker.make_dataset(
        "Pong",
        40,
        str(tmp_path / "data"),
        policy=load_policy(atari_run, 6, seed=5),
        policy_name=atari_run,
        seed=5,
        num_envs=2,
        max_episode_frames=400,
        show_progress=False,
    )
    meta = rlds.metadata(rlds.load_builder("rlu_atari/Pong_run_1", str(tmp_path / "data")))
    assert os.path.isdir(out) and meta["policy"] == atari_run and meta["num_transitions"] == 40
