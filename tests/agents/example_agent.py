"""A tiny example agent, the whole of what "add an agent" takes (docs/guides/adding-an-agent.md).

"first-step BC": behaviour cloning of the logged action at the first step of
each window only, with a temperature on the logits:

    loss = mean over windows whose step 0 is a logged transition of -log softmax(f(h(o_0)) / T)[a_0]

Registering it is one line in `rosmo/agents/__init__.py` (`_SPECS`); the test
registers it with `monkeypatch.setitem(AGENTS, SPEC.name, SPEC)` instead.
"""

import jax
import jax.numpy as jnp

from rosmo.agents.base import AgentSpec, masked_mean, select_actions
from rosmo.errors import check_field


def make_loss(networks, config):
    def loss(params, target_params, batch, key):
        del target_params, key
        logits = networks.predict(params, networks.represent(params, batch["observation"][:, 0])).policy_logits
        log_pi = jax.nn.log_softmax(logits / config.example_temperature, axis=-1)
        nll = -jnp.take_along_axis(log_pi, batch["action"][:, :1].astype(jnp.int32), axis=-1)[:, 0]
        total = masked_mean(nll, ~batch["is_last"][:, 0])
        return total, {"loss": total}

    return loss


def make_actor(networks, config):
    def act(params, obs, key):
        logits = networks.predict(params, networks.represent(params, obs)).policy_logits
        return select_actions(logits, key, config.act_greedy)

    return act


def validate(config):
    check_field(config.example_temperature > 0, "example_temperature", "a positive number", config.example_temperature)


SPEC = AgentSpec(
    name="example",
    description="first-step behaviour cloning (the docs' example agent)",
    make_loss=make_loss,
    make_actor=make_actor,
    act_policies=("prior",),
    config_defaults={"example_temperature": 1.0},
    validate=validate,
)
