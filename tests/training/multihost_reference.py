"""The 1-process reference of the multi-host test: `python multihost_reference.py P DEVICES rosmo-train-args...`.

Runs `rosmo train` in one process over DEVICES CPU devices, feeding each step the
global batch a P-process run assembles: the per-process batches of shards
0..P-1 (each `batch_size / P` windows from `make_loader(shard=p)`), concatenated
in process order, which is how `jax.make_array_from_process_local_data` lays the
processes' shares along the `data` axis (process p's devices hold rows
p * B/P .. (p + 1) * B/P - 1).
"""

import os
import sys

P, DEVICES = int(sys.argv[1]), int(sys.argv[2])
os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={DEVICES} " + os.environ.get("XLA_FLAGS", "")

import numpy as np  # noqa: E402

from rosmo import cli  # noqa: E402
from rosmo.data import loader  # noqa: E402

single_process_loader = loader.make_loader


def composed_loader(*args, batch_size, shard=0, **kwargs):
    assert shard == 0 and batch_size % P == 0
    shares = [single_process_loader(*args, batch_size=batch_size // P, shard=p, **kwargs) for p in range(P)]
    while True:
        parts = [next(share) for share in shares]
        yield {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}


loader.make_loader = composed_loader  # rosmo.suites.bsuite calls loader.make_loader(...)
sys.exit(cli.main(["train", *sys.argv[3:]]))
