"""Tests for rosmo.data.loader: RLDS round trip, windows, subsampling, both modes."""

import math
import os

import numpy as np
import pytest

from rosmo.data import episodes as episode_io
from rosmo.data import loader, memory, rlds, schema, windows
from tests.conftest import TINY_LENGTHS, TINY_METADATA, TINY_OBS_SHAPE, make_episode, write_dataset

FIELDS = ("observation",) + tuple(schema.OUTPUT_DTYPES)


def concat_steps(episodes):
    """The expected stream: the episodes' steps concatenated in order, output dtypes applied."""
    out = {k: np.concatenate([ep["steps"][k] for ep in episodes]) for k in FIELDS}
    for k, dtype in schema.OUTPUT_DTYPES.items():
        out[k] = out[k].astype(dtype)
    return out


def window_id(window, length):
    """A window's identity: the tuple of its observation values (unique per step in the tiny data)."""
    return tuple(window["observation"].reshape(length, -1)[:, 0].tolist())


def valid_windows(stream, length):
    n = len(stream["action"])
    return {
        tuple(stream["observation"][s : s + length].reshape(length, -1)[:, 0].tolist()) for s in range(n - length + 1)
    }


def windows_of(batch):
    b = len(batch["action"])
    return [{k: v[i] for k, v in batch.items()} for i in range(b)]


# --------------------------------------------------------------------- round trip


def test_written_dataset_reads_back_identically(tiny_dataset, tiny_episodes):
    builder = rlds.load_builder(tiny_dataset)
    got = list(rlds.iterate_episodes_numpy(builder))
    assert len(got) == len(tiny_episodes)
    for want, have in zip(tiny_episodes, got):
        assert have["episode_id"] == want["episode_id"]
        np.testing.assert_allclose(have["episode_return"], want["episode_return"])
        for k in rlds.STEP_FIELDS:
            np.testing.assert_array_equal(have["steps"][k], want["steps"][k], err_msg=k)
            assert have["steps"][k].dtype == np.asarray(want["steps"][k]).dtype, k
    metadata = rlds.metadata(builder)
    assert {k: v for k, v in metadata.items() if k != "fingerprint"} == TINY_METADATA
    shards = {name for name in os.listdir(tiny_dataset) if ".tfrecord" in name}
    assert shards and set(metadata["fingerprint"]["shards"]) == shards  # every shard, with its size and CRC


def test_dataset_spec(tiny_dataset):
    spec = loader.dataset_spec(tiny_dataset)
    assert spec["observation_shape"] == TINY_OBS_SHAPE
    assert spec["observation_dtype"] == np.float32
    assert spec["num_actions"] == 3
    assert spec["num_episodes"] == len(TINY_LENGTHS)
    assert spec["num_steps"] == sum(TINY_LENGTHS) == 25
    assert {k: v for k, v in spec["metadata"].items() if k != "fingerprint"} == TINY_METADATA
    assert spec["metadata"]["fingerprint"]["shards"]  # the writer fingerprints every shard


def test_load_steps_is_the_concatenated_stream(tiny_dataset, tiny_episodes):
    steps = episode_io.load_steps(rlds.load_builder(tiny_dataset))
    want = concat_steps(tiny_episodes)
    for k in FIELDS:
        np.testing.assert_array_equal(steps[k], want[k], err_msg=k)
        assert steps[k].dtype == want[k].dtype, k
    # A subset of episodes keeps episode order.
    sub = episode_io.load_steps(rlds.load_builder(tiny_dataset), episodes=np.array([1, 3]))
    np.testing.assert_array_equal(
        sub["observation"][:, 0, 0], concat_steps([tiny_episodes[1], tiny_episodes[3]])["observation"][:, 0, 0]
    )


# --------------------------------------------------------------------- pure helpers


