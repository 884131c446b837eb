"""`rosmo dataset minatar`: a tiny behaviour-DQN run logged as RLDS checkpoint splits, resumed, read back."""

import numpy as np
import pytest

pytest.importorskip("minatar")

from rosmo.behaviour.minatar_dqn import MinAtarDQNConfig  # noqa: E402
from rosmo.cli import main  # noqa: E402
from rosmo.data import minatar_data, minatar_maker, rlds  # noqa: E402
from rosmo.ope import data as ope_data  # noqa: E402

pytestmark = pytest.mark.slow  # end-to-end: runs jobs or subprocesses (make test-fast skips it)

FRAMES, ENVS, CHECKPOINTS = 1200, 4, 3
TINY_DQN = MinAtarDQNConfig(
    batch_size=16,
    replay_capacity=2000,
    min_replay_size=200,
    frames_per_call=16,
    updates_per_call=2,
    epsilon_decay_frames=600,
    target_update_period=20,
)
TINY = dict(
    frames=FRAMES,
    num_envs=ENVS,
    num_checkpoints=CHECKPOINTS,
    reference_episodes=3,
    min_reference_episodes=1,
    max_episode_steps=200,
    dqn_config=TINY_DQN,
    progress=False,
)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The same run made at once and in two calls (interrupted after one segment, then resumed)."""
    root = tmp_path_factory.mktemp("minatar")
    once = minatar_maker.make_minatar_dataset("breakout", str(root / "once"), **TINY)
    first = minatar_maker.make_minatar_dataset("breakout", str(root / "resumed"), max_segments=1, **TINY)
    resumed = minatar_maker.make_minatar_dataset("breakout", str(root / "resumed"), **TINY)
    return once, first, resumed


def _episodes(path):
    builder = minatar_data.load_builder(path)
    out = {}
    for split in builder.info.splits.keys():
        out[split] = list(rlds.iterate_episodes_numpy(builder, split))
    return builder, out


def test_every_frame_is_one_logged_transition_in_its_checkpoint_split(made):
    once, _, _ = made
    builder, by_split = _episodes(once["path"])
    assert sorted(by_split) == [minatar_data.split_name(i) for i in range(CHECKPOINTS)]
    ids, transitions = [], 0
    for split, episodes in by_split.items():
        for ep in episodes:
            steps = ep["steps"]
            T = len(steps["action"]) - 1
            transitions += T
            assert ep["checkpoint_id"] == int(split.split("_")[1])
            ids.append(int(ep["episode_id"]))
            assert steps["observation"].shape == (T + 1, 10, 10, 4) and steps["observation"].dtype == np.uint8
            assert set(np.unique(steps["observation"])) <= {0, 1}
            assert steps["is_first"].tolist() == [True] + [False] * T
            assert steps["is_last"].tolist() == [False] * T + [True]
            assert steps["action"][-1] == 0 and steps["reward"][-1] == 0
            assert (steps["action"] < 6).all()
            terminal = bool(steps["is_terminal"][-1])
            assert not steps["is_terminal"][:-1].any()
            assert steps["discount"].tolist() == [1.0] * T + [0.0 if terminal else 1.0]
            assert ep["episode_return"] == pytest.approx(steps["reward"].sum())
    assert transitions == FRAMES  # the run's every frame, nothing else
    assert sorted(ids) == list(range(len(ids)))  # numbered in order of completion over the whole run
    meta = rlds.metadata(builder)
    assert meta["env"] == "breakout" and meta["num_actions"] == 6 and meta["sticky_action_prob"] == 0.1
    assert meta["num_transitions"] == FRAMES and meta["num_episodes"] == len(ids)
    assert meta["reference_episodes"] == 3 and np.isfinite(meta["random_return"]) and np.isfinite(meta["dqn_return"])
    assert meta["behaviour_agent"]["updates"] > 0
    assert len(meta["checkpoint_mean_returns"]) == CHECKPOINTS


def test_an_interrupted_run_resumes_to_the_same_dataset(made):
    once, first, resumed = made
    assert first["complete"] is False and first["segments"] == 1
    assert resumed["complete"] is True
    _, a = _episodes(once["path"])
    _, b = _episodes(resumed["path"])
    assert sorted(a) == sorted(b)
    for split in a:
        assert [int(e["episode_id"]) for e in a[split]] == [int(e["episode_id"]) for e in b[split]]
        for x, y in zip(a[split], b[split]):
            np.testing.assert_array_equal(x["steps"]["action"], y["steps"]["action"])
            np.testing.assert_array_equal(x["steps"]["observation"], y["steps"]["observation"])


def test_a_partial_run_of_other_settings_is_named_not_touched(made, tmp_path):
    minatar_maker.make_minatar_dataset("breakout", str(tmp_path), max_segments=1, **TINY)
    other = dict(TINY, frames=FRAMES * 2)
    with pytest.raises(ValueError, match=r"partial run with other settings \(frames\)"):
        minatar_maker.make_minatar_dataset("breakout", str(tmp_path), **other)
    assert (tmp_path / ".breakout.partial" / minatar_maker.STATE_FILE).exists()


def test_loader_batches_data_percentage_and_ordered_checkpoints(made):
    path = made[0]["path"]
    loader = minatar_data.make_minatar_loader(path, unroll_steps=3, td_steps=3, batch_size=8, with_ids=True, prefetch=0)
    batch = next(loader)
    assert batch["observation"].shape == (8, 7, 10, 10, 4) and batch["observation"].dtype == np.uint8
    assert batch["action"].shape == (8, 7) and batch["reward"].dtype == np.float32

    def seen(**kwargs):
        it = minatar_data.make_minatar_loader(
            path, unroll_steps=1, td_steps=1, batch_size=4, with_ids=True, repeat=False, prefetch=0, **kwargs
        )
        return [(int(c), int(e)) for b in it for c, e in zip(b["checkpoint_id"], b["episode_id"])]

    everything = set(seen())
    some = set(seen(data_percentage=30, seed=1))
    assert some < everything and 0.1 < len(some) / len(everything) < 0.6
    assert set(seen(data_percentage=30, seed=1)) == some  # a function of the seed and the ids
    ordered = [c for c, _ in seen(ordered=True, episodes_in_flight=1)]
    assert ordered == sorted(ordered) and len(set(ordered)) == CHECKPOINTS


def test_off_policy_evaluation_reads_the_episodes_the_loader_keeps(made):
    path = made[0]["path"]
    loader = minatar_data.make_minatar_loader(
        path,
        unroll_steps=1,
        td_steps=1,
        batch_size=4,
        data_percentage=30,
        seed=1,
        with_ids=True,
        repeat=False,
        prefetch=0,
    )
    kept = {(int(c), int(e)) for b in loader for c, e in zip(b["checkpoint_id"], b["episode_id"])}
    _, by_split = _episodes(path)
    episodes = [
        ep["steps"]
        for split in sorted(by_split)
        for ep in by_split[split]
        if (int(ep["checkpoint_id"]), int(ep["episode_id"])) in kept
    ]
    steps = ope_data.load_kept_steps([path], 30, 1, num_actions=6)
    assert int(steps["is_first"].sum()) == len(episodes) == len(kept) > 0
    for field in ("observation", "action", "reward", "is_last", "is_terminal"):
        np.testing.assert_array_equal(steps[field], np.concatenate([ep[field] for ep in episodes]), err_msg=field)
    logged = ope_data.logged_data(steps)
    assert logged.num_episodes == len(kept) and len(logged.t) == sum(len(ep["action"]) - 1 for ep in episodes)


def test_cli_refuses_bad_flags_in_one_line(capsys, tmp_path):
    for argv, expected in [
        (["--game", "pong"], "--game: unknown MinAtar game 'pong'"),
        (["--game", "breakout", "--frames", "0"], "--frames 0: expected an integer >= 1"),
        (["--game", "breakout", "--sticky-action-prob", "1.5"], "--sticky-action-prob 1.5"),
        (["--game", "breakout", "--reference-episodes", "10"], "--reference-episodes 10: expected an integer >= 100"),
    ]:
        assert main(["dataset", "minatar", "--out", str(tmp_path), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("rosmo dataset minatar: error:") and expected in err and "\n" not in err
    (tmp_path / "breakout").mkdir()
    assert main(["dataset", "minatar", "--out", str(tmp_path), "--game", "breakout"]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err


def test_a_resumed_loader_gives_the_uninterrupted_batches(made):
    path = made[0]["path"]
    args = dict(unroll_steps=2, td_steps=2, batch_size=8, seed=3, with_ids=True, prefetch=0, episodes_in_flight=8)
    uninterrupted = minatar_data.make_minatar_loader(path, **args)
    expected = [next(uninterrupted) for _ in range(5)][3:]
    resumed = minatar_data.make_minatar_loader(path, start_batch=3, **args)
    for want in expected:
        got = next(resumed)
        for key in ("observation", "action", "reward", "is_last", "episode_id", "start"):
            np.testing.assert_array_equal(got[key], want[key])
