"""The networks a config names: `make_networks(config, num_actions)`."""

from __future__ import annotations

from rosmo.errors import ConfigError
from rosmo.networks import NETWORKS
from rosmo.networks.base import Networks
from rosmo.networks.minatar import make_minatar_networks
from rosmo.networks.mlp import make_mlp_networks
from rosmo.networks.resnet import make_resnet_networks, resnet_preset


def make_networks(config, num_actions: int) -> Networks:
    """Networks named by `config.network`: "mlp", "resnet" (sized by `network_preset` and explicit sizes) or
    "minatar" (sized by `torso_channels`, `hidden_size`)."""
    if config.network == "mlp":
        return make_mlp_networks(num_actions, config.num_bins)
    if config.network == "resnet":
        sizes = resnet_preset(config.network_preset)
        sizes.update({k: config[k] for k in sizes if config.get(k) is not None})  # explicit sizes win
        return make_resnet_networks(num_actions, config.num_bins, **sizes)
    if config.network == "minatar":
        return make_minatar_networks(
            num_actions, config.num_bins, torso_channels=config.torso_channels, hidden_size=config.hidden_size
        )
    raise ConfigError(f"network={config.network!r} is not available; expected one of {NETWORKS}", field="network")
