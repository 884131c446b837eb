"""`--overwrite` removes only what the project wrote: a dataset of ours, nothing else."""

import os

import pytest

from rosmo.cli import main
from rosmo.data import fingerprint, rlds
from tests.conftest import TINY_LENGTHS, make_episode, write_dataset

pytestmark = pytest.mark.slow  # end-to-end: runs jobs or subprocesses (make test-fast skips it)


def _tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)


def _run_dir(path):
    """A training run's files as `rosmo train` leaves them, plus a user's notes file."""
    os.makedirs(os.path.join(path, "checkpoints", "100"))
    for name, text in [
        ("config.json", "{}"),
        ("train.csv", "step,loss\n100,0.5\n"),
        ("notes.txt", "my notes"),
        ("checkpoints/100/_CHECKPOINT_METADATA", "{}"),
    ]:
        with open(os.path.join(path, name), "w") as f:
            f.write(text)


def test_dataset_bsuite_overwrite_refuses_a_training_run(tmp_path, capsys):
    target = tmp_path / "D" / "catch"
    _run_dir(str(target))
    before = _tree(str(target))
    code = main(
        [
            "dataset",
            "bsuite",
            "--env",
            "catch",
            "--out",
            str(tmp_path / "D"),
            "--episodes",
            "2",
            "--overwrite",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and str(target) in err[0] and "not a rosmo dataset" in err[0]
    assert "notes.txt" in err[0] and "checkpoints/" in err[0]
    assert _tree(str(target)) == before  # everything kept


def test_dataset_minatar_overwrite_refuses_a_training_run(tmp_path, capsys):
    pytest.importorskip("minatar")
    target = tmp_path / "D" / "breakout"
    _run_dir(str(target))
    before = _tree(str(target))
    code = main(
        ["dataset", "minatar", "--game", "breakout", "--out", str(tmp_path / "D"), "--overwrite", "--no-progress"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and str(target) in err[0] and "not a rosmo dataset" in err[0]
    assert _tree(str(target)) == before  # everything kept


def test_writer_refuses_our_dataset_with_a_user_file_and_replaces_a_clean_one(tmp_path):
    episodes = [make_episode(e, n) for e, n in enumerate(TINY_LENGTHS)]
    path = write_dataset(str(tmp_path / "tiny"), episodes)
    assert fingerprint.dataset_fingerprint(path)
    with open(os.path.join(path, "README.md"), "w") as f:
        f.write("what this data is")
    with pytest.raises(rlds.DatasetError, match=r"README\.md.*--overwrite replaces only"):
        with rlds.RldsWriter(path, "tiny", rlds.bsuite_features((2, 3)), {}, overwrite=True):
            pass
    assert os.path.exists(os.path.join(path, "README.md"))
    os.remove(os.path.join(path, "README.md"))
    with rlds.RldsWriter(path, "tiny", rlds.bsuite_features((2, 3)), {}, overwrite=True) as w:
        w.add_episode(episodes[0])
    assert rlds.metadata(rlds.load_builder(path))["fingerprint"]["shards"]


def test_a_file_or_a_link_is_never_replaced(tmp_path):
    (tmp_path / "plain").write_text("x")
    os.symlink(str(tmp_path / "plain"), str(tmp_path / "link"))
    for name in ("plain", "link"):
        with pytest.raises(rlds.DatasetError, match="not a rosmo dataset"):
            rlds.check_replaceable(str(tmp_path / name))
    assert (tmp_path / "plain").read_text() == "x"
