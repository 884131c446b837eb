"""Off-policy evaluation: estimates of a checkpoint's normalised return from its dataset alone.

data        the run's kept episodes, transitions as indices, a seeded split by episode
policy      pi(a|o) of the run's acting rule; the same rule from latent states
fqe         Fitted Q Evaluation (Le et al. 2019) on the agents' torso
model       the agent's own value head and an H-step latent rollout (ROSMO, MZU)
baselines   the behaviour return and the agreement with the logged actions
metrics     how well an estimator ranks: Spearman, regret@k, absolute error, bootstrap CIs
settings    the estimator names and settings of `rosmo evaluate --ope`, the lines it prints
job         one checkpoint's estimates as `ope_*` columns (`rosmo evaluate --ope`)
"""
