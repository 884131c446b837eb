"""The learner: train state, optimiser, target network and one sharded jitted update.

The update is data-parallel from the first line: a `jax.sharding.Mesh` over
all devices with one axis `data`; the batch is sharded on it, parameters and
optimiser state are replicated, and XLA inserts the gradient all-reduce. One
device is just the smallest mesh. Metrics stay on device until the caller
asks for them (at log intervals), so a step makes no host round-trip.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Dict, Iterator, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from rosmo.agents.base import Agent


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2)  # Ctrl-C, SLURM preemption / time limit


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT / SIGTERM / SIGUSR2 for the block: one that comes in is raised again when the block ends.

    The Python handlers are swapped for recorders (blocking the signals would not do: the kernel hands a
    process-directed signal to another thread, JAX's or TensorFlow's). Main thread only (where Python
    runs handlers); ignored signals stay ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = {}
    for sig in STOP_SIGNALS:
        handler = signal.getsignal(sig)
        if handler not in (signal.SIG_IGN, None):
            previous[sig] = handler
            signal.signal(sig, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(received):
            signal.raise_signal(sig)


class TrainState(NamedTuple):
    params: Any
    target_params: Any
    opt_state: Any
    step: jax.Array  # int32 scalar: number of updates done
    key: jax.Array  # PRNG key (uint32[2])


def learning_rate_schedule(config) -> optax.Schedule:
    """Linear warm-up from 0 to `learning_rate` over `warmup_steps`, then x`lr_decay_factor` every `lr_decay_steps`."""
    warmup = optax.linear_schedule(0.0, config.learning_rate, max(1, config.warmup_steps))
    decay = optax.exponential_decay(
        config.learning_rate, transition_steps=config.lr_decay_steps, decay_rate=config.lr_decay_factor, staircase=True
    )
    return optax.join_schedules([warmup, decay], [config.warmup_steps])


def weight_decay_mask(params) -> Any:
    """True on weight matrices/kernels (haiku leaves named `w`), False on biases and norms."""
    return jax.tree_util.tree_map_with_path(
        lambda path, _: getattr(path[-1], "key", None) == "w", params
    )


def make_optimizer(config) -> optax.GradientTransformation:
    """Global-norm clipping, then AdamW with weight decay on weights only."""
    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adamw(learning_rate_schedule(config), weight_decay=config.weight_decay, mask=weight_decay_mask),
    )


def init_train_state(agent: Agent, optimizer: optax.GradientTransformation, obs_example: np.ndarray, seed: int) -> TrainState:
    """Fresh parameters (target = online), optimiser state, step 0. obs_example [1, ...]."""
    key = jax.random.PRNGKey(seed)
    init_key, key = jax.random.split(key)
    params = agent.networks.init(init_key, jnp.asarray(obs_example))
    target_params = jax.tree.map(jnp.copy, params)  # own buffers: the update donates the state
    return TrainState(params, target_params, optimizer.init(params), jnp.zeros((), jnp.int32), key)


def make_update_fn(agent: Agent, optimizer: optax.GradientTransformation, target_update_interval: int):
    """update(state, batch) -> (state, metrics): one gradient step and the periodic hard target copy."""

    def update(state: TrainState, batch: Dict[str, jax.Array]):
        key, loss_key = jax.random.split(state.key)
        grads, metrics = jax.grad(agent.loss, has_aux=True)(state.params, state.target_params, batch, loss_key)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        step = state.step + 1
        copy = step % target_update_interval == 0
        target_params = jax.tree.map(lambda p, t: jnp.where(copy, p, t), params, state.target_params)
        metrics = dict(metrics, grad_norm=optax.tree.norm(grads))
        return TrainState(params, target_params, opt_state, step, key), metrics

    return update


def to_host(tree):
    """Replicated device arrays -> numpy, also when they span several processes (multi-host)."""
    return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)) if isinstance(x, jax.Array) else np.asarray(x), tree)


def make_mesh(devices: Optional[list] = None) -> Mesh:
    """A 1-D mesh named `data` over `devices` (default: all devices of all processes)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), ("data",))


class Learner:
    """Owns the train state on the mesh and runs sharded updates.

    Acme-shaped: `step(batch)`, `params`, `state` / `restore(state)`.
    """

    def __init__(self, agent: Agent, config, obs_example: np.ndarray, mesh: Optional[Mesh] = None):
        self.agent = agent
        self.mesh = mesh or make_mesh()
        num_devices = self.mesh.devices.size
        if config.batch_size % num_devices:
            raise ValueError(
                f"config.batch_size={config.batch_size} must be divisible by the number of devices ({num_devices})"
            )
        self.optimizer = make_optimizer(config)
        self.replicated = NamedSharding(self.mesh, P())
        self.batch_sharding = NamedSharding(self.mesh, P("data"))
        state = init_train_state(agent, self.optimizer, obs_example, config.seed)
        self._state = jax.device_put(state, self.replicated)
        update = make_update_fn(agent, self.optimizer, config.target_update_interval)
        self._update = jax.jit(
            update,
            in_shardings=(self.replicated, self.batch_sharding),
            out_shardings=(self.replicated, self.replicated),
            donate_argnums=(0,),
        )

    def put_batch(self, batch: Dict[str, np.ndarray]) -> Dict[str, jax.Array]:
        """Host numpy batch (this process's share) -> global array sharded on `data`."""
        return {
            k: jax.make_array_from_process_local_data(self.batch_sharding, np.asarray(v)) for k, v in batch.items()
        }

    def step(self, batch: Dict[str, Any]) -> Dict[str, jax.Array]:
        """One update; returns the metrics as device arrays (no host sync)."""
        if isinstance(next(iter(batch.values())), np.ndarray):
            batch = self.put_batch(batch)
        # The update donates the state's buffers: a Ctrl-C / SIGTERM handled between the call and the
        # assignment would leave `_state` deleted, and the checkpoint saved on interruption would fail.
        with deferred_signals():
            self._state, metrics = self._update(self._state, batch)
        return metrics

    @property
    def state(self) -> TrainState:
        return self._state

    def restore(self, state: TrainState) -> None:
        self._state = jax.device_put(state, self.replicated)

    @property
    def params(self):
        return self._state.params
