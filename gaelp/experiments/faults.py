"""Fault injection: break something on purpose at a given hour and see whether safety catches it.

A fault is written `KIND@dayD` or `KIND@dayDhH` (hour of day H, default 0), e.g. `bid_x1000@day5`:

* `bid_xK`: our bidder's bids are multiplied by K (a bug in our own bidding code);
* `cost_spike` (or `cost_spike_xK`, default K = 5): the platform charges us K times the auction's
  price per click (a billing or reserve misconfiguration on our account);
* `ctr_collapse` (or `ctr_collapse_xK`, default K = 0.1): our ads' click-through falls to K times its
  level (a broken creative), before the platform's quality score notices.

The fault is an experiment's intervention: it wraps our bidder and, from its first hour on, turns a
knob of the simulation for our column (the market's price, people's clicks). `fault_loss` measures the damage against the same world without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gaelp.bidders.protocol import OURS, Bidder, BidderWrapper, OpportunityBatch
from gaelp.config import Config
from gaelp.rng import Streams
from gaelp.simulation import DayLog, Simulation, build_bidder

_PATTERN = re.compile(r"^(bid|cost_spike|ctr_collapse)(?:_x([0-9.]+))?@day(\d+)(?:h(\d+))?$")
_DEFAULT_FACTOR = {"bid": 1000.0, "cost_spike": 5.0, "ctr_collapse": 0.1}


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault: its kind, its factor and its first hour."""

    kind: str
    factor: float
    start: int

    @property
    def day(self) -> int:
        """The fault's first day."""
        return self.start // 24

    @property
    def label(self) -> str:
        """The fault as written on the command line."""
        name = "bid" if self.kind == "bid" else self.kind
        return f"{name}_x{self.factor:g}@day{self.day}h{self.start % 24}"


def parse_fault(text: str) -> Fault:
    """Parse `KIND[_xK]@dayD[hH]`; a ValueError names what is wrong and what is allowed."""
    m = _PATTERN.match(text.strip())
    if m is None:
        raise ValueError(f"--fault {text!r}: expected KIND@dayD or KIND@dayDhH with KIND one of bid_xK "
                         f"(e.g. bid_x1000), cost_spike[_xK], ctr_collapse[_xK]")
    kind, factor, day, hour = m.groups()
    if kind == "bid" and factor is None:
        raise ValueError(f"--fault {text!r}: a bid fault needs its factor, e.g. bid_x1000@day5")
    f = float(factor) if factor is not None else _DEFAULT_FACTOR[kind]
    h = int(hour) if hour is not None else 0
    if h > 23 or not np.isfinite(f) or f <= 0:
        raise ValueError(f"--fault {text!r}: the hour must be 0-23 and the factor a positive number")
    return Fault(kind, f, int(day) * 24 + h)


class FaultInjector(BidderWrapper):
    """Our bidder with a fault from hour `fault.start` on.

    Args:
        inner: our bidder.
        fault: what breaks and when.
        sim: the simulation (its market's prices and people's clicks of our ads); set after building it.
    """

    def __init__(self, inner: Bidder, fault: Fault, sim: Simulation | None = None) -> None:
        super().__init__(inner)
        self.fault = fault
        self.sim = sim
        self.active = False

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """The inner bids, multiplied by the factor once a bid fault has started."""
        bids = np.asarray(self.inner.bid(batch), np.float64)
        if batch.t >= self.fault.start and not self.active:
            self._start()
        if self.active and self.fault.kind == "bid":
            return bids * self.fault.factor
        return bids

    def _start(self) -> None:
        self.active = True
        if self.fault.kind == "bid":
            return
        if self.sim is None:
            raise ValueError(f"fault {self.fault.label} needs the simulation: set `injector.sim`")
        mult = np.ones(self.sim.n_adv)
        mult[OURS] = self.fault.factor
        if self.fault.kind == "cost_spike":
            self.sim.market.price_mult = mult
        else:  # people stop clicking our ads; the platform's quality score has not noticed yet
            self.sim.ctr_quality = self.sim.market.quality * mult


