"""Representation / dynamics / prediction networks (MLP for BSuite, ResNet for Atari, a conv torso for MinAtar).

The modules: `base` (`Networks`, `Prediction`, `build_networks`), `factory` (`make_networks(config, num_actions)`),
`mlp`, `resnet`, `minatar`. This package's own namespace holds only the names a config may give (`NETWORKS`), so
validating a config does not load Haiku and JAX.
"""

NETWORKS = ("mlp", "resnet", "minatar")
"""The values of the config field `network`."""

__all__ = ["NETWORKS"]
