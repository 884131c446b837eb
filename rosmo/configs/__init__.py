"""Experiment configs: the shared base, per-suite configs, loading by name or file, validation."""
