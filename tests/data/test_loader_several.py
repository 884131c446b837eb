"""Several datasets read together (a deployment run's D_1 .. D_i): one stream, summed counts, checked envs."""

import numpy as np
import pytest

from rosmo.data import loader
from rosmo.data.rlds import DatasetError
from tests.conftest import TINY_METADATA, make_episode, write_dataset


@pytest.fixture()
def two_datasets(tmp_path):
    a = write_dataset(tmp_path / "a", [make_episode(e, n) for e, n in enumerate((4, 7))])
    b = write_dataset(tmp_path / "b", [make_episode(e, n) for e, n in ((10, 3), (11, 5))])
    return a, b


def test_dataset_list_splits_commas():
    assert loader.dataset_list("x, y") == ["x", "y"]
    assert loader.dataset_list(["x", "y,z"]) == ["x", "y", "z"]
    with pytest.raises(DatasetError):
        loader.dataset_list(" , ")


def test_spec_of_several_sums_counts(two_datasets):
    spec = loader.dataset_spec(",".join(two_datasets))
    assert spec["num_episodes"] == 4 and spec["num_steps"] == 4 + 7 + 3 + 5
    assert spec["metadata"]["datasets"] == [loader.dataset_spec(d)["path"] for d in two_datasets]


def test_several_are_one_stream_in_order(two_datasets):
    batches = loader.make_loader(list(two_datasets), unroll_steps=0, td_steps=0, batch_size=200, seed=3, prefetch=0)
    batch = next(batches)
    firsts = np.unique(batch["observation"][:, 0, 0, 0])
    # every step of both datasets is reachable, nothing else: episodes 0, 1 of a, 10, 11 of b
    expected = np.concatenate([e * 1000 + np.arange(n) for e, n in ((0, 4), (1, 7), (10, 3), (11, 5))])
    assert set(firsts.tolist()) == set(expected.astype(np.float32).tolist())


def test_several_with_another_env_are_refused(tmp_path):
    a = write_dataset(tmp_path / "a", [make_episode(0, 4)])
    b = write_dataset(tmp_path / "b", [make_episode(1, 4)], metadata=dict(TINY_METADATA, env="cartpole"))
    with pytest.raises(DatasetError, match="env 'cartpole' differs"):
        loader.dataset_spec([a, b])
