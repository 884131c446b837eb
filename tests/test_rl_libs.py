"""rosmo.rl_libs: rlax and distrax load without TensorFlow, and TensorFlow still loads afterwards; what evaluates a
checkpoint (the suites, the agents, `rosmo evaluate` without --ope) does not load it either."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = """
import sys
import rosmo.ops  # rlax -> distrax -> tfp's JAX substrate
assert 'rlax' in sys.modules and 'distrax' in sys.modules
assert sys.modules.get('tensorflow') is None and 'tensorflow' not in sys.modules, 'rlax loaded TensorFlow'
from rosmo.suites import SUITES
import rosmo.agents.bremen.learner, rosmo.cli.evaluate, rosmo.evaluator.checkpoint_eval, rosmo.ope.settings
for name in SUITES:
    SUITES[name]
loaded = sorted(m for m in ('tensorflow', 'tensorflow_datasets') if m in sys.modules)
assert not loaded, f'evaluating a checkpoint loads {loaded}'
from rosmo.rl_libs import distrax, rlax, tensorflow_hidden
import jax.numpy as jnp
print(float(distrax.Categorical(probs=jnp.array([0.5, 0.5])).entropy()))   # ln 2
with tensorflow_hidden():
    try:
        import tensorflow
    except ImportError:
        print('hidden')
import tensorflow as tf   # the data path, after rlax: a real module again
print(float(tf.constant(2.0) + 1.0))
with tensorflow_hidden():   # already loaded: nothing is hidden
    import tensorflow
print(sys.modules['tensorflow'] is tf)
"""


def test_rlax_loads_without_tensorflow_and_tensorflow_loads_after():
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    entropy, hidden, three, same = proc.stdout.split()
    assert abs(float(entropy) - 0.6931472) < 1e-6
    assert (hidden, float(three), same) == ("hidden", 3.0, "True")
