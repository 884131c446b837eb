"""EpisodePool's gather: windows equal a zero-padded numpy reference, threads change nothing, and a
recycled output array is never one a caller still holds."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rosmo.data.episode_pool import EpisodePool, Prefetcher

L, HISTORY = 4, 3


def make_episodes(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    episodes = []
    for e in range(count):
        T = int(rng.integers(1, 12))  # shorter and longer than a window, including single steps
        episodes.append(
            dict(
                frames=rng.integers(1, 256, (T, 3, 2), dtype=np.uint8),
                action=rng.integers(0, 5, T).astype(np.int32),
                reward=rng.random(T).astype(np.float32),
                discount=np.ones(T, np.float32),
                is_first=np.arange(T) == 0,
                is_last=np.arange(T) == T - 1,
                is_terminal=np.zeros(T, bool),
                episode_id=e,
                checkpoint_id=7,
            )
        )
    return episodes


def reference_window(episode, start):
    """Frames start - HISTORY .. start + L - 1 and steps start .. start + L - 1, zeros outside the episode."""
    T = len(episode["action"])
    frames = np.zeros((L + HISTORY,) + episode["frames"].shape[1:], np.uint8)
    for j in range(L + HISTORY):
        t = start - HISTORY + j
        if 0 <= t < T:
            frames[j] = episode["frames"][t]
    action = np.zeros(L, np.int32)
    valid = min(L, T - start)
    action[:valid] = episode["action"][start : start + valid]
    is_last = np.zeros(L, bool)
    is_last[:valid] = episode["is_last"][start : start + valid]
    return frames, action, is_last


def test_windows_equal_the_zero_padded_reference_at_both_episode_edges():
    episodes = make_episodes(40)
    for threads in (1, 2, 3):
        pool = EpisodePool(
            iter(episodes),
            length=L,
            history=HISTORY,
            batch_size=16,
            pool_size=6,
            seed=1,
            with_ids=True,
            gather_threads=threads,
        )
        edge_windows = 0
        for _ in range(sum(len(e["action"]) for e in episodes) // 16):
            b = pool.sample()
            assert b["frames"].shape == (16, L + HISTORY, 3, 2)
            np.testing.assert_array_equal(b["checkpoint_id"], 7)
            for i in range(16):
                episode = episodes[int(b["episode_id"][i])]
                start = int(b["start"][i])
                frames, action, is_last = reference_window(episode, start)
                np.testing.assert_array_equal(b["frames"][i], frames)
                np.testing.assert_array_equal(b["action"][i], action)
                np.testing.assert_array_equal(b["is_last"][i], is_last)
                edge_windows += start < HISTORY or start + L > len(episode["action"])
        assert edge_windows > 50  # the zeroed rows were exercised


def test_gather_threads_give_the_same_batches():
    episodes = make_episodes(60, seed=3)
    pools = [
        EpisodePool(
            iter(episodes),
            length=L,
            history=HISTORY,
            batch_size=32,
            pool_size=9,
            seed=5,
            with_ids=True,
            gather_threads=t,
        )
        for t in (1, 2)
    ]
    for _ in range(8):
        one, two = (p.sample() for p in pools)
        for k in one:
            np.testing.assert_array_equal(one[k], two[k], err_msg=k)


def test_a_held_batch_is_never_overwritten_and_a_released_one_is_reused():
    episodes = make_episodes(400, seed=2)
    pool = EpisodePool(iter(episodes), length=L, history=HISTORY, batch_size=16, pool_size=6, seed=0)
    held = pool.sample()
    held_frames = held["frames"].copy()
    view = held["frames"][3:5]  # a view keeps its base in use too
    del held
    later = [pool.sample() for _ in range(20)]  # more batches than recycled arrays are kept
    np.testing.assert_array_equal(view, held_frames[3:5])
    assert all(not np.shares_memory(view, b["frames"]) for b in later)
    address = later[-1]["frames"].ctypes.data
    del later, view
    again = [pool.sample()["frames"].ctypes.data for _ in range(3)]  # each batch dropped at once
    assert address in again or len(set(again)) == 1  # a released array is gathered into again


def test_recycled_arrays_do_not_corrupt_batches_handed_to_jax():
    """The learner's path: a prefetch thread samples while jitted steps (async dispatch) read the batches."""
    episodes = make_episodes(300, seed=4)
    pool = EpisodePool(iter(episodes * 4), length=L, history=HISTORY, batch_size=16, pool_size=6, seed=0)
    step = jax.jit(lambda frames: frames.astype(jnp.int32) + 1)
    copies, outputs, addresses = [], [], set()
    with Prefetcher(pool.sample, prefetch=2) as batches:
        for _ in range(60):
            batch = next(batches)
            copies.append(batch["frames"].astype(np.int32) + 1)
            addresses.add(batch["frames"].ctypes.data)
            outputs.append(step(batch["frames"]))  # not waited for
            del batch
    for want, got in zip(copies, outputs):
        np.testing.assert_array_equal(np.asarray(got), want)
    assert len(addresses) < 20  # arrays were recycled meanwhile
