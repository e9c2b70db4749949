"""The policy's observation: our hour's report, per (channel x intent), as the advertiser's logs give it."""

from __future__ import annotations

import numpy as np

from gaelp.agent.stats import EMA, N_GLOBAL, PER_CONTEXT, CampaignStats, obs_size
from gaelp.bidders.protocol import BidderOutcome, OpportunityBatch


def test_the_report_of_an_hour() -> None:
    # 2 channels x 3 intents; four opportunities, all in channel 1: intent 0 (x3, two won, one clicked) and
    # intent 2 (x1, lost); the other four contexts saw nothing
    batch = OpportunityBatch(t=25, weekday=0, channel=np.array([1, 1, 1, 1], np.int8), device=np.arange(4),
                             device_type=np.zeros(4, np.int8), intent=np.array([0, 0, 2, 0], np.int8),
                             reserve=np.zeros(4), channel_names=("a", "b"))
    outcome = BidderOutcome(batch, np.ones(4), np.array([0, -1, -1, 1], np.int8), np.array([2.0, 0, 0, 4.0]),
                            np.array([True, False, False, False]), np.array([2.0, 0, 0, 0]),
                            np.array([25]), np.array([0]), np.array([50.0]))
    stats = CampaignStats(2, daily_budget=240.0, target_cpa=20.0, days=2)
    stats.observe(outcome, p=np.array([0.1, 0.2, 0.4, 0.3]))
    action = np.linspace(-1, 1, 7)
    obs = stats.vector(np.array([0.5, 0.02], np.float32), action)

    assert obs.dtype == np.float32 and obs.shape == (obs_size(2),)
    hours = obs[N_GLOBAL:N_GLOBAL + 6 * 6].reshape(6, 6)  # (context, the hour's six figures)
    seen, lost = 1 * 3 + 0, 1 * 3 + 2
    # share of opportunities, win rate, mean price won / target CPA x 10, clicks per win, spend / hourly budget,
    # mean p x 10
    np.testing.assert_allclose(hours[seen], [0.75, 2 / 3, 3 / 20 * 10, 0.5, 2 / 10, 0.2 * 10], rtol=1e-6)
    np.testing.assert_allclose(hours[lost], [0.25, 0, 0, 0, 0, 4], rtol=1e-6)
    assert not hours[[0, 1, 2, 4]].any()
    ema = obs[N_GLOBAL + 6 * 6:N_GLOBAL + PER_CONTEXT * 6].reshape(6, 2)
    np.testing.assert_allclose(ema[seen], [EMA * 2 / 3, EMA * 2 / 10], rtol=1e-6)
    # the next hour is hour 2 of the campaign's day 1 (weekday angle 1/7), 26 of its 48 hours played
    angle, weekday = 2 * np.pi * 2 / 24, 2 * np.pi * 1 / 7
    np.testing.assert_allclose(obs[:5], [np.sin(angle), np.cos(angle), np.sin(weekday), np.cos(weekday), 26 / 48],
                               rtol=1e-6)
    # today's and the campaign's budget spent, clicks and purchases x target CPA / budget, CAC / target CPA
    np.testing.assert_allclose(obs[5:10], [2 / 240, 2 / 480, 20 / 480 / 10, 20 / 480, 2 / 20], rtol=1e-6)
    np.testing.assert_allclose(obs[10:12], [0.5, 0.2], rtol=1e-6)
    np.testing.assert_allclose(obs[-7:], action, rtol=1e-6)


def _random_hour(rng: np.random.Generator, t: int, n: int, weighted: bool) -> tuple[BidderOutcome, np.ndarray]:
    """An hour of `n` opportunities over 2 channels x 3 intents, some won, clicked and bought."""
    batch = OpportunityBatch(t=t, weekday=0, channel=rng.integers(0, 2, n).astype(np.int8), device=np.arange(n),
                             device_type=np.zeros(n, np.int8), intent=rng.integers(0, 3, n).astype(np.int8),
                             reserve=np.zeros(n), channel_names=("a", "b"),
                             weight=rng.uniform(0.5, 2.0, n) if weighted else None)
    slot = np.where(rng.random(n) < 0.5, 0, -1).astype(np.int8)
    price = np.where(slot >= 0, rng.uniform(0.5, 5.0, n), 0.0)
    clicked = (slot >= 0) & (rng.random(n) < 0.3)
    buyers = rng.integers(0, 3)
    outcome = BidderOutcome(batch, rng.uniform(0, 6, n), slot, price, clicked, price * clicked * batch.weight,
                            np.full(buyers, t), np.arange(buyers), np.full(buyers, 50.0))
    return outcome, rng.uniform(0, 0.1, n)


def test_the_worlds_reports_at_once_are_each_worlds_alone() -> None:
    from gaelp.agent.worlds_stats import WorldsStats

    rng = np.random.default_rng(7)
    budgets = [240.0, 90.0, 1000.0]
    alone = [CampaignStats(2, daily_budget=b, target_cpa=20.0 + w, days=3) for w, b in enumerate(budgets)]
    batch = [CampaignStats(2, daily_budget=b, target_cpa=20.0 + w, days=3) for w, b in enumerate(budgets)]
    worlds = WorldsStats(batch)
    for t in range(22, 50):  # across a day's start, world 1 without an hour now and then, world 2 weighted
        hours = [(w, *_random_hour(rng, t, int(rng.integers(0, 30)), weighted=w == 2)) for w in range(3)
                 if w != 1 or t % 5]
        for w, outcome, p in hours:
            alone[w].observe(outcome, p)
        worlds.observe(hours)
        summaries = rng.random((3, 2)).astype(np.float32)
        actions = rng.uniform(-1, 1, (3, 7))
        got = worlds.vectors(summaries, actions)
        for w in range(3):
            assert np.array_equal(got[w], alone[w].vector(summaries[w], actions[w]))
            assert np.array_equal(batch[w].totals, alone[w].totals) and batch[w].t_next == alone[w].t_next
    assert all(s.totals[0] > 0 for s in alone)  # clicks were counted