def test_window_indices_and_gather_hand_computed():
    np.testing.assert_array_equal(windows.window_indices(np.array([0, 3]), 3), [[0, 1, 2], [3, 4, 5]])
    steps = {"x": np.arange(10) * 10, "y": np.arange(20).reshape(10, 2)}
    w = windows.gather_windows(steps, np.array([2, 7]), 3)
    np.testing.assert_array_equal(w["x"], [[20, 30, 40], [70, 80, 90]])
    assert w["y"].shape == (2, 3, 2)
    np.testing.assert_array_equal(w["y"][1], [[14, 15], [16, 17], [18, 19]])


@pytest.mark.parametrize(
    "n,p,expected", [(20, 25, 5), (20, 100, 20), (20, 1, 1), (3, 10, 1), (7, 50, 4), (10, 0.01, 1)]
)
def test_select_episodes_count(n, p, expected):
    keep = windows.select_episodes(n, p, seed=0)
    assert len(keep) == expected == max(1, round(n * p / 100))
    assert len(set(keep.tolist())) == expected
    assert np.all(np.diff(keep) > 0) and keep.min() >= 0 and keep.max() < n


def test_select_episodes_deterministic_and_seeded():
    a = windows.select_episodes(100, 30, seed=1)
    np.testing.assert_array_equal(a, windows.select_episodes(100, 30, seed=1))
    np.testing.assert_array_equal(a, np.sort(np.random.default_rng(1).permutation(100)[:30]))
    assert not np.array_equal(a, windows.select_episodes(100, 30, seed=2))


@pytest.mark.parametrize("p", [0, -5, 100.5, 1000, math.nan])
def test_select_episodes_rejects_out_of_range(p):
    with pytest.raises(ValueError, match="data_percentage"):
        windows.select_episodes(10, p, seed=0)


@pytest.mark.parametrize("p", [0, -1, 101])
def test_make_loader_rejects_bad_percentage(tiny_dataset, p):
    with pytest.raises(ValueError, match="data_percentage"):
        loader.make_loader(tiny_dataset, unroll_steps=1, td_steps=1, batch_size=2, data_percentage=p)


@pytest.mark.parametrize("length,chunk", [(1, 4), (3, 1), (3, 2), (3, 4), (5, 2), (5, 7), (5, 1024), (25, 3)])
def test_tf_window_dataset_yields_every_window_in_order(length, chunk):
    tf = rlds.tf
    n = 25
    steps = tf.data.Dataset.from_tensor_slices(
        {"action": np.arange(n, dtype=np.int32), "o": np.arange(2 * n).reshape(n, 2)}
    )
    got = list(rlds.tfds.as_numpy(windows.window_dataset(steps, length, chunk_steps=chunk)))
    assert len(got) == n - length + 1
    for s, w in enumerate(got):
        np.testing.assert_array_equal(w["action"], np.arange(s, s + length))
        np.testing.assert_array_equal(w["o"], np.arange(2 * n).reshape(n, 2)[s : s + length])


# --------------------------------------------------------------------- in-memory mode


def check_batch_structure(batch, b, length, obs_shape=TINY_OBS_SHAPE):
    assert set(batch) == set(FIELDS)
    assert batch["observation"].shape == (b, length, *obs_shape)
    assert batch["observation"].dtype == np.float32
    for k, dtype in schema.OUTPUT_DTYPES.items():
        assert batch[k].shape == (b, length), k
        assert batch[k].dtype == dtype, k


