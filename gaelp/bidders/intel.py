"""Competitive intelligence from our own auction logs only.

What an ad platform reports (impression share, top-of-page rate, overlap) and what it does not: the
distribution of the highest competing bid, estimated from censored data. Everything here reads our
own `BidderOutcome`s (recorded by `RecordingBidder`) plus public facts about each channel (its
mechanism and number of slots); nothing reads another advertiser's bid.

**The price to beat.** `H = max(reserve, highest rival ad rank / our quality)`, in our price per
click: the least bid that wins the top slot. What our log says about it depends on the mechanism:

* second price and GSP: when we win the top slot we pay exactly `H` (the next ad rank over our
  quality, at least the reserve); otherwise we only learn `H > our bid`. Right-censored data:
  Kaplan-Meier.
* first price: we pay our bid, so a win says `H <= bid` and a loss `H > bid` (current-status data).
  The maximum-likelihood CDF is the isotonic regression of the win indicator on the bid.

The channels' estimates are mixed by their share of the auctions we entered. Censoring at our bid
must not depend on `H`: our bids should vary independently of the auction (e.g. a randomised probe
bid), not with the context the rivals also bid on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import isotonic_regression

from gaelp.bidders.protocol import OURS, Bidder, BidderOutcome, BidderWrapper, OpportunityBatch
from gaelp.market.mechanisms import get_mechanism


@dataclass(frozen=True, slots=True)
class AuctionLog:
    """Our own log of many hours, one row per opportunity we saw.

    Attributes:
        channel: (n,) channel index.
        asked: (n,) what our bidder bid (before budgets stopped it).
        bid: (n,) the bid in force in the auction (0 where our budget had run out).
        slot: (n,) slot won, -1 none.
        price: (n,) price per click of our slot (0 where none).
        reserve: (n,) reserve price.
    """

    channel: np.ndarray
    asked: np.ndarray
    bid: np.ndarray
    slot: np.ndarray
    price: np.ndarray
    reserve: np.ndarray

    @property
    def entered(self) -> np.ndarray:
        """(n,) bool: our bid was in the auction."""
        return (self.bid > 0) & (self.bid >= self.reserve)


class RecordingBidder(BidderWrapper):
    """Wraps our bidder and keeps its own log (what it asked, what happened); bids unchanged."""

    def __init__(self, inner: Bidder) -> None:
        super().__init__(inner)
        self.learns = bool(getattr(inner, "learns", False))
        self._asked: tuple[int, np.ndarray] | None = None
        self._parts: list[tuple[np.ndarray, ...]] = []

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """The inner bidder's bids (remembered for impression share)."""
        b = np.asarray(self.inner.bid(batch), np.float64)
        self._asked = (batch.t, b)
        return b

    def observe(self, outcome: BidderOutcome) -> None:
        """Log the hour, then pass it on."""
        asked = self._asked[1] if self._asked is not None and self._asked[0] == outcome.batch.t else outcome.bids
        b = outcome.batch
        self._parts.append((b.channel.astype(np.int64), asked, outcome.bids.astype(np.float64),
                            outcome.slot.astype(np.int64), outcome.price.astype(np.float64), b.reserve))
        super().observe(outcome)

    def log(self) -> AuctionLog:
        """Everything observed so far."""
        if not self._parts:
            e = np.empty(0)
            return AuctionLog(e.astype(np.int64), e, e, e.astype(np.int64), e, e)
        cols = [np.concatenate(c) for c in zip(*self._parts)]
        return AuctionLog(*cols)


# --- step-function CDFs --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StepCdf:
    """A right-continuous step CDF: F(x) = p[i] for x in [x[i], x[i+1]), 0 below x[0]."""

    x: np.ndarray
    p: np.ndarray

    def __call__(self, q: np.ndarray) -> np.ndarray:
        """F at `q` (any shape)."""
        i = np.searchsorted(self.x, q, side="right") - 1
        return np.where(i >= 0, self.p[np.maximum(i, 0)], 0.0) if self.x.size else np.zeros(np.shape(q))


