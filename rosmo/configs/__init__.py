"""Experiment configs by name or file (`loading`, with `--config.FIELD=VALUE` overrides) and their validation.

The configs themselves live with their suites (`rosmo.suites.configs`).
"""
