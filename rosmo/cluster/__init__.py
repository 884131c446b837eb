"""Cluster jobs: a learner job array and an evaluator job array that follows it (rosmo.cluster.jobs)."""

from rosmo.cluster.jobs import CommandTask, RunRequest, submit_learners_and_evaluators

__all__ = ["CommandTask", "RunRequest", "submit_learners_and_evaluators"]
