"""The learner: train state, optimiser, target network and one sharded jitted update.

The update is data-parallel from the first line: a `jax.sharding.Mesh` over
all devices with one axis `data`; the batch is sharded on it, parameters and
optimiser state are replicated, and XLA inserts the gradient all-reduce. One
device is just the smallest mesh. Metrics stay on device until the caller
asks for them (at log intervals), so a step makes no host round-trip.

Non-finite guard: an update whose metrics (loss, its terms, the gradient norm)
or new parameters are not all finite is not applied (parameters, target and
optimiser state keep their values; the step counter still advances, as it
counts the batches consumed). A small device-side `Guard` counts such updates
and records the first one; `Learner.nonfinite()` reads it (one small transfer,
at log / checkpoint steps) and the training loop stops or goes on according
to `config.nonfinite` ("stop" or "skip"). So the parameters on device are always
finite and no checkpoint with non-finite parameters can be written.

Learners of one agent object and equal program fields of the config share one jitted update
(`update_program_key`): a process that trains several such runs (`rosmo deploy`'s deployments, a test session,
through `rosmo.training.loop`'s reuse of agents) traces and compiles it once.
"""

from __future__ import annotations

import collections
import json
from typing import Any, Callable, Hashable, Iterator, NamedTuple, Optional, Sequence

import acme
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from rosmo.agents.base import Agent
from rosmo.errors import ConfigError
from rosmo.suites.configs.base import LR_SCHEDULES

PARAMS_CHECK = "params"
"""Name of the check on the updated parameters in `Guard` reports (next to the metric names)."""

RUN_ONLY_FIELDS = frozenset(
    {
        "dataset_dir",
        "data_percentage",
        "shuffle_buffer",
        "seed",
        "checkpoint_every",
        "keep_checkpoints",
        "log_every",
        "eval_every",
        "eval_episodes",
        "eval_parallel",
        "use_tensorboard",
        "use_wandb",
        "wandb_project",
    }
)
"""Config fields that never enter the update program: which data is read and in what order, the seed (it
enters the initial state, a program input), and when to log, evaluate and checkpoint. Every other field
(those of agents and suites added later too) is part of `update_program_key`."""

UPDATE_PROGRAMS_KEPT = 8
"""How many jitted updates a process keeps for reuse (least recently used dropped first)."""


class TrainState(NamedTuple):
    params: Any
    target_params: Any
    opt_state: Any
    step: jax.Array  # int32 scalar: number of updates done
    key: jax.Array  # PRNG key (uint32[2])


def learning_rate_schedule(config) -> optax.Schedule:
    """Linear warm-up from 0 to `learning_rate` over `warmup_steps`, then

    - `lr_schedule="step"` (default, the paper's): x`lr_decay_factor` every `lr_decay_steps`;
    - `lr_schedule="cosine"`: cosine decay to `learning_rate * lr_decay_factor` at `num_steps`.
    """
    schedule = config.get("lr_schedule", "step")
    if schedule not in LR_SCHEDULES:
        raise ConfigError(f"lr_schedule={schedule!r}: expected one of {LR_SCHEDULES}", field="lr_schedule")
    warmup = optax.linear_schedule(0.0, config.learning_rate, max(1, config.warmup_steps))
    if schedule == "cosine":
        decay = optax.cosine_decay_schedule(
            config.learning_rate, max(1, config.num_steps - config.warmup_steps), alpha=config.lr_decay_factor
        )
    else:
        decay = optax.exponential_decay(
            config.learning_rate,
            transition_steps=config.lr_decay_steps,
            decay_rate=config.lr_decay_factor,
            staircase=True,
        )
    return optax.join_schedules([warmup, decay], [config.warmup_steps])


def weight_decay_mask(params) -> Any:
    """True on weight matrices/kernels (haiku leaves named `w`), False on biases and norms."""
    return jax.tree_util.tree_map_with_path(lambda path, _: getattr(path[-1], "key", None) == "w", params)


def make_optimizer(config) -> optax.GradientTransformation:
    """Global-norm clipping, then AdamW with weight decay on weights only."""
    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adamw(learning_rate_schedule(config), weight_decay=config.weight_decay, mask=weight_decay_mask),
    )


