"""Environment factories: BSuite (catch, cartpole, mountain_car)."""

from rosmo.envs.bsuite import ENV_NAMES, StickyActions, env_spec, make_env

__all__ = ["ENV_NAMES", "StickyActions", "env_spec", "make_env"]
