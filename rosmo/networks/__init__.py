"""Representation / dynamics / prediction networks (MLP for BSuite, ResNet for Atari, a conv torso for MinAtar)."""

from rosmo.networks.base import Networks, Prediction, build_networks
from rosmo.networks.factory import NETWORKS, make_networks
from rosmo.networks.minatar import make_minatar_networks
from rosmo.networks.mlp import make_mlp_networks
from rosmo.networks.resnet import PRESETS as RESNET_PRESETS, make_resnet_networks, resnet_preset

__all__ = [
    "NETWORKS",
    "Networks",
    "Prediction",
    "RESNET_PRESETS",
    "build_networks",
    "make_minatar_networks",
    "make_mlp_networks",
    "make_networks",
    "make_resnet_networks",
    "resnet_preset",
]