def test_in_memory_windows_are_consecutive_stream_steps(tiny_dataset, tiny_episodes):
    length = 1 + 2 + 1  # K=1, n=2
    it = loader.make_loader(tiny_dataset, unroll_steps=1, td_steps=2, batch_size=16, in_memory=True, seed=3)
    assert isinstance(it, memory.InMemoryLoader)
    stream = concat_steps(tiny_episodes)
    first_obs = stream["observation"][:, 0, 0]
    crossing = 0
    for _ in range(10):
        batch = next(it)
        check_batch_structure(batch, 16, length)
        for w in windows_of(batch):
            s = int(np.flatnonzero(first_obs == w["observation"][0, 0, 0])[0])
            assert s <= len(first_obs) - length
            for k in FIELDS:
                np.testing.assert_array_equal(w[k], stream[k][s : s + length], err_msg=k)
            # Boundary flags: an is_last before the window's end is followed by is_first
            # and by the next episode's first observation (t = 0).
            for i in np.flatnonzero(w["is_last"][:-1]):
                crossing += 1
                assert w["is_first"][i + 1]
                assert w["observation"][i + 1, 0, 0] % 1000 == 0
                assert w["observation"][i + 1, 0, 0] // 1000 == w["observation"][i, 0, 0] // 1000 + 1
                assert not w["is_first"][i] or TINY_LENGTHS[int(w["observation"][i, 0, 0] // 1000)] == 1
    assert crossing > 0, "expected some windows crossing an episode end"
    it.close()


def test_in_memory_covers_all_valid_starts_uniformly(tiny_dataset, tiny_episodes):
    length = 3
    it = loader.make_loader(tiny_dataset, unroll_steps=1, td_steps=1, batch_size=64, in_memory=True, seed=0, prefetch=0)
    stream = concat_steps(tiny_episodes)
    valid = valid_windows(stream, length)
    counts = {}
    for _ in range(40):
        for w in windows_of(next(it)):
            wid = window_id(w, length)
            counts[wid] = counts.get(wid, 0) + 1
    assert set(counts) == valid  # every valid window drawn, nothing else
    freq = np.array(list(counts.values())) / sum(counts.values())
    np.testing.assert_allclose(freq, 1 / len(valid), atol=0.02)  # 2560 draws over 23 starts


def test_in_memory_is_deterministic_per_seed(tiny_dataset):
    def first_batches(seed, prefetch):
        it = loader.make_loader(
            tiny_dataset, unroll_steps=2, td_steps=1, batch_size=8, in_memory=True, seed=seed, prefetch=prefetch
        )
        out = [next(it)["observation"][:, :, 0, 0] for _ in range(3)]
        if hasattr(it, "close"):
            it.close()
        return np.stack(out)

    a = first_batches(5, prefetch=2)
    np.testing.assert_array_equal(a, first_batches(5, prefetch=0))  # prefetch thread does not change the stream
    assert not np.array_equal(a, first_batches(6, prefetch=2))


def test_auto_mode_picks_in_memory_for_small_data(tiny_dataset):
    builder = rlds.load_builder(tiny_dataset)
    assert 0 < episode_io.estimated_bytes(builder) < loader.IN_MEMORY_MAX_BYTES
    assert episode_io.estimated_bytes(builder, data_percentage=50) <= episode_io.estimated_bytes(builder) // 2 + 1
    it = loader.make_loader(tiny_dataset, unroll_steps=1, td_steps=1, batch_size=2)
    assert isinstance(it, memory.InMemoryLoader)
    it.close()


def test_expected_observation_shape_accepted_when_equal(tiny_dataset):
    it = loader.make_loader(
        tiny_dataset, unroll_steps=0, td_steps=0, batch_size=3, expected_observation_shape=TINY_OBS_SHAPE, prefetch=0
    )
    check_batch_structure(next(it), 3, 1)


# --------------------------------------------------------------------- data percentage


@pytest.mark.parametrize("in_memory", [True, False])
def test_data_percentage_keeps_only_chosen_episodes(many_episodes_dataset, in_memory):
    keep = windows.select_episodes(20, 25, seed=4)
    assert len(keep) == 5
    it = loader.make_loader(
        many_episodes_dataset,
        unroll_steps=1,
        td_steps=0,
        batch_size=32,
        data_percentage=25,
        seed=4,
        in_memory=in_memory,
        shuffle_buffer=100,
    )
    seen = set()
    for _ in range(10):
        seen |= set((next(it)["observation"][:, :, 0, 0] // 1000).astype(int).ravel().tolist())
    assert seen == set(keep.tolist())
    if in_memory:
        it.close()


def test_data_percentage_loaded_steps_match_kept_episodes(many_episodes_dataset):
    builder = rlds.load_builder(many_episodes_dataset)
    keep = windows.select_episodes(20, 40, seed=9)
    steps = episode_io.load_steps(builder, episodes=keep)
    assert len(steps["action"]) == sum(2 + e % 4 for e in keep)
    assert episode_io.count_steps(builder, episodes=keep) == len(steps["action"])
    episode_of_step = (steps["observation"][:, 0, 0] // 1000).astype(int)
    np.testing.assert_array_equal(np.unique(episode_of_step), keep)
    assert np.all(np.diff(episode_of_step) >= 0)  # episode order kept


# --------------------------------------------------------------------- streaming mode


def test_streaming_without_shuffle_walks_the_stream_in_order(tiny_dataset, tiny_episodes):
    length = 4
    stream = concat_steps(tiny_episodes)
    num_windows = len(stream["action"]) - length + 1  # 22
    it = loader.make_loader(
        tiny_dataset, unroll_steps=2, td_steps=1, batch_size=5, in_memory=False, shuffle_buffer=1, prefetch=1
    )
    windows = [w for _ in range(10) for w in windows_of(next(it))]  # 50 windows: 2 epochs and a bit
    for i, w in enumerate(windows):
        s = i % num_windows  # epochs restart at the first window: no window wraps from the end to the start
        for k in FIELDS:
            np.testing.assert_array_equal(w[k], stream[k][s : s + length], err_msg=f"window {i} field {k}")


@pytest.mark.parametrize("percentage", [100, 60])
def test_streaming_and_in_memory_draw_from_the_same_windows(many_episodes_dataset, percentage):
    length = 3
    builder = rlds.load_builder(many_episodes_dataset)
    keep = windows.select_episodes(20, percentage, seed=1)
    valid = valid_windows(episode_io.load_steps(builder, episodes=keep), length)
    kwargs = dict(unroll_steps=1, td_steps=1, batch_size=16, data_percentage=percentage, seed=1)
    mem = loader.make_loader(many_episodes_dataset, in_memory=True, **kwargs)
    stream = loader.make_loader(many_episodes_dataset, in_memory=False, shuffle_buffer=64, **kwargs)
    got_mem, got_stream = set(), set()
    batches = 2 * len(valid) // 16 + 2  # two epochs of the streaming pipeline
    for _ in range(batches):
        bm, bs = next(mem), next(stream)
        check_batch_structure(bs, 16, length)
        assert {k: (v.shape, v.dtype) for k, v in bm.items()} == {k: (v.shape, v.dtype) for k, v in bs.items()}
        got_mem |= {window_id(w, length) for w in windows_of(bm)}
        got_stream |= {window_id(w, length) for w in windows_of(bs)}
    mem.close()
    assert got_stream == valid  # streaming sees every valid window in an epoch, and only those
    assert got_mem <= valid


def test_streaming_is_shuffled_and_deterministic(tiny_dataset):
    def first(seed):
        it = loader.make_loader(
            tiny_dataset, unroll_steps=1, td_steps=1, batch_size=8, in_memory=False, seed=seed, shuffle_buffer=50
        )
        return next(it)["observation"][:, 0, 0, 0]

    a = first(0)
    np.testing.assert_array_equal(a, first(0))
    assert not np.all(np.diff(a) > 0)  # not in stream order


def test_tf_windows_from_uneven_chunks():
    tf = rlds.tf
    sizes = [3, 5, 1, 2, 7, 1, 6]  # 25 steps in chunks of varying size (like whole episodes)
    bounds = np.cumsum([0] + sizes)
    chunks = tf.data.Dataset.from_generator(
        lambda: ({"action": np.arange(a, b, dtype=np.int32)} for a, b in zip(bounds[:-1], bounds[1:])),
        output_signature={"action": tf.TensorSpec([None], tf.int32)},
    )
    for length in (1, 4, 8):
        got = [w["action"] for w in rlds.tfds.as_numpy(windows.windows_from_chunks(chunks, length))]
        np.testing.assert_array_equal(np.stack(got), windows.window_indices(np.arange(25 - length + 1), length))


@pytest.mark.parametrize(
    "observation",
    [
        pytest.param(lambda: rlds.tfds.features.Image(shape=(6, 4, 1)), id="png-image"),  # as in rlu_atari
        pytest.param(
            lambda: rlds.tfds.features.Tensor(
                shape=(6, 4, 1), dtype=np.uint8, encoding=rlds.tfds.features.Encoding.BYTES
            ),
            id="bytes-tensor",
        ),
    ],
)
def test_encoded_uint8_observations_decode_in_both_modes(tmp_path, observation):
    episodes = []
    for e, n in enumerate([5, 4]):
        ep = make_episode(e, n)
        ep["steps"]["observation"] = (np.arange(n * 24).reshape(n, 6, 4, 1) % 200 + 50 * e).astype(np.uint8)
        episodes.append(ep)
    features = rlds.tfds.features.FeaturesDict(
        {
            "steps": rlds.tfds.features.Dataset(rlds.step_features(observation())),
            "episode_id": rlds.tfds.features.Scalar(dtype=np.int64),
            "episode_return": rlds.tfds.features.Scalar(dtype=np.float32),
        }
    )
    path = write_dataset(tmp_path / "img", episodes, features=features)
    stream = concat_steps(episodes)
    assert loader.dataset_spec(path)["observation_dtype"] == np.uint8
    np.testing.assert_array_equal(episode_io.load_steps(rlds.load_builder(path))["observation"], stream["observation"])
    for in_memory in (True, False):
        it = loader.make_loader(path, unroll_steps=1, td_steps=1, batch_size=7, in_memory=in_memory, shuffle_buffer=1)
        batch = next(it)
        assert batch["observation"].shape == (7, 3, 6, 4, 1) and batch["observation"].dtype == np.uint8
        if not in_memory:  # no shuffle: the first 7 windows in order
            for s in range(7):
                np.testing.assert_array_equal(batch["observation"][s], stream["observation"][s : s + 3])
        else:
            it.close()


def test_in_memory_start_batch_resumes_the_same_stream(tiny_dataset):
    kwargs = dict(unroll_steps=1, td_steps=1, batch_size=4, in_memory=True, seed=2)
    with loader.make_loader(tiny_dataset, **kwargs) as fresh:
        full = [next(fresh)["observation"] for _ in range(5)]
    with loader.make_loader(tiny_dataset, start_batch=3, **kwargs) as resumed:
        for i in (3, 4):
            np.testing.assert_array_equal(next(resumed)["observation"], full[i])


def test_dropped_in_memory_loader_stops_its_thread(tiny_dataset):
    import gc

    it = loader.make_loader(tiny_dataset, unroll_steps=1, td_steps=1, batch_size=4, in_memory=True, prefetch=2)
    next(it)
    thread = it._thread
    del it
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_multi_shard_dataset_streams_in_episode_order(tmp_path):
    episodes = [make_episode(e, 2 + e % 3) for e in range(7)]
    path = write_dataset(tmp_path / "sharded", episodes, max_episodes_per_shard=2)  # 4 shards
    builder = rlds.load_builder(path)
    assert len(builder.info.splits["train"].shard_lengths) == 4
    np.testing.assert_array_equal(
        episode_io.load_steps(builder)["observation"][:, 0, 0], concat_steps(episodes)["observation"][:, 0, 0]
    )
    keep = np.array([1, 2, 5])
    np.testing.assert_array_equal(
        episode_io.load_steps(builder, episodes=keep)["observation"][:, 0, 0],
        concat_steps([episodes[i] for i in keep])["observation"][:, 0, 0],
    )
