"""A run knows the data it trained on: a remade dataset is refused on resume and on evaluation;
references that cannot normalise are refused when the dataset is made."""

import json
import os

import pytest

from rosmo.cli import main
from rosmo.data import bsuite_maker, fingerprint, rlds
from tests.conftest import TINY_CATCH_FLAGS

pytestmark = pytest.mark.slow  # end-to-end: runs jobs or subprocesses (make test-fast skips it)

# TINY_CATCH_FLAGS' learner: a compilation-cache hit of the other tiny catch runs
FAST = [*TINY_CATCH_FLAGS, "--config.eval_every=0", "--config.log_every=1", "--config.checkpoint_every=2"]


def _dataset(capsys, out, seed, *extra):
    code = main(
        [
            "dataset",
            "bsuite",
            "--env",
            "catch",
            "--out",
            str(out),
            "--episodes",
            "4",
            "--seed",
            str(seed),
            "--reference-episodes",
            "2",
            "--no-progress",
            *extra,
        ]
    )
    capsys.readouterr()
    assert code == 0
    return os.path.join(str(out), "catch")


def _train(capsys, data, run, steps, *extra):
    code = main(
        [
            "train",
            "--config=bsuite:catch",
            f"--workdir={run}",
            f"--config.dataset_dir={data}",
            f"--config.num_steps={steps}",
            *FAST,
            *extra,
        ]
    )
    return code, capsys.readouterr().err.strip().splitlines()


def test_a_remade_dataset_is_refused_on_resume_and_evaluate(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bsuite_maker, "_MIN_REFERENCE_EPISODES", 1)
    monkeypatch.setattr(bsuite_maker, "_REFERENCE_MIN_GAP_SE", None)  # 4 episodes: the DQN has not learned
    data = _dataset(capsys, tmp_path / "D", 0)
    first = fingerprint.dataset_fingerprint(data)
    run = str(tmp_path / "run")
    assert _train(capsys, data, run, 2)[0] == 0
    record = json.load(open(os.path.join(run, "dataset.json")))
    assert record == {"path": os.path.abspath(data), "fingerprint": first}

    _dataset(capsys, tmp_path / "D", 1, "--overwrite")  # the same path, other data
    second = fingerprint.dataset_fingerprint(data)
    assert second != first
    code, err = _train(capsys, data, run, 4)
    assert code == 2 and len(err) == 1
    assert "not the one this run trained on" in err[0] and first in err[0] and second in err[0]
    assert "--allow-config-change" in err[0]
    assert os.listdir(os.path.join(run, "checkpoints")) == ["2"]  # nothing trained on the other data

    evaluate = [
        "evaluate",
        "--checkpoint",
        os.path.join(run, "checkpoints", "2"),
        "--episodes",
        "1",
        "--num-envs",
        "1",
        "--no-progress",
    ]
    assert main(evaluate) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--allow-dataset-change" in err[0] and second in err[0]
    assert main(evaluate + ["--allow-dataset-change"]) == 0
    capsys.readouterr()

    code, err = _train(capsys, data, run, 4, "--allow-config-change")
    assert code == 0
    changes = [json.loads(line) for line in open(os.path.join(run, "config_changes.jsonl"))]
    assert changes[-1]["changes"]["dataset.fingerprint"] == [first, second]
    assert changes[-1]["allowed_by"] == "--allow-config-change"
    assert json.load(open(os.path.join(run, "dataset.json")))["fingerprint"] == second
    assert main(evaluate) == 0  # the run recorded the change as intended


def test_fingerprint_sees_a_changed_shard(tmp_path):
    from tests.conftest import TINY_LENGTHS, make_episode, write_dataset

    path = write_dataset(str(tmp_path / "tiny"), [make_episode(e, n) for e, n in enumerate(TINY_LENGTHS)])
    recorded = rlds.metadata(rlds.load_builder(path))["fingerprint"]
    assert fingerprint.verify_fingerprint(path, recorded, crc=True) == []
    shard = next(n for n in os.listdir(path) if ".tfrecord" in n)
    with open(os.path.join(path, shard), "r+b") as f:
        byte = f.read(1)
        f.seek(0)
        f.write(bytes([byte[0] ^ 1]))
    assert fingerprint.verify_fingerprint(path, recorded) == []  # sizes only: same size
    assert fingerprint.verify_fingerprint(path, recorded, crc=True) == [
        f"{shard}: CRC32 "
        + fingerprint.fingerprint_files(path)["shards"][shard][1]
        + f", recorded {recorded['shards'][shard][1]}"
    ]


def test_references_that_cannot_normalise_are_refused(tmp_path, capsys):
    code = main(["dataset", "bsuite", "--env", "catch", "--out", str(tmp_path), "--episodes", "20", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "cannot normalise" in err[0] and "dqn_return" in err[0] and "random_return" in err[0]
    assert os.listdir(str(tmp_path)) == []  # nothing written, no temp directory left


def test_check_references_by_hand():
    bsuite_maker.check_references([-1.0, 1.0] * 50, [1.0] * 100)  # gap 1.0, SE 0.1: fine
    with pytest.raises(ValueError, match="dqn_return -0.200"):
        bsuite_maker.check_references([-1.0, 1.0] * 50, [-0.2] * 100)
