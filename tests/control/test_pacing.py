"""Tests for gaelp.control.pacing: the dual-gradient pacer, its learned traffic forecast and the promise."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gaelp.control.pacing import MAX_DAY, PERIOD_DAYS, PERIOD_MULT, BudgetPromise, DualPacer, PromisePacer

BUDGET = 240.0
# a skewed hourly traffic profile: quiet nights, a busy evening
PROFILE = np.array([1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 6, 7, 9, 12, 14, 12, 8, 4, 2], float)
PROFILE /= PROFILE.sum()


def test_a_fresh_pacer_does_not_shade_bids():
    p = DualPacer(BUDGET)
    assert p.mu == 0.0 and p.multiplier() == 1.0
    assert p.forecast.sum() == pytest.approx(1.0)


def test_spending_ahead_of_plan_raises_mu_hour_after_hour():
    p = DualPacer(BUDGET)
    mus = []
    for t in range(6):
        p.observe(t, 100, spend=BUDGET / 4)  # a quarter of the day's budget every hour
        mus.append(p.mu)
    assert mus[0] > 0 and np.all(np.diff(mus) > 0)
    assert 0 < p.multiplier() < 1
    assert p.multiplier() == pytest.approx(1 / (1 + p.mu))


def test_spending_behind_plan_decays_mu_to_exactly_zero():
    p = DualPacer(BUDGET)
    mus = []
    for t in range(24 * 3):  # blow the whole budget in the first hour, then spend nothing
        p.observe(t, 100, spend=BUDGET if t == 0 else 0.0)
        mus.append(p.mu)
    day0, later = np.array(mus[:24]), np.array(mus[24:])
    # on day 0 the spend stays ahead of the cumulative plan all day: mu keeps rising
    assert day0[0] > 0 and np.all(np.diff(day0) >= 0)
    # from day 1 on nothing is spent, so spend is behind plan: mu falls to exactly 0 and stays there
    assert np.all(np.diff(later) <= 0) and later[0] < day0[-1]
    assert later[-1] == 0.0 and p.multiplier() == 1.0


def test_spending_exactly_on_plan_keeps_mu_at_zero():
    p = DualPacer(BUDGET)
    for t in range(48):
        p.observe(t, 100, spend=BUDGET * p.forecast[t % 24])
        assert p.mu == pytest.approx(0.0, abs=1e-9)


def test_a_new_day_resets_the_days_spend():
    p = DualPacer(BUDGET)
    for t in range(24):
        p.observe(t, 10, spend=5.0)
    assert p.spent_today == pytest.approx(120.0)
    p.observe(24, 10, spend=1.0)
    assert p.spent_today == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_multiplier_stays_in_zero_one_under_random_spend(seed):
    rng = np.random.default_rng(seed)
    p = DualPacer(BUDGET, step=1.0)
    for t in range(24 * 5):
        p.observe(t, int(rng.integers(0, 500)), spend=float(rng.exponential(BUDGET / 10)))
        assert 0.0 < p.multiplier() <= 1.0 and p.mu >= 0.0


def feed_profile(p: DualPacer, days: int, scale: int = 1000, first_day: int = 0) -> None:
    for d in range(first_day, first_day + days):
        for h in range(24):
            p.observe(24 * d + h, round(scale * PROFILE[h]), spend=0.0)


def test_forecast_learns_a_skewed_hourly_traffic_profile():
    p = DualPacer(BUDGET)
    feed_profile(p, 1)
    assert np.allclose(p.forecast, 1 / 24), "a day's traffic is folded in once the day is over"
    feed_profile(p, 40, first_day=1)
    counts = np.round(1000 * PROFILE)
    assert p.forecast.sum() == pytest.approx(1.0)
    assert p.forecast == pytest.approx(counts / counts.sum(), abs=1e-4)


def test_the_learned_forecast_shapes_the_plan():
    # the same early spend is further ahead of plan when the traffic (and so the plan) comes late
    learned, uniform = DualPacer(BUDGET), DualPacer(BUDGET)
    feed_profile(learned, 30)
    feed_profile(uniform, 0)
    for p, t0 in ((learned, 24 * 30), (uniform, 24 * 30)):
        for h in range(8):
            p.observe(t0 + h, 10, spend=BUDGET / 24)
    assert learned.mu > uniform.mu


def test_state_round_trip_continues_identically():
    rng = np.random.default_rng(3)
    trace = [(t, int(rng.integers(0, 300)), float(rng.exponential(8.0))) for t in range(24 * 4)]
    a = DualPacer(BUDGET)
    for t, n, s in trace[:50]:
        a.observe(t, n, s)
    state = json.loads(json.dumps(a.state_dict()))  # must survive a JSON store
    b = DualPacer(BUDGET)
    b.load_state_dict(state)
    for t, n, s in trace[50:]:
        a.observe(t, n, s)
        b.observe(t, n, s)
        assert b.mu == a.mu and b.spent_today == a.spent_today
    assert np.array_equal(a.forecast, b.forecast)


# --- the platform's promise ---------------------------------------------------------------------------


def test_the_promise_allows_twice_the_budget_a_day_and_304_over_a_period():
    p = BudgetPromise(BUDGET)
    allowed = []
    for day in range(PERIOD_DAYS):
        a = p.allowance(day)
        allowed.append(a)
        p.close_day(a)  # an advertiser that spends all it may
    assert max(allowed) == MAX_DAY * BUDGET
    assert sum(allowed) == pytest.approx(PERIOD_MULT * BUDGET)
    assert p.allowance(PERIOD_DAYS) == MAX_DAY * BUDGET, "a new period starts afresh"


def feed_day(p: PromisePacer, day: int, traffic: float, spend_share: float = 1.0) -> None:
    for h in range(24):
        p.observe(day * 24 + h, round(traffic * PROFILE[h] * 2400), spend_share * BUDGET * PROFILE[h])


def test_the_promise_pacer_plans_more_on_a_busy_day_never_past_twice_the_budget():
    p = PromisePacer(BUDGET)
    for d in range(5):
        feed_day(p, d, 1.0)
    assert p.day_target(23) == pytest.approx(BUDGET, rel=0.05), "an ordinary day: the budget"
    feed_day(p, 5, 1.6)
    assert p.day_target(23) == pytest.approx(1.6 * BUDGET, rel=0.1)
    feed_day(p, 6, 5.0)
    assert p.day_target(23) == MAX_DAY * BUDGET
    quiet = PromisePacer(BUDGET)
    for d in range(5):
        feed_day(quiet, d, 1.0)
    feed_day(quiet, 5, 0.5)
    assert quiet.day_target(23) == pytest.approx(0.5 * BUDGET, rel=0.1), "and less on a quiet one"


def test_the_promise_pacer_keeps_half_a_budget_for_each_later_day_of_the_period():
    p = PromisePacer(BUDGET)
    for d in range(20):
        feed_day(p, d, 1.0, spend_share=1.4)  # 28 budgets by day 20
    # day 20: 30.4 - 28 - 0.5 * 9 days left < 0
    assert p.day_target(12) == 0.0