def fault_loss(spend_fault: np.ndarray, spend_base: np.ndarray, fault: Fault) -> float:
    """Spend on the fault's day that the same world without the fault did not spend, hour by hour.

    Each hour counts what it spent above the same hour without the fault (so the fault's hour nets
    its overpriced clicks against the clicks it no longer bought); an hour that spent less (a pause)
    counts zero: the money a pause saves does not offset the fault.

    Args:
        spend_fault, spend_base: (n_hours,) our hourly spend with and without the fault.
    """
    d = slice(fault.day * 24, fault.day * 24 + 24)
    return float(np.maximum(spend_fault[d] - spend_base[d], 0.0).sum())


def overcharge(spend_fault: np.ndarray, fault: Fault) -> float:
    """What the platform charged above the auctions' prices on the fault's day (a `cost_spike`'s direct
    loss: every click from its start cost `factor` times its price); 0 for the other faults.

    Args:
        spend_fault: (n_hours,) our hourly spend with the fault.
    """
    if fault.kind != "cost_spike":
        return 0.0
    return float(spend_fault[fault.start:(fault.day + 1) * 24].sum() * (1 - 1 / fault.factor))


@dataclass(frozen=True, slots=True)
class FaultRun:
    """A campaign run with (or without) a fault.

    Attributes:
        sim: the simulation at its end.
        hourly_spend: (n_hours,) our spend per hour.
        hourly_clicks: (n_hours,) our clicks per hour.
    """

    sim: Simulation
    hourly_spend: np.ndarray
    hourly_clicks: np.ndarray


def run_with_fault(cfg: Config, fault: Fault | None, bidder: str | None = None,
                   on_day: Callable[[DayLog], None] | None = None) -> FaultRun:
    """Simulate `cfg.days` days of our bidder `bidder` (default `cfg.bidder`) with `fault` (None: none)."""
    name = bidder or cfg.bidder
    inner = build_bidder(cfg, name, Streams(cfg.seed))  # the same stream the simulation would give it
    injector = FaultInjector(inner, fault) if fault is not None else None
    sim = Simulation(cfg, bidder=injector or inner)
    if injector is not None:
        injector.sim = sim
    n = 24 * cfg.days
    spend, clicks = np.zeros(n), np.zeros(n)

    def collect(log: DayLog) -> None:
        imp = log.impressions
        ours = imp["advertiser"] == OURS
        t = imp["t"][ours]
        spend[:] += np.bincount(t, weights=imp["cost"][ours], minlength=n)[:n]
        clicks[:] += np.bincount(t, weights=imp["clicked"][ours], minlength=n)[:n]
        if on_day is not None:
            on_day(log)

    sim.run(cfg.days, on_day=collect)
    return FaultRun(sim, spend, clicks)


def fault_report(cfg: Config, fault: Fault, bidder: str | None = None,
                 on_day: Callable[[DayLog], None] | None = None, base: FaultRun | None = None) -> dict[str, Any]:
    """Run the world with and without `fault`; when safety caught it and what it cost.

    Args:
        base: the same world without a fault, if already run (`run_with_fault(cfg, None, bidder)`).

    Returns:
        `{"fault", "caught_t", "delay_h", "kind", "loss", "overcharge", "hour_budget", "clicks_lost"}`:
        the first safety event at or after the fault's start (None if none), its delay in hours (0:
        within the fault's first hour), the fault day's excess spend (`fault_loss`), what it was
        charged above the auctions' prices (`overcharge`), one hour's budget (daily / 24), and the
        fault day's clicks the fault cost.
    """
    base = base or run_with_fault(cfg, None, bidder, on_day)
    hit = run_with_fault(cfg, fault, bidder, on_day)
    if not np.array_equal(hit.hourly_spend[:fault.start], base.hourly_spend[:fault.start]):
        raise ValueError(f"fault {fault.label}: the world without the fault differs before the fault's start "
                         f"(a `base` run of another config or bidder?), so the loss would not be the fault's")
    caught = next((e for e in hit.sim.safety.report.events if e.t >= fault.start), None)
    d = slice(fault.day * 24, fault.day * 24 + 24)
    return {"fault": fault.label, "caught_t": None if caught is None else caught.t,
            "delay_h": None if caught is None else caught.t - fault.start,
            "kind": None if caught is None else caught.kind,
            "loss": round(fault_loss(hit.hourly_spend, base.hourly_spend, fault), 4),
            "overcharge": round(overcharge(hit.hourly_spend, fault), 4),
            "hour_budget": round(float(hit.sim.budget[OURS]) / 24, 4),
            "clicks_lost": float(base.hourly_clicks[d].sum() - hit.hourly_clicks[d].sum())}
