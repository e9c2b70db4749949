"""The reward that pays the campaign's score: its hourly changes add up to the score on the ledger's totals."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.agent.env import CampaignEnv
from gaelp.agent.ppo import PPOConfig, train


def _campaign(reward_value: str, action: float) -> tuple[float, float]:
    """Sum of a 3-day campaign's rewards (the end's advance of pending clicks included), and the ledger's spend."""
    env = CampaignEnv(users=3000, days=3, reward_value=reward_value)
    env.reset(seed=21)
    total, trunc = 0.0, False
    while not trunc:
        _, r, _, trunc, _ = env.step(np.full(env.action_space.shape, action, np.float32))
        total += r
    return total, env.agent.reward.spend


@pytest.mark.parametrize("action", [0.0, 1.0])
def test_score_rewards_add_up_to_the_score_of_the_same_campaigns_credit_and_spend(action: float) -> None:
    profit, spend = _campaign("target_cpa", action)  # credit (target CPA per attributed purchase) - spend
    score, spend_again = _campaign("score", action)  # the same world and bids: the reward never moves a bid
    credit = profit + spend
    assert spend_again == spend and credit > 0
    cac_over_target = spend / credit  # CAC / target CPA on the ledger's totals
    assert score == pytest.approx(credit * min(1.0, cac_over_target ** -2))
    if action == 1.0:
        assert cac_over_target > 1 and score < credit  # bidding 16x the value: CAC past the target costs


def test_training_rejects_an_unknown_reward_before_any_work(tmp_path) -> None:
    with pytest.raises(ValueError, match="reward_value must be one of target_cpa, revenue, score, got 'profit'"):
        train(CampaignEnv().base, PPOConfig(reward_value="profit", prior_worlds=5), tmp_path)
    assert not any(tmp_path.iterdir())
