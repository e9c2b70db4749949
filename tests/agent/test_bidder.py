"""The agent bidder: the bidder contract, what `make_agent_bidder` builds, and the online exploration bound."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from gaelp.agent.bidder import (
    CAC_GUARD_FLOOR,
    CAC_GUARD_MARGIN,
    CAC_GUARD_START_H,
    EXPLORE_LIMIT,
    HORIZON_GUARD_MARGIN,
    AgentBidder,
    default_policy_path,
    make_agent_bidder,
    pacing_action,
    rest_allowed,
)
from gaelp.agent.network import RecurrentActorCritic, save_checkpoint
from gaelp.agent.stats import obs_size
from gaelp.agent.value import flat_prior
from gaelp.bidders.contract import check_bidder
from gaelp.bidders.protocol import BidderOutcome, OpportunityBatch
from gaelp.config import build_config
from gaelp.simulation import Simulation

CFG = build_config({"users": 800, "days": 1, "seed": 5})


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> Path:
    """A small untrained policy with a wide exploration noise."""
    with torch.random.fork_rng():
        torch.manual_seed(1)
        net = RecurrentActorCritic(obs_size(3), 10, hidden=8, init_log_std=0.5)
    path = tmp_path_factory.mktemp("policy") / "policy.pt"
    save_checkpoint(path, net, flat_prior(22, 0.05))
    return path


def _batch(t: int = 5, n: int = 40) -> OpportunityBatch:
    rng = np.random.default_rng(t)
    return OpportunityBatch(t=t, weekday=1, channel=rng.integers(0, 3, n).astype(np.int8),
                            device=rng.integers(0, 300, n), device_type=rng.integers(0, 2, n).astype(np.int8),
                            intent=rng.integers(0, 3, n).astype(np.int8), reserve=np.full(n, 0.2),
                            channel_names=CFG.channel_names)


def _outcome(batch: OpportunityBatch, bids: np.ndarray) -> BidderOutcome:
    won = (bids > 1.0).astype(np.int8) - 1 + (bids > 1.0)
    clicked = (won >= 0) & (np.arange(batch.size) % 3 == 0)
    return BidderOutcome(batch, bids, won.astype(np.int8), np.where(won >= 0, 1.0, 0.0), clicked, clicked * 1.0,
                         np.array([batch.t]), batch.device[:1], np.array([220.0]))


def test_contract_and_budget(policy: Path) -> None:
    bidder = make_agent_bidder(CFG, policy)
    assert bidder.name == "agent" and bidder.daily_budget == CFG.campaign.budget_per_user * CFG.users
    check_bidder(bidder, _batch(), lambda bids: _outcome(_batch(), bids), lambda: make_agent_bidder(CFG, policy))
    check_bidder(make_agent_bidder(CFG, policy, online=True), _batch(), lambda bids: _outcome(_batch(), bids),
                 lambda: make_agent_bidder(CFG, policy, online=True))


def test_online_exploration_stays_within_the_limit_and_learns(policy: Path) -> None:
    online = make_agent_bidder(CFG, policy, online=True)
    before = [p.detach().clone() for p in online.controller.net.parameters()]
    moved = []
    for t in range(30):
        b = _batch(t)
        bids = online.bid(b)
        greedy = online.value_per_click(b)[0] * online.multipliers(online.controller.last_greedy)[b.context]
        on = greedy > 0
        ratio = np.abs(np.log(bids[on] / greedy[on]))
        assert np.all(ratio <= EXPLORE_LIMIT + 1e-9)
        moved.append(ratio.max())
        online.observe(_outcome(b, bids))
    assert max(moved) > 0.5 * EXPLORE_LIMIT  # it does explore
    assert online.controller.learner.updates == 1  # one update after the first 24 hours
    after = list(online.controller.net.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_converted_devices_get_no_bid_and_values_follow_the_model() -> None:
    bidder = AgentBidder(CFG)
    b = _batch()
    bids = bidder.bid(b)
    assert np.allclose(bids, CFG.bidders.target_cpa * 0.03)  # flat prior, all-zero action: the prior value
    bidder.observe(_outcome(b, bids))
    again = bidder.bid(_batch(t=6))
    assert np.all(again[np.isin(_batch(t=6).device, b.device[:1])] == 0)


def test_shipped_policy_plays_a_campaign() -> None:
    assert default_policy_path().is_file()
    sim = Simulation(CFG, bidder=make_agent_bidder(CFG))
    kpis = sim.run()
    assert kpis.daily["bids"][0, 0] > 0 and kpis.daily["spend"][0, 0] <= 2 * sim.budget[0]


def _guarded(spend: float, click_purchases: float, ceiling: float = 1.0, aim: str = "spent",
             cfg=CFG) -> AgentBidder:
    bidder = AgentBidder(cfg, cac_guard=True, guard_ceiling=ceiling, guard_aim=aim)
    bidder.stats.totals[2], bidder.click_purchases = spend, click_purchases
    return bidder


def test_cac_guard_scales_bids_down_only_past_the_target() -> None:
    target = CFG.bidders.target_cpa
    t = CAC_GUARD_START_H
    b = _batch(t=t)
    plain = AgentBidder(CFG).bid(b)
    assert np.array_equal(_guarded(0.9 * target * 10, 10).bid(b), plain)  # CAC under the target: untouched
    over = _guarded(1.5 * target * 10, 10)  # CAC 1.5 x the target
    factor = (CAC_GUARD_MARGIN / 1.5) ** 2
    assert over.guard(t) == pytest.approx(factor) and np.allclose(over.bid(b), factor * plain)
    assert over.guard(t - 1) == 1.0  # too early to read a CAC
    assert _guarded(100 * target, 1).guard(t) == CAC_GUARD_FLOOR
    off = AgentBidder(CFG)
    off.stats.totals[2] = 100 * target
    assert off.guard(t) == 1.0  # the environment's bidder: no guard


def test_cac_guard_with_a_ceiling_also_raises_bids_while_the_cac_runs_low(tmp_path: Path) -> None:
    target, t, b = CFG.bidders.target_cpa, CAC_GUARD_START_H, _batch(t=CAC_GUARD_START_H)
    plain = AgentBidder(CFG).bid(b)
    low = _guarded(0.9 * target * 10, 10, ceiling=1.3)  # CAC at 90% of the target: bids up, under the ceiling
    factor = (CAC_GUARD_MARGIN / 0.9) ** 2
    assert 1.0 < factor < 1.3 and low.guard(t) == pytest.approx(factor)
    assert np.allclose(low.bid(b), factor * plain) and plain.max() > 0
    assert _guarded(0.5 * target * 10, 10, ceiling=1.3).guard(t) == 1.3  # far under the target: the ceiling
    assert _guarded(0.5 * target * 10, 10).guard(t) == 1.0  # a ceiling of 1 never raises a bid
    over = _guarded(1.5 * target * 10, 10, ceiling=1.3)  # past the target the ceiling changes nothing
    assert over.guard(t) == _guarded(1.5 * target * 10, 10).guard(t) < 1.0
    assert low.guard(t - 1) == 1.0  # too early to read a CAC
    with pytest.raises(ValueError, match="guard_ceiling must be at least 1"):
        AgentBidder(CFG, cac_guard=True, guard_ceiling=0.9)
    # a checkpoint carries its ceiling; one written before the setting plays with 1; the caller may override
    with torch.random.fork_rng():
        torch.manual_seed(1)
        net = RecurrentActorCritic(obs_size(3), 10, hidden=8)
    new, old = tmp_path / "new.pt", tmp_path / "old.pt"
    save_checkpoint(new, net, flat_prior(22, 0.05), guard_ceiling=1.3)
    save_checkpoint(old, net, flat_prior(22, 0.05))
    assert make_agent_bidder(CFG, new).guard_ceiling == 1.3 and make_agent_bidder(CFG, old).guard_ceiling == 1.0
    assert make_agent_bidder(CFG, new, guard_ceiling=1.1).guard_ceiling == 1.1


def test_cac_guard_aimed_at_the_rest_of_the_campaign_holds_harder_the_less_time_is_left() -> None:
    cfg = build_config({"users": 800, "days": 30, "seed": 5})
    target, hours = cfg.bidders.target_cpa, 24 * cfg.days
    aim = CAC_GUARD_MARGIN * target

    def factor(cac: float, t: int, ceiling: float = 1.3) -> float:
        return _guarded(cac * 10, 10, ceiling, "rest", cfg).guard(t)

    # at the margin the rest may cost the margin too, as the spent guard holds it (a factor of 1)
    assert factor(aim, 100) == pytest.approx(1.0) == _guarded(aim * 10, 10, 1.3, cfg=cfg).guard(100)
    # 5% over the margin: early the rest may cost almost as much; late, far less (down to the floor)
    early, mid, late = factor(1.05 * aim, 100), factor(1.05 * aim, hours // 2), factor(1.05 * aim, hours - 24)
    spent = _guarded(1.05 * aim * 10, 10, 1.3, cfg=cfg).guard(100)
    assert late < mid < early < 1.0 and mid < spent
    assert mid == pytest.approx((rest_allowed(aim, 1.05 * aim, hours // 2, hours) / (1.05 * aim)) ** 2)
    assert rest_allowed(aim, 1.05 * aim, hours // 2, hours) == pytest.approx(0.95 * aim)
    assert factor(1.5 * aim, hours - 1) == CAC_GUARD_FLOOR  # the last hour: at most half the aim, then the floor
    # under the margin the rest may spend the difference, the ceiling and the 1.5 x aim cap bounding it
    assert 1.0 < factor(0.95 * aim, 100) < factor(0.95 * aim, hours // 2) <= 1.3
    assert rest_allowed(aim, 0.5 * aim, hours - 1, hours) == 1.5 * aim
    # past its days (a server that keeps bidding) the campaign holds its CAC so far, as the spent guard does
    assert factor(1.05 * aim, hours) == factor(1.05 * aim, hours + 500) == spent
    assert factor(aim, CAC_GUARD_START_H - 1) == 1.0  # too early to read a CAC, whatever the aim
    with pytest.raises(ValueError, match="guard_aim must be one of spent, rest, got 'whole'"):
        AgentBidder(cfg, cac_guard=True, guard_aim="whole")


def test_a_served_campaign_counts_its_hours_from_its_start() -> None:
    """A server's hours count from the Unix epoch: the guard's start, its hours left and the report's
    progress count from the campaign's first hour, as hour 0 of a simulation."""
    cfg = build_config({"users": 800, "days": 30, "seed": 5})
    start, target = 490_000, cfg.bidders.target_cpa
    for aim in ("spent", "rest"):
        sim = _guarded(1.05 * target * 10, 10, 1.3, aim, cfg)
        served = AgentBidder(cfg, cac_guard=True, guard_ceiling=1.3, guard_aim=aim, campaign_start=start)
        served.stats.totals[2], served.click_purchases = 1.05 * target * 10, 10
        for t in (0, CAC_GUARD_START_H - 1, CAC_GUARD_START_H, 400, 24 * cfg.days - 1):
            assert served.guard(start + t) == sim.guard(t)
    assert served.guard(start + 100) != 1.0 and served.guard(start + CAC_GUARD_START_H - 1) == 1.0
    # the report's progress through the campaign: a quarter of it gone after 180 hours
    served.stats.t_next, sim.stats.t_next = start + 180, 180
    summary, action = np.zeros(2), np.zeros(10)
    assert np.array_equal(served.stats.vector(summary, action)[4:5], sim.stats.vector(summary, action)[4:5])
    assert served.stats.vector(summary, action)[4] == pytest.approx(0.25)


