"""The story of one simulated hour, and the days and campaigns made of them. Wiring only.

    purchases due -> opportunities -> every advertiser bids -> safety -> frequency caps -> the platform
    clears within budgets -> people click -> purchases get scheduled -> journeys move -> each
    advertiser observes its own outcome -> KPIs -> observers get the hour's record.

The model logic lives in `world/` (people), `market/` (the platform), `bidders/` (the advertisers) and
`control/` (safety, pacing). Our bidder is row `OURS` (0) of the bid matrix; the rivals follow in
config order. Each hour returns a frozen `HourRecord` (`records.py`); experiments read records
(`Simulation(..., observers=[fn])` or `sim.observe(fn)`) instead of reaching into the story.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from gaelp.bidders.outcomes import own_outcomes, pixel_reports
from gaelp.bidders.protocol import N_INTENTS, OURS, Bidder, BidderContext, BidderOutcome, OpportunityBatch, Truth
from gaelp.bidders.registry import make_bidder
from gaelp.config import Config
from gaelp.control.creatives import CreativeSelector
from gaelp.control.safety import HourStats, SafetyLimits, overcharged
from gaelp.kpis import Kpis
from gaelp.market.caps import FrequencyCaps
from gaelp.market.clearing import Charge, Cleared, Market, Respond, Watch, WatchScreen
from gaelp.market.tracking import TouchTracker
from gaelp.records import DayLog, HourRecord, HourTruth, Purchases
from gaelp.rng import CounterRng, Purpose, Streams
from gaelp.world.activity import Activity, DaySchedule
from gaelp.world.clicks import ADV_KEYS, SLOT_KEYS, ClickInputs, click_response
from gaelp.world.journey import Exposures, JourneyModel
from gaelp.world.population import JourneyState, Stage, build_population, can_buy, initial_stages, pick_device
from gaelp.world.purchases import ORGANIC, POST_CLICK, Clicked, PendingPurchases, post_click
from gaelp.world.response import ResponseModel
from gaelp.world.temporal import Calendar

N_DEVICE_TYPES = 2  # our creative selector's contexts: channel x intent x device type
_NO_INDEX = np.empty(0, np.int64)
_NO_PROBABILITY = np.empty(0)
for _a in (_NO_INDEX, _NO_PROBABILITY):
    _a.flags.writeable = False


def creative_context(context: np.ndarray, device_type: np.ndarray) -> np.ndarray:
    """(n,) our creative selector's context of each opportunity: (channel * 3 + intent) x device type."""
    return context * N_DEVICE_TYPES + device_type


Observer = Callable[[HourRecord], None]
"""Called with every hour's record, after the story and the KPIs are done with it."""


class _Opportunities(NamedTuple):
    """The hour's batch, the oracles' view of it, and who stands behind each row (ground truth)."""

    batch: OpportunityBatch
    truth_view: OpportunityBatch
    person: np.ndarray
    stage: np.ndarray
    segment: np.ndarray
    key: np.ndarray  # (n,) opportunity counter keys; an impression's is key * SLOT_KEYS + slot


class OpportunityColumns(NamedTuple):
    """The hour's opportunities column by column, (n,) each: what `Simulation.opportunities` builds them from."""

    person: np.ndarray
    device: np.ndarray
    channel: np.ndarray  # int8
    key: np.ndarray
    stage: np.ndarray  # each person's stage once the hour's purchases are done
    intent: np.ndarray  # int8 `Activity.query_intent`
    device_type: np.ndarray
    segment: np.ndarray
    reserve: np.ndarray  # the market's reserve of the channel
    weight: np.ndarray  # the person's sampling weight (1.0 in a plain world)


class ImpressionColumns(NamedTuple):
    """An hour's impressions column by column, (k,) each, beside its `Cleared` (`Simulation.impressions`)."""

    person: np.ndarray
    channel: np.ndarray
    key: np.ndarray  # the impression's counter key, opportunity key * SLOT_KEYS + slot
    creative: np.ndarray  # the creative shown (`OpenHour.shown`)
    cost: np.ndarray  # what it cost in its advertiser's own log (`logged_cost`)
    ours: np.ndarray  # (k_ours,) the indices of ours