def ecdf(values: np.ndarray) -> StepCdf:
    """The empirical CDF of `values` (n,)."""
    v = np.sort(np.asarray(values, np.float64))
    x, last = np.unique(v, return_index=False, return_counts=True)
    return StepCdf(x, np.cumsum(last) / v.size)


def kaplan_meier(time: np.ndarray, observed: np.ndarray) -> StepCdf:
    """CDF of a positive variable from right-censored data (Kaplan-Meier).

    Args:
        time: (n,) the exact value where `observed`, else the censoring point (value > time).
        observed: (n,) bool.

    Returns:
        The estimated CDF, with jumps at the observed values.
    """
    time = np.asarray(time, np.float64)
    observed = np.asarray(observed, bool)
    x, inv = np.unique(time, return_inverse=True)
    events = np.bincount(inv, weights=observed, minlength=x.size)
    leaving = np.bincount(inv, minlength=x.size)
    # Censored at x means "greater than x": still at risk at x, as the usual convention has it.
    at_risk = time.size - np.concatenate([[0], np.cumsum(leaving)[:-1]])
    surv = np.cumprod(1.0 - np.divide(events, at_risk, out=np.zeros_like(events), where=at_risk > 0))
    keep = events > 0
    return StepCdf(x[keep], 1.0 - surv[keep])


def current_status_cdf(bid: np.ndarray, won: np.ndarray) -> StepCdf:
    """CDF of the price to beat from first-price wins (H <= bid) and losses (H > bid).

    The nonparametric maximum-likelihood estimate: the isotonic (non-decreasing) regression of the
    win indicator on the bid, pooled over equal bids.
    """
    bid = np.asarray(bid, np.float64)
    x, inv = np.unique(bid, return_inverse=True)
    n = np.bincount(inv, minlength=x.size).astype(np.float64)
    w = np.bincount(inv, weights=np.asarray(won, np.float64), minlength=x.size)
    if x.size == 0:
        return StepCdf(x, x)
    fit = isotonic_regression(w / n, weights=n, increasing=True).x
    return StepCdf(x, np.clip(fit, 0.0, 1.0))


# --- the report --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Intel:
    """What our logs say about the competition.

    Attributes:
        impression_share: impressions / auctions we were eligible for (we wanted to bid).
        lost_share_budget: eligible auctions our budget kept us out of, over eligible.
        lost_share_rank: eligible auctions we entered and lost, over eligible.
        top_of_page_rate: our impressions in the first slot (absolute top), over our impressions.
        overlap_rate: our impressions in multi-slot, price-revealing auctions where a rival's ad
            was shown too (one above us, or one below us: our price was above the reserve).
        position_above_rate: of those overlapping impressions, the share with a rival above us.
        outranking_share: entered price-revealing auctions where we ranked above at least one
            rival (we won a slot at a price above the reserve), over entered.
        price_to_beat: the estimated CDF of H over the auctions we entered.
        bid_range: the range our bids covered: the 5th and 95th percentiles of the bids we entered
            with (at the very ends a first-price estimate rests on a handful of auctions).
    """

    impression_share: float
    lost_share_budget: float
    lost_share_rank: float
    top_of_page_rate: float
    overlap_rate: float
    position_above_rate: float
    outranking_share: float
    price_to_beat: StepCdf
    bid_range: tuple[float, float]


