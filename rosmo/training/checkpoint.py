"""Checkpoint storage with automatic resume, over `orbax-checkpoint`.

    ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), max_to_keep=3)
    state, extra = ckpt.restore(state)              # newest usable step; fresh `state` is the target
    ckpt.save(step, state, extra={"config": cfg})   # async; ckpt.close() waits
    params, extra = load_params(workdir)            # for evaluation: numpy arrays + extra dict

One directory per step (`<step>/`: `state/`, `extra/`, `commit_success.txt`, `rosmo_files.json` with every
file's size and CRC-32), renamed into place only when complete. A restore without a step falls back past
unreadable or refused steps (moved aside as `<step>.unreadable-*`). Rebuilding an agent from a checkpoint's
saved config is `rosmo.training.restore`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from typing import Any, Callable, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp

from rosmo.data.fingerprint import crc32_file, file_difference
from rosmo.errors import UserError
from rosmo.jsonio import to_jsonable, write_json_atomic

PyTree = Any

STATE_ITEM = "state"
EXTRA_ITEM = "extra"
CHECKPOINTS_SUBDIR = "checkpoints"
COMMIT_FILE = "commit_success.txt"
TMP_MARKER = ".orbax-checkpoint-tmp"
MANIFEST_FILE = "rosmo_files.json"
UNREADABLE_MARKER = ".unreadable-"

_log = logging.getLogger(__name__)


class CheckpointError(UserError):
    """A checkpoint that cannot be used as asked (the message names the path and the flag)."""


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written (disk full, file system gone); older complete checkpoints are intact."""


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"rosmo: warning: {message}", file=sys.stderr, flush=True)


def short_reason(err: BaseException, limit: int = 300) -> str:
    """One line on why reading failed: the innermost exception's first line (orbax/tensorstore nest them)."""
    chain, seen = [], set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        chain.append(err)
        err = err.__cause__ or err.__context__
    for e in reversed(chain):
        text = " ".join(str(e).strip().split("\n")[0].split())
        if text:
            text = (
                f"{type(e).__name__}: {text}"  # long ones keep their head (what) and tail (why, e.g. "File too large")
            )
            return text if len(text) <= limit else f"{text[: limit // 2 - 3]} ... {text[-(limit // 2 - 2) :]}"
    return type(chain[0]).__name__


def _step_files(step_dir: str) -> list[str]:
    files = []
    for root, _, names in os.walk(step_dir):
        for name in names:
            rel = os.path.relpath(os.path.join(root, name), step_dir)
            if rel != MANIFEST_FILE and not name.startswith("."):
                files.append(rel)
    return sorted(files)


def write_manifest(step_dir: str) -> None:
    """Record every file of a complete step directory: `{"files": {relative path: [bytes, crc32]}}`."""
    files = {
        rel: [os.path.getsize(os.path.join(step_dir, rel)), crc32_file(os.path.join(step_dir, rel))]
        for rel in _step_files(step_dir)
    }
    write_json_atomic(os.path.join(step_dir, MANIFEST_FILE), {"files": files})


