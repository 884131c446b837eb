"""The Atari ResNet: shapes, zero-initialised heads, the dynamics' residual link and action planes, presets."""

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rosmo.networks import make_resnet_networks, resnet_preset

NUM_ACTIONS, NUM_BINS = 6, 601


def _jitted(networks):
    """The same networks with every function jitted (eager haiku is slow on a CPU)."""
    return networks._replace(
        init=jax.jit(networks.init), represent=jax.jit(networks.represent),
        dynamics=jax.jit(networks.dynamics), predict=jax.jit(networks.predict),
    )


def _obs(batch=3, seed=0):
    return jnp.asarray(np.random.default_rng(seed).integers(0, 256, (batch, 84, 84, 4), dtype=np.uint8))


@pytest.fixture(scope="module")
def small():
    networks = _jitted(make_resnet_networks(NUM_ACTIONS, NUM_BINS, **resnet_preset("small")))
    with jax.threefry_partitionable(False):  # other random bits, ~10x faster to compile on XLA:CPU (jax 0.10)
        params = networks.init(jax.random.PRNGKey(0), _obs(1))
    return networks, params


def test_small_preset_shapes(small):
    networks, params = small
    state = networks.represent(params, _obs())
    assert state.shape == (3, 6, 6, 16) and state.dtype == jnp.float32
    next_state = networks.dynamics(params, state, jnp.array([0, 3, 5]))
    assert next_state.shape == (3, 6, 6, 16)
    pred = networks.predict(params, next_state)
    assert pred.policy_logits.shape == (3, NUM_ACTIONS)
    assert pred.value_logits.shape == (3, NUM_BINS) and pred.reward_logits.shape == (3, NUM_BINS)
    # 1/1/1 blocks: 3 downsampling blocks + 1 representation block, 1 dynamics block, 1 prediction block
    blocks = {name.rsplit("/", 1)[0] for name in params if "block" in name}
    assert sorted(blocks) == [
        "dynamics/block_0", "prediction/block_0", "representation/block_0",
        "representation/down_block_0", "representation/down_block_1", "representation/down_block_2",
    ]


def test_full_preset_sizes():
    kwargs = resnet_preset("full")
    assert kwargs == dict(channels=64, representation_blocks=6, dynamics_blocks=2, prediction_blocks=2, head_channels=16)
    networks = make_resnet_networks(18, NUM_BINS, **kwargs)
    shapes = jax.eval_shape(networks.init, jax.random.PRNGKey(0), jax.ShapeDtypeStruct((1, 84, 84, 4), jnp.uint8))
    assert sum(k.startswith("representation/block_") and k.endswith("conv_0") for k in shapes) == 6
    assert sum(k.startswith("dynamics/block_") and k.endswith("conv_0") for k in shapes) == 2
    assert sum(k.startswith("prediction/block_") and k.endswith("conv_0") for k in shapes) == 2
    assert shapes["representation/stem"]["w"].shape == (3, 3, 4, 32)  # C/2 channels at 42x42
    assert shapes["dynamics/conv_in"]["w"].shape == (3, 3, 64 + 18, 64)  # state + one-hot action planes
    assert shapes["prediction/value_head/out"]["w"].shape == (6 * 6 * 16, NUM_BINS)


def test_heads_start_at_zero(small):
    networks, params = small
    for head in ("policy_head", "value_head", "reward_head"):
        assert not np.any(params[f"prediction/{head}/out"]["w"]) and not np.any(params[f"prediction/{head}/out"]["b"])
    pred = networks.predict(params, networks.represent(params, _obs()))
    np.testing.assert_array_equal(pred.policy_logits, 0.0)  # uniform policy
    np.testing.assert_array_equal(pred.value_logits, 0.0)
    np.testing.assert_array_equal(pred.reward_logits, 0.0)


def test_dynamics_residual_link_and_action_planes(small):
    networks, params = small
    state = networks.represent(params, _obs(2))
    a = networks.dynamics(params, state, jnp.array([0, 0]))
    b = networks.dynamics(params, state, jnp.array([4, 4]))
    assert not np.allclose(a, b)  # the action reaches the dynamics
    # With no dynamics blocks and conv_in zeroed, g(s, a) = s exactly (the residual link).
    # The small preset's params minus its dynamics block are such a network's params.
    bare = _jitted(make_resnet_networks(NUM_ACTIONS, NUM_BINS, channels=16, representation_blocks=1, dynamics_blocks=0,
                                        prediction_blocks=1, head_channels=4))
    bare_params = {k: v for k, v in hk.data_structures.to_mutable_dict(params).items() if not k.startswith("dynamics/block_")}
    bare_params["dynamics/conv_in"] = jax.tree.map(jnp.zeros_like, bare_params["dynamics/conv_in"])
    np.testing.assert_array_equal(bare.dynamics(bare_params, state, jnp.array([1, 5])), state)


def test_input_is_scaled_uint8(small):
    networks, params = small
    obs = _obs(2, seed=3)
    np.testing.assert_allclose(
        networks.represent(params, obs), networks.represent(params, obs.astype(jnp.float32)), rtol=1e-6, atol=1e-6
    )


def test_bad_sizes_name_the_field():
    with pytest.raises(ValueError, match="network_preset='huge'"):
        resnet_preset("huge")
    with pytest.raises(ValueError, match="channels must be an even integer"):
        make_resnet_networks(NUM_ACTIONS, NUM_BINS, channels=15)
    with pytest.raises(ValueError, match="dynamics_blocks must be >= 0"):
        make_resnet_networks(NUM_ACTIONS, NUM_BINS, dynamics_blocks=-1)
