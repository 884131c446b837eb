"""TensorFlow, imported once, pinned to the CPU and quiet: it feeds data, JAX owns the accelerator.

Import this module before anything that imports TensorFlow (`rosmo.data.rlds`
imports it before TFDS). rlax does not load TensorFlow: `rosmo.rl_libs` keeps it out.

TensorFlow's C++ start-up lines ("oneDNN custom operations are on", absl's
"log messages before InitializeLog") are written to file descriptor 2 while
the library loads, before `TF_CPP_MIN_LOG_LEVEL` takes effect; they are
silenced for the duration of the import only (Python errors still surface).
"""

import contextlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _quiet_fd2():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def tensorflow():
    """Return the `tensorflow` module with every GPU/TPU hidden from it."""
    if "tensorflow" not in sys.modules:
        with _quiet_fd2():
            import tensorflow  # noqa: F401
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
        tf.config.set_visible_devices([], "TPU")
    except (RuntimeError, ValueError):  # already initialised, or no such device type
        pass
    return tf


tf = tensorflow()
