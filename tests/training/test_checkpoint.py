"""Tests for rosmo.training.checkpoint: orbax round trips, latest step, resume safety, load_params."""

import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rosmo.training.checkpoint import Checkpointer, checkpoint_clocks, checkpoint_dir, load_params


def _params(seed: float = 0.0):
    """Haiku-style params: module name -> {w, b}."""
    return {
        "representation/~/linear_0": {
            "w": jnp.arange(12, dtype=jnp.float32).reshape(3, 4) + seed,
            "b": jnp.full((4,), 0.5 + seed, jnp.float32),
        },
        "prediction/~/linear": {"w": jnp.ones((4, 2), jnp.float32) * (2.0 + seed), "b": jnp.zeros((2,), jnp.float32)},
    }


def _state(seed: float = 0.0):
    params = _params(seed)
    opt = optax.chain(optax.clip_by_global_norm(5.0), optax.adamw(7e-4, weight_decay=1e-4))
    opt_state = opt.init(params)
    # one real update so that mu/nu/count are non-trivial
    grads = jax.tree.map(lambda p: p * 0.1 + 1.0, params)
    updates, opt_state = opt.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return {
        "params": params,
        "target_params": _params(seed),
        "opt_state": opt_state,
        "step": jnp.asarray(7, jnp.int32),
        "rng": jax.random.PRNGKey(42),
    }


def _replicated(tree):
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))
    return jax.device_put(tree, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))


def _assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_round_trip_replicated_state_with_optax_and_prng(tmp_path):
    state = _replicated(_state())
    extra = {"loader": {"seed": 3, "position": 1234}, "config": {"lr": 7e-4, "unroll_steps": 5, "sizes": (64, 32)}}
    ckpt = Checkpointer(str(tmp_path / "checkpoints"))
    assert ckpt.latest_step() is None
    assert ckpt.save(7, state, extra=extra)
    ckpt.wait()
    assert ckpt.latest_step() == 7
    ckpt.close()

    # a fresh process-like Checkpointer restores into a differently-valued target
    target = _replicated(_state(seed=100.0))
    ckpt = Checkpointer(str(tmp_path / "checkpoints"))
    restored, restored_extra = ckpt.restore(target)
    ckpt.close()
    _assert_trees_equal(restored, state)
    # NamedTuples of optax are kept, leaves come back on the target's sharding
    assert type(restored["opt_state"][1][0]) is type(state["opt_state"][1][0])
    assert restored["rng"].dtype == jnp.uint32
    for leaf, tgt in zip(jax.tree.leaves(restored), jax.tree.leaves(target)):
        assert isinstance(leaf, jax.Array)
        assert leaf.sharding == tgt.sharding
    # tuples become lists through JSON
    assert restored_extra == {
        "loader": {"seed": 3, "position": 1234},
        "config": {"lr": 7e-4, "unroll_steps": 5, "sizes": [64, 32]},
    }


def test_round_trip_plain_numpy_and_abstract_target(tmp_path):
    state = {"params": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, "count": np.asarray(3, np.int32)}
    with Checkpointer(str(tmp_path)) as ckpt:
        ckpt.save(1, state, extra={"seed": np.int64(5)})
        ckpt.wait()
        restored, extra = ckpt.restore(jax.tree.map(np.zeros_like, state))
        assert isinstance(restored["params"]["w"], np.ndarray)
        _assert_trees_equal(restored, state)
        assert extra == {"seed": 5}
        # abstract target: ShapeDtypeStruct with a sharding -> jax arrays
        dev = jax.sharding.SingleDeviceSharding(jax.devices()[0])
        abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=dev), state)
        restored, _ = ckpt.restore(abstract, step=1)
        assert isinstance(restored["params"]["w"], jax.Array)
        _assert_trees_equal(restored, state)


