"""The MinAtar suite: the env wrapper over the reference `minatar` package, the registry entry, the networks."""

import jax
import numpy as np
import pytest

pytest.importorskip("minatar")

from minatar import Environment  # noqa: E402

from rosmo.configs.loading import load_config  # noqa: E402
from rosmo.configs.validation import validate_config  # noqa: E402
from rosmo.envs import minatar as minatar_env  # noqa: E402
from rosmo.networks.factory import make_networks  # noqa: E402
from rosmo.suites import get_suite, parse_env  # noqa: E402

CHANNELS = {"asterix": 4, "breakout": 4, "freeway": 7, "seaquest": 10, "space_invaders": 6}


@pytest.mark.parametrize("game", minatar_env.GAMES)
def test_observation_shape_dtype_and_action_sets_per_game(game):
    env = minatar_env.MinAtarEnv(game, seed=0)
    ts = env.reset()
    assert ts.first()
    assert ts.observation.shape == (10, 10, CHANNELS[game]) and ts.observation.dtype == np.uint8
    assert set(np.unique(ts.observation)) <= {0, 1}
    assert env.num_actions == 6 and env.action_spec().num_values == 6
    minimal = minatar_env.MinAtarEnv(game, seed=0, minimal_actions=True)
    assert minimal.num_actions == len(Environment(game).minimal_action_set())
    assert minatar_env.env_spec(game) == ((10, 10, CHANNELS[game]), 6)


def test_replays_the_reference_env_step_for_step():
    """Same seed, same actions: the wrapper's observations, rewards and ends are the reference's."""
    rng = np.random.default_rng(0)
    ours = minatar_env.MinAtarEnv("space_invaders", seed=3, sticky_action_prob=0.1)
    ref = Environment("space_invaders", sticky_action_prob=0.1)
    ref.seed(3)
    ours.reset()
    ref.reset()
    for _ in range(400):
        a = int(rng.integers(6))
        ts = ours.step(a)
        reward, terminal = ref.act(a)
        np.testing.assert_array_equal(ts.observation, ref.state().astype(np.uint8))
        assert ts.reward == reward and ts.last() == terminal
        if terminal:
            ours.reset()
            ref.reset()


def test_sticky_actions_repeat_the_executed_action():
    """p = 1: every step executes the first executed action (0); p = 0: the requested one."""
    always = minatar_env.MinAtarEnv("breakout", seed=0, sticky_action_prob=1.0)
    always.reset()
    for a in (3, 1, 3, 5):
        always.step(a)
        assert always.last_action == 0
    never = minatar_env.MinAtarEnv("breakout", seed=0, sticky_action_prob=0.0)
    never.reset()
    for a in (3, 1, 3, 5):
        never.step(a)
        assert never.last_action == a
    half = minatar_env.MinAtarEnv("breakout", seed=0, sticky_action_prob=0.5)
    half.reset()
    repeats = 0
    for t in range(2000):
        requested = 1 + t % 2 * 2  # alternate l, r: a repeat shows as the other action
        ts = half.step(requested)
        repeats += half.last_action != requested
        if ts.last():
            half.reset()
    # alternating requests: step t executes the other action iff it is sticky and step t - 1 executed its own
    # request, so m = p (1 - m): a share p / (1 + p) = 1/3 of the steps at p = 0.5
    assert 0.29 < repeats / 2000 < 0.38


def test_minimal_action_index_maps_to_the_game_action():
    env = minatar_env.MinAtarEnv("breakout", seed=0, sticky_action_prob=0.0, minimal_actions=True)
    env.reset()
    for index, action in enumerate(Environment("breakout").minimal_action_set()):
        env.step(index)
        assert env.last_action == action
    with pytest.raises(ValueError, match=r"action 3 outside \[0, 3\)"):
        env.step(3)


def test_episode_cap_is_a_truncation():
    env = minatar_env.MinAtarEnv("freeway", seed=0, max_episode_steps=5)  # freeway lasts 2500 steps by itself
    env.reset()
    steps = [env.step(0) for _ in range(5)]
    assert [ts.last() for ts in steps] == [False] * 4 + [True]
    assert steps[-1].discount == 1.0
    assert env.step(0).first()  # stepping after the end starts a new episode


