"""Campaign KPIs: running totals the story adds to, and the per-channel table users read.

Conversions of ours are credited the way ad platforms report them by default: to the channel of the
person's last click of ours within the lookback window (click-through). Purchases of ours with only
impressions in the window are view-through; with no touch at all, organic. These are ground-truth
tallies by person (the simulator knows who is who); bidders see only their device-level pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CHANNEL_FIELDS = ("opportunities", "impressions", "clicks", "spend", "conversions", "revenue")
# One slot per advertiser and auction: an advertiser's impressions are the auctions it won.
DAILY_FIELDS = ("impressions", "clicks", "spend", "conversions", "revenue", "bid_sum", "bids")


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


@dataclass(slots=True)
class Kpis:
    """Running totals of one campaign.

    Attributes:
        channel: dict field -> (n_channels,) totals for our campaign.
        daily: dict field -> (days, n_advertisers) per-day totals for every advertiser.
        market: dict field -> (n_channels, max_slots) impressions / clicks of all advertisers by slot.
        view_through, organic: our purchases with only impressions / no touch in the window.
        view_through_revenue, organic_revenue: their revenue.
    """

    channel: dict[str, np.ndarray]
    daily: dict[str, np.ndarray]
    market: dict[str, np.ndarray]
    view_through: int = 0
    organic: int = 0
    view_through_revenue: float = 0.0
    organic_revenue: float = 0.0

    @classmethod
    def empty(cls, n_channels: int, n_advertisers: int, days: int, max_slots: int) -> Kpis:
        """All zeros."""
        return cls(
            channel={f: np.zeros(n_channels) for f in CHANNEL_FIELDS},
            daily={f: np.zeros((days, n_advertisers)) for f in DAILY_FIELDS},
            market={f: np.zeros((n_channels, max_slots)) for f in ("impressions", "clicks")},
        )

    def grow(self, days: int) -> None:
        """Make room for `days` days of daily totals."""
        have = next(iter(self.daily.values())).shape[0]
        if days > have:
            for f, a in self.daily.items():
                self.daily[f] = np.vstack([a, np.zeros((days - have, a.shape[1]))])

    def state_dict(self) -> dict[str, Any]:
        """All totals, for checkpoints."""
        out: dict[str, Any] = {f"channel_{k}": v.copy() for k, v in self.channel.items()}
        out.update({f"daily_{k}": v.copy() for k, v in self.daily.items()})
        out.update({f"market_{k}": v.copy() for k, v in self.market.items()})
        out.update(view_through=self.view_through, organic=self.organic,
                   view_through_revenue=self.view_through_revenue, organic_revenue=self.organic_revenue)
        return out

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        for group in ("channel", "daily", "market"):
            d = getattr(self, group)
            for k in list(d):
                d[k] = np.array(s[f"{group}_{k}"], dtype=np.float64)
        self.view_through, self.organic = int(s["view_through"]), int(s["organic"])
        self.view_through_revenue = float(s["view_through_revenue"])
        self.organic_revenue = float(s["organic_revenue"])

    def table(self, channel_names: tuple[str, ...]) -> dict[str, Any]:
        """The KPI table: `totals` and `by_channel`, each with the documented keys."""
        c = self.channel

        def row(i: slice | int) -> dict[str, Any]:
            v = {f: float(np.sum(c[f][i])) for f in CHANNEL_FIELDS}
            return {
                "impressions": int(v["impressions"]),
                "clicks": int(v["clicks"]),
                "conversions": int(v["conversions"]),
                "spend": round(v["spend"], 2),
                "revenue": round(v["revenue"], 2),
                "cac": _ratio(v["spend"], v["conversions"]),
                "roas": _ratio(v["revenue"], v["spend"]),
                "ctr": _ratio(v["clicks"], v["impressions"]),
                "cpc": _ratio(v["spend"], v["clicks"]),
                "cvr": _ratio(v["conversions"], v["clicks"]),
                "impression_share": _ratio(v["impressions"], v["opportunities"]),
            }

        totals = row(slice(None))
        totals.update(view_through_conversions=self.view_through, organic_conversions=self.organic,
                      view_through_revenue=round(self.view_through_revenue, 2),
                      organic_revenue=round(self.organic_revenue, 2))
        return {"totals": totals, "by_channel": {n: row(i) for i, n in enumerate(channel_names)}}


class TouchTracker:
    """Ground-truth record of our touches per person, to classify and describe our conversions.

    Attributes (all (n_people,)): last_click_t / last_click_ch, last_imp_t / last_imp_ch (-1 none).
    """

    FIELDS = ("last_click_t", "last_click_ch", "last_imp_t", "last_imp_ch")

    def __init__(self, n_people: int) -> None:
        for f in self.FIELDS:
            setattr(self, f, np.full(n_people, -1, np.int32))

    def touch(self, t: int, person: np.ndarray, channel: np.ndarray, clicked: np.ndarray) -> None:
        """Record impressions of ours (rows in time order, so later rows win on repeats)."""
        self.last_imp_t[person] = t
        self.last_imp_ch[person] = channel
        click = np.flatnonzero(clicked)
        if click.size:  # most hours of a small world have no click of ours
            who = person[click]
            self.last_click_t[who] = t
            self.last_click_ch[who] = channel[click]

    def classify(self, t: int, person: np.ndarray, window_h: int) -> tuple[np.ndarray, np.ndarray]:
        """For purchases of ours at hour t: the credited channel (-1 none) and whether by a click."""
        click_t, imp_t = self.last_click_t[person], self.last_imp_t[person]
        click_ok = (click_t >= 0) & (t - click_t <= window_h)
        imp_ok = (imp_t >= 0) & (t - imp_t <= window_h)
        ch = np.where(click_ok, self.last_click_ch[person], np.where(imp_ok, self.last_imp_ch[person], -1))
        return ch, click_ok

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the arrays."""
        return {f"touch_{f}": getattr(self, f).copy() for f in self.FIELDS}

    def load_state_dict(self, s: dict[str, np.ndarray]) -> None:
        """Restore `state_dict` output."""
        for f in self.FIELDS:
            setattr(self, f, np.array(s[f"touch_{f}"], np.int32))