def init_train_state(
    agent: Agent, optimizer: optax.GradientTransformation, obs_example: np.ndarray, seed: int
) -> TrainState:
    """Fresh parameters (target = online), optimiser state, step 0. obs_example [1, ...]."""
    key = jax.random.PRNGKey(seed)
    init_key, key = jax.random.split(key)
    params = agent.networks.init(init_key, jnp.asarray(obs_example))
    target_params = jax.tree.map(jnp.copy, params)  # own buffers: the update donates the state
    return TrainState(params, target_params, optimizer.init(params), jnp.zeros((), jnp.int32), key)


def select_tree(pred: jax.Array, on_true, on_false, whole: bool = True):
    """`on_true if pred else on_false` for two pytrees of one structure (pred: bool scalar).

    whole=True: one `lax.cond` that forwards a whole tree. XLA:CPU compiles a select per leaf to a kernel
    per leaf: the cond takes a third off a small update's compile time and runs it faster.
    whole=False: `jnp.where` leaf by leaf, which fuses into the neighbouring kernels; for accelerators,
    where a conditional can make the host wait for the predicate at every update.
    """
    if whole:
        return jax.lax.cond(pred, lambda: on_true, lambda: on_false)
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def make_update_fn(
    agent: Agent,
    optimizer: optax.GradientTransformation,
    target_update_interval: int,
    target_update_tau: float = 0.0,
    batch_transform: Optional[Callable] = None,
    whole_tree_select: bool = True,
):
    """update(state, batch) -> (state, metrics): one gradient step and the target-network update.

    `target_update_tau = 0` (default, the paper's): hard copy every `target_update_interval` steps;
    `tau > 0`: Polyak averaging every step, target <- (1 - tau) target + tau params.
    `batch_transform` (the suite's, e.g. frame stacking) maps the shipped batch to the agent's, inside the jit.
    `whole_tree_select`: how the copy is selected (`select_tree`'s `whole`).
    """

    def update(state: TrainState, batch: dict[str, jax.Array]):
        if batch_transform is not None:
            batch = batch_transform(batch)
        key, loss_key = jax.random.split(state.key)
        grads, metrics = jax.grad(agent.loss, has_aux=True)(state.params, state.target_params, batch, loss_key)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        step = state.step + 1
        if target_update_tau > 0:
            target_params = optax.incremental_update(params, state.target_params, target_update_tau)
        else:
            copy = step % target_update_interval == 0
            target_params = select_tree(copy, params, state.target_params, whole_tree_select)
        metrics = dict(metrics, grad_norm=optax.tree.norm(grads))
        return TrainState(params, target_params, opt_state, step, key), metrics

    return update


class Guard(NamedTuple):
    """Device-side record of non-finite updates (kept out of `TrainState`: the checkpoint layout is unchanged).

    skipped:    int32, updates not applied because something was non-finite
    first_step: int32, the step number of the first such update (-1: none yet)
    first_bad:  int32 bit mask over the checks (metric names, then "params") that were
                non-finite at `first_step`
    """

    skipped: jax.Array
    first_step: jax.Array
    first_bad: jax.Array


class NonFiniteReport(NamedTuple):
    """`Guard` on the host: `first_step` None when every update so far was finite."""

    skipped: int
    first_step: Optional[int]
    bad: tuple[str, ...]  # the checks that were non-finite at first_step


def init_guard(skipped: int = 0) -> Guard:
    return Guard(jnp.asarray(skipped, jnp.int32), jnp.asarray(-1, jnp.int32), jnp.asarray(0, jnp.int32))


def tree_all_finite(tree) -> jax.Array:
    """bool scalar: every inexact (float/complex) leaf of `tree` is finite everywhere
    (integer leaves count as finite)."""
    checks = [
        jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)
    ]
    return jnp.all(jnp.stack(checks)) if checks else jnp.asarray(True)