def test_a_game_over_is_a_termination():
    env = minatar_env.MinAtarEnv("breakout", seed=0, sticky_action_prob=0.0)
    env.reset()
    for _ in range(1000):  # standing still loses the ball within a few dozen steps
        ts = env.step(0)
        if ts.last():
            break
    assert ts.last() and ts.discount == 0.0


def test_vector_env_auto_resets_and_keeps_the_final_observation():
    vec = minatar_env.MinAtarVectorEnv("breakout", 3, seed=0, max_episode_steps=4)
    obs = vec.reset()
    for _t in range(4):
        obs, _, terminated, truncated = vec.step([0, 0, 0])
    assert truncated.all() and not terminated.any()
    assert obs.shape == (3, 10, 10, 4) and vec.final_observation.shape == (3, 10, 10, 4)
    single = minatar_env.MinAtarEnv("breakout", seed=0, max_episode_steps=4)  # env 0 of the vector env
    single.reset()
    for _t in range(4):
        ts = single.step(0)
    np.testing.assert_array_equal(vec.final_observation[0], ts.observation)
    restart = single.step(0)  # stepping after the end resets
    assert restart.first()
    np.testing.assert_array_equal(obs[0], restart.observation)


def test_bad_names_and_settings_are_named():
    with pytest.raises(ValueError, match="unknown MinAtar game 'pong'"):
        minatar_env.MinAtarEnv("pong")
    with pytest.raises(ValueError, match="sticky_action_prob 1.5"):
        minatar_env.MinAtarEnv("breakout", sticky_action_prob=1.5)
    assert minatar_env.game_name("Space-Invaders") == "space_invaders"


@pytest.mark.parametrize("game", minatar_env.GAMES)
def test_registry_config_and_networks_for_every_game(game):
    suite, env = parse_env(f"minatar:{game}")
    assert suite is get_suite("minatar") and env == game
    config = load_config(f"minatar:{game}")
    validate_config(config)
    assert config.network == "minatar" and config.unroll_steps == 3 and config.env == game
    networks = make_networks(config, 6)
    obs = np.zeros((2, 10, 10, CHANNELS[game]), np.uint8)
    params = networks.init(jax.random.PRNGKey(0), obs)
    state = networks.represent(params, obs)
    assert state.shape == (2, config.hidden_size)
    assert networks.dynamics(params, state, np.array([0, 5])).shape == state.shape
    pred = networks.predict(params, state)
    assert pred.policy_logits.shape == (2, 6) and pred.value_logits.shape == (2, config.num_bins)


def test_grid_conv_equals_a_same_convolution():
    import haiku as hk

    from rosmo.networks.minatar import GridConv

    x = np.random.default_rng(0).random((2, 10, 10, 5)).astype(np.float32)
    f = hk.without_apply_rng(hk.transform(lambda x: GridConv(7)(x)))
    params = f.init(jax.random.PRNGKey(0), x)
    p = params["grid_conv"]
    ref = jax.lax.conv_general_dilated(x, p["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["b"]
    np.testing.assert_allclose(f.apply(params, x), ref, rtol=1e-5, atol=1e-5)


def test_references_and_evaluation_use_the_dataset_protocol():
    suite = get_suite("minatar")
    meta = {
        "env": "breakout",
        "random_return": 0.5,
        "dqn_return": 10.0,
        "sticky_action_prob": 0.25,
        "minimal_actions": True,
    }
    (ref,) = suite.references("breakout", meta)
    assert (ref.low, ref.high) == (0.5, 10.0)
    assert suite.references("asterix", meta) == []
    env = suite.make_env("breakout", 0, meta, max_episode_steps=7)
    assert env.sticky_action_prob == 0.25 and env.num_actions == 3 and env.max_episode_steps == 7
    assert suite.env_spec("breakout", meta) == ((10, 10, 4), 3)
    config = load_config("minatar:breakout")
    assert suite.eval_options(config) == {"max_episode_steps": minatar_env.MAX_EPISODE_STEPS}
    episodes = suite.play(
        "breakout",
        lambda p, o, k: jax.numpy.zeros(o.shape[0], jax.numpy.int32),
        None,
        meta,
        num_episodes=4,
        num_envs=2,
        seed=0,
        max_episode_steps=50,
    )
    assert len(episodes.returns) == 4 and max(episodes.lengths) <= 50
