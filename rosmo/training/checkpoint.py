"""Checkpoints with automatic resume, over `orbax-checkpoint`.

On-disk layout (one directory per saved step, written by orbax)::

    <workdir>/checkpoints/            the `directory` given to `Checkpointer`
        <step>/                       one complete checkpoint, e.g. `1000/`
            state/                    the train-state pytree (orbax PyTree, OCDBT)
            extra/                    a small JSON dict (loader seed/position, config)
            _CHECKPOINT_METADATA      orbax step metadata
            commit_success.txt        written just before the atomic rename
        <step>.orbax-checkpoint-tmp-<n>/   a save in progress (or interrupted)

A save is written into the `*.orbax-checkpoint-tmp-*` directory and renamed to
`<step>/` only when complete, so an interrupted save never looks like a step.
`Checkpointer` additionally treats a `<step>/` without `commit_success.txt` as
incomplete (e.g. a half-copied directory): it is never restored or reported as
latest, and a writable `Checkpointer` deletes such leftovers (and orbax tmp
directories) when it opens the directory.

Typical use (a run resumes from its latest checkpoint by itself)::

    ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), max_to_keep=3)
    if ckpt.latest_step() is not None:
        state, extra = ckpt.restore(state)          # `state` is the fresh target
    ...
    ckpt.save(step, state, extra={"loader": loader_state, "config": cfg})
    ...
    ckpt.close()                                    # waits for async saves

and for evaluation, without building a target::

    params, extra = load_params(workdir)            # numpy arrays + extra dict
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any, Callable, Dict, List, Optional, Tuple

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from rosmo.agents import make_agent
from rosmo.networks import make_networks
from rosmo.training.run_logging import to_jsonable

PyTree = Any

STATE_ITEM = "state"
EXTRA_ITEM = "extra"
CHECKPOINTS_SUBDIR = "checkpoints"
COMMIT_FILE = "commit_success.txt"
TMP_MARKER = ".orbax-checkpoint-tmp"

_log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as asked (the message names the path and the flag)."""


def _item_handlers() -> Dict[str, Any]:
    return {STATE_ITEM: ocp.PyTreeCheckpointHandler(), EXTRA_ITEM: ocp.JsonCheckpointHandler()}


