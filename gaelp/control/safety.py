"""Safety limits between every bidder of ours and the market: no code path bids around them.

The platform itself stops serving an advertiser whose daily budget is spent (the story enforces that
for everyone); these limits are ours on top:

* a bid cap and sanitising of broken bids (NaN, negative, infinite);
* a budget circuit breaker: the budget we let the platform spend in one hour is at most
  `max_hour_share` of the day's allowance, and never more than what is left of it;
* a watch on our own prices during the hour: an impression priced above our bid is impossible in
  every auction we bid in (second price and GSP charge at most the bid, first price the bid), so it
  is a billing fault; we withdraw our bids `react_minutes` after it (the platform reports each
  impression's price as it is won, as an OpenRTB win notice does) and pause as for an anomaly;
* anomaly detection on our own hourly stats (`control/anomaly.py`) that pauses bidding for
  `pause_hours` and says why;
* a kill switch.

Every action is a `SafetyEvent` `{"t", "kind", "action"}`; the KPIs and `gaelp simulate --json` list them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np

from gaelp.config import SafetyConfig
from gaelp.control.anomaly import Anomaly, AnomalyDetector
from gaelp.control.pacing import BudgetPromise


@dataclass(frozen=True, slots=True)
class SafetyEvent:
    """One action of the safety layer: the hour, what was seen and what was done (and why)."""

    t: int
    kind: str
    action: str

    def to_json(self) -> dict[str, Any]:
        """`{"t", "kind", "action"}`."""
        return {"t": self.t, "kind": self.kind, "action": self.action}


class HourStats(NamedTuple):
    """Our own stats of hour `t` that the anomaly detector tests (`AnomalyDetector.check_hour`'s arguments)."""

    t: int
    bids: float  # opportunities we bid on (a sum of sampling weights)
    wins: np.ndarray  # (n_channels,)
    clicks: np.ndarray  # (n_channels,)
    spend: float


@dataclass(slots=True)
class SafetyReport:
    """What the limits did so far."""

    capped: int = 0
    invalid: int = 0
    killed_hours: int = 0
    paused_hours: int = 0
    events: list[SafetyEvent] = field(default_factory=list)


def overcharged(bid: np.ndarray, price: np.ndarray) -> np.ndarray:
    """(k,) bool: our impressions priced above our bid (`bid`, `price`: (k,) each's), which `charge_stop`
    reacts to; an hour without one leaves the watch silent."""
    return price > bid * (1 + 1e-9)


class SafetyLimits:
    """Clamp our bids to [0, max_bid], zero broken ones, pause on anomalies, honour a kill switch.

    Args:
        cfg: the limits.
        daily_budget: our daily budget, USD (scales the breaker and the spend test); 0 turns the
            anomaly detector off.
        promise: a day's allowance is the platform's promise (`BudgetPromise`: up to 2x the budget,
            30.4x over 30 days) instead of the daily budget.
        n_channels: channels our hourly impressions and clicks are counted by.
    """

    def __init__(self, cfg: SafetyConfig, daily_budget: float = 0.0, promise: bool = False,
                 n_channels: int = 1) -> None:
        self.max_bid = cfg.max_bid
        self.max_hour_share = cfg.max_hour_share
        self.pause_hours = cfg.pause_hours
        self.promise = BudgetPromise(daily_budget) if promise else None
        self._day, self._day_spend = -1, 0.0
        self.detector = AnomalyDetector(daily_budget, n_channels) if cfg.anomalies and daily_budget > 0 else None
        self.killed = False
        self.paused_until = -1  # first hour at which bidding resumes after a pause
        self.report = SafetyReport()
        self._ceiling = np.inf  # this hour's spend ceiling, to tell when the breaker held
        self._breaker_binds = False
        self.react_minutes = cfg.react_minutes if cfg.watch_charges else None
        self._overcharge: tuple[int, int, float, float] | None = None  # this hour's (stop, n, price, bid)

    # --- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The switch, the pause, the detector and the report, for checkpoints."""
        r = asdict(self.report)
        r["events"] = [e.to_json() for e in self.report.events]
        return {"killed": self.killed, "paused_until": self.paused_until, "report": r,
                "day": self._day, "day_spend": self._day_spend,
                "promise": None if self.promise is None else self.promise.state_dict(),
                "detector": None if self.detector is None else self.detector.state_dict()}

    def load_state_dict(self, s: dict) -> None:
        """Restore `state_dict` output."""
        self.killed = bool(s["killed"])
        self.paused_until = int(s.get("paused_until", -1))
        r = s["report"]
        self.report = SafetyReport(int(r["capped"]), int(r["invalid"]), int(r["killed_hours"]),
                                   int(r.get("paused_hours", 0)), [SafetyEvent(**e) for e in r["events"]])
        self._day, self._day_spend = int(s.get("day", -1)), float(s.get("day_spend", 0.0))
        if self.promise is not None and s.get("promise") is not None:
            self.promise.load_state_dict(s["promise"])
        if self.detector is not None and s.get("detector") is not None:
            self.detector.load_state_dict(s["detector"])

    # --- switches --------------------------------------------------------------------------------
    def kill(self, reason: str, t: int = -1) -> None:
        """Stop all bidding of ours until `resume()`."""
        self.killed = True
        self.report.events.append(SafetyEvent(t, "kill_switch", f"stopped all bidding: {reason}"))

    def resume(self) -> None:
        """Lift the kill switch and any pause."""
        self.killed = False
        self.paused_until = -1

    def _pause(self, t: int, found: Anomaly, resume_at: int) -> None:
        self.paused_until = resume_at
        self.report.events.append(SafetyEvent(t, found.kind, f"paused bidding until hour {resume_at}: {found.why}"))

    # --- the hour --------------------------------------------------------------------------------
    def apply(self, bids: np.ndarray, t: int | None = None) -> np.ndarray:
        """Safe bids: finite, within [0, max_bid], all zero while killed or paused.

        Args:
            bids: (n,) our bidder's bids for the hour.
            t: the hour; with it, pauses and the pre-auction bid test apply too.
        """
        safe, intent = self.screen(bids, t)
        if intent is None or t is None or self.detector is None:  # an intent comes only with both
            return safe
        found = self.detector.check_bids(intent)
        if found is None:
            self.detector.note_bids(safe)
        return self.admit(t, safe, found)

    def screen(self, bids: np.ndarray, t: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """`apply` up to the pre-auction bid test: the bids made safe, and what the anomaly detector must
        check before they go (the bidder's own intent; None: no test this hour, the bids go as they are).

        Then `detector.check_bids(intent)` (`note_bids(safe)` if normal) and `admit`; a batch of worlds
        checks all its worlds' intents at once (`gaelp.control.batched_safety`).
        """
        if self.killed:
            self.report.killed_hours += 1
            return np.zeros(np.shape(bids), dtype=np.float64), None
        if t is not None and t < self.paused_until:
            self.report.paused_hours += 1
            return np.zeros(np.shape(bids), dtype=np.float64), None
        bids = np.asarray(bids, dtype=np.float64)
        # the usual hour: two reductions show every bid is in range (a NaN fails both comparisons)
        if not (bids.size == 0 or (bids.min() >= 0 and bids.max() <= self.max_bid)):
            bad = ~np.isfinite(bids) | (bids < 0)
            over = ~bad & (bids > self.max_bid)
            self.report.invalid += int(bad.sum())
            self.report.capped += int(over.sum())
            safe = np.where(bad, 0.0, np.minimum(bids, self.max_bid))
        else:
            safe = bids
        if t is None or self.detector is None:
            return safe, None
        # the bidder's own intent (before the cap) is what reveals a broken bidder
        # (in the usual hour every bid is in range, so the bids themselves, whose median note_bids reuses)
        return safe, bids if safe is bids else np.where(np.isfinite(bids), bids, self.max_bid * 1e6)

    def admit(self, t: int, safe: np.ndarray, found: Anomaly | None) -> np.ndarray:
        """The rest of `apply` once the detector has checked the hour's bids: `safe`, or zeros and a pause
        if it `found` an anomaly."""
        if found is None:
            return safe
        self._pause(t, found, t + self.pause_hours)
        self.report.paused_hours += 1
        return np.zeros(safe.shape, dtype=np.float64)

    def allowance(self, t: int, budget: float) -> float:
        """What day `t // 24` may cost in all: `budget`, or the promise's allowance."""
        if self.promise is None:
            return budget
        day = t // 24
        if day != self._day:
            if self._day >= 0:
                self.promise.close_day(self._day_spend)
            self._day, self._day_spend = day, 0.0
        return self.promise.allowance(day)

    def remaining(self, t: int, budget: float, spent_today: float) -> float:
        """The circuit breaker: what we let the platform spend in hour `t`.

        Args:
            t: the hour.
            budget: our daily budget.
            spent_today: spent so far today.
        """
        allowance = self.allowance(t, budget)
        left = max(allowance - spent_today, 0.0)
        ceiling = self.max_hour_share * allowance
        self._breaker_binds = 0 < ceiling < left
        self._ceiling = min(left, ceiling)
        return self._ceiling

    def charge_stop(self, bids: np.ndarray, row: np.ndarray, price: np.ndarray) -> int:
        """During the hour: the opportunity from which our bids are withdrawn (n: none).

        Called by the platform's clearing with our impressions in time order (the rows of an hour stand
        for its minutes); the first one priced above our bid stops our bidding `react_minutes` of the
        hour's opportunities later (at least from the next one).

        Args:
            bids: (n,) our bids in force this hour.
            row, price: (k,) our impressions: opportunity row (ascending) and the price per click the
                platform reports for it (our own log, `BidderOutcome.price`).
        """
        n = bids.shape[0]
        if self.react_minutes is None:
            return n
        bid = bids[row]
        bad = overcharged(bid, price)
        if not bad.any():
            return n
        i = int(np.argmax(bad))
        stop = int(row[i]) + max(1, int(np.ceil(n * self.react_minutes / 60)))
        if self._overcharge is None or stop < self._overcharge[0]:
            self._overcharge = (stop, n, float(price[i]), float(bid[i]))
        return stop

    def observe(self, t: int, bids: np.ndarray, wins: np.ndarray, clicks: np.ndarray, spend: float,
                weight: np.ndarray | None = None) -> None:
        """After the auction: our own stats of hour `t`; a held breaker or an anomaly is an event.

        Exactly `watch` then, if it returns the hour's stats, `test` of them.

        Args:
            t: the hour.  bids: (n,) our bids in force.  wins: (n_channels,) impressions won.
            clicks: (n_channels,) our clicks.  spend: what we paid this hour.
            weight: (n,) sampling weights of the opportunities (`OpportunityBatch.weight`), which count
                the bids as the plain population would have them (wins come weighted too; clicks and spend
                are the platform's charges, each a plain click); None: each bid counts 1.
        """
        stats = self.watch(t, bids, wins, clicks, spend, weight)
        if stats is not None:
            self.test(stats)

    def test(self, stats: HourStats) -> None:
        """The anomaly detector's test of the hour's `stats` (`watch`'s), then `conclude`."""
        if self.detector is None:
            raise RuntimeError("test() needs the anomaly detector; watch() gives stats only when it is on")
        self.conclude(stats, self.detector.check_hour(stats.bids, stats.wins, stats.clicks, stats.spend))

    def watch(self, t: int, bids: np.ndarray, wins: np.ndarray, clicks: np.ndarray, spend: float,
              weight: np.ndarray | None = None, n_bids: float | None = None) -> HourStats | None:
        """`observe` up to the anomaly detector's test (arguments as there): the breaker's event, the day's
        spend, a billing fault's pause; returns the stats the detector must test (None: none this hour).
        `n_bids`: the bids counted as `observe` counts them, if the caller has already (a batch of worlds)."""
        if self._breaker_binds and spend >= self._ceiling - 1e-6:
            self.report.events.append(SafetyEvent(
                t, "hour_ceiling", f"stopped bidding for the rest of hour {t}: ${spend:.2f} is the hour's "
                                   f"ceiling ({self.max_hour_share:.0%} of the day's allowance)"))
        self._ceiling, self._breaker_binds = np.inf, False
        self._day_spend += spend
        if self._overcharge is not None:
            stop, n, price, bid = self._overcharge
            self._overcharge = None
            where = f"from opportunity {stop} of {n}" if stop < n else "at the hour's end"
            self._pause(t, Anomaly("overcharge", f"an impression priced ${price:.2f} a click against our bid "
                                                 f"${bid:.2f} (no auction of ours charges above the bid); "
                                                 f"stopped {where}"),
                        t + 1 + self.pause_hours)
            return None
        if self.detector is None or t < self.paused_until or self.killed:
            return None
        if n_bids is None:
            n_bids = float(np.count_nonzero(bids)) if weight is None else float(weight[bids != 0].sum())
        return HourStats(t, n_bids, wins, clicks, spend)

    def conclude(self, stats: HourStats, found: Anomaly | None) -> None:
        """The rest of `observe` once the detector has tested the hour's `stats`: pause if it `found` one."""
        if found is not None:
            self._pause(stats.t, found, stats.t + 1 + self.pause_hours)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event so far as `{"t", "kind", "action"}`."""
        return [e.to_json() for e in self.report.events]
