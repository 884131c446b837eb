"""The evaluator job: evaluate one checkpoint (`checkpoint_eval`) or follow a run's checkpoints as they appear
(`watch`)."""