def damaged_files(step_dir: str) -> Optional[list[str]]:
    """Files of `step_dir` that differ from its manifest ("<path>: missing" / "<path>: N bytes, expected M" /
    "<path>: contents changed"); None when the step has no (readable) manifest."""
    path = os.path.join(step_dir, MANIFEST_FILE)
    try:
        with open(path) as f:
            files = json.load(f)["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    damaged = []
    for rel, (size, crc) in sorted(files.items()):
        difference = file_difference(os.path.join(step_dir, rel), size, crc)
        if difference is None:
            continue
        kind, actual = difference
        if kind == "missing":
            damaged.append(f"{rel}: missing")
        elif kind == "size":
            damaged.append(f"{rel}: {actual} bytes, expected {size}")
        else:
            damaged.append(f"{rel}: contents changed since the save")
    return damaged


def first_nonfinite(tree: PyTree) -> Optional[str]:
    """The path of the first floating leaf of `tree` holding NaN or inf (e.g. "mlp/~/linear_0/w"), or None."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            leaf = leaf.addressable_data(0)  # replicated: every process holds the same values
        array = np.asarray(leaf)
        if np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all():
            return "/".join(str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path)
    return None


def finite_params_check(state: PyTree, extra: dict) -> Optional[str]:
    """A `restore(check=...)`: refuses a state whose `params` hold NaN or inf."""
    del extra
    params = state.get("params", state) if isinstance(state, dict) else getattr(state, "params", state)
    leaf = first_nonfinite(params)
    return None if leaf is None else f"non-finite parameters (NaN or inf in params {leaf})"


def _item_handlers() -> dict[str, Any]:
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
        self._unrecorded: list[int] = []  # steps this Checkpointer saved whose manifest is not written yet

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

    def _write_manifests(self) -> None:
        """Write `rosmo_files.json` into the steps this Checkpointer saved (process 0; no save may be in flight)."""
        steps, self._unrecorded = self._unrecorded, []
        if self.read_only or jax.process_index() != 0:
            return
        complete = set(self.all_steps())
        for step in steps:
            step_dir = os.path.join(self.directory, str(step))
            if step in complete and not os.path.exists(os.path.join(step_dir, MANIFEST_FILE)):
                try:
                    write_manifest(step_dir)
                except OSError as err:  # e.g. rotated out meanwhile: that step is simply not verified later
                    _log.warning("cannot write %s: %s", os.path.join(step_dir, MANIFEST_FILE), err)

    def all_steps(self) -> list[int]:
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
        self.wait()  # orbax waits for the previous save anyway; its manifest is written now
        try:
            saved = bool(self._manager.save(step, args=args, force=True))
        except Exception as err:  # orbax / tensorstore raise ValueError, RuntimeError, OSError...
            raise CheckpointWriteError(
                f"cannot write checkpoint {os.path.join(self.directory, str(step))}: {short_reason(err)}"
            ) from err
        if saved:
            self._unrecorded.append(step)
        return saved

    def wait(self) -> None:
        """Block until every issued save is fully written (and old ones deleted); record their files.

        Raises CheckpointWriteError (one line) when a save failed, e.g. on a full disk.
        """
        try:
            self._manager.wait_until_finished()
        except Exception as err:
            steps, self._unrecorded = self._unrecorded, []
            raise CheckpointWriteError(
                f"cannot write checkpoint {os.path.join(self.directory, str(steps[-1] if steps else '?'))}"
                f": {short_reason(err)}"
            ) from err
        self._write_manifests()

    def close(self) -> None:
        """Wait for pending saves and release orbax's resources."""
        self.wait()
        self._manager.close()

    def __enter__(self) -> Checkpointer:
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
            raise FileNotFoundError(
                f"no complete checkpoint for step {step} in {self.directory}; available steps: {steps}"
            )
        return int(step)

    def restore(
        self,
        target: Optional[PyTree],
        step: Optional[int] = None,
        check: Optional[Callable[[PyTree, dict], Optional[str]]] = None,
    ) -> tuple[PyTree, dict]:
        """Restore step `step` (the newest readable one when None) into the structure of `target`.

        Each leaf comes back with the type, dtype and sharding of the matching
        `target` leaf: a `jax.Array` (or `jax.ShapeDtypeStruct` with a
        sharding) gives a `jax.Array` on that sharding, a numpy array gives a
        numpy array, a typed PRNG key gives a typed key. `target=None` restores
        the raw saved pytree as numpy arrays (dicts/lists instead of NamedTuples).
        `check(state, extra)` may refuse a restored step by returning a reason
        (e.g. `finite_params_check`).

        With `step=None`, a step that cannot be read or is refused gives a one-line
        warning and the previous step is tried (see the module docstring).

        Returns (state, extra). Raises FileNotFoundError naming the directory
        when there is nothing to restore, CheckpointError (a ValueError) naming the
        step's files when the asked step, or every step, cannot be read.
        """
        if step is not None:
            step = self._resolve_step(step)
            try:
                return self._restore_step(step, target, check)
            except CheckpointError as err:
                raise CheckpointError(
                    f"checkpoint {os.path.join(self.directory, str(step))} cannot be used: {err}"
                ) from None
        self._resolve_step(None)  # FileNotFoundError naming the directory when it holds no checkpoint
        steps = self.all_steps()
        failures = []
        for candidate in reversed(steps):
            try:
                restored = self._restore_step(candidate, target, check)
            except CheckpointError as err:
                failures.append((candidate, str(err)))
                older = [s for s in steps if s < candidate]
                then = f"falling back to step {older[-1]}" if older else "no older checkpoint"
                warn(f"checkpoint {os.path.join(self.directory, str(candidate))} cannot be used ({err}); {then}")
                continue
            for bad, _ in failures:
                self._move_aside(bad)
            return restored
        if len(failures) == 1:
            raise CheckpointError(
                f"cannot restore {os.path.join(self.directory, str(failures[0][0]))}: {failures[0][1]}"
            )
        raise CheckpointError(
            f"no usable checkpoint in {self.directory}: " + "; ".join(f"step {s}: {why}" for s, why in failures)
        )

    def _restore_step(self, step: int, target: Optional[PyTree], check) -> tuple[PyTree, dict]:
        """Restore one step; CheckpointError (one line: the damaged files, the read error or the check's reason)."""
        step_dir = os.path.join(self.directory, str(step))
        damaged = damaged_files(step_dir)
        if damaged:
            raise CheckpointError("damaged files " + ", ".join(damaged))
        try:
            if target is None:
                state_args = self._numpy_restore_args(step)
            else:
                item = _restore_target(target)
                state_args = ocp.args.PyTreeRestore(
                    item=item, restore_args=ocp.checkpoint_utils.construct_restore_args(item)
                )
            args = ocp.args.Composite(**{STATE_ITEM: state_args, EXTRA_ITEM: ocp.args.JsonRestore()})
            restored = self._manager.restore(step, args=args)
        except Exception as err:  # orbax / tensorstore raise many types for unreadable files
            structure = " (the target's pytree structure must match the saved one)" if target is not None else ""
            raise CheckpointError(
                f"cannot read {os.path.join(step_dir, STATE_ITEM)}{structure}: {short_reason(err)}"
            ) from err
        state = restored[STATE_ITEM]
        if target is not None:
            state = _data_to_keys(state, target)
        extra = restored[EXTRA_ITEM]
        extra = {} if extra is None else dict(extra)
        reason = check(state, extra) if check is not None else None
        if reason:
            raise CheckpointError(reason)
        return state, extra

    def _move_aside(self, step: int) -> None:
        """Rename an unreadable newer step to `<step>.unreadable-<time>` (writable, process 0),
        so it can be saved again."""
        if self.read_only or jax.process_index() != 0:
            return
        src = os.path.join(self.directory, str(step))
        dst = f"{src}{UNREADABLE_MARKER}{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            os.replace(src, dst)
        except OSError as err:
            warn(f"cannot move the unreadable checkpoint {src} aside ({err})")
            return
        warn(f"moved the unreadable checkpoint {src} to {dst}")
        self._manager.reload()

    def _numpy_restore_args(self, step: int) -> Any:
        metadata = self._manager.item_metadata(step)[STATE_ITEM]
        tree = getattr(metadata, "tree", metadata)
        if tree is None:
            raise ValueError(f"no state metadata in {os.path.join(self.directory, str(step), STATE_ITEM)}")
        restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
        return ocp.args.PyTreeRestore(restore_args=restore_args)


def checkpoint_clocks(extra: dict[str, Any]) -> Optional[dict[str, float]]:
    """The run's clocks saved with a checkpoint, as eval.csv rows carry them: `wall_seconds` (evaluations
    included) and `train_seconds` (without them); None for a checkpoint that records neither.

    Checkpoints without `wall_seconds` kept the wall-clock under `train_seconds`; they are read that way."""
    if extra.get("wall_seconds") is not None:
        return {"wall_seconds": float(extra["wall_seconds"]), "train_seconds": float(extra["train_seconds"])}
    if extra.get("train_seconds") is None:
        return None
    wall = float(extra["train_seconds"])
    return {"wall_seconds": wall, "train_seconds": wall - float(extra.get("eval_seconds") or 0.0)}


def complete_steps(directory: str) -> list[int]:
    """Steps of the complete checkpoints (`<step>/` with its commit file) in `directory`, ascending; [] when none."""
    names = os.listdir(directory) if os.path.isdir(directory) else []
    return sorted(int(n) for n in names if n.isdigit() and _complete(os.path.join(directory, n)))


def checkpoint_dir(run_or_dir: str) -> str:
    """`<run>/checkpoints` when `run_or_dir` is a run directory, else `run_or_dir` itself."""
    candidate = os.path.join(run_or_dir, CHECKPOINTS_SUBDIR)
    return candidate if os.path.isdir(candidate) else run_or_dir


def load_params(
    run_or_dir: str, step: Optional[int] = None, check: Optional[Callable] = finite_params_check
) -> tuple[PyTree, dict]:
    """Load the `params` entry of a saved train state, as numpy, for evaluation.

    Args:
      run_or_dir: a run directory (holding `checkpoints/`), a checkpoint directory, or one step's
        directory in it (`<run>/checkpoints/<step>`, which picks that step).
      step: the step to load; the newest usable checkpoint when None (falling back,
        with a warning, past unreadable ones or ones refused by `check`).
      check: `Checkpointer.restore`'s check; by default non-finite parameters are refused.

    Returns:
      (params, extra): params as a nested dict of numpy arrays; extra is the
      JSON dict saved with the checkpoint (the trainer stores the config there).
    """
    directory = checkpoint_dir(os.fspath(run_or_dir))
    name = os.path.basename(os.path.normpath(directory))
    if name.isdigit() and os.path.isfile(os.path.join(directory, COMMIT_FILE)):  # one step's directory
        if step is not None and int(step) != int(name):
            raise FileNotFoundError(f"is the checkpoint of step {int(name)}, but step {step} was asked for")
        directory, step = os.path.dirname(os.path.normpath(directory)), int(name)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"{run_or_dir} is neither a run directory (with {CHECKPOINTS_SUBDIR}/) nor a checkpoint directory"
        )
    ckpt = Checkpointer(directory, read_only=True)
    try:
        state, extra = ckpt.restore(None, step=step, check=check)
    finally:
        ckpt.close()
    if not isinstance(state, dict) or "params" not in state:
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise KeyError(f"checkpoint in {directory} has no 'params' entry in its saved state (found: {keys})")
    return state["params"], extra
