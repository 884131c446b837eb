"""Deployment-efficient training: collect with the current policy -> train on all data so far -> evaluate, repeated.

`loop` runs the deployments (resumable, one directory per deployment), `offline` deploys the window learners
(rosmo, mzu, bc, cql) on BSuite, `bremen` deploys BREMEN on MuJoCo, `jobs` maps `rosmo deploy`'s agent and env
to one of them, `plots` draws a run's returns per deployment.
"""
