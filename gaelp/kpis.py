"""Campaign KPIs: running totals the story adds to, and the per-channel table users read.

Conversions of ours are credited the way ad platforms report them by default: to the channel of the
person's last click of ours within the lookback window (click-through). Purchases of ours with only
impressions in the window are view-through; with no touch at all, organic. These are ground-truth
tallies by person (the simulator knows who is who); bidders see only their device-level pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from gaelp.bidders.protocol import OURS
from gaelp.stacked import Stacked, segment_sums

if TYPE_CHECKING:
    from gaelp.market.clearing import Cleared
    from gaelp.records import HourRecord, Purchases

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


class WorldsKpis:
    """The KPIs of a batch of worlds (`gaelp.experiments.batched`), every world's hour accounted at once.

    Every total is a row of a (W, ...) array that the world's own `Kpis` views (`Stacked`), so a world's
    table, checkpoint or later hour alone sees what the batch added. Counts come from bincounts over
    `world * cells + cell` (whole numbers: exact in any order), sums of money from weighted bincounts,
    which add each cell's values in row order as the world's own bincounts do; the bids' total, a pairwise
    `ndarray.sum` alone, is taken on each world's slice (`segment_sums`), and the view-through and organic
    revenue (Python floats) on each world's own purchases.

    Args:
        kpis: each world's totals, of one shape.
    """

    def __init__(self, kpis: Sequence[Kpis]) -> None:
        self.kpis = list(kpis)
        first = self.kpis[0]
        self.tables = {(g, f): Stacked(self.kpis, g, f) for g in ("daily", "channel", "market", "creative")
                       for f in getattr(first, g)}

    def account(self, t: int, world: np.ndarray, channel: np.ndarray, bounds: np.ndarray, cl: Cleared,
                creative: np.ndarray, purchases: Sequence[Purchases]) -> np.ndarray:
        """Every world's `Kpis.account` of its hour `t`; returns (W, n_advertisers) each world's spend.

        Args:
            world, channel: (N,) each opportunity's world and channel (world-major, world w's rows
                `bounds[w]:bounds[w + 1]`).
            cl: (k,) every world's impressions (`Cleared` over the batch's rows, world-major; `bids`
                (n_advertisers, N)).  creative: (k,) the creative of each.
            purchases: each world's purchases of the hour.
        """
        get = {k: v.get() for k, v in self.tables.items()}
        n_w, day = len(self.kpis), t // 24
        n_adv = get["daily", "spend"].shape[2]
        n_ch, n_slots = get["market", "impressions"].shape[1:]
        w_imp, ch, adv = world[cl.row], channel[cl.row], cl.advertiser
        cell = ((w_imp * n_adv + adv) * n_ch + ch) * n_slots + cl.slot
        shape = (n_w, n_adv, n_ch, n_slots)
        shown = np.bincount(cell, minlength=n_w * n_adv * n_ch * n_slots).reshape(shape)
        clicks = np.bincount(cell[cl.clicked], minlength=shown.size).reshape(shape)
        spend = np.bincount(w_imp * n_adv + adv, weights=cl.cost, minlength=n_w * n_adv).reshape(n_w, n_adv)
        get["daily", "impressions"][:, day] += shown.sum(axis=(2, 3))
        get["daily", "clicks"][:, day] += clicks.sum(axis=(2, 3))
        get["daily", "spend"][:, day] += spend
        get["daily", "bid_sum"][:, day] += segment_sums(cl.bids, bounds).T
        bids = np.zeros((n_adv, cl.bids.shape[1] + 1), np.int64)  # running counts of bids: per world, differences
        np.cumsum(cl.bids != 0, axis=1, out=bids[:, 1:])
        get["daily", "bids"][:, day] += (bids[:, bounds[1:]] - bids[:, bounds[:-1]]).T
        ours = adv == OURS
        at = w_imp * n_ch + ch
        get["channel", "opportunities"] += np.bincount(world * n_ch + channel, minlength=n_w * n_ch).reshape(n_w, n_ch)
        get["channel", "impressions"] += shown[:, OURS].sum(axis=2)
        get["channel", "clicks"] += clicks[:, OURS].sum(axis=2)
        get["channel", "spend"] += np.bincount(at[ours], weights=cl.cost[ours], minlength=n_w * n_ch).reshape(n_w, n_ch)
        get["market", "impressions"] += shown.sum(axis=1)
        get["market", "clicks"] += clicks.sum(axis=1)
        n_cr = get["creative", "impressions"].shape[1]
        at = w_imp[ours] * n_cr + creative[ours]
        get["creative", "impressions"] += np.bincount(at, minlength=n_w * n_cr).reshape(n_w, n_cr)
        get["creative", "clicks"] += np.bincount(at[cl.clicked[ours]], minlength=n_w * n_cr).reshape(n_w, n_cr)
        if any(p.size for p in purchases):
            self._account_purchases(get, day, n_adv, n_ch, purchases)
        return spend

    def _account_purchases(self, get: dict[tuple[str, str], np.ndarray], day: int, n_adv: int, n_ch: int,
                           purchases: Sequence[Purchases]) -> None:
        """Every world's purchases: conversions and revenue per advertiser, ours by channel, view-through and
        organic (as `Kpis.account` and `Kpis._account_purchases`)."""
        n_w = len(self.kpis)
        sizes = [p.size for p in purchases]
        pw = np.repeat(np.arange(n_w), sizes)
        adv, value = np.concatenate([p.advertiser for p in purchases]), np.concatenate([p.value for p in purchases])
        credit = np.concatenate([p.credit_channel for p in purchases])
        by_click = np.concatenate([p.by_click for p in purchases])
        cell = pw * n_adv + adv
        get["daily", "conversions"][:, day] += np.bincount(cell, minlength=n_w * n_adv).reshape(n_w, n_adv)
        get["daily", "revenue"][:, day] += np.bincount(cell, weights=value, minlength=n_w * n_adv).reshape(n_w, n_adv)
        ours = adv == OURS
        click = ours & by_click
        cell = (pw * n_ch + credit)[click]
        get["channel", "conversions"] += np.bincount(cell, minlength=n_w * n_ch).reshape(n_w, n_ch)
        get["channel", "revenue"] += np.bincount(cell, weights=value[click], minlength=n_w * n_ch).reshape(n_w, n_ch)
        view = ours & ~by_click & (credit >= 0)
        organic = ours & (credit < 0)
        cut = np.cumsum([0, *sizes]).tolist()
        for w in np.unique(pw[view | organic]).tolist():
            k, a, b = self.kpis[w], cut[w], cut[w + 1]
            v, o, val = view[a:b], organic[a:b], value[a:b]
            k.view_through += int(v.sum())
            k.view_through_revenue += float(val[v].sum())
            k.organic += int(o.sum())
            k.organic_revenue += float(val[o].sum())
