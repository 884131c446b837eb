"""ROSMO learns MinAtar Breakout from a tiny dataset: its greedy prior scores far above a random policy."""

import numpy as np
import pytest

pytest.importorskip("minatar")

from rosmo.configs.loading import load_config  # noqa: E402
from rosmo.data import minatar_data, minatar_maker  # noqa: E402
from rosmo.envs.minatar import MinAtarEnv  # noqa: E402
from rosmo.training.loop import train  # noqa: E402

pytestmark = pytest.mark.slow  # end-to-end: runs jobs or subprocesses (make test-fast skips it)

CAP = 200  # episode cap (agent steps) of the data and the evaluation


def tracking_action(obs: np.ndarray) -> int:
    """Breakout's paddle (channel 0, row 9) moves towards the ball's column (channel 1): l=1, r=3, else noop."""
    ball, paddle = np.argwhere(obs[:, :, 1]), np.flatnonzero(obs[9, :, 0])
    if not len(ball) or not len(paddle):
        return 0
    return 1 if ball[0][1] < paddle[0] else 3 if ball[0][1] > paddle[0] else 0


def play(policy, episodes: int, seed: int):
    out = []
    for e in range(episodes):
        env = MinAtarEnv("breakout", seed=seed + e, max_episode_steps=CAP)
        ts, obs, actions, rewards = env.reset(), [], [], []
        obs.append(ts.observation)
        while not ts.last():
            actions.append(policy(ts.observation))
            ts = env.step(actions[-1])
            obs.append(ts.observation)
            rewards.append(ts.reward)
        out.append((np.stack(obs), actions, rewards, ts.discount == 0.0))
    return out


def test_rosmo_learns_breakout_from_a_tiny_dataset(tmp_path):
    rng = np.random.default_rng(0)
    random_returns = [sum(r) for _, _, r, _ in play(lambda o: int(rng.integers(6)), 30, seed=1000)]
    episodes = [
        minatar_data.episode_to_rlds(o, a, r, t, e, checkpoint_id=e % 2)
        for e, (o, a, r, t) in enumerate(play(tracking_action, 24, seed=0))
    ]
    behaviour = float(np.mean([ep["episode_return"] for ep in episodes]))
    path = minatar_maker.write_episodes(
        str(tmp_path / "breakout"),
        "breakout",
        episodes,
        {
            "random_return": float(np.mean(random_returns)),
            "dqn_return": behaviour,
            "sticky_action_prob": 0.1,
            "max_episode_steps": CAP,
        },
    )
    config = load_config("minatar:breakout")
    config.update(
        dict(
            dataset_dir=path,
            num_steps=300,
            batch_size=32,
            warmup_steps=0,
            learning_rate=3e-3,
            hidden_size=64,
            eval_every=300,
            eval_episodes=20,
            eval_parallel=20,
            eval_max_episode_steps=CAP,
            checkpoint_every=300,
            log_every=100,
            use_tensorboard=False,
            episodes_in_flight=16,
            target_update_interval=50,
        )
    )
    summary = train(config, str(tmp_path / "run"), progress=False)
    final = summary["final_eval"]
    random_mean, random_sem = np.mean(random_returns), np.std(random_returns) / np.sqrt(len(random_returns))
    assert behaviour > 5 * random_mean
    assert final["mean_return"] > random_mean + 5 * random_sem + 1.0, (final, random_mean, behaviour)
