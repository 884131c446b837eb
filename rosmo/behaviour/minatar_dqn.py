"""The MinAtar behaviour agent: a double DQN acting in many envs at once, learning with jitted scans.

The network is the MinAtar paper's (Young & Tian 2019): one 3x3 convolution of 16
channels, a 128-unit hidden layer, a linear head, on the 10x10xC grid::

    Q(o) = Linear_A(relu(Linear_128(flatten(relu(conv3x3_16(o))))))      o: [B, 10, 10, C] (0/1)

The loss is `rosmo.behaviour.dqn.double_q_loss` (Huber double-Q TD error on n-step
returns, `rlax`) with Adam. Departures from the paper's 5M-frame DQN, to fit one
game's run in tens of minutes on two CPU cores (the paper: batch 32, one RMSprop
update per frame, one-step targets): `num_envs` envs step together (one jitted
forward per vector step), `updates_per_call` updates of batch `batch_size` run in
one `lax.scan` every `frames_per_call` frames, and 3-step returns (which speed up
DQN on MinAtar, Obando-Ceron & Castro 2021). Epsilon decays linearly from 1 to
`epsilon_end` over `epsilon_decay_frames` frames (the paper: 1 -> 0.1 over 100k).

Replay: a uniform ring buffer of (o_t, a_t, R_t, D_t, o_{t+m}) with uint8 grids;
the n-step sums are made per env on the host (`dqn.DQN._store`'s formula)::

    R_t = sum_{i<m} gamma^i r_{t+i},   D_t = gamma^m (0 when the episode terminated within the m steps)

The whole agent state (parameters, optimiser state, replay, generator) is a dict of numpy
arrays (`state_dict` / `load_state_dict`): the dataset maker saves it to resume a run.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax

from rosmo.behaviour.dqn import double_q_loss, make_scan_update
from rosmo.networks.minatar import GridConv


@dataclasses.dataclass(frozen=True)
class MinAtarDQNConfig:
    """Hyper-parameters of the MinAtar behaviour DQN (module docstring)."""

    conv_channels: int = 16
    hidden_size: int = 128
    learning_rate: float = 2.5e-4
    discount: float = 0.99
    n_step: int = 3
    batch_size: int = 64
    replay_capacity: int = 100_000
    min_replay_size: int = 5_000  # transitions before the first update
    frames_per_call: int = 32  # env frames (over all envs) between learner calls
    updates_per_call: int = 4  # Adam steps per learner call: one update per 8 frames
    target_update_period: int = 500  # Adam steps between target copies
    epsilon_start: float = 1.0
    epsilon_end: float = 0.1
    epsilon_decay_frames: int = 100_000
    huber_delta: float = 1.0
    max_grad_norm: float = 10.0


def q_network(num_actions: int, conv_channels: int = 16, hidden_size: int = 128) -> hk.Transformed:
    """The MinAtar paper's Q-network: uint8/float grids [B, 10, 10, C] -> Q-values [B, A]."""

    def forward(observation):
        x = jax.nn.relu(GridConv(conv_channels)(observation.astype(jnp.float32)))  # a 3x3 SAME conv
        x = jax.nn.relu(hk.Linear(hidden_size)(x.reshape(x.shape[0], -1)))
        return hk.Linear(num_actions)(x)

    return hk.without_apply_rng(hk.transform(forward))


