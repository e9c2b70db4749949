"""The reward that pays the campaign's score: its hourly changes add up to the score on the ledger's totals."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gaelp.agent import CHECKPOINT
from gaelp.agent.bidder import make_agent_bidder
from gaelp.agent.env import CampaignEnv
from gaelp.agent.network import load_checkpoint
from gaelp.agent.ppo import PPOConfig, train
from gaelp.agent.reward import LAGRANGE_AIM, LAGRANGE_PRIOR, LAGRANGE_RANGE, LAGRANGE_STEP, HourlyReward
from gaelp.bidders.protocol import BidderOutcome, OpportunityBatch


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
    with pytest.raises(ValueError, match="reward_value must be one of target_cpa, revenue, score, lagrangian, got 'profit'"):
        train(CampaignEnv().base, PPOConfig(reward_value="profit", prior_worlds=5), tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_checkpoint_plays_with_the_reward_and_bid_level_it_was_trained_with(tmp_path) -> None:
    hp = PPOConfig(worlds=1, users=600, days=1, env_hours=24, hidden=8, val_every=0, reward_value="score",
                   bid_level=1.5, guard_ceiling=1.2)
    train(CampaignEnv().base, hp, tmp_path)
    ckpt = load_checkpoint(tmp_path / CHECKPOINT)
    assert ckpt["reward_value"] == "score" and ckpt["bid_level"] == 1.5 and ckpt["guard_ceiling"] == 1.2
    agent = make_agent_bidder(CampaignEnv(users=600, days=1).base, tmp_path / CHECKPOINT)
    assert agent.bid_level == 1.5 and agent.reward.reward_value == "score" and agent.guard_ceiling == 1.2
    with pytest.raises(ValueError, match="guard_ceiling must be at least 1"):
        train(CampaignEnv().base, replace(hp, guard_ceiling=0.5), tmp_path / "refused")


def _hour(t: int, cost: float, buys: bool) -> BidderOutcome:
    """Hour `t` of a one-device campaign: a click at `cost` (0: no click), and the device's purchase if `buys`."""
    batch = OpportunityBatch(t=t, weekday=0, channel=np.zeros(1, np.int8), device=np.zeros(1, np.int64),
                             device_type=np.zeros(1, np.int8), intent=np.zeros(1, np.int8), reserve=np.zeros(1),
                             channel_names=("search",))
    won = cost > 0
    return BidderOutcome(batch, np.ones(1), np.array([0 if won else -1], np.int8), np.array([cost]),
                         np.array([won]), np.array([cost]), np.full(int(buys), t), np.zeros(int(buys), np.int64),
                         np.full(int(buys), 80.0))


def _days(reward: HourlyReward, cost: float, days: int) -> list[float]:
    """Each day a click at `cost` in hour 0 and its purchase in hour 5; the rewards of the purchases' hours."""
    paid = []
    for d in range(days):
        for h in range(24):
            r = reward.observe(_hour(24 * d + h, cost if h == 0 else 0.0, buys=h == 5))
            if h == 5:
                paid.append(r)
    return paid


@pytest.mark.parametrize("cost", [20.0, 400.0])
def test_the_lagrangian_worth_rises_under_the_target_cac_and_falls_past_it(cost: float) -> None:
    target = 100.0
    reward = HourlyReward(("search",), "last_click", 24 * 7, 2 * target, "lagrangian", cac_target=target)
    paid = _days(reward, cost, 3)
    aim = LAGRANGE_AIM * target
    first_step = (aim / ((cost + LAGRANGE_PRIOR * aim) / (1 + LAGRANGE_PRIOR))) ** LAGRANGE_STEP
    assert paid[0] == pytest.approx(2 * target)  # the start: the given worth
    assert paid[1] == pytest.approx(2 * target * first_step)  # one day's dual step on the CAC so far
    rising = cost < aim
    assert (paid[2] > paid[1] > paid[0]) if rising else (paid[2] < paid[1] < paid[0])
    assert reward.credit == pytest.approx(sum(paid)) and reward.spend == pytest.approx(3 * cost)
    assert reward.attributed == pytest.approx(3.0)


def test_the_lagrangian_worth_stays_in_its_range_and_pays_on_arrival_only() -> None:
    reward = HourlyReward(("search",), "last_click", 24 * 7, 100.0, "lagrangian")
    _days(reward, 1.0, 40)  # a purchase a day for $1: the worth would grow without end
    assert reward.worth_mult == LAGRANGE_RANGE[1]
    with pytest.raises(ValueError, match="arrival only"):
        HourlyReward(("search",), "last_click", 24 * 7, 100.0, "lagrangian", timing="click")
