"""`rosmo evaluate --ope ... --no-online` and the evaluator job on a tiny trained catch run: the ope_* columns."""

import json
import os

import jax
import pandas as pd
import pytest

from rosmo import cli
from rosmo.suites.configs import bsuite as bsuite_configs
from rosmo.ope.job import estimate_checkpoint  # noqa: F401  (imports TensorFlow before capsys captures)
from rosmo.training.loop import train
from tests.conftest import make_episode, write_dataset

pytestmark = pytest.mark.slow  # end-to-end: runs jobs or subprocesses (make test-fast skips it)

# episode e of the tiny dataset (9 steps) has rewards e + t / 10 at t = 0..7: return 8 e + 2.8;
# mean over e = 0..3: 14.8; normalised with random -0.5 / dqn 1.0: (14.8 + 0.5) / 1.5 = 10.2
BEHAVIOUR_RETURN, BEHAVIOUR_NORMALISED = 14.8, 10.2


@pytest.fixture(scope="module")
def catch_run(tmp_path_factory):
    """ROSMO trained 1 step on 4 catch-shaped episodes whose metadata names catch and its references."""
    root = tmp_path_factory.mktemp("ope_run")
    episodes = [make_episode(e, 9, obs_shape=(10, 5)) for e in range(4)]
    meta = {"env": "catch", "num_actions": 3, "random_return": -0.5, "dqn_return": 1.0}
    c = bsuite_configs.get_config("catch")
    c.update(
        dataset_dir=write_dataset(str(root / "data"), episodes, metadata=meta),
        batch_size=8,  # with warm-up 1 and 2 envs: the programs of tests/evaluation/test_watch.py's run
        num_steps=1,
        warmup_steps=1,
        log_every=1,
        eval_every=1,
        checkpoint_every=1,
        eval_episodes=2,
        eval_parallel=2,
        use_tensorboard=False,
    )
    with jax.threefry_partitionable(False):
        train(c, str(root / "run"), progress=False)
    return str(root / "run")


def _evaluate(capsys, *args):
    code = cli.main(["evaluate", *args, "--no-progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_checkpoint_ope_without_online_play(catch_run, tmp_path, capsys):
    out_json = tmp_path / "ope.json"
    code, out, err = _evaluate(
        capsys,
        "--checkpoint",
        catch_run,
        "--ope",
        "fqe,model,behaviour,agreement",
        "--no-online",
        "--ope-steps",
        "500",
        "--json",
        str(out_json),
    )
    assert code == 0, err
    assert "ope fqe" in out and "ope model_rollout" in out and "mean" not in out.split("off-policy")[0]
    result = json.load(open(out_json))
    assert result["online"] is False and "mean_return" not in result
    for name in ("fqe", "model_value", "model_rollout", "behaviour"):
        assert f"ope_{name}" in result and f"ope_{name}_return" in result and f"ope_{name}_seconds" in result
    assert 0.0 <= result["ope_agreement"] <= 1.0
    assert result["ope_behaviour_return"] == pytest.approx(BEHAVIOUR_RETURN, rel=1e-5)
    assert result["ope_behaviour"] == pytest.approx(
        BEHAVIOUR_NORMALISED, rel=1e-5
    )  # the online evaluation's references
    assert result["ope"]["episodes"] == 4 and result["ope"]["heldout_episodes"] == 1
    assert result["ope_fqe_iterations"] == 2  # 500 steps / 250 per iteration


def test_ope_flag_errors_are_one_line(catch_run, tmp_path, capsys):
    code, _, err = _evaluate(capsys, "--checkpoint", catch_run, "--no-online")
    assert code == 2 and "--no-online needs --ope" in err
    code, _, err = _evaluate(capsys, "--checkpoint", catch_run, "--ope", "fqe,magic")
    assert code == 2 and "unknown estimator 'magic'" in err
    code, _, err = _evaluate(
        capsys, "--checkpoint", catch_run, "--ope", "behaviour", "--no-online", "--ope-dataset", str(tmp_path / "gone")
    )
    assert code == 2 and "--ope-dataset" in err and "Traceback" not in err


def test_watch_adds_ope_columns_to_eval_csv(catch_run, capsys):
    code, out, err = _evaluate(
        capsys,
        "--watch",
        catch_run,
        "--ope",
        "fqe,behaviour",
        "--no-online",
        "--ope-steps",
        "250",
        "--poll",
        "0.1",
        "--timeout",
        "120",
    )
    assert code == 0, err
    table = pd.read_csv(os.path.join(catch_run, "eval.csv"))
    ope_rows = table[table["ope_fqe"].notna()]
    assert len(ope_rows) >= 1
    assert ope_rows["ope_behaviour"].tolist() == pytest.approx([BEHAVIOUR_NORMALISED] * len(ope_rows), rel=1e-5)
    assert table["normalized_score"].notna().any()  # the inline evaluation's online rows are kept
    summary = json.load(open(os.path.join(catch_run, "summary.json")))
    assert "ope_fqe" not in (summary.get("final_eval") or {})