def test_typed_prng_key_round_trip(tmp_path):
    key = jax.random.key(9)
    with Checkpointer(str(tmp_path)) as ckpt:
        ckpt.save(0, {"rng": key, "x": jnp.ones(2)})
        ckpt.wait()
        restored, _ = ckpt.restore({"rng": jax.random.key(0), "x": jnp.zeros(2)})
    assert jax.dtypes.issubdtype(restored["rng"].dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(jax.random.key_data(restored["rng"]), jax.random.key_data(key))
    np.testing.assert_array_equal(jax.random.uniform(restored["rng"]), jax.random.uniform(key))


def test_latest_step_max_to_keep_and_interval(tmp_path):
    directory = str(tmp_path / "ck")
    ckpt = Checkpointer(directory, max_to_keep=2, save_interval_steps=10)
    state = {"x": jnp.zeros(3)}
    saved = {s: ckpt.save(s, {"x": jnp.full(3, float(s))}) for s in [0, 5, 10, 15, 20, 30]}
    assert saved == {0: True, 5: False, 10: True, 15: False, 20: True, 30: True}
    assert ckpt.save(33, state, force=True)  # force ignores the interval
    assert not ckpt.save(33, state, force=True)  # an existing step is never overwritten
    ckpt.wait()
    assert ckpt.all_steps() == [30, 33]
    assert ckpt.latest_step() == 33
    assert sorted(os.listdir(directory)) == ["30", "33"]
    restored, extra = ckpt.restore(state, step=30)
    np.testing.assert_array_equal(restored["x"], np.full(3, 30.0))
    assert extra == {}
    with pytest.raises(FileNotFoundError, match="step 10"):
        ckpt.restore(state, step=10)
    ckpt.close()
    # reopening the directory sees the same steps (automatic resume)
    ckpt = Checkpointer(directory, max_to_keep=2, save_interval_steps=10)
    assert ckpt.latest_step() == 33
    assert not ckpt.save(30, state)  # not newer than the latest
    assert ckpt.save(40, state)
    ckpt.close()
    assert Checkpointer(directory, read_only=True).all_steps() == [33, 40]


def test_restore_from_empty_directory_names_it(tmp_path):
    directory = str(tmp_path / "empty_ck")
    ckpt = Checkpointer(directory)
    assert ckpt.latest_step() is None
    with pytest.raises(FileNotFoundError, match="empty_ck"):
        ckpt.restore({"x": np.zeros(2)})
    ckpt.close()
    with pytest.raises(FileNotFoundError, match="empty_ck"):
        load_params(directory)


def test_mismatched_target_gives_clear_error(tmp_path):
    with Checkpointer(str(tmp_path)) as ckpt:
        ckpt.save(1, {"a": np.zeros(2, np.float32)})
        ckpt.wait()
        with pytest.raises(ValueError, match=r"cannot restore .*1.*state"):
            ckpt.restore({"a": np.zeros(2, np.float32), "b": np.zeros(1, np.float32)})


def test_interrupted_saves_are_ignored_and_cleaned(tmp_path):
    directory = str(tmp_path / "checkpoints")
    with Checkpointer(directory) as ckpt:
        ckpt.save(3, {"x": np.full(2, 3.0, np.float32)})
    # an interrupted orbax save (tmp dir) and a half-copied step dir without a commit file
    tmp_dir = os.path.join(directory, "4.orbax-checkpoint-tmp-1700000000")
    os.makedirs(os.path.join(tmp_dir, "state"))
    with open(os.path.join(tmp_dir, "state", "partial"), "w") as f:
        f.write("garbage")
    half = os.path.join(directory, "5")
    shutil.copytree(os.path.join(directory, "3"), half)
    os.remove(os.path.join(half, "commit_success.txt"))

    reader = Checkpointer(directory, read_only=True)  # read-only: ignores but never deletes
    assert reader.latest_step() == 3
    restored, _ = reader.restore(None)
    np.testing.assert_array_equal(restored["x"], np.full(2, 3.0, np.float32))
    reader.close()
    assert os.path.isdir(tmp_dir) and os.path.isdir(half)

    writer = Checkpointer(directory)  # writable: removes the leftovers, resumes from 3
    assert sorted(os.listdir(directory)) == ["3"]
    assert writer.latest_step() == 3
    assert writer.save(4, {"x": np.full(2, 4.0, np.float32)})
    assert writer.save(5, {"x": np.full(2, 5.0, np.float32)})
    writer.close()
    assert Checkpointer(directory, read_only=True).all_steps() == [3, 4, 5]


def test_load_params_from_run_dir_and_checkpoint_dir(tmp_path):
    run = tmp_path / "run"
    state = _replicated(_state())
    config = {"agent": "rosmo", "env": "catch", "discount": 0.997**4}
    with Checkpointer(str(run / "checkpoints")) as ckpt:
        ckpt.save(10, _replicated(_state(seed=1.0)), extra={"config": config, "step": 10})
        ckpt.save(20, state, extra={"config": config, "step": 20})
    assert checkpoint_dir(str(run)) == str(run / "checkpoints")
    for where in (str(run), str(run / "checkpoints")):
        params, extra = load_params(where)
        assert extra == {"config": config, "step": 20}
        assert set(params) == {"representation/~/linear_0", "prediction/~/linear"}
        for leaf in jax.tree.leaves(params):
            assert isinstance(leaf, np.ndarray)
        _assert_trees_equal(params, jax.device_get(state["params"]))
    params, extra = load_params(str(run), step=10)
    assert extra["step"] == 10
    _assert_trees_equal(params, jax.device_get(_state(seed=1.0)["params"]))
    # the extra dict is stored as plain JSON on disk
    with open(run / "checkpoints" / "20" / "extra" / "metadata") as f:
        assert json.load(f)["config"]["env"] == "catch"


def test_load_params_without_params_entry(tmp_path):
    with Checkpointer(str(tmp_path)) as ckpt:
        ckpt.save(1, {"weights": np.zeros(2)})
    with pytest.raises(KeyError, match="'params'.*weights"):
        load_params(str(tmp_path))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="max_to_keep"):
        Checkpointer(str(tmp_path), max_to_keep=0)
    with pytest.raises(FileNotFoundError, match="nope"):
        Checkpointer(str(tmp_path / "nope"), read_only=True)
    with Checkpointer(str(tmp_path)) as ckpt:
        with pytest.raises(TypeError, match="JSON"):
            ckpt.save(1, {"x": np.zeros(1)}, extra={"bad": object()})


def test_checkpoint_clocks_reads_both_layouts():
    """A checkpoint's clocks: saved as wall/train/eval seconds, or (older layout) the wall-clock under
    `train_seconds`, from which the evaluations' seconds are taken off; nothing recorded gives None."""
    assert checkpoint_clocks({"wall_seconds": 12.5, "train_seconds": 10.0, "eval_seconds": 2.5}) == {
        "wall_seconds": 12.5,
        "train_seconds": 10.0,
    }
    assert checkpoint_clocks({"train_seconds": 12.5, "eval_seconds": 2.5}) == {
        "wall_seconds": 12.5,
        "train_seconds": 10.0,
    }
    assert checkpoint_clocks({"train_seconds": 7.0, "eval_seconds": None}) == {
        "wall_seconds": 7.0,
        "train_seconds": 7.0,
    }
    assert checkpoint_clocks({"step": 3}) is None