def guard_update(update, check_names: list, whole_tree_select: bool = True):
    """Wrap `update(state, batch) -> (state, metrics)` into `(state, guard, batch) -> (state, guard, metrics)`.

    The new state is kept only when every metric and every new parameter is finite
    (`ok`); otherwise params, target params and optimiser state stay as they were
    (`select_tree` over the three, `whole_tree_select` its `whole`) while `step` and `key` advance. The guard
    counts the skipped updates and records the first one; `metrics["skipped_updates"]`
    is the running count. `check_names` receives the names of the checks, in bit order,
    when the function is traced.

    We do not use `optax.apply_if_finite`: it checks only the gradients, keeps its
    counters inside the optimiser state (which would change the checkpoint layout),
    and applies non-finite updates after `max_consecutive_errors`.
    """

    def guarded(state: TrainState, guard: Guard, batch):
        new, metrics = update(state, batch)
        checks = {k: jnp.all(jnp.isfinite(v)) for k, v in sorted(metrics.items())}
        checks[PARAMS_CHECK] = tree_all_finite(new.params)
        if len(checks) > 31:
            raise ValueError(f"the non-finite guard checks at most 31 values, got {len(checks)}")
        check_names[:] = list(checks)
        finite = jnp.stack(list(checks.values()))
        ok = jnp.all(finite)
        bits = jnp.sum(jnp.where(finite, 0, 2 ** jnp.arange(len(checks), dtype=jnp.int32)))

        params, target_params, opt_state = select_tree(
            ok,
            (new.params, new.target_params, new.opt_state),
            (state.params, state.target_params, state.opt_state),
            whole_tree_select,
        )
        state = TrainState(params, target_params, opt_state, new.step, new.key)
        first = (guard.first_step < 0) & ~ok
        guard = Guard(
            guard.skipped + (~ok).astype(jnp.int32),
            jnp.where(first, new.step, guard.first_step),
            jnp.where(first, bits, guard.first_bad),
        )
        return state, guard, dict(metrics, skipped_updates=guard.skipped)

    return guarded


def to_host(tree):
    """Replicated device arrays -> numpy, also when they span several processes (multi-host)."""
    return jax.tree.map(
        lambda x: np.asarray(x.addressable_data(0)) if isinstance(x, jax.Array) else np.asarray(x), tree
    )


def check_batch_size(batch_size: int, num_devices: int) -> None:
    """ConfigError naming `batch_size` unless it splits evenly over the mesh's `num_devices`."""
    if batch_size % num_devices:
        raise ConfigError(
            f"batch_size={batch_size}: expected a multiple of the number of devices ({num_devices})",
            field="batch_size",
        )