class OpenHour(NamedTuple):
    """An hour up to the market (`Simulation.open_hour`): what its last phase, `close_hour`, needs."""

    t: int
    purchases: Purchases
    opp: _Opportunities
    bids: np.ndarray  # (n_bidders, n) after safety and frequency caps
    ours_creative: np.ndarray  # (n,) the creative our selector would show on each opportunity
    # (n * max_slots,) int64 the creative shown at each (row, slot), written by every clearing pass: a later
    # pass redraws only rows after the earlier passes' final ones, so the table ends up holding the final
    # impressions' (alone or in a batch of worlds, the world's own table)
    shown: np.ndarray


class Offer(NamedTuple):
    """An hour up to the bids (`Simulation.offer_hour`): its purchases due and its opportunities."""

    t: int
    purchases: Purchases
    opp: _Opportunities


class Settled(NamedTuple):
    """An hour after the market, before the advertisers learn (`Simulation.settle_hour`)."""

    record: HourRecord
    outcomes: list[BidderOutcome]  # every advertiser's own view of the hour, in bidder order
    ours: np.ndarray  # (k_ours,) our impressions' indices into the record's impressions
    imp_channel: np.ndarray  # (k,) each impression's channel
    cost: np.ndarray  # (k,) what each impression cost in its advertiser's own log (`logged_cost`)
    exposures: Exposures | None  # the impressions that move journeys (None when left to a batch of worlds)
    pixels: list[tuple[np.ndarray, ...]]  # each advertiser's pixel report of the hour (`pixel_reports`)


class OurHour(NamedTuple):
    """Our own hour as the safety layer watches it (`Simulation.account_hour`, `SafetyLimits.watch`)."""

    wins: np.ndarray  # (n_channels,) float64 our impressions, each with its sampling weight
    clicks: np.ndarray  # (n_channels,) float64 our clicks (importance sampled: the charges)
    spend: float  # what the platform charged us
    n_bids: float | None  # our bids, each with its sampling weight (None: the safety layer counts them)


class Budgets(NamedTuple):
    """The budget side of how the platform clears one open hour (`Simulation.budgets`)."""

    remaining: np.ndarray  # (n_bidders,) budget left today
    charge: Charge | None  # importance weights and charge draws per opportunity, None in a plain world
    watch: Watch | None  # our safety layer's live watch of our own prices, None when it is off


class Clearing(NamedTuple):
    """How the platform clears one open hour, and the world's click model of it."""

    channel: np.ndarray  # (n,)
    bids: np.ndarray  # (n_bidders, n)
    remaining: np.ndarray  # (n_bidders,) budget left today
    respond: Respond  # the world's clicks on impressions (row, slot, advertiser)
    charge: Charge | None  # importance weights and charge draws per opportunity, None in a plain world
    watch: Watch | None  # our safety layer's live watch of our own prices, None when it is off
    clicks: ClickInputs  # what `respond` reads per opportunity (a batch of worlds draws clicks from these)
    shown: np.ndarray  # the open hour's `OpenHour.shown` table, which `respond` writes

    @property
    def market_args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, Respond, Charge | None, Watch | None]:
        """The arguments of `Market.clear_within_budgets`, in order."""
        return self.channel, self.bids, self.remaining, self.respond, self.charge, self.watch


def clicked_rows(batch: Any, person: np.ndarray, segment: np.ndarray, stage: np.ndarray, row: np.ndarray,
                 advertiser: np.ndarray, key: np.ndarray) -> Clicked:
    """The clicks on opportunities `row` as post-click scheduling reads them.

    Args:
        batch: the opportunities' channel, intent, device_type and device columns (an `OpportunityBatch`, or
            a batch of worlds' `WorldRows`); person, segment, stage: (n,) who stands behind each.
        row, advertiser, key: (k,) each click's opportunity, advertiser and impression counter key.
    """
    return Clicked(advertiser, key, person[row], batch.channel[row], segment[row], stage[row], batch.intent[row],
                   batch.device_type[row], batch.device[row])


def logged_cost(cl: Cleared, weight: np.ndarray | None) -> np.ndarray:
    """(k,) what each impression cost in its advertiser's own log: the platform's charge, or, importance
    sampled (`weight`: (k,) its person's weight), what its charges (whole prices on some impressions,
    `charged_impressions`) come to on average, its click's weight times its price."""
    return cl.cost if weight is None else np.where(cl.clicked, cl.price * weight, 0.0)


