"""The serving engine: bid requests -> an `OpportunityBatch` -> our bidder -> safety -> prices.

The same pieces as `gaelp simulate`: the bidder built from the same config (its value model and its
pacer), `SafetyLimits` between the bidder and the exchange, and one `BidderOutcome` per hour for the
bidder to learn from. What the simulated platform does for every advertiser, stopping it when its
daily budget is spent, the engine does here: no bid once today's reported spend reaches the budget.

Time is the server's clock in hours since the Unix epoch (UTC), so `day = t // 24` is the UTC day.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from gaelp.bidders.protocol import Bidder, OpportunityBatch
from gaelp.config import Config
from gaelp.control.safety import SafetyLimits
from gaelp.serving.devices import DeviceIndex
from gaelp.serving.hourlog import HourLog, clock_hour, weekday
from gaelp.serving.ingest import EventLog, check_events
from gaelp.serving.metrics import Metrics
from gaelp.serving.openrtb import LARGE_SCREEN_TYPES, BidRequest, device_key, intent_code

_log = logging.getLogger(__name__)
CREATIVE_ID = "gaelp-default"
"""The creative we answer with (creative selection is not served yet)."""


class RequestError(ValueError):
    """A request the engine cannot read; `loc` names the field, as FastAPI's validation errors do."""

    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(msg)
        self.loc, self.msg = loc, msg


