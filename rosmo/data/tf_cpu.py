"""Import TensorFlow pinned to the CPU: it feeds data, JAX owns the accelerator."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tensorflow():
    """Return the `tensorflow` module with every GPU/TPU hidden from it."""
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
        tf.config.set_visible_devices([], "TPU")
    except (RuntimeError, ValueError):  # already initialised, or no such device type
        pass
    return tf
