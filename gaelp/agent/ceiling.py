"""Evaluation-only: the ceiling of a value model that sees only what an advertiser sees.

`oracle_lp` bids `k x true P(purchase | click) x target CPA`. The truth depends on the person's
segment and journey stage, which no advertiser sees. This module measures how much of `oracle_lp`'s
score a bidder of the same form can reach when it bids on its best estimate of that probability from
its own logs instead (`gaelp.agent.ceiling_fit`), never a product:

* `Observer`: our own logs -> an observable row per opportunity: the journey encoder's features per
  device (touches and clicks by channel, recency, context), `converted` (a purchase reported on the
  device or, as the agent does, on another device of its resolved person) and optionally the device's
  history of bid requests (`gaelp.agent.encoder.RequestLog`: every opportunity offered to us).
* `collect`: plays a training world with `oracle_lp` (at a fixed `k`), or a flat bid everywhere, behind
  a recorder that sees the truth, and logs a sample of (observable row with the request history, hour,
  true probability, segment class, clicked).
* `BoundBidder`: bids `k x model(observable row) x target CPA`. It declares `sees_truth = False`, so
  the simulation never hands it the truth; its model was fitted on truth from training worlds (a
  privileged-information bound). `SegmentBoundBidder` also reads the segment class of each
  opportunity (from the truth's value per segment) for a model that knows the segment, not the stage.
* `play_bound`: one campaign of a bound bidder, as a `WorldResult` (for `hindsight.search_worlds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from gaelp.agent.bidder import DEVICES_PER_PERSON
from gaelp.agent.ceiling_fit import Layout
from gaelp.agent.encoder import JourneyEncoder, RequestLog
from gaelp.agent.people import ResolvedPeople
from gaelp.bidders.baselines import OracleLpBidder
from gaelp.bidders.protocol import BaseBidder, BidderContext, BidderOutcome, BidderWrapper, OpportunityBatch
from gaelp.config import Config
from gaelp.experiments.play import WorldResult, world_result
from gaelp.simulation import Simulation, our_daily_budget

_SAMPLE_STREAM = 0xCE11  # the recorder's sample of opportunities: its own stream of the world seed


class ValueEstimate(Protocol):
    """A fitted model of P(purchase | click) from observable rows (`ceiling_fit.CellTable`, `LinearModel`)."""

    layout: Layout

    def predict(self, x: np.ndarray, hour: np.ndarray, seg: np.ndarray | None = None) -> np.ndarray:
        """(n,) estimated probability."""
        ...


def segment_classes(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """The segments' revenue values, sorted and distinct, and the CVR of each value's segments.

    The truth's `value` names an opportunity's segment up to segments of equal value; that is enough
    for the purchase probability only if such segments also share their CVR, which is checked.

    Raises:
        ValueError: two segments of equal value differ in CVR.
    """
    values = np.array([s.value for s in cfg.world.segments], np.float64)
    cvr = np.array([s.cvr for s in cfg.world.segments], np.float64)
    distinct = np.unique(values)
    for v in distinct:
        if np.ptp(cvr[values == v]) > 0:
            raise ValueError(f"segments of value {v} differ in cvr ({sorted(set(cvr[values == v]))}): the "
                             "segment bound cannot tell them apart from the truth's value")
    return distinct, np.array([cvr[values == v][0] for v in distinct])


def segment_of(values: np.ndarray, distinct: np.ndarray) -> np.ndarray:
    """(n,) segment class of opportunities whose truth has revenue `values`."""
    return np.searchsorted(distinct, values)


class Observer:
    """What our own logs say about each opportunity (see the module docstring); never reads the truth.

    Args:
        cfg: the run's config.
        requests: add the device's bid-request history to the row (`RequestLog`).
    """

    def __init__(self, cfg: Config, requests: bool = False) -> None:
        n_ch = len(cfg.world.channels)
        self.layout = Layout(n_ch, requests)
        self.encoder = JourneyEncoder(n_ch, DEVICES_PER_PERSON * cfg.users)
        self.requests = RequestLog(n_ch, DEVICES_PER_PERSON * cfg.users) if requests else None
        self.devices_cfg, self.window_h = cfg.world.devices, 24 * cfg.campaign.lookback_days
        self.people: ResolvedPeople | None = None

    def attach_world(self, sim: Any) -> None:
        """Resolve our purchasers' devices from the identity signals of our own events (as the agent does)."""
        from gaelp.world.identity import IdentitySignals

        self.people = ResolvedPeople(IdentitySignals(self.devices_cfg, sim.pop, sim.crng), self.window_h)

    def rows(self, batch: OpportunityBatch) -> np.ndarray:
        """(n, layout.n_features) float32: the encoder's features, `converted`, [the request history]."""
        parts = [self.encoder.features(batch), self.encoder.is_converted(batch.device)[:, None].astype(np.float32)]
        if self.requests is not None:
            parts.append(self.requests.features(batch))
        return np.concatenate(parts, axis=1)

    def observe(self, outcome: BidderOutcome) -> None:
        """Fold in our own results: the journey table, the requests, and the devices of resolved purchasers."""
        self.encoder.observe(outcome)
        if self.requests is not None:
            self.requests.observe(outcome.batch)
        if self.people is not None:
            b = outcome.batch
            clicked = np.flatnonzero(outcome.clicked)
            self.people.record_clicks(b.t, b.device[clicked], clicked)
            self.people.record_purchases(outcome.conv_t, outcome.conv_device)
            if outcome.conv_device.size:
                self.encoder.mark_converted(self.people.devices_of(outcome.conv_device)[1])