class Replay:
    """Ring buffer of n-step transitions with uint8 observations."""

    def __init__(self, capacity: int, observation_shape: Sequence[int]):
        shape = (int(capacity),) + tuple(observation_shape)
        self.capacity = int(capacity)
        self.observation = np.zeros(shape, np.uint8)
        self.next_observation = np.zeros(shape, np.uint8)
        self.action = np.zeros(self.capacity, np.int32)
        self.reward = np.zeros(self.capacity, np.float32)
        self.discount = np.zeros(self.capacity, np.float32)
        self.size = 0
        self.next = 0

    def add(self, observation, action, reward, discount, next_observation) -> None:
        i = self.next
        self.observation[i], self.next_observation[i] = observation, next_observation
        self.action[i], self.reward[i], self.discount[i] = action, reward, discount
        self.next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        idx = rng.integers(0, self.size, size=shape)
        return {
            "observation": self.observation[idx],
            "action": self.action[idx],
            "reward": self.reward[idx],
            "discount": self.discount[idx],
            "next_observation": self.next_observation[idx],
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays of the filled part; grids bit-packed (8x smaller)."""
        n = self.size
        return {
            "observation": np.packbits(self.observation[:n]),
            "next_observation": np.packbits(self.next_observation[:n]),
            "action": self.action[:n],
            "reward": self.reward[:n],
            "discount": self.discount[:n],
            "size": np.int64(n),
            "next": np.int64(self.next),
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        n = int(state["size"])
        shape = (n,) + self.observation.shape[1:]
        count = int(np.prod(shape))
        self.observation[:n] = np.unpackbits(state["observation"], count=count).reshape(shape)
        self.next_observation[:n] = np.unpackbits(state["next_observation"], count=count).reshape(shape)
        self.action[:n], self.reward[:n], self.discount[:n] = state["action"], state["reward"], state["discount"]
        self.size, self.next = n, int(state["next"])


class MinAtarDQN:
    """Double DQN over `num_envs` envs: `act(obs[N])` -> actions [N], `observe(...)` stores and learns."""

    def __init__(
        self,
        observation_shape: Sequence[int],
        num_actions: int,
        num_envs: int,
        config: MinAtarDQNConfig = MinAtarDQNConfig(),
        seed: int = 0,
    ):
        self.config = config
        self.num_actions, self.num_envs = int(num_actions), int(num_envs)
        self.observation_shape = tuple(observation_shape)
        self.rng = np.random.default_rng([int(seed), 0xD0A])
        self._net = q_network(self.num_actions, config.conv_channels, config.hidden_size)
        self._optimiser = optax.chain(
            optax.clip_by_global_norm(config.max_grad_norm), optax.adam(config.learning_rate, eps=1.5e-4)
        )
        self.params = self._net.init(jax.random.PRNGKey(seed), jnp.zeros((1,) + self.observation_shape, jnp.uint8))
        self.target_params = self.params
        self.opt_state = self._optimiser.init(self.params)
        self.replay = Replay(config.replay_capacity, self.observation_shape)
        self.frames = 0
        self.num_updates = 0
        self._since_call = 0
        self._pending: list[list[tuple[np.ndarray, int, float]]] = [[] for _ in range(self.num_envs)]
        net, optimiser, delta = self._net, self._optimiser, config.huber_delta

        def loss_fn(params, target_params, batch):
            both = jnp.concatenate([batch["observation"], batch["next_observation"]])  # one online pass
            q_tm1, q_t_online = jnp.split(net.apply(params, both), 2)
            q_t_target = net.apply(target_params, batch["next_observation"])
            return double_q_loss(
                q_tm1, batch["action"], batch["reward"], batch["discount"], q_t_target, q_t_online, delta
            )

        self._update = jax.jit(make_scan_update(loss_fn, optimiser))
        self._q = jax.jit(net.apply)
        self.last_loss = float("nan")

    @property
    def epsilon(self) -> float:
        c = self.config
        frac = min(1.0, self.frames / max(1, c.epsilon_decay_frames))
        return c.epsilon_start + frac * (c.epsilon_end - c.epsilon_start)

    def act(self, observation: np.ndarray, epsilon: float | None = None) -> np.ndarray:
        """Epsilon-greedy actions int32 [N] for observations [N, 10, 10, C] (`epsilon=None`: the schedule's)."""
        eps = self.epsilon if epsilon is None else float(epsilon)
        greedy = np.asarray(jnp.argmax(self._q(self.params, observation), axis=-1)).astype(np.int32)
        explore = self.rng.random(len(observation)) < eps
        random = self.rng.integers(0, self.num_actions, size=len(observation)).astype(np.int32)
        return np.where(explore, random, greedy)

    def observe(self, observation, action, reward, terminated, truncated, final_observation) -> None:
        """One vector step: o_t [N, ...], a_t [N], r_t [N], ends [N], o_{t+1} before auto-reset [N, ...]."""
        for i in range(self.num_envs):
            pending = self._pending[i]
            pending.append((observation[i], int(action[i]), float(reward[i])))
            if terminated[i] or truncated[i]:
                while pending:
                    self._store(pending, final_observation[i], bool(terminated[i]))
            elif len(pending) == self.config.n_step:
                self._store(pending, final_observation[i], False)
        self.frames += self.num_envs
        self._since_call += self.num_envs
        c = self.config
        if self.replay.size >= c.min_replay_size and self._since_call >= c.frames_per_call:
            self._since_call = 0
            self.learn()

    def _store(self, pending, bootstrap_observation, terminated: bool) -> None:
        gamma = self.config.discount
        ret = sum(gamma**k * r for k, (_, _, r) in enumerate(pending))
        discount = 0.0 if terminated else gamma ** len(pending)
        observation, action, _ = pending.pop(0)
        self.replay.add(observation, action, ret, discount, bootstrap_observation)

    def learn(self) -> None:
        c = self.config
        batches = self.replay.sample(self.rng, (c.updates_per_call, c.batch_size))
        before = self.num_updates
        self.params, self.opt_state, self.last_loss = self._update(
            self.params, self.opt_state, self.target_params, batches
        )
        self.num_updates += c.updates_per_call
        if self.num_updates // c.target_update_period != before // c.target_update_period:
            self.target_params = self.params

    def hyper_parameters(self) -> dict[str, Any]:
        return dict(dataclasses.asdict(self.config), num_envs=self.num_envs)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs, as numpy (pickle-able)."""
        to_np = lambda tree: jax.tree.map(np.asarray, tree)  # noqa: E731
        return {
            "params": to_np(self.params),
            "target_params": to_np(self.target_params),
            "opt_state": to_np(self.opt_state),
            "replay": self.replay.state_dict(),
            "rng": self.rng.bit_generator.state,
            "frames": self.frames,
            "num_updates": self.num_updates,
            "since_call": self._since_call,
            "pending": self._pending,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        to_jnp = lambda tree: jax.tree.map(jnp.asarray, tree)  # noqa: E731
        self.params, self.target_params = to_jnp(state["params"]), to_jnp(state["target_params"])
        self.opt_state = jax.tree.unflatten(
            jax.tree.structure(self.opt_state), [jnp.asarray(x) for x in jax.tree.leaves(state["opt_state"])]
        )
        self.replay.load_state_dict(state["replay"])
        self.rng.bit_generator.state = state["rng"]
        self.frames, self.num_updates = int(state["frames"]), int(state["num_updates"])
        self._since_call, self._pending = int(state["since_call"]), state["pending"]