def exposures_of(category: np.ndarray, cl: Cleared, stage: np.ndarray,
                 imp: ImpressionColumns) -> tuple[np.ndarray, Exposures]:
    """The impressions that move journeys (other products' ads do not move our category): their indices
    among the impressions `cl` (`imp`: its columns; `stage`: (n,) each opportunity's person's stage before the
    hour's moves) and their `Exposures`."""
    rel = np.flatnonzero(category[cl.advertiser])
    return rel, Exposures(imp.key[rel], imp.person[rel], cl.advertiser[rel], imp.channel[rel], cl.clicked[rel],
                          stage[cl.row[rel]], imp.creative[rel])


def overcharge_screen(ours_bids: np.ndarray) -> WatchScreen:
    """The impressions our safety layer's price watch (`Clearing.watch`) may react to: ours priced above our
    bid (`ours_bids`: (n,) our bids in force on the rows, a batch of worlds' end to end). A world with none
    of them in a pass is one whose watch asks for nothing (`SafetyLimits.charge_stop`)."""
    return lambda row, adv, price: (adv == OURS) & overcharged(ours_bids[row], price)


def build_competitors(cfg: Config, streams: Streams) -> list[Bidder]:
    """The rival advertisers of `cfg.market`, each from its registered kind."""
    out = []
    for i, comp in enumerate(cfg.market.competitors):
        ctx = BidderContext(cfg, comp.budget_per_user * cfg.users, streams.child("competitors", i), comp)
        out.append(make_bidder(comp.kind, ctx))
    return out


def our_daily_budget(cfg: Config) -> float:
    """Our campaign's daily budget."""
    return cfg.campaign.budget_per_user * cfg.users


def build_bidder(cfg: Config, name: str, streams: Streams, daily_budget: float | None = None) -> Bidder:
    """Our bidder `name`, as a simulation of `cfg` builds it (its own random stream of `streams`).

    Args:
        daily_budget: our daily budget; default `our_daily_budget(cfg)`.
    """
    budget = our_daily_budget(cfg) if daily_budget is None else daily_budget
    return make_bidder(name, BidderContext(cfg, budget, streams.get("bidders")))


