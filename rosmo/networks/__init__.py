"""Representation / dynamics / prediction networks (MLP for BSuite, ResNet for Atari)."""

from rosmo.networks.base import Networks, Prediction, build_networks
from rosmo.networks.mlp import make_mlp_networks

__all__ = ["Networks", "Prediction", "build_networks", "make_mlp_networks"]
