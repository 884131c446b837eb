"""Learner: optimiser pieces, target copies, loss falling, and 1-vs-2-device equality."""

import os
import signal
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rosmo.training.learner import learning_rate_schedule, select_tree, weight_decay_mask
from rosmo.signals import StopSignals, Stopped
from tests.helpers import make_learner, nudged_two_steps, small_config, synthetic_batch


def test_learning_rate_warmup_then_step_decay():
    c = small_config(learning_rate=1.0, warmup_steps=10, lr_decay_steps=100, lr_decay_factor=0.1)
    schedule = learning_rate_schedule(c)
    assert float(schedule(0)) == pytest.approx(0.0)
    assert float(schedule(5)) == pytest.approx(0.5)
    assert float(schedule(10)) == pytest.approx(1.0)
    assert float(schedule(109)) == pytest.approx(1.0)
    assert float(schedule(110)) == pytest.approx(0.1)
    assert float(schedule(210)) == pytest.approx(0.01)


def test_cosine_schedule_decays_to_the_floor_at_num_steps():
    c = small_config(learning_rate=1.0, warmup_steps=10, lr_decay_factor=0.1, num_steps=110, lr_schedule="cosine")
    schedule = learning_rate_schedule(c)
    assert float(schedule(5)) == pytest.approx(0.5)
    assert float(schedule(10)) == pytest.approx(1.0)
    assert float(schedule(60)) == pytest.approx(0.1 + 0.9 * 0.5, rel=1e-5)  # half-way: (1 + cos(pi/2)) / 2
    assert float(schedule(110)) == pytest.approx(0.1, rel=1e-5)
    with pytest.raises(ValueError, match="lr_schedule='linear'"):
        learning_rate_schedule(small_config(lr_schedule="linear"))


def test_weight_decay_only_on_weights():
    params = {
        "mlp/~/linear_0": {"w": jnp.ones((2, 2)), "b": jnp.ones(2)},
        "norm": {"scale": jnp.ones(2), "offset": jnp.ones(2)},
    }
    mask = weight_decay_mask(params)
    assert mask == {"mlp/~/linear_0": {"w": True, "b": False}, "norm": {"scale": False, "offset": False}}


@pytest.mark.parametrize("whole", [True, False])
def test_select_tree_picks_one_whole_tree(whole):
    # the kept tree comes out bit for bit, whatever the other holds (NaN included); in and out of jit
    new = {"w": jnp.array([[1.5, -2.0]]), "opt": (jnp.array(3), jnp.array([0.25]))}
    old = {"w": jnp.array([[np.nan, np.inf]]), "opt": (jnp.array(-1), jnp.array([np.nan]))}
    for select in (select_tree, jax.jit(select_tree, static_argnums=3)):
        for pred, expected in ((True, new), (False, old)):
            out = select(jnp.asarray(pred), new, old, whole)
            assert jax.tree.structure(out) == jax.tree.structure(expected)
            for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(expected)):
                np.testing.assert_array_equal(a, b)
                assert a.dtype == b.dtype


@pytest.mark.parametrize(
    "options",
    [
        dict(policy_samples=0),
        dict(policy_samples=4),
        dict(bc_advantage="model", policy_temperature=2.0, policy_adv_clip=1.0),
    ],
)
def test_loss_falls_on_a_fixed_batch(options):
    config = small_config(**options)
    learner = make_learner(config)
    batch = synthetic_batch(config.batch_size, config.unroll_steps + config.td_steps + 1)
    first = float(learner.step(batch)["loss"])
    for _ in range(60):
        metrics = learner.step(batch)
    last = float(metrics["loss"])
    assert np.isfinite(last)
    assert last < 0.8 * first


def test_target_network_copied_every_interval():
    # the copy is checked bit for bit (a conditional forwards the new parameters whole, in any compile mode)
    config = small_config(target_update_interval=3)
    learner = make_learner(config)
    batch = synthetic_batch(config.batch_size, config.unroll_steps + config.td_steps + 1)
    initial = jax.device_get(learner.state.params)

    def same(a, b):
        return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    for step in range(1, 7):
        learner.step(batch)
        state = jax.device_get(learner.state)
        if step % 3 == 0:
            assert same(state.target_params, state.params), step
        else:
            assert not same(state.target_params, state.params), step
        if step < 3:
            assert same(state.target_params, initial), step


