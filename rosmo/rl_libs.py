"""rlax and distrax, imported without TensorFlow: `from rosmo.rl_libs import rlax`.

rlax imports distrax, whose tfp-nightly JAX substrate imports all of TensorFlow, when it
is installed, only to copy TensorFlow's docstrings onto its own functions
(`tensorflow_probability/python/internal/backend/jax/_utils.py`, inside a
`try/except ImportError`). That costs about 5 CPU-seconds in every process that uses
rlax: `rosmo evaluate`, `rosmo sweep` and `rosmo report`, the docs build. While rlax and
distrax load, `tensorflow` is marked absent in `sys.modules`, so the substrate takes its
no-TensorFlow path (plain docstrings); the mark is removed afterwards, and a later
`import tensorflow` (the data path, through `rosmo.tf_cpu`) works as usual. If
TensorFlow is already loaded, nothing is hidden.
"""

import contextlib
import sys


@contextlib.contextmanager
def tensorflow_hidden():
    """Inside the block `import tensorflow` raises ImportError, unless TensorFlow is already loaded."""
    if "tensorflow" in sys.modules:
        yield
        return
    sys.modules["tensorflow"] = None  # the import system's "known to be absent"
    try:
        yield
    finally:
        if sys.modules.get("tensorflow", ()) is None:
            del sys.modules["tensorflow"]


with tensorflow_hidden():
    import distrax
    import rlax

__all__ = ["distrax", "rlax"]
