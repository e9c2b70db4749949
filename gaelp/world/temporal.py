"""Calendar effects: hour of day, weekday and season (month).

Multipliers are relative; `hour_probs` turns the hour profile into the distribution of a day's
activity over its hours.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from gaelp.config import TemporalConfig


class Calendar:
    """Maps simulated hours to calendar multipliers for a campaign starting on `start`."""

    def __init__(self, cfg: TemporalConfig, start: dt.date) -> None:
        self.start = start
        hour = np.asarray(cfg.hour, dtype=np.float64)
        self.hour_probs = hour / hour.sum()
        self.hour_cdf = np.cumsum(self.hour_probs)
        self.hour_cdf[-1] = 1.0
        hour_cvr = np.asarray(cfg.hour_cvr, dtype=np.float64)
        self.hour_cvr = hour_cvr / hour_cvr.mean()
        # Organic purchases follow traffic times the hourly conversion propensity.
        buy = self.hour_probs * self.hour_cvr
        self.buy_cdf = np.cumsum(buy / buy.sum())
        self.buy_cdf[-1] = 1.0
        self._weekday = np.asarray(cfg.weekday, dtype=np.float64)
        self._weekday = self._weekday / self._weekday.mean()
        self._month = np.asarray(cfg.month, dtype=np.float64)
        self._month = self._month / self._month.mean()
        self._weekdays: dict[int, int] = {}
        self._surge = {int(d): float(m) for d, m in cfg.surge}

    def date(self, day: int) -> dt.date:
        """The calendar date of simulated `day`."""
        return self.start + dt.timedelta(days=int(day))

    def weekday(self, day: int) -> int:
        """0 = Monday."""
        wd = self._weekdays.get(day)
        if wd is None:  # asked every hour: the date arithmetic once per day
            wd = self._weekdays[day] = self.date(day).weekday()
        return wd

    def day_multiplier(self, day: int) -> float:
        """Traffic of `day` relative to an average day (weekday x month)."""
        d = self.date(day)
        m = float(self._weekday[d.weekday()] * self._month[d.month - 1])
        return m * self._surge[day] if day in self._surge else m
