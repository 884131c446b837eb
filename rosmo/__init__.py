"""rosmo: offline model-based reinforcement learning with a learned latent model."""

__version__ = "0.1.0"