def _is_typed_key(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _keys_to_data(tree: PyTree) -> PyTree:
    """Typed PRNG keys (`jax.random.key`) -> their uint32 key data; other leaves unchanged."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_typed_key(x) else x, tree)


def _restore_target(target: PyTree) -> PyTree:
    """Typed-key leaves of `target` -> uint32 `ShapeDtypeStruct`s with the same sharding."""

    def leaf(x):
        if not _is_typed_key(x):
            return x
        data = jax.eval_shape(jax.random.key_data, x)
        return jax.ShapeDtypeStruct(data.shape, data.dtype, sharding=getattr(x, "sharding", None))

    return jax.tree.map(leaf, target)


def _data_to_keys(restored: PyTree, target: PyTree) -> PyTree:
    """Re-wrap uint32 key data as typed keys where `target` holds typed keys."""
    return jax.tree.map(
        lambda t, r: jax.random.wrap_key_data(r, impl=jax.random.key_impl(t)) if _is_typed_key(t) else r,
        target,
        restored,
    )


def _complete(step_dir: str) -> bool:
    return os.path.isfile(os.path.join(step_dir, COMMIT_FILE))


class Checkpointer:
    """Saves and restores a train state (+ a small JSON dict) under `directory/<step>/`.

    Args:
      directory: checkpoint directory (conventionally `<workdir>/checkpoints`);
        created if missing unless `read_only`.
      max_to_keep: number of most recent checkpoints kept; older ones are deleted.
      save_interval_steps: `save(step, ...)` writes only when
        `step % save_interval_steps == 0` (or `force=True`).
      read_only: never write or delete anything (used by `load_params`).

    Saves are asynchronous (arrays are copied to host, then written in a
    background thread); `wait()` makes every issued save durable.
    """

    def __init__(self, directory: str, max_to_keep: int = 3, save_interval_steps: int = 1, *, read_only: bool = False):
        if max_to_keep < 1:
            raise ValueError(f"Checkpointer(max_to_keep={max_to_keep}): expected an integer >= 1")
        if save_interval_steps < 1:
            raise ValueError(f"Checkpointer(save_interval_steps={save_interval_steps}): expected an integer >= 1")
        self.directory = os.path.abspath(os.fspath(directory))
        self.save_interval_steps = int(save_interval_steps)
        self.read_only = read_only
        if read_only:
            if not os.path.isdir(self.directory):
                raise FileNotFoundError(f"checkpoint directory {self.directory} does not exist")
            options = ocp.CheckpointManagerOptions(read_only=True, create=False, save_interval_steps=0)
        else:
            os.makedirs(self.directory, exist_ok=True)
            if jax.process_index() == 0:
                self._remove_incomplete()
            options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options, item_handlers=_item_handlers())

    # ----------------------------------------------------------------- queries
    def _remove_incomplete(self) -> None:
        """Delete leftovers of interrupted saves: orbax tmp dirs and `<step>/` without a commit file."""
        for name in os.listdir(self.directory):
            path = os.path.join(self.directory, name)
            if not os.path.isdir(path):
                continue
            if TMP_MARKER in name or (name.isdigit() and not _complete(path)):
                _log.warning("removing incomplete checkpoint %s (left by an interrupted save)", path)
                shutil.rmtree(path, ignore_errors=True)

    def all_steps(self) -> List[int]:
        """Steps of complete checkpoints on disk, ascending (pending async saves excluded)."""
        steps = []
        for name in os.listdir(self.directory) if os.path.isdir(self.directory) else []:
            if name.isdigit() and _complete(os.path.join(self.directory, name)):
                steps.append(int(name))
        return sorted(steps)

    def latest_step(self) -> Optional[int]:
        """The newest complete checkpoint's step, or None when there is none.

        An async save issued by `save` counts only once it has finished; call
        `wait()` first to include it.
        """
        steps = self.all_steps()
        return steps[-1] if steps else None

    # -------------------------------------------------------------------- save
    def should_save(self, step: int) -> bool:
        """True when `step` is a multiple of `save_interval_steps` and newer than the latest save."""
        latest = self._manager.latest_step()
        return step % self.save_interval_steps == 0 and (latest is None or step > latest)

    def save(self, step: int, state: PyTree, extra: Optional[dict] = None, force: bool = False) -> bool:
        """Save `state` (pytree of jax/numpy arrays) and `extra` (JSON-able dict) as step `step`.

        Returns True when a save was issued: `step % save_interval_steps == 0`
        and newer than the latest checkpoint, or `force=True`. A step that
        already has a checkpoint is never overwritten (returns False). The
        save is asynchronous; `wait()` / `close()` make it durable.
        """
        if self.read_only:
            raise RuntimeError(f"Checkpointer({self.directory}) is read-only; cannot save step {step}")
        step = int(step)
        if step < 0:
            raise ValueError(f"Checkpointer.save: step must be >= 0, got {step}")
        if step in self._manager.all_steps():
            return False
        if not force and not self.should_save(step):
            return False
        try:
            extra_json = to_jsonable({} if extra is None else dict(extra))
        except TypeError as e:
            raise TypeError(f"Checkpointer.save(step={step}): `extra` must be JSON-able: {e}") from e
        args = ocp.args.Composite(
            **{
                STATE_ITEM: ocp.args.PyTreeSave(_keys_to_data(state)),
                EXTRA_ITEM: ocp.args.JsonSave(extra_json),
            }
        )
        return bool(self._manager.save(step, args=args, force=True))

    def wait(self) -> None:
        """Block until every issued save is fully written (and old ones deleted)."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Wait for pending saves and release orbax's resources."""
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self) -> "Checkpointer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- restore
    def _resolve_step(self, step: Optional[int]) -> int:
        self._manager.wait_until_finished()
        steps = self.all_steps()
        if not steps:
            raise FileNotFoundError(
                f"no complete checkpoint to restore in {self.directory} "
                f"(expected sub-directories <step>/ containing {COMMIT_FILE})"
            )
        if step is None:
            return steps[-1]
        if int(step) not in steps:
            raise FileNotFoundError(f"no complete checkpoint for step {step} in {self.directory}; available steps: {steps}")
        return int(step)

    def restore(self, target: Optional[PyTree], step: Optional[int] = None) -> Tuple[PyTree, dict]:
        """Restore step `step` (latest when None) into the structure of `target`.

        Each leaf comes back with the type, dtype and sharding of the matching
        `target` leaf: a `jax.Array` (or `jax.ShapeDtypeStruct` with a
        sharding) gives a `jax.Array` on that sharding, a numpy array gives a
        numpy array, a typed PRNG key gives a typed key. `target=None` restores
        the raw saved pytree as numpy arrays (dicts/lists instead of NamedTuples).

        Returns (state, extra). Raises FileNotFoundError naming the directory
        when there is nothing to restore, ValueError when `target` does not
        match the saved structure.
        """
        step = self._resolve_step(step)
        if target is None:
            state_args = self._numpy_restore_args(step)
        else:
            item = _restore_target(target)
            state_args = ocp.args.PyTreeRestore(
                item=item, restore_args=ocp.checkpoint_utils.construct_restore_args(item)
            )
        args = ocp.args.Composite(**{STATE_ITEM: state_args, EXTRA_ITEM: ocp.args.JsonRestore()})
        try:
            restored = self._manager.restore(step, args=args)
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(
                f"cannot restore {os.path.join(self.directory, str(step), STATE_ITEM)} into the given target "
                f"(the target's pytree structure must match the saved one): {e}"
            ) from e
        state = restored[STATE_ITEM]
        if target is not None:
            state = _data_to_keys(state, target)
        extra = restored[EXTRA_ITEM]
        return state, ({} if extra is None else dict(extra))

    def _numpy_restore_args(self, step: int) -> Any:
        metadata = self._manager.item_metadata(step)[STATE_ITEM]
        tree = getattr(metadata, "tree", metadata)
        if tree is None:
            raise ValueError(f"no state metadata in {os.path.join(self.directory, str(step), STATE_ITEM)}")
        restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
        return ocp.args.PyTreeRestore(restore_args=restore_args)