def make_mesh(devices: Optional[list] = None) -> Mesh:
    """A 1-D mesh named `data` over `devices` (default: all devices of all processes)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), ("data",))


class UpdateProgram(NamedTuple):
    """A jitted guarded update, the guard's check names (filled when it is first traced) and the agent whose loss
    it runs (held, so that the agent's `id` in the key is not reused while the entry lives)."""

    update: Callable
    check_names: list
    agent: Agent


_update_programs: collections.OrderedDict[Hashable, UpdateProgram] = collections.OrderedDict()


def program_fields(config) -> str:
    """The config fields that can enter a jitted program (all but `RUN_ONLY_FIELDS`), as canonical JSON."""
    fields = {k: v for k, v in config.to_dict().items() if k not in RUN_ONLY_FIELDS}
    return json.dumps(fields, sort_keys=True, default=repr)


def update_program_key(config, agent: Agent, obs_example: np.ndarray, batch_transform, mesh: Mesh) -> tuple:
    """What determines a learner's update program, hashable: the agent object (its loss and networks), every
    config field but `RUN_ONLY_FIELDS` (the optimiser, the target updates), the observation's shape and dtype,
    the batch transform (by identity), the mesh's devices and XLA's optimisation mode (not part of JAX's own
    jit key; the JAX settings that are, e.g. `jax_threefry_partitionable`, the jitted function tells apart)."""
    return (
        id(agent),
        program_fields(config),
        tuple(obs_example.shape[1:]),
        str(obs_example.dtype),
        batch_transform,
        tuple(d.id for d in mesh.devices.flat),
        mesh.axis_names,
        bool(jax.config.values["jax_disable_most_optimizations"]),
    )


class Learner(acme.core.Learner):
    """Owns the train state on the mesh and runs sharded updates; an `acme.core.Learner`.

    `step(batch)` (or `step()` / `run(num_steps)` on the `iterator` it was given),
    `get_variables(["params"])` (host copies, a `VariableSource` for actors),
    `save()` / `restore(state)` (a host copy of the `TrainState`), `params`, `state`;
    `nonfinite()` reports updates that were skipped by the non-finite guard.
    """

    def __init__(
        self,
        agent: Agent,
        config,
        obs_example: np.ndarray,
        mesh: Optional[Mesh] = None,
        iterator: Optional[Iterator[dict[str, np.ndarray]]] = None,
        batch_transform: Optional[Callable] = None,
    ):
        self.agent = agent
        self._iterator = iterator
        self.mesh = mesh or make_mesh()
        check_batch_size(config.batch_size, self.mesh.devices.size)
        self.optimizer = make_optimizer(config)
        self.replicated = NamedSharding(self.mesh, P())
        self.batch_sharding = NamedSharding(self.mesh, P("data"))
        state = init_train_state(agent, self.optimizer, obs_example, config.seed)
        self._state = jax.device_put(state, self.replicated)
        self._guard = jax.device_put(init_guard(), self.replicated)
        key = update_program_key(config, agent, obs_example, batch_transform, self.mesh)
        if key in _update_programs:  # a learner of the same agent and config before: its update, not traced again
            _update_programs.move_to_end(key)
            self._update, self._check_names, _ = _update_programs[key]
            return
        self._check_names: list = []
        on_cpu = self.mesh.devices.flat[0].platform == "cpu"  # see select_tree
        update = guard_update(
            make_update_fn(
                agent,
                self.optimizer,
                config.target_update_interval,
                config.get("target_update_tau", 0.0),
                batch_transform,
                whole_tree_select=on_cpu,
            ),
            self._check_names,
            whole_tree_select=on_cpu,
        )
        self._update = jax.jit(
            update,
            in_shardings=(self.replicated, self.replicated, self.batch_sharding),
            out_shardings=(self.replicated, self.replicated, self.replicated),
            donate_argnums=(0,),
        )
        _update_programs[key] = UpdateProgram(self._update, self._check_names, agent)
        while len(_update_programs) > UPDATE_PROGRAMS_KEPT:
            _update_programs.popitem(last=False)

    def put_batch(self, batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        """Host numpy batch (this process's share) -> global array sharded on `data`."""
        return {k: jax.make_array_from_process_local_data(self.batch_sharding, np.asarray(v)) for k, v in batch.items()}

    def step(self, batch: Optional[dict[str, Any]] = None) -> dict[str, jax.Array]:
        """One update on `batch` (default: the iterator's next); returns the metrics as device arrays (no host sync)."""
        if batch is None:
            if self._iterator is None:
                raise ValueError("Learner.step() without a batch needs the Learner to be given an iterator")
            batch = next(self._iterator)
        if isinstance(next(iter(batch.values())), np.ndarray):
            batch = self.put_batch(batch)
        self._state, self._guard, metrics = self._update(self._state, self._guard, batch)
        return metrics

    def nonfinite(self) -> NonFiniteReport:
        """How many updates the non-finite guard skipped, and the first one (one small device->host transfer)."""
        guard = to_host(self._guard)
        first = int(guard.first_step)
        bits = int(guard.first_bad)
        bad = tuple(name for i, name in enumerate(self._check_names) if bits >> i & 1)
        return NonFiniteReport(int(guard.skipped), None if first < 0 else first, bad)

    @property
    def state(self) -> TrainState:
        return self._state

    def save(self) -> TrainState:
        """A host (numpy) copy of the train state: the update donates the device state, so it cannot be kept."""
        return to_host(self._state)

    def restore(self, state: TrainState, skipped_updates: int = 0) -> None:
        """Continue from `state` (e.g. a checkpoint's) with the guard's count of skipped updates so far."""
        self._state = jax.device_put(state, self.replicated)
        self._guard = jax.device_put(init_guard(skipped_updates), self.replicated)

    def get_variables(self, names: Sequence[str]) -> list[Any]:
        """Host (numpy) copies of "params" (online) and / or "target_params"."""
        trees = {"params": lambda: self._state.params, "target_params": lambda: self._state.target_params}
        missing = [n for n in names if n not in trees]
        if missing:
            raise KeyError(f"no variables named {missing}; the learner has {sorted(trees)}")
        return [to_host(trees[n]()) for n in names]

    @property
    def params(self):
        return self._state.params