def test_cac_guard_counts_purchases_after_our_clicks_only() -> None:
    bidder = AgentBidder(CFG, cac_guard=True)
    b = _batch(t=5)
    bidder.observe(_outcome(b, bidder.bid(b)))  # the first opportunity is won and clicked, and its device buys
    assert bidder.click_purchases == 1.0
    b2 = _batch(t=6)
    stranger = BidderOutcome(b2, np.zeros(b2.size), np.full(b2.size, -1, np.int8), np.zeros(b2.size),
                             np.zeros(b2.size, bool), np.zeros(b2.size), np.array([6]), np.array([10**6]),
                             np.array([220.0]))
    bidder.observe(stranger)  # a purchase on a device we never clicked: organic, not ours to count
    assert bidder.click_purchases == 1.0
    again = AgentBidder(CFG, cac_guard=True)
    again.load_state_dict(bidder.state_dict())
    assert again.click_purchases == 1.0


def test_cac_guard_counts_purchases_in_the_lookback_window_whatever_the_label_window() -> None:
    bidder = AgentBidder(CFG, cac_guard=True, value_window_h=24)
    b = _batch(t=5)
    out = _outcome(b, bidder.bid(b))
    clicked_device = int(b.device[np.flatnonzero(out.clicked)[0]])
    bidder.observe(replace(out, conv_t=np.zeros(0, np.int64), conv_device=np.zeros(0, np.int64),
                           conv_value=np.zeros(0), conv_weight=np.zeros(0)))  # the click, no purchase yet
    b2 = _batch(t=105)  # 100 hours after the click: past the value model's 24-hour label, within the lookback
    late = BidderOutcome(b2, np.zeros(b2.size), np.full(b2.size, -1, np.int8), np.zeros(b2.size),
                         np.zeros(b2.size, bool), np.zeros(b2.size), np.array([105]), np.array([clicked_device]),
                         np.array([220.0]))
    bidder.observe(late)
    assert bidder.click_purchases == 1.0
    assert not (bidder.value.conv_t >= 0).any()  # and it labels no click for the value model