def _rate(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def reveals_price(mechanisms: tuple[str, ...]) -> np.ndarray:
    """(n_channels,) bool: whether each channel's mechanism charges the winner the rank below it
    (second price, GSP), so that a top-slot win tells us the price to beat.

    Raises:
        ValueError: for an unknown mechanism name; the message lists the known ones.
    """
    return np.array([get_mechanism(m).reveals_price for m in mechanisms], dtype=bool)


def estimate(log: AuctionLog, mechanisms: tuple[str, ...], slots: tuple[int, ...]) -> Intel:
    """Competitive intelligence from our log.

    Args:
        log: our own auction log.
        mechanisms: mechanism name per channel (a key of `gaelp.market.mechanisms.MECHANISMS`).
        slots: number of slots per channel.

    Raises:
        ValueError: for an unknown mechanism name; the message lists the known ones.
    """
    reveals = reveals_price(mechanisms)
    n_slots = np.asarray(slots)
    eligible = (log.asked > 0) & (log.asked >= log.reserve)
    entered = log.entered
    won = log.slot >= 0
    reveal = reveals[log.channel] if log.channel.size else np.zeros(0, bool)
    multi = n_slots[log.channel] > 1 if log.channel.size else np.zeros(0, bool)
    below = won & (log.price > log.reserve * (1 + 1e-9)) & reveal
    shown_below = below & (log.slot < n_slots[log.channel] - 1) if log.channel.size else below
    above = won & (log.slot > 0)
    overlap = (above | shown_below) & multi & reveal
    cdfs, weights = [], []
    for c, reveal_c in enumerate(reveals):
        rows = entered & (log.channel == c)
        if not rows.any():
            continue
        top = log.slot[rows] == 0
        if reveal_c:
            cdfs.append(kaplan_meier(np.where(top, log.price[rows], log.bid[rows]), top))
        else:
            cdfs.append(current_status_cdf(log.bid[rows], top))
        weights.append(rows.sum())
    bids = log.bid[entered]
    return Intel(
        impression_share=_rate(won.sum(), eligible.sum()),
        lost_share_budget=_rate((eligible & ~entered).sum(), eligible.sum()),
        lost_share_rank=_rate((entered & ~won).sum(), eligible.sum()),
        top_of_page_rate=_rate((log.slot == 0).sum(), won.sum()),
        overlap_rate=_rate(overlap.sum(), (won & multi & reveal).sum()),
        position_above_rate=_rate((overlap & above).sum(), overlap.sum()),
        outranking_share=_rate(below.sum(), (entered & reveal).sum()),
        price_to_beat=mixture(cdfs, np.asarray(weights, np.float64)),
        bid_range=(float(np.quantile(bids, 0.05)), float(np.quantile(bids, 0.95))) if bids.size else (0.0, 0.0),
    )


def mixture(cdfs: list[StepCdf], weights: np.ndarray) -> StepCdf:
    """The weighted mixture of step CDFs (weights need not sum to 1)."""
    if not cdfs:
        return StepCdf(np.empty(0), np.empty(0))
    x = np.unique(np.concatenate([c.x for c in cdfs]))
    w = weights / weights.sum()
    return StepCdf(x, sum(wi * c(x) for wi, c in zip(w, cdfs)))


def ks_distance(a: StepCdf, b: StepCdf, lo: float, hi: float) -> float:
    """sup |a(x) - b(x)| over x in [lo, hi] (both right-continuous steps: checked at every jump and
    just below it)."""
    x = np.concatenate([a.x, b.x, [lo, hi]])
    x = x[(x >= lo) & (x <= hi)]
    x = np.concatenate([x, np.nextafter(x, -np.inf)])
    x = x[(x >= lo) & (x <= hi)]
    return float(np.max(np.abs(a(x) - b(x)))) if x.size else 0.0


# --- ground truth (for experiments; never part of our bidder's view) ---------------------------
def price_to_beat(bids: np.ndarray, quality: np.ndarray, reserve: np.ndarray) -> np.ndarray:
    """True H per auction from the whole bid matrix: max(reserve, best rival ad rank / our quality).

    Args:
        bids: (n_bidders, n) bids in force, bidder-major as the market takes them; row `OURS` is ours.
        quality: (n_bidders,) quality scores.
        reserve: (n,) reserves.
    """
    rival = np.arange(bids.shape[0]) != OURS
    rivals = bids[rival]
    ok = (rivals > 0) & (rivals >= reserve)
    rank = np.where(ok, rivals * quality[rival, None], 0.0).max(axis=0, initial=0.0)
    return np.maximum(reserve, rank / quality[OURS])
