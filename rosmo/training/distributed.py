"""Multi-host start-up: `jax.distributed.initialize` from SLURM or explicit addresses.

One process per GPU (JAX's default under SLURM: process i of a node sees GPU
`SLURM_LOCALID`) or one process per node (`ROSMO_PROCESS_PER=node`: every
process sees all GPUs of its node); every process runs the same training script. The
learner's mesh spans all devices of all processes; each process loads its
own share of the global batch (`rosmo.suites.base.per_process_batch_size`) with its own data
seed, and `Learner.put_batch` assembles the global array from the shares.
"""

from __future__ import annotations

import os
from typing import Optional

import jax
import numpy as np
from jax.experimental import multihost_utils


def maybe_initialize(
    coordinator_address: Optional[str] = None,
    num_processes: Optional[int] = None,
    process_id: Optional[int] = None,
) -> bool:
    """Initialise JAX's distributed runtime when asked to, else do nothing.

    Explicit arguments win; otherwise `ROSMO_COORDINATOR` / `ROSMO_NUM_PROCESSES` /
    `ROSMO_PROCESS_ID` are read; otherwise, inside a SLURM job with more than
    one task, JAX's SLURM auto-detection is used. Returns True when initialised.
    """
    coordinator_address = coordinator_address or os.environ.get("ROSMO_COORDINATOR")
    if num_processes is None and "ROSMO_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["ROSMO_NUM_PROCESSES"])
    if process_id is None and "ROSMO_PROCESS_ID" in os.environ:
        process_id = int(os.environ["ROSMO_PROCESS_ID"])
    if coordinator_address:
        if num_processes is None or process_id is None:
            raise ValueError(
                "a coordinator address needs the number of processes and this process's id "
                "(ROSMO_NUM_PROCESSES and ROSMO_PROCESS_ID)"
            )
        jax.distributed.initialize(coordinator_address, num_processes=num_processes, process_id=process_id)
        return True
    if int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        jax.distributed.initialize(local_device_ids=local_device_ids())  # reads SLURM_* variables
        return True
    return False


def local_device_ids(environ=None) -> Optional[list[int]]:
    """The GPUs a SLURM task drives: None (JAX's default, GPU SLURM_LOCALID) unless ROSMO_PROCESS_PER=node.

    With one process per node, all GPUs of the node: 0..n-1 for the n in CUDA_VISIBLE_DEVICES
    (or SLURM_GPUS_ON_NODE). ValueError for any other ROSMO_PROCESS_PER than "gpu" or "node".
    """
    environ = os.environ if environ is None else environ
    per = environ.get("ROSMO_PROCESS_PER", "gpu")
    if per not in ("gpu", "node"):
        raise ValueError(f"ROSMO_PROCESS_PER={per!r}: expected 'gpu' (one process per GPU) or 'node'")
    if per == "gpu":
        return None
    visible = [d for d in environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    count = len(visible) or int(environ.get("SLURM_GPUS_ON_NODE", "0") or 0)
    return list(range(count)) if count else None


def is_main_process() -> bool:
    """Process 0 writes logs, checkpoints metadata and summaries."""
    return jax.process_index() == 0


def agreed_stop(pending: Optional[int]) -> Optional[int]:
    """The stop signal any process has pending (the lowest number), the same answer in every process; None: go on.

    A collective (an all-gather of one int32 per process): every process calls it at the
    same step, so that all of them stop, and save their share of the checkpoint, at that step.
    """
    flags = np.ravel(multihost_utils.process_allgather(np.asarray(int(pending or 0), np.int32)))
    raised = [int(f) for f in flags if f]
    return min(raised) if raised else None