def checkpoint_dir(run_or_dir: str) -> str:
    """`<run>/checkpoints` when `run_or_dir` is a run directory, else `run_or_dir` itself."""
    candidate = os.path.join(run_or_dir, CHECKPOINTS_SUBDIR)
    return candidate if os.path.isdir(candidate) else run_or_dir


def load_params(run_or_dir: str, step: Optional[int] = None) -> Tuple[PyTree, dict]:
    """Load the `params` entry of a saved train state, as numpy, for evaluation.

    Args:
      run_or_dir: a run directory (holding `checkpoints/`) or a checkpoint directory.
      step: the step to load; the latest complete checkpoint when None.

    Returns:
      (params, extra): params as a nested dict of numpy arrays; extra is the
      JSON dict saved with the checkpoint (the trainer stores the config there).
    """
    directory = checkpoint_dir(os.fspath(run_or_dir))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"{run_or_dir} is neither a run directory (with {CHECKPOINTS_SUBDIR}/) nor a checkpoint directory"
        )
    ckpt = Checkpointer(directory, read_only=True)
    try:
        state, extra = ckpt.restore(None, step=step)
    finally:
        ckpt.close()
    if not isinstance(state, dict) or "params" not in state:
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise KeyError(f"checkpoint in {directory} has no 'params' entry in its saved state (found: {keys})")
    return state["params"], extra


def load_agent(
    checkpoint: str,
    step: Optional[int] = None,
    act_policy: Optional[str] = None,
    greedy: Optional[bool] = None,
    flag: str = "--checkpoint",
):
    """Rebuild a trained agent from a run (or checkpoint) directory.

    Returns (agent, params, config, extra): `agent.act(params, obs[B, ...], key) -> int32[B]`
    with the saved config's acting rule, overridden by `act_policy` / `greedy`
    when given; `extra` holds `num_actions`, `observation_shape`, `dataset_metadata`.

    Raises:
      FileNotFoundError: no run/checkpoint directory or no complete checkpoint in it.
      CheckpointError: the checkpoint carries no config (not written by `rosmo train`),
        or the acting rule does not fit the agent.
    Messages start with `flag` (the command-line flag that named the checkpoint).
    """
    try:
        params, extra = load_params(checkpoint, step=step)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{flag} {checkpoint}: {err}") from None
    if "config" not in extra or "num_actions" not in extra:
        raise CheckpointError(
            f"{flag} {checkpoint}: the checkpoint has no saved 'config'/'num_actions' "
            "(expected a run directory written by `rosmo train`)"
        )
    config = ml_collections.ConfigDict(extra["config"])
    if act_policy is not None:
        config.act_policy = act_policy
    if greedy is not None:
        config.act_greedy = bool(greedy)
    networks = make_networks(config, int(extra["num_actions"]))
    try:
        agent = make_agent(config, networks)
    except ValueError as err:
        raise CheckpointError(f"--act-policy {config.act_policy}: {err}") from None
    return agent, params, config, extra


def load_policy(
    checkpoint: str,
    num_actions: int,
    observation_shape: Optional[Tuple[int, ...]] = None,
    seed: int = 0,
    flag: str = "--policy",
) -> Callable[[np.ndarray], np.ndarray]:
    """A trained agent as `policy_fn(obs [N, ...]) -> actions int32 [N]` (its saved acting rule).

    One jitted call per batch of observations, keys from `seed`. Raises CheckpointError
    naming `flag` when the agent was trained for another number of actions or
    observation shape.
    """
    agent, params, _, extra = load_agent(checkpoint, flag=flag)
    if int(extra["num_actions"]) != int(num_actions):
        raise CheckpointError(f"{flag} {checkpoint}: the agent has {extra['num_actions']} actions, the env has {num_actions}")
    shape = tuple(extra.get("observation_shape") or ())
    if observation_shape is not None and shape and shape != tuple(observation_shape):
        raise CheckpointError(f"{flag} {checkpoint}: the agent takes observations {shape}, the env gives {tuple(observation_shape)}")
    act = jax.jit(agent.act)
    params = jax.device_put(params)
    key = jax.random.PRNGKey(seed)

    def policy_fn(obs: np.ndarray) -> np.ndarray:
        nonlocal key
        key, act_key = jax.random.split(key)
        return np.asarray(act(params, obs, act_key)).astype(np.int32)

    return policy_fn
