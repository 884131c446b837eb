"""Behaviour agents that generate offline datasets (an online DQN)."""

from rosmo.behaviour.dqn import CONFIGS, DQN, DQNConfig, ReplayBuffer, double_q_loss, q_network

__all__ = ["CONFIGS", "DQN", "DQNConfig", "ReplayBuffer", "double_q_loss", "q_network"]
