"""The RL Unplugged Atari loader on the real TFDS builders' output.

A fixture writes tiny GZIP TFRecord files in the released format
(`rosmo.data.rlu_released`: the `tf.Example` keys `atari_utils` parses, the
bucket's file names) and runs the real `rlu_atari` (its per-file generator, no
Beam) and `rlu_atari_checkpoints_ordered` builders' `download_and_prepare` on
them. Every test compares what the loader gives with numpy references built from
the raw arrays written.
"""

from __future__ import annotations

import collections

import jax
import numpy as np
import pytest

from rosmo.suites.configs import atari as atari_configs
from rosmo.data import rlds, rlu_atari, rlu_episodes, rlu_released
from rosmo.data.episode_pool import EpisodePool, draw_counts, stack_windows
from rosmo.suites import atari as atari_suite

NUM_FILES = 6
EPISODES_PER_FILE = 4
K, N, S = 2, 1, 4
L = K + N + 1
NUM_ACTIONS = 6

Key = tuple[int, int]  # (checkpoint_idx, episode_idx)


def _raw_episodes() -> dict[Key, dict[str, np.ndarray]]:
    """File f holds checkpoint f's episodes 0..3; lengths 3..9; even episodes end in a game over."""
    rng = np.random.default_rng(0)
    out = {}
    for f in range(NUM_FILES):
        for e in range(EPISODES_PER_FILE):
            T = 3 + (f * EPISODES_PER_FILE + e) % 7
            discounts = np.ones(T, np.float32)
            if e % 2 == 0:
                discounts[-1] = 0.0  # game over: the released files put the 0 on the terminal step
            out[(f, e)] = dict(
                frames=rng.integers(1, 256, (T, 84, 84), dtype=np.uint8),  # never 0: padding is told apart
                actions=rng.integers(0, NUM_ACTIONS, T),
                rewards=rng.choice([-3.0, -1.0, 0.0, 0.5, 2.0, 7.0], T).astype(np.float32),  # unclipped
                discounts=discounts,
                checkpoint_idx=f,
                episode_idx=e,
            )
    return out


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """(data_dir, raw episodes): both builders prepared from the same released files."""
    rlds.tfds.disable_progress_bar()
    root = tmp_path_factory.mktemp("rlu")
    raw = _raw_episodes()
    files = [[rlu_released.released_example(raw[(f, e)]) for e in range(EPISODES_PER_FILE)] for f in range(NUM_FILES)]
    rlu_released.write_released_files(str(root / "files"), "Pong", 1, files)
    for dataset in rlu_released.BUILDERS:
        rlu_released.prepare(dataset, "Pong", 1, str(root / "files"), str(root / "data"), NUM_FILES, num_shards=2)
    return str(root / "data"), raw