class BoundBidder(BaseBidder):
    """Bids `k x model(observable row) x target CPA`; never handed the truth (`sees_truth = False`)."""

    sees_truth = False

    def __init__(self, cfg: Config, model: ValueEstimate, k: float, name: str = "observable_bound") -> None:
        super().__init__(name, our_daily_budget(cfg))
        if not k > 0:
            raise ValueError(f"{name}: k must be > 0, got {k!r}")
        self.model, self.k, self.target_cpa = model, float(k), cfg.bidders.target_cpa
        self.observer = Observer(cfg, requests=model.layout.requests)

    def attach_world(self, sim: Any) -> None:
        """See `Observer.attach_world`."""
        self.observer.attach_world(sim)

    def segment(self, batch: OpportunityBatch) -> np.ndarray | None:
        """The segment class of each opportunity: unknown to this bidder."""
        return None

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """`k x target CPA x` the model's probability from the observable row."""
        p = self.model.predict(self.observer.rows(batch), np.full(batch.size, batch.hour), self.segment(batch))
        return (self.k * self.target_cpa) * p

    def observe(self, outcome: BidderOutcome) -> None:
        """Our own results into the observer."""
        self.observer.observe(outcome)


class SegmentBoundBidder(BoundBidder):
    """`BoundBidder` whose model also knows each opportunity's segment class (read from the truth's value)."""

    sees_truth = True

    def __init__(self, cfg: Config, model: ValueEstimate, k: float, name: str = "segment_bound") -> None:
        super().__init__(cfg, model, k, name)
        self.values = segment_classes(cfg)[0]

    def segment(self, batch: OpportunityBatch) -> np.ndarray | None:
        """The segment class of each opportunity: the only thing read from `batch.truth`."""
        if batch.truth is None:
            raise ValueError("segment_bound needs batch.truth (it reads the segment from the truth's value)")
        return segment_of(batch.truth.value, self.values)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A sample of opportunities of training worlds: observable rows and the truth.

    Attributes:
        x: (n, n_features) float32 observable rows.  hour: (n,) hour of day.
        p: (n,) true P(purchase | click).  seg: (n,) segment class.  clicked: (n,) we bought a click.
        seed: (n,) the world's seed.
    """

    x: np.ndarray
    hour: np.ndarray
    p: np.ndarray
    seg: np.ndarray
    clicked: np.ndarray
    seed: np.ndarray

    @staticmethod
    def concat(parts: list[Recorded]) -> Recorded:
        """One sample of several."""
        return Recorded(*(np.concatenate([getattr(r, f) for r in parts]) for f in Recorded.__slots__))


class _Recorder(BidderWrapper):
    """Plays the inner truth-seeing bidder; logs a sample of (observable row, truth) of every hour."""

    def __init__(self, cfg: Config, inner: OracleLpBidder, sample: float, rng: np.random.Generator) -> None:
        super().__init__(inner)
        self.observer, self.sample, self.rng = Observer(cfg, requests=True), sample, rng
        self.values = segment_classes(cfg)[0]
        self.parts: list[tuple[np.ndarray, ...]] = []
        self._pending: tuple[int, np.ndarray, tuple[np.ndarray, ...]] | None = None  # (t, rows, sample) of the hour

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        truth = batch.truth
        if truth is None:
            raise ValueError("the recorder needs the truth (the simulation hands it to sees_truth bidders)")
        r = np.flatnonzero(self.rng.random(batch.size) < self.sample)
        x = self.observer.rows(batch.without_truth())[r]
        self._pending = (batch.t, r, (x, np.full(r.size, batch.hour), truth.p_convert[r].copy(),
                                      segment_of(truth.value[r], self.values)))
        return self.inner.bid(batch)

    def observe(self, outcome: BidderOutcome) -> None:
        if self._pending is not None and self._pending[0] == outcome.batch.t:
            _, r, part = self._pending
            self.parts.append((*part, outcome.clicked[r].copy()))
            self._pending = None
        self.observer.observe(outcome)
        self.inner.observe(outcome)


class _FlatBid(OracleLpBidder):
    """One bid everywhere, whatever the truth: a broad buyer, whose clicks cover what a selective one skips."""

    def __init__(self, ctx: BidderContext, price: float) -> None:
        super().__init__(ctx)
        self.price = float(price)

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        return np.full(batch.size, self.price)


def collect(cfg: Config, seed: int, sample: float, k: float = 2.0, flat_bid: float | None = None) -> Recorded:
    """Play the training world `seed` with `oracle_lp` at `k` (or, with `flat_bid`, one bid of that price
    everywhere); a `sample` share of its opportunities.

    Raises:
        ValueError: `sample` outside (0, 1], or `flat_bid` not positive.
    """
    if not 0 < sample <= 1:
        raise ValueError(f"sample must be in (0, 1], got {sample}")
    if flat_bid is not None and not flat_bid > 0:
        raise ValueError(f"flat_bid must be positive, got {flat_bid}")
    cfg = cfg.replace(seed=seed)
    ctx = BidderContext(cfg, our_daily_budget(cfg), np.random.default_rng(0), extra={"k": k})
    inner = OracleLpBidder(ctx) if flat_bid is None else _FlatBid(ctx, flat_bid)
    rec = _Recorder(cfg, inner, sample, np.random.default_rng(np.random.SeedSequence([seed, _SAMPLE_STREAM])))
    sim = Simulation(cfg, rec)
    rec.observer.attach_world(sim)
    sim.run(cfg.days)
    x, hour, p, seg, clicked = (np.concatenate(c) for c in zip(*rec.parts, strict=True))
    return Recorded(x, hour, p, seg, clicked, np.full(p.size, seed))


def play_bound(cfg: Config, seed: int, model: ValueEstimate, k: float, segment: bool = False,
               name: str | None = None) -> WorldResult:
    """One campaign of the world `seed` with a bound bidder at `k` (`SegmentBoundBidder` with `segment`),
    named `name` (None: the class's default name)."""
    cfg = cfg.replace(seed=seed)
    kind = SegmentBoundBidder if segment else BoundBidder
    bidder = kind(cfg, model, k) if name is None else kind(cfg, model, k, name)
    sim = Simulation(cfg, bidder)
    bidder.attach_world(sim)
    sim.run(cfg.days)
    return world_result(sim, seed, bidder.name, k)

