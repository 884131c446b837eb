"""The Atari ResNets: the original's architecture and parameter count, shapes, zero-initialised heads,
the dynamics' residual link and action planes, presets."""

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rosmo.networks.resnet import make_resnet_networks, resnet_preset
from rosmo.networks.resnet import original_atari_param_count

NUM_ACTIONS, NUM_BINS = 6, 601


def _jitted(networks):
    """The same networks with every function jitted (eager haiku is slow on a CPU)."""
    return networks._replace(
        init=jax.jit(networks.init),
        represent=jax.jit(networks.represent),
        dynamics=jax.jit(networks.dynamics),
        predict=jax.jit(networks.predict),
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
        "dynamics/block_0",
        "prediction/block_0",
        "representation/block_0",
        "representation/down_block_0",
        "representation/down_block_1",
        "representation/down_block_2",
    ]


def _param_shapes(networks):
    return jax.eval_shape(networks.init, jax.random.PRNGKey(0), jax.ShapeDtypeStruct((1, 84, 84, 4), jnp.uint8))


def _count(shapes) -> int:
    return sum(x.size for x in jax.tree.leaves(shapes))


def test_full_preset_is_the_original_architecture():
    kwargs = resnet_preset("full")
    assert kwargs == dict(
        architecture="original",
        channels=64,
        representation_blocks=6,
        dynamics_blocks=2,
        prediction_blocks=2,
        head_channels=128,
        head_hidden_sizes=(128, 128),
    )
    shapes = _param_shapes(make_resnet_networks(18, NUM_BINS, **kwargs))
    assert sum(k.startswith("representation/block_") and k.endswith("conv_0") for k in shapes) == 6
    assert sum(k.startswith("dynamics/block_") and k.endswith("conv_0") for k in shapes) == 2
    assert sum(k.startswith("prediction/block_") and k.endswith("conv_0") for k in shapes) == 2
    assert "representation/down_block_3/conv_0" in shapes  # the block between the two average pools
    assert shapes["representation/down_block_1/projection"]["w"].shape == (3, 3, 32, 64)  # 3x3 projection
    assert shapes["representation/stem"]["w"].shape == (3, 3, 4, 32)  # C/2 channels at 42x42
    assert shapes["dynamics/conv_in"]["w"].shape == (3, 3, 64 + 18, 64)  # state + one-hot action planes
    # bias-free convolutions; heads conv1x1(128) -> LN -> [Linear128 (no bias) -> LN] x 2 -> Linear
    assert not any(
        "b" in v
        for k, v in shapes.items()
        if k.rsplit("/", 1)[-1] in ("stem", "conv_0", "conv_1", "projection", "conv_in", "conv")
    )
    assert shapes["prediction/value_head/conv"]["w"].shape == (1, 1, 64, 128)
    assert shapes["prediction/value_head/hidden_0"]["w"].shape == (6 * 6 * 128, 128)
    assert shapes["prediction/value_head/hidden_1"]["w"].shape == (128, 128)
    assert set(shapes["prediction/value_head/hidden_ln_1"]) == {"scale", "offset"}
    assert shapes["prediction/policy_head/out"]["w"].shape == (128, 18)


def test_parameter_count_equals_the_original_formula():
    # The original's Atari sizes, a small variant, and a variant without head MLP, for two action/bin counts.
    variants = [
        {},
        dict(
            channels=16,
            representation_blocks=1,
            dynamics_blocks=1,
            prediction_blocks=1,
            head_channels=8,
            head_hidden_sizes=(32,),
        ),
        dict(
            channels=8,
            representation_blocks=0,
            dynamics_blocks=0,
            prediction_blocks=3,
            head_channels=4,
            head_hidden_sizes=(),
        ),
    ]
    for kwargs in variants:
        for num_actions, num_bins in ((18, 601), (4, 20)):
            networks = make_resnet_networks(num_actions, num_bins, architecture="original", **kwargs)
            assert _count(_param_shapes(networks)) == original_atari_param_count(num_actions, num_bins, **kwargs), (
                kwargs
            )
    # Hand-checked total of the original's Atari network for 18 actions, 601 bins.
    assert original_atari_param_count(18, 601) == 3_032_068


def test_original_reward_head_reads_the_state_before_the_prediction_blocks():
    networks = _jitted(
        make_resnet_networks(
            NUM_ACTIONS,
            NUM_BINS,
            channels=8,
            representation_blocks=0,
            dynamics_blocks=0,
            prediction_blocks=1,
            head_channels=4,
            head_hidden_sizes=(8,),
        )
    )
    with jax.threefry_partitionable(False):
        params = hk.data_structures.to_mutable_dict(networks.init(jax.random.PRNGKey(0), _obs(1)))
    zero = networks.predict(params, networks.represent(params, _obs(2)))
    for logits in zero:  # the final Linear layers start at zero (the original's VarianceScaling(0))
        np.testing.assert_array_equal(logits, 0.0)
    for head in ("policy_head", "value_head", "reward_head"):  # give the zero-initialised outputs some weight
        params[f"prediction/{head}/out"]["w"] = (
            jnp.ones_like(params[f"prediction/{head}/out"]["w"])
            * 0.01
            * np.arange(params[f"prediction/{head}/out"]["w"].shape[-1])
        )
    state = networks.represent(params, _obs(2))
    before = networks.predict(params, state)
    params["prediction/block_0/conv_1"]["w"] = (
        params["prediction/block_0/conv_1"]["w"] + 0.5
    )  # change the prediction block
    after = networks.predict(params, state)
    np.testing.assert_array_equal(before.reward_logits, after.reward_logits)
    assert not np.allclose(before.value_logits, after.value_logits)
    assert not np.allclose(before.policy_logits, after.policy_logits)


def test_light_preset_sizes():
    kwargs = resnet_preset("light")
    assert kwargs["architecture"] == "light" and kwargs["head_channels"] == 16 and kwargs["head_hidden_sizes"] == ()
    shapes = _param_shapes(make_resnet_networks(18, NUM_BINS, **kwargs))
    assert "representation/down_block_3/conv_0" not in shapes
    assert shapes["representation/down_block_1/projection"]["w"].shape == (1, 1, 32, 64)
    assert shapes["prediction/value_head/out"]["w"].shape == (6 * 6 * 16, NUM_BINS)
    assert _count(shapes) < original_atari_param_count(18, NUM_BINS)


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
    bare = _jitted(
        make_resnet_networks(
            NUM_ACTIONS,
            NUM_BINS,
            channels=16,
            representation_blocks=1,
            dynamics_blocks=0,
            prediction_blocks=1,
            head_channels=4,
            head_hidden_sizes=(),
            architecture="light",
        )
    )
    bare_params = {
        k: v for k, v in hk.data_structures.to_mutable_dict(params).items() if not k.startswith("dynamics/block_")
    }
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
    with pytest.raises(ValueError, match="architecture='resnet9'"):
        make_resnet_networks(NUM_ACTIONS, NUM_BINS, architecture="resnet9")
    with pytest.raises(ValueError, match="head_hidden_sizes"):
        make_resnet_networks(NUM_ACTIONS, NUM_BINS, architecture="light", head_hidden_sizes=(8,))
