"""The story of one simulated hour, and the days and campaigns made of them. Wiring only.

    purchases due -> opportunities -> every advertiser bids -> safety -> the platform clears within
    budgets -> people click -> journeys move, purchases get scheduled -> each advertiser observes
    its own outcome -> KPIs and logs.

The model logic lives in `world/` (people), `auction/` (market) and `control/` (safety, pacing).
Our bidder is column 0 of the bid matrix; the competitors follow in config order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gaelp.bidders.protocol import Bidder, BidderContext, BidderOutcome, OpportunityBatch, Truth
from gaelp.bidders.registry import make_bidder
from gaelp.config import Config
from gaelp.control.safety import SafetyLimits
from gaelp.kpis import Kpis, TouchTracker
from gaelp.market.clearing import Market
from gaelp.rng import CounterRng, Purpose, Streams
from gaelp.world.activity import Activity, DaySchedule
from gaelp.world.journey import JourneyModel
from gaelp.world.population import JourneyState, Stage, build_population, initial_stages
from gaelp.world.purchases import ORGANIC, POST_CLICK, PendingPurchases
from gaelp.world.response import ResponseModel
from gaelp.world.temporal import Calendar

SLOT_KEYS = 8  # counter key of an impression = opportunity key * SLOT_KEYS + slot
_NO_OPPORTUNITY = np.iinfo(np.int32).max  # an empty cell of the scratch table of Simulation._capped
IMPRESSION_FIELDS = ("t", "key", "person", "device", "advertiser", "channel", "slot", "intent", "clicked", "cost")
CONVERSION_FIELDS = ("t", "person", "device", "advertiser", "value", "kind", "credit_channel", "by_click",
                     "journey_start")


Piece = dict[str, np.ndarray] | Callable[[], dict[str, np.ndarray]]


def _concat(parts: list[Piece], fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not parts:
        return {f: np.empty(0) for f in fields}
    parts = [p() if callable(p) else p for p in parts]
    return {f: np.concatenate([p[f] for p in parts]) for f in fields}


@dataclass(frozen=True, slots=True)
class _Impressions:
    """Per impression (a row of `Cleared`): who saw it, on which channel, and its counter key."""

    person: np.ndarray
    channel: np.ndarray
    key: np.ndarray


class DayLog:
    """Everything that happened on one day, as column arrays (ground truth: person ids included).

    The columns are assembled from the hourly pieces (column dicts, or functions that build one) on
    first access, so a run nobody logs (a benchmark, a quick simulation) does not pay for it.

    Attributes:
        day: the simulated day.
        impressions: IMPRESSION_FIELDS -> (k,) arrays, every advertiser's impressions in time order.
        conversions: CONVERSION_FIELDS -> (m,) arrays, every purchase (ours and rivals').
            kind: 0 post-click, 1 organic; credit_channel / by_click: our last-touch credit (-1 none).
    """

    def __init__(self, day: int, impressions: list[Piece], conversions: list[Piece]) -> None:
        self.day = day
        self._parts = {"impressions": impressions, "conversions": conversions}
        self._tables: dict[str, dict[str, np.ndarray]] = {}

    def _table(self, name: str, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
        if name not in self._tables:
            self._tables[name] = _concat(self._parts.pop(name), fields)
        return self._tables[name]

    @property
    def impressions(self) -> dict[str, np.ndarray]:
        """Every impression of the day."""
        return self._table("impressions", IMPRESSION_FIELDS)

    @property
    def conversions(self) -> dict[str, np.ndarray]:
        """Every purchase of the day."""
        return self._table("conversions", CONVERSION_FIELDS)


def build_competitors(cfg: Config, streams: Streams) -> list[Bidder]:
    """The rival advertisers of `cfg.market`, each from its registered kind."""
    out = []
    for i, comp in enumerate(cfg.market.competitors):
        ctx = BidderContext(cfg, comp.budget_per_user * cfg.users, streams.child("competitors", i), comp)
        out.append(make_bidder(comp.kind, ctx))
    return out


def build_bidder(cfg: Config, name: str, streams: Streams) -> Bidder:
    """Our bidder `name` with our campaign's daily budget."""
    ctx = BidderContext(cfg, cfg.campaign.budget_per_user * cfg.users, streams.get("bidders"))
    return make_bidder(name, ctx)


class Simulation:
    """A world, a market and its advertisers, advanced one hour at a time.

    Args:
        cfg: the run's config.
        bidder: our bidder (or a registered name); None builds `cfg.bidder`.
        competitors: the rivals; None builds them from `cfg.market`.
    """

    def __init__(self, cfg: Config, bidder: Bidder | str | None = None,
                 competitors: list[Bidder] | None = None) -> None:
        self.cfg = cfg
        self.streams = Streams(cfg.seed)
        self.crng = CounterRng(cfg.seed)
        w = cfg.world
        self.pop = build_population(w, cfg.users, self.streams.get("population"))
        self.calendar = Calendar(w.temporal, cfg.start_date)
        self.activity = Activity(w, self.pop, self.calendar, self.crng)
        self.response = ResponseModel(w)
        comps = cfg.market.competitors
        if bidder is None or isinstance(bidder, str):
            bidder = build_bidder(cfg, bidder or cfg.bidder, self.streams)
        self.bidders: list[Bidder] = [bidder, *(competitors if competitors is not None
                                                else build_competitors(cfg, self.streams))]
        self.n_adv = len(self.bidders)
        brand = [w.journey.brand_base, *(c.brand for c in comps)]
        self.journey = JourneyModel(w, np.array(brand), self.crng)
        quality = [cfg.campaign.creative_quality, *(c.creative_quality for c in comps)]
        self.market = Market(w.channels, np.array(quality))
        self.appeal = np.array([cfg.campaign.appeal, *(c.appeal for c in comps)])
        self.category = np.array([True, *(c.category for c in comps)])
        self.rival_value = np.array([0.0, *(c.value for c in comps)])
        self.budget = np.array([b.daily_budget for b in self.bidders])
        self.safety = SafetyLimits(cfg.safety)
        self.state = JourneyState.fresh(cfg.users, self.n_adv,
                                        initial_stages(w, cfg.users, self.streams.get("population")))
        self.touches = TouchTracker(cfg.users)
        self.pending = PendingPurchases()
        self.kpis = Kpis.empty(len(w.channels), self.n_adv, cfg.days, self.market.max_slots)
        self.window_h = 24 * cfg.campaign.lookback_days
        self.t = 0
        self.spent_today = np.zeros(self.n_adv)
        self.n_channels = len(w.channels)
        self.freq_cap = np.array([c.frequency_cap for c in w.channels])
        # impressions today per (person, channel) and advertiser; rows padded to whole 8-byte words, so one
        # person-channel's counters are read as one word (one cache line) per opportunity
        self.freq_today = np.zeros((cfg.users * self.n_channels, -(-self.n_adv // 8) * 8), np.uint8)
        # scratch for finding a person's repeat opportunities on a channel within an hour (see _capped)
        self._first_opportunity = np.full(cfg.users * self.n_channels, _NO_OPPORTUNITY, np.int32)
        self._sched: DaySchedule | None = None
        self._log: dict[str, list[Piece]] = {"imp": [], "conv": []}
        self._no_purchases: dict[str, np.ndarray] | None = None
        # importance sampling: a click costs its person's weight times the price (None: a plain world)
        weight = self.pop.weight
        self._charge = None if np.all(weight == 1.0) else weight[self.pop.segment]

    # --- the story -------------------------------------------------------------------------------
    def step_hour(self) -> None:
        """Simulate hour `self.t` and advance the clock."""
        t = self.t
        day, hour = divmod(t, 24)
        if hour == 0:
            self._start_day(day)
        conv = self._purchases(t)
        rows = self._sched.hour(hour)
        batch, truth, person, stage, seg = self._opportunities(rows, t)
        # bidder-major (n_bidders, n): each bidder's bids are one contiguous row, as the market clears them
        bids_t = np.stack([b.bid(truth if b.sees_truth else batch) for b in self.bidders]) \
            if batch.size else np.zeros((self.n_adv, 0))
        bids_t[0] = self.safety.apply(bids_t[0])
        np.putmask(bids_t, self._capped(person, batch.channel), 0.0)
        bids = bids_t.T
        keys = self._sched.key[rows] * SLOT_KEYS

        row_ctr = self.response.person_ctr(seg, stage, batch.intent)
        slot_base = batch.channel.astype(np.int64) * self.market.max_slots
        seen = self.state.seen.reshape(-1)

        def respond(r, s, a):
            p = self.response.ctr_of(row_ctr[r], slot_base[r] + s, self.market.quality[a],
                                     seen[person[r] * self.n_adv + a])
            return self.crng.uniform(keys[r] + s, day, Purpose.CLICK) < p

        charge = None if self._charge is None else self._charge[person]
        cl = self.market.clear_within_budgets(batch.channel, bids, self.budget - self.spent_today, respond, charge)
        imp = _Impressions(person[cl.row], batch.channel[cl.row], keys[cl.row] + cl.slot)
        self._schedule_post_click(t, cl, imp, batch, seg, stage)
        rel = np.flatnonzero(self.category[cl.advertiser])  # other products' ads do not move our category
        self.journey.expose(self.state, t, day, imp.key[rel], imp.person[rel], cl.advertiser[rel],
                            imp.channel[rel], cl.clicked[rel], stage[cl.row[rel]])  # no stage moved this hour yet
        freq_cell = (imp.person * self.n_channels + imp.channel) * self.freq_today.shape[1] + cl.advertiser
        np.add.at(self.freq_today.reshape(-1), freq_cell, np.uint8(1))
        ours = np.flatnonzero(cl.advertiser == 0)
        self.touches.touch(t, imp.person[ours], imp.channel[ours], cl.clicked[ours])
        bids_t = np.ascontiguousarray(cl.bids.T)  # (n_bidders, n): no copy, the market kept the layout
        self._observe(batch, cl, bids_t, conv)
        self._account(t, rows, batch, cl, imp, bids_t, conv)
        self.t += 1

    # --- steps -----------------------------------------------------------------------------------
    def _capped(self, person: np.ndarray, channel: np.ndarray) -> np.ndarray:
        """(n_advertisers, n) which advertisers the platform's daily frequency caps keep out of each
        opportunity of the hour.

        The hour is one batch, so counts stand as of its start. A person's k-th repeat opportunity on a
        channel within the hour (k = 1, 2, ...) is open only to advertisers at least k below their cap,
        as if each had won every earlier one: no advertiser ever passes a cap, at the price of leaving
        such rare repeats to fewer bidders.
        """
        row = person * self.n_channels + channel  # rows of freq_today: (person, channel)
        shown = np.take(self.freq_today.view(np.uint64), row, axis=0).view(np.uint8)[:, :self.n_adv]
        count = np.ascontiguousarray(shown.T).astype(np.int16)
        index = np.arange(row.size, dtype=np.int32)
        first = self._first_opportunity
        np.minimum.at(first, row, index)
        repeat = np.flatnonzero(first[row] != index)  # not the first of its (person, channel) this hour
        first[row] = _NO_OPPORTUNITY  # the scratch table is clean again
        if repeat.size:
            group = row[repeat]
            order = np.argsort(group, kind="stable")  # a group's repeats stay in time order
            sorted_group = group[order]
            new_group = np.empty(order.size, bool)
            new_group[0] = True
            np.not_equal(sorted_group[1:], sorted_group[:-1], out=new_group[1:])
            run = np.arange(order.size)
            run_start = np.maximum.accumulate(np.where(new_group, run, 0))
            count[:, repeat[order]] += (run - run_start + 1).astype(np.int16)
        return count >= self.freq_cap[channel]

    def _start_day(self, day: int) -> None:
        self.kpis.grow(day + 1)
        self.spent_today[:] = 0.0
        self.freq_today[:] = 0
        u_organic, u_schedule = self.activity.day_uniforms(day)
        buyers = self.journey.daily(self.state, self.pop, day, self.calendar.day_multiplier(day), u_organic)
        self._sched = self.activity.schedule(day, self.state.stage, u_schedule)
        adv = self.journey.choose_brand(self.state, buyers, day)
        hour = np.searchsorted(self.calendar.buy_cdf, self.crng.uniform(buyers, day, Purpose.BUY_HOUR), side="right")
        device = self._random_device(buyers, day, Purpose.CONV_DEVICE)
        self.pending.push(day * 24 + hour, buyers, adv, device, ORGANIC)
        self.pending.start_day(day)

    def _random_device(self, person: np.ndarray, key: Any, purpose: int) -> np.ndarray:
        u = self.crng.uniform(person, key, purpose)
        return self.pop.device_offset[person] + (u * self.pop.n_devices[person]).astype(np.int64)

    def _purchases(self, t: int) -> dict[str, np.ndarray]:
        ev = self.pending.pop_due(t)
        if ev["person"].size == 0 and self._no_purchases is not None:
            return self._no_purchases  # most hours of a small world: the same empty columns
        p = ev["person"]
        open_ = self.state.stage[p]
        ok = np.flatnonzero((open_ <= Stage.INTENT) | (open_ == Stage.LAPSED))
        _, first = np.unique(p[ok], return_index=True)
        keep = ok[np.sort(first)]
        p, adv = p[keep], ev["advertiser"][keep].astype(np.int64)
        journey_start = self.state.journey_start[p].astype(np.int64)
        self.state.stage[p] = np.where(adv == 0, Stage.CONVERTED, Stage.LOST)
        self.state.converted_at[p] = t
        value = np.where(adv == 0, self.response.value[self.pop.segment[p]], self.rival_value[adv])
        ch, by_click = self.touches.classify(t, p, self.window_h)
        ch = np.where(adv == 0, ch, -1)
        by_click &= adv == 0
        out = {"t": np.full(p.size, t, np.int64), "person": p, "device": ev["device"][keep], "advertiser": adv,
               "value": value, "kind": ev["kind"][keep], "credit_channel": ch, "by_click": by_click,
               "journey_start": journey_start}
        if ev["person"].size == 0:
            self._no_purchases = out  # built by the same code, so its columns have the same dtypes
        return out

    def _opportunities(self, rows: slice, t: int) -> tuple[OpportunityBatch, OpportunityBatch, np.ndarray,
                                                             np.ndarray, np.ndarray]:
        """The hour's batch, its truth view (for oracles), and each opportunity's person, stage, segment."""
        s = self._sched
        person, device, channel = s.person[rows], s.device[rows], s.channel[rows]
        stage = self.state.stage[person]
        intent = self.activity.query_intent(s.key[rows], s.day, channel, stage)
        device_type = self.pop.device_type[device]
        batch = OpportunityBatch(t=t, weekday=self.calendar.weekday(s.day), channel=channel, device=device,
                                 device_type=device_type, intent=intent, reserve=self.market.reserve[channel],
                                 channel_names=self.cfg.channel_names)
        truth = batch
        seg = self.pop.segment[person]
        if any(b.sees_truth for b in self.bidders):
            p = self.response.cvr(channel, seg, stage, intent, device_type,
                                  self.calendar.hour_cvr[t % 24], self.appeal[0])
            truth = replace(batch, truth=Truth(p_convert=p, value=self.response.value[seg]))
        return batch, truth, person, stage, seg

    def _schedule_post_click(self, t, cl, imp, batch, seg, stage) -> None:
        day = t // 24
        ci = np.flatnonzero(cl.clicked)
        if ci.size == 0:  # most hours of a small world
            return
        r, a, k = cl.row[ci], cl.advertiser[ci], imp.key[ci]
        p = self.response.cvr(batch.channel[r], seg[r], stage[r], batch.intent[r], batch.device_type[r],
                              self.calendar.hour_cvr[t % 24], self.appeal[a])
        buy = np.flatnonzero(self.crng.uniform(k, day, Purpose.CONVERT) < p)
        if buy.size == 0:
            return
        r, a, k, pe = r[buy], a[buy], k[buy], imp.person[ci[buy]]
        lag = self.response.lag_hours(seg[r], self.crng.uniform(k, day, Purpose.LAG))
        due = t + np.maximum(1, np.ceil(lag)).astype(np.int64)
        same = self.crng.uniform(k, day, Purpose.CONV_DEVICE) < self.journey.same_device
        device = np.where(same, batch.device[r], self._random_device(pe, k, Purpose.CONV_OTHER_DEVICE))
        self.pending.push(due, pe, a, device, POST_CLICK)

    def _observe(self, batch: OpportunityBatch, cl, bids: np.ndarray, conv: dict[str, np.ndarray]) -> None:
        # one (n_bidders, n) matrix per field, each bidder gets its own row: its results only
        shape = (self.n_adv, batch.size)
        slot = np.full(shape, -1, np.int8)
        price, clicked, cost = np.zeros(shape), np.zeros(shape, bool), np.zeros(shape)
        cell = cl.advertiser * batch.size + cl.row
        for out, value in ((slot, cl.slot), (price, cl.price), (clicked, cl.clicked), (cost, cl.cost)):
            out.reshape(-1)[cell] = value
        # each advertiser's pixel reports its own purchases; in most hours there are none to split
        pixel = (conv["t"], conv["device"], conv["value"])
        if conv["advertiser"].size:
            order = np.argsort(conv["advertiser"], kind="stable")
            cuts = np.searchsorted(conv["advertiser"][order], np.arange(self.n_adv + 1))
        for j, b in enumerate(self.bidders):
            if conv["advertiser"].size:
                cm = order[cuts[j]:cuts[j + 1]]
                pixel = (conv["t"][cm], conv["device"][cm], conv["value"][cm])
            b.observe(BidderOutcome(batch, bids[j], slot[j], price[j], clicked[j], cost[j], *pixel))

    def _account(self, t, rows, batch, cl, imp, bids_t, conv) -> None:
        k, day, n_ch, n_adv, n_slots = self.kpis, t // 24, self.n_channels, self.n_adv, self.market.max_slots
        ch = imp.channel
        adv = cl.advertiser
        # counts by (advertiser, channel, slot) in one pass; sums of money keep their own bincounts, whose
        # order of addition is that of the impressions
        cell = (adv * n_ch + ch) * n_slots + cl.slot
        shape = (n_adv, n_ch, n_slots)
        shown = np.bincount(cell, minlength=n_adv * n_ch * n_slots).reshape(shape)
        clicks = np.bincount(cell[cl.clicked], minlength=shown.size).reshape(shape)
        spend = np.bincount(adv, weights=cl.cost, minlength=n_adv)
        self.spent_today += spend
        d = k.daily
        d["impressions"][day] += shown.sum(axis=(1, 2))
        d["clicks"][day] += clicks.sum(axis=(1, 2))
        d["spend"][day] += spend
        d["bid_sum"][day] += bids_t.sum(axis=1)
        d["bids"][day] += (bids_t != 0).sum(axis=1)  # count_nonzero with an axis costs 4x more on small hours
        ca = conv["advertiser"]
        if ca.size:
            d["conversions"][day] += np.bincount(ca, minlength=n_adv)
            d["revenue"][day] += np.bincount(ca, weights=conv["value"], minlength=n_adv)
        ours = adv == 0
        c = k.channel
        c["opportunities"] += np.bincount(batch.channel, minlength=n_ch)
        c["impressions"] += shown[0].sum(axis=1)
        c["clicks"] += clicks[0].sum(axis=1)
        c["spend"] += np.bincount(ch[ours], weights=cl.cost[ours], minlength=n_ch)
        k.market["impressions"] += shown.sum(axis=0)
        k.market["clicks"] += clicks.sum(axis=0)
        self._account_conversions(t, conv)
        key = self._sched.key[rows]
        self._log["imp"].append(lambda: {
            "t": np.full(cl.row.size, t, np.int64), "key": key[cl.row], "person": imp.person,
            "device": batch.device[cl.row], "advertiser": adv, "channel": ch, "slot": cl.slot,
            "intent": batch.intent[cl.row], "clicked": cl.clicked, "cost": cl.cost})
        self._log["conv"].append(conv)

    def _account_conversions(self, t: int, conv: dict[str, np.ndarray]) -> None:
        if conv["person"].size == 0:
            return
        k, n_ch = self.kpis, len(self.cfg.world.channels)
        ours = conv["advertiser"] == 0
        click = ours & conv["by_click"]
        view = ours & ~conv["by_click"] & (conv["credit_channel"] >= 0)
        organic = ours & (conv["credit_channel"] < 0)
        ch = conv["credit_channel"][click]
        k.channel["conversions"] += np.bincount(ch, minlength=n_ch)
        k.channel["revenue"] += np.bincount(ch, weights=conv["value"][click], minlength=n_ch)
        k.view_through += int(view.sum())
        k.view_through_revenue += float(conv["value"][view].sum())
        k.organic += int(organic.sum())
        k.organic_revenue += float(conv["value"][organic].sum())

    # --- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything but the bidders that a simulation built from the same config needs to go on.

        Taken between days (`t % 24 == 0`); every array is a copy. Bidders keep their own
        `state_dict`. Any new piece of simulation state must be added here (a resume test checks it).
        """
        if self.t % 24:
            raise ValueError(f"checkpoints are taken between days; the simulation is at hour {self.t % 24}")
        return {"t": self.t, "state": self.state.state_dict(), "touches": self.touches.state_dict(),
                "pending": self.pending.state_dict(), "kpis": self.kpis.state_dict(),
                "spent_today": self.spent_today.copy(), "streams": self.streams.state(),
                "safety": self.safety.state_dict()}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Continue from `state_dict` output (this simulation was just built from the same config)."""
        self.t = int(s["t"])
        self.state.load_state_dict(s["state"])
        self.touches.load_state_dict(s["touches"])
        self.pending.load_state_dict(s["pending"], today=self.day)
        self.kpis.load_state_dict(s["kpis"])
        self.spent_today = np.array(s["spent_today"], dtype=np.float64)
        self.streams.set_state(s["streams"])
        self.safety.load_state_dict(s["safety"])

    # --- days and campaigns ----------------------------------------------------------------------
    def run_day(self) -> DayLog:
        """Simulate the next whole day and return its log."""
        day = self.t // 24
        for _ in range(24):
            self.step_hour()
        log = DayLog(day, self._log["imp"], self._log["conv"])
        self._log = {"imp": [], "conv": []}
        return log

    def run(self, days: int | None = None, on_day: Callable[[DayLog], None] | None = None) -> Kpis:
        """Simulate `days` more days (default: the config's campaign length)."""
        for _ in range(self.cfg.days if days is None else days):
            log = self.run_day()
            if on_day is not None:
                on_day(log)
        return self.kpis

    @property
    def day(self) -> int:
        """Days simulated so far."""
        return self.t // 24
