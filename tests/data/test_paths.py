"""Dataset directories checked without TensorFlow: the one-line errors a wrong path gets."""

import pytest

from rosmo.data.paths import check_dataset_directory, dataset_list
from rosmo.errors import DatasetError


def test_dataset_list_splits_commas_and_refuses_nothing():
    assert dataset_list("a, b,,c") == ["a", "b", "c"]
    assert dataset_list(["a,b", "c"]) == ["a", "b", "c"]
    with pytest.raises(DatasetError, match=r"no dataset given \(' , '\)"):
        dataset_list(" , ")


def test_a_missing_or_foreign_directory_is_named(tmp_path, monkeypatch):
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError, match=f"^dataset directory {missing} does not exist$"):
        check_dataset_directory(str(missing))
    (tmp_path / "notes").mkdir()
    with pytest.raises(DatasetError, match=f"^{tmp_path / 'notes'} is not an RLDS/TFDS dataset directory"):
        check_dataset_directory(str(tmp_path / "notes"))
    (tmp_path / "notes" / "dataset_info.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert check_dataset_directory("notes") == str(tmp_path / "notes")