def test_polyak_target_update():
    config = small_config(target_update_tau=0.25, target_update_interval=1)
    learner = make_learner(config)
    batch = synthetic_batch(config.batch_size, config.unroll_steps + config.td_steps + 1)
    for _ in range(2):
        before = jax.device_get(learner.state.target_params)
        learner.step(batch)
        state = jax.device_get(learner.state)
        for t, p, b in zip(
            jax.tree.leaves(state.target_params), jax.tree.leaves(state.params), jax.tree.leaves(before)
        ):
            np.testing.assert_allclose(
                t, 0.75 * b + 0.25 * p, rtol=1e-5, atol=1e-7
            )  # target <- .75 target + .25 params
        assert any(
            not np.allclose(t, p) for t, p in zip(jax.tree.leaves(state.target_params), jax.tree.leaves(state.params))
        )


def test_batch_must_divide_over_devices():
    config = small_config(batch_size=3)
    fake_mesh = jax.sharding.Mesh(np.array(jax.devices() * 1), ("data",))
    if fake_mesh.devices.size == 1:
        config.batch_size = 3  # 1 device divides everything; nothing to check here
        make_learner(config, mesh=fake_mesh)


_TWO_DEVICE_SCRIPT = textwrap.dedent(
    """
    import sys, jax, numpy as np
    assert len(jax.devices()) == 2, jax.devices()
    from tests.helpers import nudged_two_steps, small_config
    from rosmo.training.learner import make_mesh
    for samples in (0, 4):
        _, after = nudged_two_steps(small_config(policy_samples=samples), mesh=make_mesh(jax.devices()))
        np.savez(f"{sys.argv[1]}/{samples}.npz", *jax.tree.leaves(after))
    """
)


@pytest.mark.slow
def test_two_devices_match_one_device(tmp_path):
    """Exact policy target (policy_samples 0) and sampled (4): two steps on a 2-device mesh (a subprocess with 2
    fake CPU devices and this session's XLA settings) end where the same two steps on one device end (here,
    with the programs test_loss_falls_on_a_fixed_batch compiled)."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2 " + os.environ.get("XLA_FLAGS", ""))
    env["JAX_PLATFORMS"] = "cpu"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    two = subprocess.Popen(
        [sys.executable, "-c", _TWO_DEVICE_SCRIPT, str(tmp_path)],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    one = {samples: nudged_two_steps(small_config(policy_samples=samples)) for samples in (0, 4)}  # meanwhile
    _, err = two.communicate(timeout=600)
    assert two.returncode == 0, err[-3000:]
    for samples, (before, after) in one.items():
        moved = max(float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after)))
        assert moved > 1e-4, (samples, moved)  # the steps really changed the parameters
        with np.load(tmp_path / f"{samples}.npz") as saved:
            on_two = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        diff = max(float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(after), on_two))
        assert len(on_two) == len(jax.tree.leaves(after)) and diff < 1e-5, (samples, diff)


def test_an_interrupt_during_an_update_is_handled_after_it():
    """Ctrl-C / SIGTERM arriving while the (state-donating) update runs inside the loop's deferred block:
    the update completes and the state stays usable, so the checkpoint saved on interruption works;
    `Stopped` (a KeyboardInterrupt) comes after."""
    config = small_config()  # the program of test_loss_falls_on_a_fixed_batch[options0]: a compilation cache hit
    learner = make_learner(config)
    batch = synthetic_batch(config.batch_size, config.unroll_steps + config.td_steps + 1)
    learner.step(batch)
    update = learner._update

    def interrupted_update(*args):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the update runs
        return update(*args)

    learner._update = interrupted_update
    with StopSignals() as signals:
        with pytest.raises(Stopped) as stopped:
            with signals.deferred():
                learner.step(batch)
    assert stopped.value.exit_code == 128 + signal.SIGTERM
    assert int(learner.state.step) == 2  # the update finished and its state was kept
    assert all(not leaf.is_deleted() for leaf in jax.tree.leaves(learner.state))
