"""Pure JAX maths of ROSMO: value transform, two-hot, targets, policy targets.

Every function is a pure ``jnp`` function (jit-able) with its formula and
shapes in its docstring; see the three modules for details.
"""

from rosmo.ops.policy_targets import (
    filtered_bc_loss,
    one_step_policy_target,
    sampled_policy_loss,
    sampled_policy_target,
    sampled_policy_weights,
    shape_advantages,
    uniform_where,
)
from rosmo.ops.targets import (
    episode_masks,
    n_step_value_targets,
    one_step_advantage_data,
    one_step_advantage_model,
    reward_targets,
    unroll_actions,
)
from rosmo.ops.value_transform import (
    logits_to_scalar,
    scalar_to_two_hot,
    signed_hyperbolic,
    signed_parabolic,
    support,
    two_hot_to_scalar,
    value_to_target_probs,
)

__all__ = [
    "episode_masks",
    "filtered_bc_loss",
    "logits_to_scalar",
    "n_step_value_targets",
    "one_step_advantage_data",
    "one_step_advantage_model",
    "one_step_policy_target",
    "reward_targets",
    "sampled_policy_loss",
    "sampled_policy_target",
    "sampled_policy_weights",
    "scalar_to_two_hot",
    "shape_advantages",
    "signed_hyperbolic",
    "signed_parabolic",
    "support",
    "two_hot_to_scalar",
    "unroll_actions",
    "uniform_where",
    "value_to_target_probs",
]
