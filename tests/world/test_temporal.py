"""Tests for gaelp.world.temporal: dates, relative day multipliers and the hour profiles."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from gaelp.config import TemporalConfig
from gaelp.world.temporal import Calendar

HOUR = tuple(float(h) for h in range(1, 25))  # skewed on purpose: late hours are busier
HOUR_CVR = tuple(1.0 + 0.5 * np.sin(np.arange(24) / 24 * 2 * np.pi))
WEEKDAY = (1.0, 1.3, 1.2, 1.0, 0.9, 0.7, 0.6)
MONTH = (1.2, 1.0, 0.9, 0.9, 1.0, 0.8, 0.8, 1.1, 1.3, 1.0, 1.0, 1.1)


def calendar(start: dt.date = dt.date(2026, 3, 2), **overrides) -> Calendar:
    fields = {"hour": HOUR, "hour_cvr": HOUR_CVR, "weekday": WEEKDAY, "month": MONTH, **overrides}
    return Calendar(TemporalConfig(**fields), start)


@pytest.mark.parametrize("start", [dt.date(2026, 1, 5), dt.date(2024, 2, 28), dt.date(2025, 12, 31)])
def test_date_and_weekday_count_days_from_the_start_date(start):
    cal = calendar(start)
    assert cal.date(0) == start and cal.weekday(0) == start.weekday()
    for day in (1, 6, 7, 30, 366):
        assert cal.date(day) == start + dt.timedelta(days=day)
        assert cal.weekday(day) == (start.weekday() + day) % 7


def test_day_multiplier_is_the_relative_weekday_times_the_relative_month():
    cal = calendar(dt.date(2026, 3, 2))  # a Monday; March 2-8 is one week inside one month
    week = np.array([cal.day_multiplier(d) for d in range(7)])
    # relative: the average day of a week is the month's factor relative to the average month
    assert week.mean() == pytest.approx(MONTH[2] / np.mean(MONTH))
    # within a month, days differ exactly by their weekday factors
    assert week / week[0] == pytest.approx(np.array(WEEKDAY) / WEEKDAY[0])
    # across months the same weekday differs by the month factors (Mon 2 Mar vs Mon 7 Sep 2026)
    sep = (dt.date(2026, 9, 7) - dt.date(2026, 3, 2)).days
    assert cal.day_multiplier(sep) / cal.day_multiplier(0) == pytest.approx(MONTH[8] / MONTH[2])


def test_flat_calendar_has_multiplier_one_every_day():
    cal = calendar(weekday=(2.0,) * 7, month=(5.0,) * 12)
    assert all(cal.day_multiplier(d) == pytest.approx(1.0) for d in range(0, 400, 13))


def test_hour_probs_are_a_distribution_proportional_to_the_profile():
    cal = calendar()
    assert cal.hour_probs.shape == (24,) and cal.hour_probs.sum() == pytest.approx(1.0)
    assert cal.hour_probs == pytest.approx(np.array(HOUR) / np.sum(HOUR))
    # CDFs used for inverse-CDF draws must end at exactly 1 so that every u in [0, 1) maps to an hour
    for cdf in (cal.hour_cdf, cal.buy_cdf):
        assert cdf[-1] == 1.0 and np.all(np.diff(cdf) >= 0)
    assert np.searchsorted(cal.hour_cdf, 1.0 - 2.0**-53, side="right") <= 23


def test_hour_cvr_is_relative_to_its_mean_and_weights_organic_buying():
    cal = calendar()
    assert cal.hour_cvr.mean() == pytest.approx(1.0)
    buy = np.diff(np.r_[0.0, cal.buy_cdf])
    # organic purchases follow traffic x conversion propensity
    expected = np.array(HOUR) * np.array(HOUR_CVR)
    assert buy == pytest.approx(expected / expected.sum())