class Simulation:
    """A world, a market and its advertisers, advanced one hour at a time.

    Args:
        cfg: the run's config.
        bidder: our bidder (or a registered name); None builds `cfg.bidder`.
        competitors: the rivals; None builds them from `cfg.market`.
        observers: called with every hour's `HourRecord` (more can be added with `observe`).
    """

    def __init__(self, cfg: Config, bidder: Bidder | str | None = None,
                 competitors: Sequence[Bidder] | None = None, observers: Sequence[Observer] = ()) -> None:
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
        if self.n_adv > ADV_KEYS:
            raise ValueError(f"at most {ADV_KEYS} advertisers (the creative draws' key space), got {self.n_adv}")
        brand = [w.journey.brand_base, *(c.brand for c in comps)]
        self.journey = JourneyModel(w, np.array(brand), self.crng)
        quality = [cfg.campaign.creative_quality, *(c.creative_quality for c in comps)]
        self.market = Market(w.channels, np.array(quality))
        # (n_advertisers,) creative quality as people's clicks see it: the platform's quality score
        # (the same array) unless a fault injection makes our ads unclickable
        self.ctr_quality = self.market.quality
        self.caps = FrequencyCaps(cfg.users, np.array([c.frequency_cap for c in w.channels]), self.n_adv)
        self.appeal = np.array([cfg.campaign.appeal, *(c.appeal for c in comps)])
        self.category = np.array([True, *(c.category for c in comps)])
        self.rival_value = np.array([0.0, *(c.value for c in comps)])
        self.budget = np.array([b.daily_budget for b in self.bidders])
        self.safety = SafetyLimits(cfg.safety, self.budget[OURS], promise=cfg.campaign.pacing == "promise",
                                   n_channels=len(w.channels))
        self.state = JourneyState.fresh(cfg.users, self.n_adv,
                                        initial_stages(w, cfg.users, self.streams.get("population")),
                                        n_creatives=self.response.n_creatives)
        # our creative per opportunity (control/creatives.py); rivals rotate theirs uniformly
        self.creatives = CreativeSelector(self.response.n_creatives, len(w.channels) * N_INTENTS * N_DEVICE_TYPES,
                                          self.pop.device_type.size, cfg.campaign.creatives,
                                          self.streams.get("creatives"), cfg.campaign.ab_pair, cfg.campaign.selector)
        self.touches = TouchTracker(cfg.users)
        self.pending = PendingPurchases()
        self.kpis = Kpis.empty(len(w.channels), self.n_adv, cfg.days, self.market.max_slots,
                               self.response.n_creatives)
        self.window_h = 24 * cfg.campaign.lookback_days
        self.t = 0
        self.spent_today = np.zeros(self.n_adv)
        self.n_channels = len(w.channels)
        self.channel_names = cfg.channel_names  # every hour's batch names them: the tuple built once
        self._observers: list[Observer] = list(observers)
        self._sched: DaySchedule | None = None
        self._today: list[HourRecord] = []  # the current day's records, for its DayLog
        self._no_purchases: Purchases | None = None
        # importance sampling: each person's weight, which the platform's charges follow (None: a plain world)
        weight = self.pop.weight
        self._charge = None if np.all(weight == 1.0) else weight[self.pop.segment]

    @property
    def ours(self) -> Bidder:
        """Our bidder (row `OURS` of every bid matrix)."""
        return self.bidders[OURS]

    @property
    def rivals(self) -> list[Bidder]:
        """The other advertisers, in config order."""
        return [b for j, b in enumerate(self.bidders) if j != OURS]

    def observe(self, fn: Observer) -> Observer:
        """Call `fn(record)` after every later hour (usable as a decorator)."""
        self._observers.append(fn)
        return fn

    # --- the story -------------------------------------------------------------------------------
    def step_hour(self) -> HourRecord:
        """Simulate hour `self.t`, tell the observers, advance the clock; returns the hour's record."""
        hour = self.open_hour()
        return self.close_hour(hour, self.market.clear_within_budgets(*self.clearing(hour).market_args))

    # The hour in three phases, so that a batch of worlds (`gaelp.experiments.batched`) can clear all its
    # worlds' auctions as one array program between the first and the last: `step_hour` is exactly
    # `close_hour(h, market.clear_within_budgets(*clearing(h).market_args))` with `h = open_hour()`. The
    # first and the last split again (`offer_hour`/`bid_hour`, `settle_hour`/`finish_hour`) so that the
    # batch bids and learns for the rivals of all its worlds at once.
    def open_hour(self) -> OpenHour:
        """The hour up to the market: purchases due, opportunities, every advertiser's bids, our creatives.

        Exactly `bid_hour(offer_hour())`: a batch of worlds bids for the rivals of all its worlds at once
        between the two.
        """
        return self.bid_hour(self.offer_hour())

    def offer_hour(self) -> Offer:
        """The hour up to the bids: the day's start at its first hour, purchases due, the opportunities.

        Exactly `due_hour()`, then `opportunities` of `scheduled()` and the people's columns: a batch of worlds
        takes the columns of every world's opportunities at once between the two.
        """
        purchases = self.due_hour()
        return Offer(self.t, purchases, self._opportunities(self.t))

    def due_hour(self) -> Purchases:
        """The start of `offer_hour`: the day's start at its first hour, then the purchases due now (they end
        their buyers' journeys: the hour's opportunities see the stages after them).

        Exactly `purchases(due_events())`: a batch of worlds closes the journeys of all its worlds' buyers at
        once between the two.
        """
        return self.purchases(self.due_events())

    def due_events(self) -> dict[str, np.ndarray]:
        """The start of `due_hour`: the day's start at its first hour, then the pending purchase events due now
        (`PendingPurchases.pop_due`: `FIELDS` -> (m,) columns, in scheduling order)."""
        day, hour = divmod(self.t, 24)
        if hour == 0:
            self._start_day(day)
        return self.pending.pop_due(self.t)

    def purchases(self, ev: dict[str, np.ndarray]) -> Purchases:
        """The rest of `due_hour`: the events `ev` (`due_events`) whose buyer is still open become the hour's
        purchases, which close their journeys and are credited by our last touch."""
        if ev["person"].size == 0 and self._no_purchases is not None:
            return self._no_purchases  # most hours of a small world: the same empty columns
        return self._purchases(self.t, ev)

    def scheduled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(person, device, channel, key), each (n,), of the opportunities of the hour (rows of the day's
        schedule, drawn at its first hour by `due_hour`)."""
        s = self._sched
        assert s is not None, "the day's schedule is drawn at its first hour"
        rows = s.hour(self.t % 24)
        return s.person[rows], s.device[rows], s.channel[rows], s.key[rows]

    def opportunities(self, t: int, cols: OpportunityColumns) -> _Opportunities:
        """Hour t's opportunities (`Offer.opp`) from their columns: the batch the advertisers see, the
        oracles' view of it, who stands behind each row."""
        batch = OpportunityBatch(t=t, weekday=self.calendar.weekday(t // 24), channel=cols.channel, device=cols.device,
                                 device_type=cols.device_type, intent=cols.intent, reserve=cols.reserve,
                                 channel_names=self.channel_names, weight=cols.weight)
        truth = batch
        if any(b.sees_truth for b in self.bidders):
            p = self.response.cvr(cols.channel, cols.segment, cols.stage, cols.intent, cols.device_type,
                                  self.calendar.hour_cvr[t % 24], self.appeal[OURS])
            truth = replace(batch, truth=Truth(p_convert=p, value=self.response.value[cols.segment]))
        return _Opportunities(batch, truth, cols.person, cols.stage, cols.segment, cols.key)

    def bid_hour(self, offer: Offer, given: Mapping[int, np.ndarray] | None = None,
                 blocked: np.ndarray | None = None, creative: np.ndarray | None = None,
                 shown: np.ndarray | None = None, bids: np.ndarray | None = None) -> OpenHour:
        """The rest of `open_hour`: every advertiser's bids (through safety and caps) and our creatives.

        Args:
            offer: this hour's `offer_hour()`.
            given: (n,) bids of some advertisers (by index), as their own `bid` of the offer's batch
                gives them (ours, if given, already through the safety limits: `safety.apply` of
                `bid_of(OURS, offer.opp)` at hour `offer.t`); the others bid here.
            blocked: (n_bidders, n) the frequency caps' `blocked` of the offer, if already asked.
            creative: (n,) what our creative selector chooses for the offer (as `open_hour` would), if
                already chosen.
            shown: (n * max_slots,) int64 the table to note the creatives shown in (`OpenHour.shown`; a batch
                of worlds gives views of one table); None: a new one.
            bids: (n_bidders, n) every advertiser's bids through safety and caps, if already taken (as `given`
                and `blocked` would make them here; a batch of worlds takes every world's at once).
        """
        t, opp = offer.t, offer.opp
        if bids is None:
            bids = self._bids(opp, given or {}, blocked)
        return OpenHour(t, offer.purchases, opp, bids, self._choose_creatives(t, opp) if creative is None else creative,
                        np.empty(opp.batch.size * self.market.max_slots, np.int64) if shown is None else shown)

    def clearing(self, hour: OpenHour) -> Clearing:
        """What the platform clears the open hour with (`Market.clear_within_budgets`' arguments and more)."""
        return self._clearing(hour.t, hour.opp, hour.bids, hour.ours_creative, hour.shown)

    def close_hour(self, hour: OpenHour, cl: Cleared) -> HourRecord:
        """The hour after the market cleared it: clicks, purchases scheduled, journeys, learning, KPIs.

        Exactly `settle_hour`, every advertiser's `observe` of its outcome, then `finish_hour`: a batch of
        worlds lets the rivals of all its worlds learn at once between the two.
        """
        settled = self.settle_hour(hour, cl)
        for b, outcome in zip(self.bidders, settled.outcomes, strict=True):
            b.observe(outcome)
        return self.finish_hour(settled)

    def settle_hour(self, hour: OpenHour, cl: Cleared, together: bool = False,
                    scheduled: tuple[np.ndarray, np.ndarray] | None = None,
                    columns: ImpressionColumns | None = None) -> Settled:
        """`close_hour` up to the advertisers' learning: clicks, purchases, journeys, caps, touches, our
        creatives' learning; returns the hour's record and every advertiser's own outcome.

        Args:
            together: True leaves five steps to the caller (a batch of worlds takes them for all its worlds
                at once): the journeys' moves (`journey.expose` of the impressions' `exposures_of` at the hour,
                before the advertisers observe; nothing else of the hour reads the journeys; `Settled.exposures`
                is None), the caps' counts (`caps.record` of the impressions, before the next hour's bids), our
                touches (`touches.touch` of ours, before the next hour's purchases), our creatives' learning
                (`creatives.observe` of our impressions, `Settled.ours`, and our pixel's purchases), and every
                advertiser's outcome (`Settled.outcomes` is left empty: `own_outcomes` of the cleared
                impressions, `Settled.cost` and `Settled.pixels`).
            scheduled: the clicks (indices into `cl`) and their P(purchase), if the caller has already
                scheduled their purchases as `post_click` does here (None: scheduled here).
            columns: `impressions(hour, cl)`, if the caller has already taken them.
        """
        t, purchases, opp = hour.t, hour.purchases, hour.opp
        imp = self.impressions(hour, cl) if columns is None else columns
        click, p_purchase = self._schedule_post_click(t, opp, cl, imp.person, imp.key) if scheduled is None \
            else scheduled
        exposures = None
        if not together:
            exposures = exposures_of(self.category, cl, opp.stage, imp)[1]
            self.journey.expose(self.state, t, t // 24, *exposures)
            self.caps.record(imp.person, imp.channel, cl.advertiser)
            self.touches.touch(t, imp.person[imp.ours], imp.channel[imp.ours], cl.clicked[imp.ours])
        record = HourRecord(t, opp.batch, cl.bids, cl, purchases, HourTruth(
            opp.person, opp.stage, opp.segment, opp.key, imp.person, imp.key, click, p_purchase), imp.creative)
        if not together:
            self._learn_creatives(opp, cl, imp.ours, imp.creative, purchases)
        pixels = pixel_reports(purchases.t, purchases.device, purchases.value, purchases.advertiser, self.n_adv,
                               self.purchase_weights(purchases.person))
        outcomes = own_outcomes(opp.batch, cl.bids, cl.row, cl.slot, cl.advertiser, cl.price, cl.clicked, imp.cost,
                                pixels) if not together else []
        return Settled(record, outcomes, imp.ours, imp.channel, imp.cost, exposures, pixels)

    def impressions(self, hour: OpenHour, cl: Cleared) -> ImpressionColumns:
        """The columns of the open hour's impressions `cl` (after the market cleared it)."""
        opp = hour.opp
        person = opp.person[cl.row]
        return ImpressionColumns(person, opp.batch.channel[cl.row], opp.key[cl.row] * SLOT_KEYS + cl.slot,
                                 hour.shown[cl.row * self.market.max_slots + cl.slot],
                                 logged_cost(cl, None if self._charge is None else self._charge[person]),
                                 np.flatnonzero(cl.advertiser == OURS))

    def finish_hour(self, settled: Settled) -> HourRecord:
        """The rest of `close_hour`, once every advertiser has observed: KPIs, safety's watch, the observers,
        the clock.

        Exactly `account_hour`, the safety layer's anomaly test of the stats it returns (if any), then
        `end_hour`: a batch of worlds tests all its worlds' hours at once between the two.
        """
        stats = self.account_hour(settled)
        if stats is not None:
            self.safety.test(stats)
        return self.end_hour(settled.record)

    def account_hour(self, settled: Settled, spend: np.ndarray | None = None,
                     ours: OurHour | None = None) -> HourStats | None:
        """`finish_hour` up to the anomaly test: KPIs and safety's watch; returns our hour's stats that the
        safety layer's anomaly detector must test (None: no test this hour, `SafetyLimits.watch`).

        Args:
            spend: (n_bidders,) the hour's spend if its KPIs are already accounted (a batch of worlds
                accounts all its worlds' hours at once, `WorldsKpis`); None: `kpis.account` here.
            ours: our hour's counts as `our_hour` takes them, if already taken (a batch of worlds takes all its
                worlds' at once); None: here.
        """
        record = settled.record
        self.spent_today += self.kpis.account(record) if spend is None else spend
        if ours is None:
            ours = self.our_hour(record.batch, record.impressions, settled.ours, settled.imp_channel)
        return self.safety.watch(record.t, record.impressions.bids[OURS], ours.wins, ours.clicks, ours.spend,
                                 record.batch.weight, ours.n_bids)

    def end_hour(self, record: HourRecord) -> HourRecord:
        """The rest of `finish_hour`: the day's log and the observers get the record, the clock moves on."""
        self._today.append(record)
        for fn in self._observers:
            fn(record)
        self.t += 1
        return record

    # --- steps -----------------------------------------------------------------------------------
    def _choose_creatives(self, t: int, opp: _Opportunities) -> np.ndarray:
        """(n,) the creative our selector would show on each opportunity (by channel, intent, device type)."""
        b = opp.batch
        return self.creatives.choose(t, b.device, creative_context(b.context, b.device_type))

    def _learn_creatives(self, opp: _Opportunities, cl: Cleared, ours: np.ndarray, imp_creative: np.ndarray,
                         purchases: Purchases) -> None:
        """Our creative selector learns from our own impressions, clicks and pixel."""
        b, won, bought = opp.batch, cl.row[ours], purchases.advertiser == OURS
        self.creatives.observe(b.device[won], b.context[won] * N_DEVICE_TYPES + b.device_type[won], imp_creative[ours],
                               cl.clicked[ours], purchases.device[bought], b.weight[won],
                               self.purchase_weights(purchases.person[bought]))

    def purchase_weights(self, person: np.ndarray) -> np.ndarray | None:
        """(m,) the sampling weight of each buyer `person` (importance sampling; None in a plain world)."""
        return None if self._charge is None else self._charge[person]

    def our_hour(self, batch: OpportunityBatch, cl: Cleared, ours: np.ndarray, imp_channel: np.ndarray) -> OurHour:
        """What the safety limits watch of our own hour: impressions by channel, each counted with its sampling
        weight, and clicks by channel and spend as the platform charged them (`Cleared.cost`; `ours`: our
        impressions' indices, `imp_channel` every impression's channel).

        Importance sampled, the clicks counted are the charges (`charged_impressions`), each one plain click
        at its whole price, so an hour's counts follow the plain world's law; weighted clicks do not (a
        heavy click logs weight x price: two at weight 3.88 tripped the spend spike that a plain hour, under
        our hourly ceiling, never reaches; docs/montecarlo.md, "Importance sampling").
        """
        n_ch, ch, w = self.n_channels, imp_channel[ours], batch.weight[cl.row[ours]]
        if self._charge is None:
            clicked = cl.clicked[ours]
            clicks = np.bincount(ch[clicked], w[clicked], minlength=n_ch)
        else:
            clicks = np.bincount(ch[cl.cost[ours] > 0.0], minlength=n_ch).astype(np.float64)
        return OurHour(np.bincount(ch, w, minlength=n_ch), clicks, float(cl.cost[ours].sum()), None)

    def _start_day(self, day: int) -> None:
        self.kpis.grow(day + 1)
        self.spent_today[:] = 0.0
        self.caps.new_day()
        self._today = []
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
        return pick_device(self.pop.device_offset[person], self.pop.n_devices[person], u)

    def _purchases(self, t: int, ev: dict[str, np.ndarray]) -> Purchases:
        """The purchases of events `ev` due now that still find their buyer open, credited by our last touch."""
        p = ev["person"]
        open_ = self.state.stage[p]
        ok = np.flatnonzero(can_buy(open_))
        _, first = np.unique(p[ok], return_index=True)
        keep = ok[np.sort(first)]
        p, adv = p[keep], ev["advertiser"][keep].astype(np.int64)
        journey_start = self.state.journey_start[p].astype(np.int64)
        ours = adv == OURS
        self.state.stage[p] = np.where(ours, Stage.CONVERTED, Stage.LOST)
        self.state.converted_at[p] = t
        value = np.where(ours, self.response.value[self.pop.segment[p]], self.rival_value[adv])
        ch, by_click = self.touches.classify(t, p, self.window_h)
        ch = np.where(ours, ch, -1)
        by_click &= ours
        out = Purchases(np.full(p.size, t, np.int64), p, ev["device"][keep], adv, value, ev["kind"][keep], ch,
                        by_click, journey_start)
        if ev["person"].size == 0:
            self._no_purchases = out  # built by the same code, so its columns have the same dtypes
        return out

    def _opportunities(self, t: int) -> _Opportunities:
        """The hour's batch, its truth view (for oracles), and each opportunity's person, stage, segment."""
        person, device, channel, key = self.scheduled()
        stage = self.state.stage[person]
        return self.opportunities(t, OpportunityColumns(
            person, device, channel, key, stage, self.activity.query_intent(key, t // 24, channel, stage),
            self.pop.device_type[device], self.pop.segment[person], self.market.reserve[channel],
            np.ones(person.size) if self._charge is None else self._charge[person]))

    def _bids(self, opp: _Opportunities, given: Mapping[int, np.ndarray], blocked: np.ndarray | None) -> np.ndarray:
        """(n_bidders, n): every advertiser's bids (`given` ones as given), ours through the safety limits,
        none past a cap."""
        batch = opp.batch
        # bidder-major, the layout the market clears (gaelp.market.mechanisms)
        bids = np.stack([given[j] if j in given else self.bid_of(j, opp)
                         for j in range(self.n_adv)]) if batch.size else np.zeros((self.n_adv, 0))
        if OURS not in given:
            bids[OURS] = self.safety.apply(bids[OURS], opp.batch.t)
        np.putmask(bids, self.caps.blocked(opp.person, batch.channel) if blocked is None else blocked, 0.0)
        return bids

    def bid_of(self, j: int, opp: _Opportunities) -> np.ndarray:
        """(n,) advertiser `j`'s own bids on the hour's opportunities (`Offer.opp`; ours before safety)."""
        b = self.bidders[j]
        return b.bid(opp.truth_view if b.sees_truth else opp.batch)

    def _draws(self, day: int) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
        """draw(rows, keys, purpose): this world's counter uniforms of `day` (see `gaelp.world.clicks`)."""
        return lambda rows, keys, purpose: self.crng.uniform(keys, day, purpose)

    def _clearing(self, t: int, opp: _Opportunities, bids: np.ndarray, ours_creative: np.ndarray,
                  shown: np.ndarray) -> Clearing:
        """The platform's inputs to clear the hour within every advertiser's budget; the world draws the clicks."""
        batch, person = opp.batch, opp.person
        n_slots = self.market.max_slots
        clicks = ClickInputs(opp.key, person, opp.segment, opp.stage,
                             self.response.person_ctr(opp.segment, opp.stage, batch.intent),
                             batch.channel.astype(np.int64) * n_slots, ours_creative)
        seen = self.state.seen.reshape(-1)
        seen_creative = self.state.seen_creative.reshape(-1)

        def keep(r: np.ndarray, s: np.ndarray, c: np.ndarray) -> None:
            shown[r * n_slots + s] = c

        respond = partial(click_response, self.response, clicks, self.n_adv, lambda r, a: self.ctr_quality[a],
                          lambda r, i: seen[i], lambda r, i: seen_creative[i], self._draws(t // 24), keep)
        remaining, charge, watch = self.budgets(t, opp, bids)
        return Clearing(batch.channel, bids, remaining, respond, charge, watch, clicks, shown)

    def budgets(self, t: int, opp: _Opportunities, bids: np.ndarray) -> Budgets:
        """The budget side of the platform's inputs to clear hour `t` (`clearing` less the click model): what
        each advertiser may still spend, importance sampling's charges and our live price watch."""
        charge = None if self._charge is None else Charge(self._charge[opp.person],
                                                          self.crng.uniform(opp.key, t // 24, Purpose.BUDGET_END))
        remaining = self.budget - self.spent_today
        remaining[OURS] = self.safety.remaining(t, self.budget[OURS], self.spent_today[OURS])
        if self.safety.react_minutes is None:
            return Budgets(remaining, charge, None)
        ours_bids, n = bids[OURS], opp.batch.size

        def watch(r: np.ndarray, a: np.ndarray, price: np.ndarray, clicked: np.ndarray) -> np.ndarray:
            # our safety layer watches our own prices as they come (rivals watch nothing)
            stop = np.full(self.n_adv, n, np.int64)
            mine = a == OURS
            stop[OURS] = self.safety.charge_stop(ours_bids, r[mine], price[mine])
            return stop

        return Budgets(remaining, charge, watch)

    def _schedule_post_click(self, t: int, opp: _Opportunities, cl: Cleared, imp_person: np.ndarray,
                             imp_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Draw which clicks lead to a purchase and when; returns the clicks and their P(purchase)."""
        day = t // 24
        ci = np.flatnonzero(cl.clicked)
        if ci.size == 0:  # most hours of a small world
            return _NO_INDEX, _NO_PROBABILITY
        p, bought = post_click(self.response, self.appeal, self.journey.same_device, self.calendar.hour_cvr[t % 24], t,
                               clicked_rows(opp.batch, opp.person, opp.segment, opp.stage, cl.row[ci],
                                            cl.advertiser[ci], imp_key[ci]),
                               lambda rows, keys, purpose: self.crng.uniform(keys, day, purpose),
                               lambda rows, pe, keys: self._random_device(pe, keys, Purpose.CONV_OTHER_DEVICE))
        if bought is not None:
            self.pending.push(bought.due, bought.person, bought.advertiser, bought.device, POST_CLICK)
        return ci, p

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
                "safety": self.safety.state_dict(), "creatives": self.creatives.state_dict()}

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
        self.creatives.load_state_dict(s["creatives"])

    # --- days and campaigns ----------------------------------------------------------------------
    def run_day(self) -> DayLog:
        """Simulate the next whole day and return its log."""
        day = self.t // 24
        for _ in range(24):
            self.step_hour()
        return DayLog(day, self._today)

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
