"""The learning agent: journey encoder, value model, bidder, Gymnasium env, PPO-LSTM (see docs/agent.md)."""

CHECKPOINT = "policy.pt"
"""File name of a training run's checkpoint in its output directory (`gaelp train --out DIR`)."""

TRAIN_WORLDS = 8
"""Training worlds a PPO iteration plays in parallel by default (`PPOConfig.worlds`, `gaelp train --worlds`): with 8
worlds the vector env's calls are shared by twice the worlds of 4 (1.4x the env-hours per second), and on held-out
worlds its policy scored as 4 worlds' did (docs/agent.md, "Eight training worlds")."""