def test_pacing_action_scales_every_bid_alike() -> None:
    agent = AgentBidder(build_config({"users": 200, "days": 1}))
    for scale in (0.25, 1.4, 4.0):
        agent.set_action(pacing_action(3, scale))
        assert np.allclose(agent.multipliers(), scale)
    with pytest.raises(ValueError, match="bid scale"):
        pacing_action(3, 4.5)
    with pytest.raises(ValueError, match="bid scale"):
        pacing_action(3, 0.0)


def test_bid_level_scales_every_bid_and_comes_with_the_checkpoint(tmp_path: Path) -> None:
    batch = _batch()
    plain, raised = AgentBidder(CFG), AgentBidder(CFG, bid_level=1.5)
    action = np.linspace(-0.5, 0.5, 10)
    for agent in (plain, raised):
        agent.set_action(action)
    assert np.allclose(raised.bid(batch), 1.5 * plain.bid(batch)) and plain.bid(batch).max() > 0
    with torch.random.fork_rng():
        torch.manual_seed(1)
        net = RecurrentActorCritic(obs_size(3), 10, hidden=8)
    path = tmp_path / "policy.pt"
    save_checkpoint(path, net, flat_prior(22, 0.05), bid_level=1.5)
    assert make_agent_bidder(CFG, path).bid_level == 1.5
    with pytest.raises(ValueError, match="bid_level must be positive, got 0"):
        AgentBidder(CFG, bid_level=0.0)


