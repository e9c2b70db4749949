"""Campaign KPIs: running totals the story adds to, and the per-channel table users read.

Conversions of ours are credited the way ad platforms report them by default: to the channel of the
person's last click of ours within the lookback window (click-through). Purchases of ours with only
impressions in the window are view-through; with no touch at all, organic. These are ground-truth
tallies by person (the simulator knows who is who); bidders see only their device-level pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from gaelp.bidders.protocol import OURS

if TYPE_CHECKING:
    from gaelp.records import HourRecord

CHANNEL_FIELDS = ("opportunities", "impressions", "clicks", "spend", "conversions", "revenue")
# One slot per advertiser and auction: an advertiser's impressions are the auctions it won.
DAILY_FIELDS = ("impressions", "clicks", "spend", "conversions", "revenue", "bid_sum", "bids")
CREATIVE_FIELDS = ("impressions", "clicks")


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


@dataclass(slots=True)
class Kpis:
    """Running totals of one campaign.

    Attributes:
        channel: dict field -> (n_channels,) totals for our campaign.
        daily: dict field -> (days, n_advertisers) per-day totals for every advertiser.
        market: dict field -> (n_channels, max_slots) impressions / clicks of all advertisers by slot.
        creative: dict field -> (n_creatives,) our impressions / clicks by creative.
        view_through, organic: our purchases with only impressions / no touch in the window.
        view_through_revenue, organic_revenue: their revenue.
    """

    channel: dict[str, np.ndarray]
    daily: dict[str, np.ndarray]
    market: dict[str, np.ndarray]
    creative: dict[str, np.ndarray] = field(default_factory=lambda: {f: np.zeros(1) for f in CREATIVE_FIELDS})
    view_through: int = 0
    organic: int = 0
    view_through_revenue: float = 0.0
    organic_revenue: float = 0.0

    @classmethod
    def empty(cls, n_channels: int, n_advertisers: int, days: int, max_slots: int, n_creatives: int = 1) -> Kpis:
        """All zeros."""
        return cls(
            channel={f: np.zeros(n_channels) for f in CHANNEL_FIELDS},
            daily={f: np.zeros((days, n_advertisers)) for f in DAILY_FIELDS},
            market={f: np.zeros((n_channels, max_slots)) for f in ("impressions", "clicks")},
            creative={f: np.zeros(n_creatives) for f in CREATIVE_FIELDS},
        )

    def grow(self, days: int) -> None:
        """Make room for `days` days of daily totals."""
        have = next(iter(self.daily.values())).shape[0]
        if days > have:
            for f, a in self.daily.items():
                self.daily[f] = np.vstack([a, np.zeros((days - have, a.shape[1]))])

    def account(self, record: HourRecord) -> np.ndarray:
        """Add one hour to the totals; returns each advertiser's spend in it, (n_advertisers,).

        Counts by (advertiser, channel, slot) come from one bincount; sums of money keep their own
        bincounts, whose order of addition is that of the impressions.
        """
        cl, day = record.impressions, record.t // 24
        n_adv = self.daily["spend"].shape[1]
        n_ch, n_slots = self.market["impressions"].shape
        channel = record.batch.channel
        ch = channel[cl.row]
        adv = cl.advertiser
        cell = (adv * n_ch + ch) * n_slots + cl.slot
        shape = (n_adv, n_ch, n_slots)
        shown = np.bincount(cell, minlength=n_adv * n_ch * n_slots).reshape(shape)
        clicks = np.bincount(cell[cl.clicked], minlength=shown.size).reshape(shape)
        spend = np.bincount(adv, weights=cl.cost, minlength=n_adv)
        d = self.daily
        d["impressions"][day] += shown.sum(axis=(1, 2))
        d["clicks"][day] += clicks.sum(axis=(1, 2))
        d["spend"][day] += spend
        d["bid_sum"][day] += record.bids.sum(axis=1)
        d["bids"][day] += (record.bids != 0).sum(axis=1)  # count_nonzero with an axis costs 4x more on small hours
        buys = record.purchases
        if buys.size:
            d["conversions"][day] += np.bincount(buys.advertiser, minlength=n_adv)
            d["revenue"][day] += np.bincount(buys.advertiser, weights=buys.value, minlength=n_adv)
        ours = adv == OURS
        c = self.channel
        c["opportunities"] += np.bincount(channel, minlength=n_ch)
        c["impressions"] += shown[OURS].sum(axis=1)
        c["clicks"] += clicks[OURS].sum(axis=1)
        c["spend"] += np.bincount(ch[ours], weights=cl.cost[ours], minlength=n_ch)
        self.market["impressions"] += shown.sum(axis=0)
        self.market["clicks"] += clicks.sum(axis=0)
        cr, n_cr = record.creative[ours], self.creative["impressions"].size
        self.creative["impressions"] += np.bincount(cr, minlength=n_cr)
        self.creative["clicks"] += np.bincount(cr[cl.clicked[ours]], minlength=n_cr)
        if buys.size:
            self._account_purchases(record)
        return spend

    def _account_purchases(self, record: HourRecord) -> None:
        """Our purchases: click-through by channel; view-through and organic beside them."""
        n_ch, p = self.channel["conversions"].size, record.purchases
        ours = p.advertiser == OURS
        click = ours & p.by_click
        view = ours & ~p.by_click & (p.credit_channel >= 0)
        organic = ours & (p.credit_channel < 0)
        ch = p.credit_channel[click]
        self.channel["conversions"] += np.bincount(ch, minlength=n_ch)
        self.channel["revenue"] += np.bincount(ch, weights=p.value[click], minlength=n_ch)
        self.view_through += int(view.sum())
        self.view_through_revenue += float(p.value[view].sum())
        self.organic += int(organic.sum())
        self.organic_revenue += float(p.value[organic].sum())

    def state_dict(self) -> dict[str, Any]:
        """All totals, for checkpoints."""
        out: dict[str, Any] = {f"channel_{k}": v.copy() for k, v in self.channel.items()}
        out.update({f"daily_{k}": v.copy() for k, v in self.daily.items()})
        out.update({f"market_{k}": v.copy() for k, v in self.market.items()})
        out.update({f"creative_{k}": v.copy() for k, v in self.creative.items()})
        out.update(view_through=self.view_through, organic=self.organic,
                   view_through_revenue=self.view_through_revenue, organic_revenue=self.organic_revenue)
        return out

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        for group in ("channel", "daily", "market", "creative"):
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
