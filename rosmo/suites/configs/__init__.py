"""Experiment configs of the suites: the fields every config shares (`base`) and each suite's defaults."""