def test_the_horizon_scales_the_last_days_bids_by_its_table() -> None:
    cfg = build_config({"users": 800, "days": 30, "seed": 5})
    end, table = 24 * cfg.days, np.linspace(0.0, 1.0, 481)
    bidder = AgentBidder(cfg, horizon=table)
    for left in (1, 24, 480):  # the table's entry of the hours left
        t = end - left
        assert bidder.horizon_factor(t) == table[left] and np.allclose(bidder.bid(_batch(t)),
                                                                       table[left] * AgentBidder(cfg).bid(_batch(t)))
    for t in (0, end - 481, end, end + 100):  # beyond the table's reach, and past the campaign (a server)
        assert bidder.horizon_factor(t) == 1.0 and np.array_equal(bidder.bid(_batch(t)), AgentBidder(cfg).bid(_batch(t)))
    served = AgentBidder(cfg, horizon=table, campaign_start=490_000)  # a server's hours count from its start
    assert served.horizon_factor(490_000 + end - 24) == table[24] and served.horizon_factor(490_000) == 1.0
    # the guard's factor and the horizon's multiply
    guarded = AgentBidder(cfg, cac_guard=True, horizon=table)
    guarded.stats.totals[2], guarded.click_purchases = 1.5 * cfg.bidders.target_cpa * 10, 10
    assert guarded.hour_factor(end - 24) == pytest.approx((CAC_GUARD_MARGIN / 1.5) ** 2 * table[24])
    for bad in (table[::-1], 0.5 * table, np.ones((2, 3)), np.array([1.0])):
        with pytest.raises(ValueError, match="a horizon table must be a 1-d array rising from 0 or more to 1"):
            AgentBidder(cfg, horizon=bad)


def test_the_guard_holds_the_cac_at_its_margin() -> None:
    target, t = CFG.bidders.target_cpa, CAC_GUARD_START_H
    at = AgentBidder(CFG, cac_guard=True, guard_ceiling=1.3, guard_margin=HORIZON_GUARD_MARGIN)
    at.stats.totals[2], at.click_purchases = HORIZON_GUARD_MARGIN * target * 10, 10
    assert at.guard(t) == pytest.approx(1.0)  # at its margin, where the default margin would cut
    assert _guarded(HORIZON_GUARD_MARGIN * target * 10, 10, 1.3).guard(t) < 1.0
    with pytest.raises(ValueError, match="guard_margin must be positive"):
        AgentBidder(CFG, guard_margin=0.0)


def test_a_checkpoint_brings_its_horizon_and_margin(tmp_path: Path) -> None:
    with torch.random.fork_rng():
        torch.manual_seed(1)
        net = RecurrentActorCritic(obs_size(3), 10, hidden=8)
    table = np.linspace(0.0, 1.0, 481)
    new, old = tmp_path / "new.pt", tmp_path / "old.pt"
    save_checkpoint(new, net, flat_prior(22, 0.05), horizon=table, horizon_guard_margin=1.2)
    save_checkpoint(old, net, flat_prior(22, 0.05))
    played = make_agent_bidder(CFG, new)
    assert played.horizon is not None and np.array_equal(played.horizon, table) and played.guard_margin == 1.2
    for bidder in (make_agent_bidder(CFG, new, horizon=False), make_agent_bidder(CFG, old)):
        assert bidder.horizon is None and bidder.guard_margin == CAC_GUARD_MARGIN
    shipped = make_agent_bidder(CFG)
    assert shipped.horizon is not None and shipped.guard_margin == HORIZON_GUARD_MARGIN
