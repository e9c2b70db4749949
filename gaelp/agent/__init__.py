"""The learning agent: journey encoder, value model, bidder, Gymnasium env, PPO-LSTM (see docs/agent.md)."""

CHECKPOINT = "policy.pt"
"""File name of a training run's checkpoint in its output directory (`gaelp train --out DIR`)."""
