"""Journey statistics of our converting journeys, computed afterwards from the logs.

A converting journey is a click-through purchase of ours and the impressions of ours the same
person saw before it, inside the lookback window and since the journey began (the person last left
UNAWARE or LAPSED): an older touch belonged to a journey that had lapsed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class JourneyStats:
    """Per click-through conversion of ours.

    Attributes:
        touches: (m,) impressions of ours in the window before the purchase.
        first_touch_lag_h: (m,) hours from the first of them to the purchase.
        click_lag_h: (m,) hours from the last click of ours to the purchase.
    """

    touches: np.ndarray
    first_touch_lag_h: np.ndarray
    click_lag_h: np.ndarray

    def summary(self) -> dict[str, float | None]:
        """Mean touches, median first-touch lag in days, share bought within a day of the click."""
        if self.touches.size == 0:
            return {"touchpoints_per_conversion": None, "median_lag_days": None, "share_within_day_of_click": None}
        return {
            "touchpoints_per_conversion": float(self.touches.mean()),
            "median_lag_days": float(np.nanmedian(self.first_touch_lag_h) / 24),
            "share_within_day_of_click": float((self.click_lag_h <= 24).mean()),
        }


def journey_stats(imp_t, imp_person, imp_clicked, conv_t, conv_person, conv_journey_start,
                  window_h: int) -> JourneyStats:
    """Match each conversion to the impressions of its journey (see module doc).

    Args:
        imp_t, imp_person, imp_clicked: (k,) our impressions (any order).
        conv_t, conv_person, conv_journey_start: (m,) our click-through conversions.
        window_h: lookback window in hours.
    """
    span = np.int64(1) << 32
    key = imp_person.astype(np.int64) * span + imp_t.astype(np.int64)
    order = np.argsort(key, kind="stable")
    key, t_sorted, clicked = key[order], imp_t[order].astype(np.int64), imp_clicked[order]
    ckey = conv_person.astype(np.int64) * span + conv_t.astype(np.int64)
    hi = np.searchsorted(key, ckey, side="right")
    since = np.maximum(conv_t.astype(np.int64) - window_h + 1, conv_journey_start.astype(np.int64))
    lo = np.searchsorted(key, conv_person.astype(np.int64) * span + since, side="left")
    touches = np.maximum(hi - lo, 0)
    first = np.full(conv_t.shape, np.nan)
    ok = touches > 0
    first[ok] = conv_t[ok] - t_sorted[lo[ok]]
    ckey_sorted = key[clicked]
    ct = t_sorted[clicked]
    hi_c = np.searchsorted(ckey_sorted, ckey, side="right")
    has = (hi_c > 0)
    last_click = np.full(conv_t.shape, np.nan)
    idx = np.flatnonzero(has)
    same = (ckey_sorted[hi_c[idx] - 1] >> 32) == conv_person[idx]
    last_click[idx[same]] = conv_t[idx[same]] - ct[hi_c[idx[same]] - 1]
    return JourneyStats(touches.astype(np.float64), np.asarray(first, np.float64), last_click)