def rlds_steps(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What RLDS steps hold for a raw episode, by hand: `atari_utils` shifts a game over's discounts
    one step earlier; the loader clips rewards to [-1, 1]."""
    T = len(raw["actions"])
    terminal = raw["discounts"][-1] == 0.0
    discount = np.concatenate([raw["discounts"][1:], [0.0]]) if terminal else raw["discounts"]
    t = np.arange(T)
    return dict(
        frames=raw["frames"],
        action=raw["actions"].astype(np.int32),
        reward=np.clip(raw["rewards"], -1, 1).astype(np.float32),
        discount=discount.astype(np.float32),
        is_first=t == 0,
        is_last=t == T - 1,
        is_terminal=(t == T - 1) & terminal,
    )


def reference_window(raw: dict[str, np.ndarray], start: int) -> dict[str, np.ndarray]:
    """Window `start` of an episode in numpy: steps start..start+L-1 (zeros after the end),
    observation[t, :, :, j] = frame start+t-S+1+j (zeros before the start)."""
    steps = rlds_steps(raw)
    T = len(steps["action"])
    out = {}
    for k, v in steps.items():
        if k == "frames":
            continue
        out[k] = np.array([v[start + t] if start + t < T else np.zeros((), v.dtype) for t in range(L)])
    obs = np.zeros((L, 84, 84, S), np.uint8)
    for t in range(L):
        for j in range(S):
            i = start + t - (S - 1) + j
            if 0 <= i < T:
                obs[t, :, :, j] = steps["frames"][i]
    out["observation"] = obs
    return out


def one_epoch(data_dir, dataset="rlu_atari", batch_size=2, **kwargs) -> list[dict[str, np.ndarray]]:
    it = rlu_atari.make_rlu_atari_loader(
        "Pong",
        1,
        data_dir=data_dir,
        dataset=dataset,
        unroll_steps=K,
        td_steps=N,
        batch_size=batch_size,
        with_ids=True,
        repeat=False,
        num_actions=NUM_ACTIONS,
        **kwargs,
    )
    return list(it)


def window_keys(batches) -> list[tuple[int, int, int]]:
    return [
        (int(c), int(e), int(s)) for b in batches for c, e, s in zip(b["checkpoint_id"], b["episode_id"], b["start"])
    ]


def test_builders_write_the_released_episodes(released):
    data_dir, raw = released
    for dataset in rlu_released.BUILDERS:
        builder = rlu_atari.load_rlu_builder("Pong", 1, data_dir, dataset)
        seen = set()
        for ep in rlds.tfds.as_numpy(rlu_episodes.episode_stream(builder, ordered=True, repeat=False)):
            key = (int(ep["checkpoint_id"]), int(ep["episode_id"]))
            seen.add(key)
            for k, v in rlds_steps(raw[key]).items():
                np.testing.assert_array_equal(ep[k], v, err_msg=f"{dataset} {key} {k}")
        assert seen == set(raw)
    ordered = rlu_atari.load_rlu_builder("Pong", 1, data_dir, "rlu_atari_checkpoints_ordered")
    assert sorted(ordered.info.splits.keys()) == [f"checkpoint_{i:02d}" for i in range(NUM_FILES)]


@pytest.mark.parametrize("dataset", list(rlu_released.BUILDERS))
def test_one_epoch_of_windows_equals_the_numpy_reference(released, dataset):
    data_dir, raw = released
    batches = one_epoch(data_dir, dataset, batch_size=1, episodes_in_flight=5, seed=3)
    keys = window_keys(batches)
    expected = [(c, e, s) for (c, e), ep in raw.items() for s in range(len(ep["actions"]))]
    assert sorted(keys) == sorted(expected)  # every window once per epoch
    for b in batches:
        c, e, s = int(b["checkpoint_id"][0]), int(b["episode_id"][0]), int(b["start"][0])
        ref = reference_window(raw[(c, e)], s)
        for k, v in ref.items():
            np.testing.assert_array_equal(b[k][0], v, err_msg=f"{(c, e, s)} {k}")
        if s == 0:  # no frame from a previous episode at an episode start
            assert not b["observation"][0, 0, :, :, : S - 1].any() and b["observation"][0, 0, :, :, S - 1].all()
    assert all(b["reward"].min() >= -1 and b["reward"].max() <= 1 for b in batches)


def test_terminal_and_truncated_ends(released):
    data_dir, raw = released
    by_key = {}
    for b in one_epoch(data_dir, batch_size=1, episodes_in_flight=3):
        by_key[(int(b["checkpoint_id"][0]), int(b["episode_id"][0]), int(b["start"][0]))] = b
    T0, T1 = len(raw[(0, 0)]["actions"]), len(raw[(0, 1)]["actions"])
    terminal = by_key[(0, 0, T0 - 2)]  # game over: discount 0 on the last action and the terminal step
    np.testing.assert_array_equal(terminal["discount"][0, :2], [0, 0])
    np.testing.assert_array_equal(terminal["is_last"][0, :2], [False, True])
    np.testing.assert_array_equal(terminal["is_terminal"][0, :2], [False, True])
    truncated = by_key[(0, 1, T1 - 2)]  # truncated: discounts stay 1, is_last without is_terminal
    np.testing.assert_array_equal(truncated["discount"][0, :2], [1, 1])
    np.testing.assert_array_equal(truncated["is_last"][0, :2], [False, True])
    assert not truncated["is_terminal"][0].any()


def test_actions_beyond_the_action_count_are_a_one_line_error(released):
    data_dir, _ = released
    with pytest.raises(
        rlds.DatasetError,
        match="'action' holds [2-5] in episode checkpoint_id/episode_id=[0-5]/[0-3] .*expected actions in \\[0, 2\\)",
    ):
        next(
            rlu_atari.make_rlu_atari_loader(
                "Pong", 1, data_dir=data_dir, unroll_steps=K, td_steps=N, batch_size=2, num_actions=2
            )
        )


def test_two_processes_read_disjoint_shares_covering_every_window_once(released):
    data_dir, raw = released
    for dataset in rlu_released.BUILDERS:
        shares = [
            window_keys(one_epoch(data_dir, dataset, batch_size=1, process_index=p, process_count=2)) for p in range(2)
        ]
        episodes = [{(c, e) for c, e, _ in share} for share in shares]
        assert episodes[0] and episodes[1] and not episodes[0] & episodes[1]
        expected = [(c, e, s) for (c, e), ep in raw.items() for s in range(len(ep["actions"]))]
        assert sorted(shares[0] + shares[1]) == sorted(expected)


def test_data_percentage_keeps_episodes_by_id(released):
    data_dir, raw = released
    kept = {(c, e) for c, e, _ in window_keys(one_epoch(data_dir, data_percentage=50, seed=1))}
    assert 0.25 * len(raw) <= len(kept) <= 0.75 * len(raw)
    for dataset in rlu_released.BUILDERS:  # the same episodes in any file order, on any number of hosts
        for kwargs in (dict(cycle_length=1), dict(ordered=True), dict(process_index=1, process_count=2)):
            again = {
                (c, e) for c, e, _ in window_keys(one_epoch(data_dir, dataset, data_percentage=50, seed=1, **kwargs))
            }
            if "process_count" in kwargs:
                assert again <= kept
            else:
                assert again == kept, (dataset, kwargs)


def test_batches_mix_episodes_files_and_checkpoints(released):
    data_dir, raw = released

    # 24 episodes of 3-9 steps; B = 16 windows drawn from 12 episodes in flight
    def distinct(episodes_in_flight):
        batches = one_epoch(data_dir, batch_size=16, episodes_in_flight=episodes_in_flight, seed=0)
        return np.mean([len(set(zip(b["checkpoint_id"], b["episode_id"]))) for b in batches])

    many, few = distinct(12), distinct(1)  # 1: only the episodes needed to hold a batch, as in stream order
    assert many >= 8 and many >= 2 * few, (many, few)
    # the ordered variant samples across checkpoints by default; `ordered` walks them in order
    mixed = one_epoch(data_dir, "rlu_atari_checkpoints_ordered", batch_size=8, episodes_in_flight=4)
    assert len(set(mixed[0]["checkpoint_id"])) >= 2
    curriculum = one_epoch(
        data_dir, "rlu_atari_checkpoints_ordered", batch_size=8, episodes_in_flight=4, ordered=True, cycle_length=1
    )
    first = [int(c) for b in curriculum for c in b["checkpoint_id"]]
    assert set(curriculum[0]["checkpoint_id"]) == {0}
    assert first.index(NUM_FILES - 1) > first.index(1) > first.index(0) == 0


def _episode_order(data_dir, seed, epochs=2, **kwargs):
    builder = rlu_atari.load_rlu_builder("Pong", 1, data_dir, "rlu_atari")
    stream = rlds.tfds.as_numpy(rlu_episodes.episode_stream(builder, seed=seed, **kwargs))
    n = NUM_FILES * EPISODES_PER_FILE
    keys = [(int(ep["checkpoint_id"]), int(ep["episode_id"])) for _, ep in zip(range(epochs * n), stream)]
    return [keys[i * n : (i + 1) * n] for i in range(epochs)]


def test_file_order_changes_every_epoch_and_is_seeded(released):
    data_dir, raw = released
    first, second = _episode_order(data_dir, seed=0, cycle_length=2)
    assert sorted(first) == sorted(second) == sorted(raw)  # each epoch: every episode once
    assert first != second  # files reshuffled per epoch
    assert _episode_order(data_dir, seed=0, cycle_length=2) == [first, second]
    assert _episode_order(data_dir, seed=1, cycle_length=2) != [first, second]


def test_same_seed_same_batches(released):
    data_dir, _ = released

    def batches(seed):
        it = rlu_atari.make_rlu_atari_loader(
            "Pong",
            1,
            data_dir=data_dir,
            unroll_steps=K,
            td_steps=N,
            batch_size=8,
            episodes_in_flight=6,
            seed=seed,
            with_ids=True,
        )
        out = [next(it) for _ in range(4)]
        it.close()
        return window_keys(out)

    assert batches(0) == batches(0)
    assert batches(0) != batches(1)


# 138 windows an epoch (69 for each of 2 processes): with B = 8, batch 20 is in the 2nd epoch (3rd for a process)
@pytest.mark.parametrize(
    "dataset,kwargs",
    [
        ("rlu_atari", dict(seed=5)),
        ("rlu_atari_checkpoints_ordered", dict(seed=1)),
        ("rlu_atari_checkpoints_ordered", dict(ordered=True, cycle_length=1)),
        ("rlu_atari", dict(data_percentage=50, seed=2, stack_on_host=False)),
        ("rlu_atari", dict(process_index=1, process_count=2, seed=3)),
    ],
)
def test_a_resumed_loader_gives_the_uninterrupted_batches(released, dataset, kwargs):
    data_dir, _ = released
    common = dict(
        data_dir=data_dir,
        dataset=dataset,
        unroll_steps=K,
        td_steps=N,
        batch_size=8,
        episodes_in_flight=5,
        with_ids=True,
        num_actions=NUM_ACTIONS,
        prefetch=0,
        **kwargs,
    )
    m = 4
    uninterrupted = rlu_atari.make_rlu_atari_loader("Pong", 1, **common)
    expected = [next(uninterrupted) for _ in range(20 + m)]
    keys = window_keys(expected[:21])
    assert len(set(keys)) < len(keys)  # a window given out twice: batch 20 lies past an epoch boundary
    for start in (3, 20):
        resumed = rlu_atari.make_rlu_atari_loader("Pong", 1, start_batch=start, **common)
        for i in range(m):
            got, want = next(resumed), expected[start + i]
            assert set(got) == set(want)
            for k in want:
                np.testing.assert_array_equal(got[k], want[k], err_msg=f"batch {start + i} {k}")


def test_a_resumed_one_epoch_loader_stops_where_the_uninterrupted_one_does(released):
    data_dir, _ = released
    full = one_epoch(data_dir, batch_size=8, seed=4)
    for start in (len(full) - 1, len(full) + 2):
        rest = one_epoch(data_dir, batch_size=8, seed=4, start_batch=start)
        assert window_keys(rest) == window_keys(full[start:])


def test_episode_pool_draws_every_window_once_from_many_episodes():
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 150, 400)
    episodes = [
        dict(
            frames=np.full((T, 2, 2), e % 250 + 1, np.uint8),
            action=np.arange(T, dtype=np.int32),
            reward=np.zeros(T, np.float32),
            discount=np.ones(T, np.float32),
            is_first=np.arange(T) == 0,
            is_last=np.arange(T) == T - 1,
            is_terminal=np.zeros(T, bool),
            episode_id=e,
            checkpoint_id=0,
        )
        for e, T in enumerate(lengths)
    ]
    pool = EpisodePool(iter(episodes), length=3, history=1, batch_size=512, pool_size=256, seed=0, with_ids=True)
    seen = collections.Counter()
    distinct = []
    for _ in range(int(lengths.sum()) // 512):
        b = pool.sample()
        seen.update(zip(b["episode_id"].tolist(), b["start"].tolist()))
        distinct.append(len(set(b["episode_id"].tolist())))
        np.testing.assert_array_equal(b["action"][:, 0], b["start"])  # windows hold their own steps
        assert (b["frames"][:, 1] == (b["episode_id"] % 250 + 1)[:, None, None]).all()
    assert max(seen.values()) == 1  # without replacement
    assert np.mean(distinct[:20]) >= 200  # ~ P (1 - exp(-B / P)) = 221 for P = 256, B = 512


def test_episode_pool_skip_on_lengths_then_resume_equals_sampling():
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 40, 60)

    def episode(e, T):
        return dict(
            frames=rng.integers(1, 256, (T, 2, 2), dtype=np.uint8),
            action=np.arange(T, dtype=np.int32),
            reward=rng.random(T).astype(np.float32),
            discount=np.ones(T, np.float32),
            is_first=np.arange(T) == 0,
            is_last=np.arange(T) == T - 1,
            is_terminal=np.zeros(T, bool),
            episode_id=e,
            checkpoint_id=0,
            position=e,
        )

    episodes = [episode(e, T) for e, T in enumerate(lengths)]
    args = dict(length=3, history=1, batch_size=16, pool_size=7, seed=[4, 0, 0], with_ids=True)
    whole = EpisodePool(iter(episodes), **args)
    expected = [whole.sample() for _ in range(40)]
    index_only = [
        dict(num_steps=len(ep["action"]), episode_id=ep["episode_id"], checkpoint_id=0, position=e)
        for e, ep in enumerate(episodes)
    ]
    pool = EpisodePool(iter(index_only), **args)
    pool.skip(25)
    held = [e.position for e in pool.pool]
    assert held and all(e.frames is None for e in pool.pool)
    pool.resume(iter([ep for e, ep in enumerate(episodes) if e in held or e >= pool.next_position]))
    for want in expected[25:]:
        got = pool.sample()
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_stack_windows():
    frames = np.random.default_rng(0).integers(0, 256, (2, 6, 3, 5), dtype=np.uint8)
    for stack in (4, 2):  # 4: the packed uint32 path; 2: the generic one
        out = stack_windows(frames, stack)
        length = 6 - stack + 1
        assert out.shape == (2, length, 3, 5, stack) and out.dtype == np.uint8
        for t in range(length):
            for j in range(stack):
                np.testing.assert_array_equal(out[:, t, :, :, j], frames[:, t + j])


def test_draw_counts_fill_the_batch_within_what_each_episode_holds():
    rng = np.random.default_rng(0)
    remaining = np.array([1000, 1, 0, 3, 2])
    for _ in range(20):
        counts = draw_counts(remaining, 8, rng)
        assert counts.sum() == 8 and (counts <= remaining).all()
    counts = draw_counts(np.array([10_000] + [5] * 99), 512, rng)  # a fresh long episode does not take the batch
    assert counts[0] < 50 and (counts[1:] > 0).sum() >= 90


def test_frames_stacked_on_the_device_equal_the_host_stacks(released):
    data_dir, _ = released
    kwargs = dict(data_dir=data_dir, unroll_steps=K, td_steps=N, batch_size=8, episodes_in_flight=6, seed=2)
    host = rlu_atari.make_rlu_atari_loader("Pong", 1, **kwargs)
    device = rlu_atari.make_rlu_atari_loader("Pong", 1, stack_on_host=False, **kwargs)
    transform = jax.jit(atari_suite.SUITE.batch_transform(atari_configs.get_config("Pong,small")))
    for _ in range(3):
        a, b = next(host), next(device)
        assert b["frames"].shape == (8, L + S - 1, 84, 84) and "observation" not in b
        got = transform(b)
        assert set(got) == set(a)
        for k, v in a.items():
            np.testing.assert_array_equal(np.asarray(got[k]), v, err_msg=k)
