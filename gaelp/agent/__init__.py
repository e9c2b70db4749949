"""The learning agent: journey encoder, value model, bidder, Gymnasium env, PPO-LSTM (see docs/agent.md)."""

CHECKPOINT = "policy.pt"
"""File name of a training run's checkpoint in its output directory (`gaelp train --out DIR`)."""

TRAIN_WORLDS = 8
"""Training worlds a PPO iteration plays in parallel by default (`PPOConfig.worlds`, `gaelp train --worlds`). The
vector env steps them as one batch, so 8 worlds give 1.4-1.6x the env-hours per second of 4 at the training
benchmark's size, and their policy scored as 4 worlds' did on held-out worlds (docs/agent.md, "Eight training
worlds")."""

SEED_WORKERS = 2
"""Seeds trained at once by default (`gaelp.agent.seeds.train_seeds`, `gaelp train --seeds --workers`): one process
each, one per core of a 2-core machine."""

SELECT_WORLDS = 12
"""Validation worlds (seeds 900, 901, ...) each seed's `best.pt` plays for the choice by default
(`gaelp.agent.seeds.train_seeds`, `gaelp train --seeds --select-worlds`)."""

DEFAULT_GUARD_CEILING = 1.3
"""The CAC guard's largest factor on a bid (`gaelp.agent.bidder`) that `gaelp train` writes into a checkpoint by
default (`PPOConfig.guard_ceiling`, `--guard-ceiling`): above 1 the guard also raises bids while the campaign's CAC
runs below its margin. 1.3 scored +0.9% against 1 (a guard that only lowers bids, which checkpoints written before
the setting keep) with the shipped policy on validation worlds 900-999 (docs/agent.md, "A guard that also bids
up")."""

MARGIN_WORLDS = 12
"""Validation worlds each CAC guard margin plays when training chooses the margin of its kept policy
(`gaelp.agent.margin`, `PPOConfig.margin_worlds`, `gaelp train --margin-worlds`): after the worlds of the choice."""

MARGIN_RISK = 0.05
"""The largest share of campaigns over the target CPA a chosen guard margin may risk (`gaelp.agent.margin`,
`--margin-risk`): half the one campaign in ten the agent's target allows, for the estimate's own noise on a dozen
worlds."""