class Engine:
    """Decides bids and learns from events; one per server process, used from one event loop.

    Args:
        cfg: the run's config (channels, budget, safety, lookback).
        bidder: our bidder (`gaelp.serving.policy.build_bidder`).
        clock: epoch seconds now (tests pass a fake clock).
        sink: called with each batch of newly accepted events (the journey store), or None.
    """

    def __init__(self, cfg: Config, bidder: Bidder, clock: Callable[[], float] = time.time,
                 sink: Callable[[pd.DataFrame], None] | None = None) -> None:
        self.cfg = cfg
        self.bidder = bidder
        self.clock = clock
        self.sink = sink
        self.channel_names = cfg.channel_names
        self._channel_code = {name: i for i, name in enumerate(self.channel_names)}
        self.daily_budget = float(bidder.daily_budget)
        self.safety = SafetyLimits(cfg.safety)
        self.devices = DeviceIndex()
        self.events = EventLog()
        self.t = clock_hour(clock())
        self.hour = HourLog(self.t)
        self.spent_today = 0.0
        report = self.safety.report
        self.metrics = Metrics({
            "gaelp_spend_today_usd": ("spend reported by events today (UTC)", "gauge", lambda: self.spent_today),
            "gaelp_daily_budget_usd": ("our daily budget", "gauge", lambda: self.daily_budget),
            "gaelp_devices": ("device ids known", "gauge", lambda: len(self.devices)),
            "gaelp_safety_capped_total": ("bids capped at safety.max_bid", "counter", lambda: report.capped),
            "gaelp_safety_invalid_total": ("NaN or negative bids zeroed", "counter", lambda: report.invalid),
            "gaelp_safety_killed_total": ("bid calls refused by the kill switch", "counter",
                                          lambda: report.killed_hours),
            "gaelp_safety_events_total": ("safety events logged (kill switch)", "counter", lambda: len(report.events)),
        })

    # --- time ------------------------------------------------------------------------------------
    def _tick(self) -> int:
        """Close the hour if the clock has moved on: the bidder observes it, a new day resets spend.

        A bidder that fails to learn from an hour keeps bidding with what it knew: the failure is
        logged with its traceback and counted (`gaelp_observe_errors_total`), and the hour is dropped,
        so that one bad hour does not fail every request after it.
        """
        t = clock_hour(self.clock())
        if t != self.t:
            if not self.hour.empty:
                try:
                    self.bidder.observe(self.hour.outcome(self.channel_names))
                except Exception:  # noqa: BLE001 - see the docstring
                    _log.exception("the bidder failed to observe hour %d; its outcome is dropped", self.t)
                    self.metrics.inc("gaelp_observe_errors_total")
            if t // 24 != self.t // 24:
                self.spent_today = 0.0
            self.t, self.hour = t, HourLog(t)
        return t

    # --- bids ------------------------------------------------------------------------------------
    def _channels(self, req: BidRequest) -> tuple[list[int], list[int]]:
        """Channel and intent codes of each impression (the impression's ext, else the request's)."""
        if req.cur is not None and "USD" not in req.cur:
            raise RequestError(("body", "cur"), f"we bid in USD only; cur is {req.cur}")
        default = req.ext
        channel, intent = [], []
        for i, imp in enumerate(req.imp):
            ext = imp.ext if imp.ext is not None and imp.ext.channel is not None else default
            name = ext.channel if ext is not None else None
            code = self._channel_code.get(name) if name is not None else None
            if code is None:
                where = ("body", "imp", i, "ext", "channel") if imp.ext is not None else ("body", "ext", "channel")
                got = "missing" if name is None else f"{name!r} is unknown"
                raise RequestError(where, f"channel {got}: give one of {', '.join(self.channel_names)} "
                                          f"in ext.channel of the request or of the impression")
            channel.append(code)
            own = imp.ext.intent if imp.ext is not None and imp.ext.intent is not None else None
            intent.append(intent_code(own if own is not None else (default.intent if default else None)))
        return channel, intent

    def decide(self, req: BidRequest) -> list[tuple[str, float]]:
        """(impression id, price per click) of each impression we bid on; empty for no bid.

        Raises:
            RequestError: a channel missing or unknown, or a currency list without USD.
        """
        (out,) = self.decide_many([req])
        if isinstance(out, RequestError):
            raise out
        return out

    def decide_many(self, reqs: list[BidRequest]) -> list[list[tuple[str, float]] | RequestError]:
        """`decide` for requests that arrived together, as one `OpportunityBatch` through the bidder.

        Returns:
            per request, its bids (empty: no bid) or the `RequestError` that refuses it.
        """
        refused: dict[int, RequestError] = {}
        picked: list[list[tuple[str, float]]] = [[] for _ in reqs]
        channel: list[int] = []
        intent: list[int] = []
        device: list[int] = []
        large: list[bool] = []
        reserve: list[float] = []
        owner: list[int] = []  # the request of each row
        position: list[int] = []  # the impression of each row within its request
        for r, req in enumerate(reqs):
            try:
                ch, it = self._channels(req)
            except RequestError as e:
                refused[r] = e
                continue
            k = len(ch)
            channel += ch
            intent += it
            device += [self.devices.id_of(device_key(req))] * k
            large += [req.device is not None and req.device.devicetype in LARGE_SCREEN_TYPES] * k
            reserve += [imp.bidfloor for imp in req.imp]
            owner += [r] * k
            position += range(k)
        results: list[list[tuple[str, float]] | RequestError] = [refused.get(r, p) for r, p in enumerate(picked)]
        if not owner:
            return results
        t = self._tick()
        batch = OpportunityBatch(t=t, weekday=weekday(t), channel=np.array(channel, np.int8),
                                 device=np.array(device, np.int64), device_type=np.array(large, np.int8),
                                 intent=np.array(intent, np.int8), reserve=np.array(reserve),
                                 channel_names=self.channel_names)
        spent = self.spent_today >= self.daily_budget
        bids = np.zeros(batch.size) if spent else self.safety.apply(self.bidder.bid(batch))
        self.hour.add_opportunities(batch.device, batch.channel, batch.device_type, batch.intent, batch.reserve, bids)
        take = (bids > 0) & (bids >= batch.reserve)  # a bid below the floor cannot win
        n_take, n_zero = int(np.count_nonzero(take)), int(np.count_nonzero(bids <= 0))
        self.metrics.inc("gaelp_bids_total", "", n_take)
        self.metrics.inc("gaelp_no_bids_total", "below_floor", batch.size - n_take - n_zero)
        reason = "budget_spent" if spent else "kill_switch" if self.safety.killed else "no_value"
        self.metrics.inc("gaelp_no_bids_total", reason, n_zero)
        for row in np.flatnonzero(take).tolist():
            r = owner[row]
            picked[r].append((reqs[r].imp[position[row]].id, round(float(bids[row]), 6)))
        return results

    # --- events ----------------------------------------------------------------------------------
    def ingest(self, rows: list) -> dict:
        """Validate and keep a batch of events; feed the new ones to the hour's log, spend and the sink.

        Returns:
            `{"accepted", "duplicates", "rejected": [{"row", "event_id", "reason"}]}`.
        """
        self._tick()
        checked = check_events(rows, self.channel_names)
        fresh = self.events.add(checked.good)
        if len(fresh):
            if self.sink is not None:
                self.sink(fresh)
            self._learn(fresh)
        for kind, k in fresh["event_type"].value_counts().items():
            self.metrics.inc("gaelp_events_total", str(kind), int(k))
        dup = len(checked.good) - len(fresh)
        self.metrics.inc("gaelp_events_duplicate_total", "", dup)
        self.metrics.inc("gaelp_events_rejected_total", "", len(checked.rejects))
        return {"accepted": len(fresh), "duplicates": dup, "rejected": checked.rejects}

    def _learn(self, ev: pd.DataFrame) -> None:
        device = self.devices.ids_of(ev["user_id"].tolist())
        kind = ev["event_type"].to_numpy()
        touch = kind != "conversion"
        channel = np.array([self._channel_code.get(c, 0) for c in ev["channel"]], np.int8)
        cost = ev["cost"].to_numpy(np.float64)
        self.hour.add_touches(device[touch], channel[touch], kind[touch] == "click", cost[touch])
        conv = ~touch
        hours = (ev["timestamp"].to_numpy(np.float64)[conv] // 3600).astype(np.int64)
        self.hour.add_conversions(hours, device[conv], ev["value"].to_numpy(np.float64)[conv])
        self.spent_today += float(cost.sum())
