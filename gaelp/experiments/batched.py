"""Many small worlds as one array program: worlds of one config stepped together, hour by hour.

A 10,000-person world spends much of each simulated hour in fixed per-call costs (a numpy call costs
microseconds whatever its size, and an hour makes hundreds), so W worlds cost about W times one. A batch
steps its worlds in lockstep through the three phases of `Simulation`'s hour (`open_hour`, clearing,
`close_hour`, split further at the bids and at the advertisers' learning) and runs the stages that take a
world axis once for the whole batch: the purchases due (`Simulation.due_events`, then the buyers of every
world checked and closed at once), the columns of the hour's opportunities (`offer`), the rivals' bids and
learning (`gaelp.bidders.batched_rivals`: each rival slot's tables
stacked across worlds, draws through `WorldsRng`), the bid matrix, our creatives' choice (`WorldsCreatives`:
every world's Beta parameters at once, each world's draw from its own stream), the frequency caps' mask
(`WorldsCaps`), our safety layers' anomaly tests (`WorldsSafety`), the market's clearing
(`Market.clear_worlds`: one auction pass over every world's opportunities, budgets per world and
advertiser, a world's price watch asked only where one of its impressions is overcharged) with the people's
clicks (`gaelp.world.clicks`, their inputs taken from the batch's columns: each world gives only its
budgets, `Simulation.budgets`), the purchases the clicks lead to (`post_click`, pushed to each world's pending
purchases), the impressions' columns, the journeys' moves (`WorldsJourneys`: every world's people as one
world-major population that the worlds' states view) and our touches (`WorldsTouches`), every advertiser's
outcome columns (`outcome_columns` over the batch's rows; a batched rival's worlds' outcomes are built only
where read, `SlotOutcomes`), the KPIs (`WorldsKpis`) and our hour's counts for each world's safety watch
(`Simulation.our_hour`). The start of day, each world's records and safety watch, its Thompson draw and our
own bidder still run world by world; docs/montecarlo.md lists what is left.

Exactness: each world in a batch gets, bit for bit, the records and KPIs it gets alone (tested), because
the batched stages compute every world's rows from that world's inputs only, in its own order.

Example:
    >>> from gaelp.config import load_config
    >>> from gaelp.simulation import Simulation
    >>> cfg = load_config(None, users=200, days=1)
    >>> batch = BatchedWorlds([Simulation(cfg.replace(seed=s)) for s in (1, 2)])
    >>> len(batch.step_hour())
    2
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from gaelp.bidders.batched_rivals import batch_rivals
from gaelp.bidders.outcomes import outcome_columns
from gaelp.bidders.protocol import N_INTENTS, OURS, BaseBidder, BidderOutcome
from gaelp.bidders.worlds import SlotOutcomes, WorldOutcomes, WorldRows, WorldsBidder
from gaelp.config import Config
from gaelp.control.batched_safety import WorldsSafety
from gaelp.control.creatives import WorldsCreatives
from gaelp.experiments.batched_accounts import our_hours, purchases_due
from gaelp.kpis import WorldsKpis
from gaelp.market.caps import WorldsCaps
from gaelp.market.clearing import Charge, Cleared, Respond
from gaelp.market.tracking import WorldsTouches
from gaelp.records import DayLog, HourRecord
from gaelp.rng import Purpose, WorldsRng
from gaelp.simulation import (
    Budgets,
    Clearing,
    ImpressionColumns,
    Offer,
    OpenHour,
    OpportunityColumns,
    Settled,
    Simulation,
    clicked_rows,
    creative_context,
    exposures_of,
    logged_cost,
    overcharge_screen,
)
from gaelp.world.batched_journeys import WorldsJourneys
from gaelp.world.clicks import SLOT_KEYS, ClickInputs, Gather, Keep, click_response
from gaelp.world.population import pick_device
from gaelp.world.purchases import POST_CLICK, post_click


def _scatter(bounds: np.ndarray, tables: Sequence[np.ndarray], n_slots: int) -> Keep:
    """keep(rows, slots, creatives): each impression's creative into its world's (n_w * n_slots,) table
    (rows sorted, world-major), at the world's own (row, slot), as the world alone notes it."""

    def keep(rows: np.ndarray, slots: np.ndarray, creatives: np.ndarray) -> None:
        cut = np.searchsorted(rows, bounds).tolist()
        for w, (a, b) in enumerate(itertools.pairwise(cut)):
            if b > a:
                tables[w][(rows[a:b] - bounds[w]) * n_slots + slots[a:b]] = creatives[a:b]

    return keep


def _shared(cfg: Config) -> Config:
    """What the worlds of a batch must share: the config less its seed, budgets and start date. The batched
    stages read none of these (budgets enter the clearing per world, the calendar only each world's own
    phases)."""
    camp = cfg.campaign.model_copy(update={"budget_per_user": 0.0})
    comps = tuple(c.model_copy(update={"budget_per_user": 0.0}) for c in cfg.market.competitors)
    return cfg.model_copy(update={"seed": 0, "start_date": dt.date.min, "campaign": camp,
                                  "market": cfg.market.model_copy(update={"competitors": comps})})


class BatchedWorlds:
    """Worlds of one config (seeds, budgets and start dates may differ) stepped together, their markets
    cleared as one.

    Args:
        sims: the worlds, built from configs that differ at most in the seed, the advertisers' budgets
            and the start date (as the agent's randomized training worlds do: same people model,
            channels, advertisers and auction rules), all at the same hour. A world whose market is changed
            after building (a fault injection's billing fault) cannot be batched: run it alone.
        ours: our bidders of the worlds as one (`WorldsBidder`: the agent's, from its maker), which then bids and
            learns for every world in one call each; None: each world's bidder bids and learns alone.
    """

    def __init__(self, sims: Sequence[Simulation], ours: WorldsBidder | None = None) -> None:
        if not sims:
            raise ValueError("a batch needs at least one world")
        self.sims = list(sims)
        first = self.sims[0]
        for i, s in enumerate(self.sims):
            if s.t != first.t:
                raise ValueError(f"world {i} is at hour {s.t}, world 0 at hour {first.t}: a batch steps in lockstep")
            if _shared(s.cfg) != _shared(first.cfg):
                raise ValueError(f"world {i}'s config differs from world 0's in more than the seed, the budgets "
                                 f"and the start date")
        self.market = first.market
        self.n_worlds = len(self.sims)
        self.ours = ours
        self.rng = WorldsRng([s.crng.seed for s in self.sims])  # every world's counter draws, in one hash
        # the rival slots that bid and learn for every world at once (their worlds' rivals view their tables)
        self.rivals = batch_rivals([s.bidders for s in self.sims], OURS)
        self.caps = WorldsCaps([s.caps for s in self.sims])  # the worlds' caps as one table
        self.creatives = WorldsCreatives([s.creatives for s in self.sims])  # our creatives, chosen at once
        self.safety = WorldsSafety([s.safety for s in self.sims])  # our anomaly tests, every world's at once
        self.kpis = WorldsKpis([s.kpis for s in self.sims])  # every world's KPI totals, accounted at once
        self.touches = WorldsTouches([s.touches for s in self.sims])  # our touches of every world's people
        # every world's people as one world-major population (the worlds' journey states view it)
        self.people = WorldsJourneys([s.state for s in self.sims], first.journey, self.rng)
        self.device_offset = np.concatenate([s.pop.device_offset for s in self.sims])  # (W * n,) world-major
        self.n_devices = np.concatenate([s.pop.n_devices for s in self.sims])
        self.segment = np.concatenate([s.pop.segment for s in self.sims])  # (W * n,)
        everyone = np.arange(self.people.n)
        # (W * n,) each person's sampling weight (`Simulation.purchase_weights`; 1.0 in a plain world)
        weights = [s.purchase_weights(everyone) for s in self.sims]
        self.plain = all(w is None for w in weights)  # no importance sampling in any world
        self.weight = np.concatenate([np.ones(everyone.size) if w is None else w for w in weights])
        # the worlds' device tables end to end: world w's device d is row device_base[w] + d
        self.device_type = np.concatenate([s.pop.device_type for s in self.sims])
        self.device_base = np.cumsum([0, *(s.pop.device_type.size for s in self.sims)])[:-1]

    @property
    def t(self) -> int:
        """The hour every world of the batch simulates next."""
        return self.sims[0].t

    def step_hour(self) -> list[HourRecord]:
        """Simulate the next hour of every world; returns their records, in world order."""
        if any(s.market.price_mult is not None for s in self.sims):
            raise ValueError("a world's market charges differently (a fault injection): run it alone")
        offers, rows, cols = self.offer()
        cuts = list(itertools.pairwise(rows.bounds.tolist()))
        # our bids through every world's safety limits (their bid tests at once), the batched rivals' bids,
        # our creatives and the caps' mask for every world at once; every world's bid matrix at once when every
        # rival is batched (as each world's `bid_hour` stacks its bids and masks them), else each world's
        ours = self.safety.apply(self.ours.bid(rows) if self.ours is not None else
                                 [s.bid_of(OURS, o.opp) if o.opp.batch.size else np.zeros(0)
                                  for s, o in zip(self.sims, offers, strict=True)], self.t)
        rival_bids = {j: rival.bid(rows) for j, rival in self.rivals.items()}
        chosen = self.creatives.choose(self.t, rows.world, rows.device, creative_context(rows.context, rows.device_type),
                                       [b - a for a, b in cuts])
        creative = rows.split(chosen)
        blocked = self.caps.blocked(rows.world, cols.person, rows.channel)
        given: list[dict[int, np.ndarray]] = [{} for _ in self.sims]
        bids: np.ndarray | None = None
        if len(rival_bids) == self.sims[0].n_adv - 1:
            bids = np.stack([np.concatenate(ours), *(rival_bids[j] for j in sorted(rival_bids))]) \
                if rows.bounds[-1] else np.zeros((len(rival_bids) + 1, 0))
            np.putmask(bids, blocked, 0.0)
        else:
            for w, g in enumerate(given):
                g[OURS] = ours[w]
                g.update({j: b[cuts[w][0]:cuts[w][1]] for j, b in rival_bids.items()})
        n_slots = self.market.max_slots
        shown = np.empty(rows.bounds[-1] * n_slots, np.int64)  # every world's creatives shown, each world's a view
        hours = [s.bid_hour(o, g, blocked[:, a:b], c, shown[a * n_slots:b * n_slots],
                            None if bids is None else bids[:, a:b])
                 for s, o, g, c, (a, b) in zip(self.sims, offers, given, creative, cuts, strict=True)]
        # the click model's inputs of every world's rows at once (each world's `clearing` of its rows, end to end)
        clicks = ClickInputs(cols.key, cols.person, cols.segment, cols.stage,
                             self.sims[0].response.person_ctr(cols.segment, cols.stage, cols.intent),
                             cols.channel.astype(np.int64) * n_slots, chosen)

        def keep(r: np.ndarray, s: np.ndarray, c: np.ndarray) -> None:  # world w's table is shown's rows of w
            shown[r * n_slots + s] = c

        cleared, every = self._clear(rows.bounds, cols.channel,
                                     np.concatenate([h.bids for h in hours], axis=1) if bids is None else bids,
                                     [s.budgets(h.t, h.opp, h.bids) for s, h in zip(self.sims, hours, strict=True)],
                                     clicks, keep)
        scheduled = self._schedule_post_click(rows, every, cols)
        settled, imp = self._settle(hours, rows, cols, cleared, every, scheduled, shown)
        self._learn_creatives(rows, every, imp, settled)
        self.caps.record(rows.world[every.row], imp.person, imp.channel, every.advertiser)
        # every advertiser's outcome columns of every world at once, each world's outcomes their views
        columns = outcome_columns(every.bids.shape[0], every.bids.shape[1], every.row, every.slot, every.advertiser,
                                  every.price, every.clicked, imp.cost)
        pixels = [st.pixels for st in settled]
        # every advertiser learns from its own outcome: the batched rivals of all worlds at once (their worlds'
        # outcomes built only where read), the others world by world (none built for a bidder whose `observe` is
        # `BaseBidder`'s, which ignores it: a fixed bidder)
        alone = [j for j in range(self.sims[0].n_adv) if j not in self.rivals and (j != OURS or self.ours is None)]
        for s, o, cl, p, (a, b) in zip(self.sims, offers, cleared, pixels, cuts, strict=True):
            for j in alone:
                if type(s.bidders[j]).observe is not BaseBidder.observe:
                    s.bidders[j].observe(BidderOutcome(o.opp.batch, cl.bids[j], columns.slot[j, a:b],
                                                       columns.price[j, a:b], columns.clicked[j, a:b],
                                                       columns.cost[j, a:b], *p[j]))
        if self.ours is not None:
            self.ours.observe(SlotOutcomes(rows, [every.bids[OURS], *(c[OURS] for c in columns)],
                                           [p[OURS] for p in pixels]))
        for j, rival in self.rivals.items():
            if rival.learns:
                rival.observe(WorldOutcomes(rows, every.bids[j], columns.clicked[j], columns.cost[j],
                                            np.flatnonzero(columns.clicked[j]),
                                            SlotOutcomes(rows, [every.bids[j], *(c[j] for c in columns)],
                                                         [p[j] for p in pixels])))
        # every world's KPIs at once, then each world's safety watch of its hour, then their anomaly tests at once
        spend = self.kpis.account(self.t, rows.world, rows.channel, rows.bounds, every, imp.creative,
                                  [st.record.purchases for st in settled])
        ours_now = our_hours(self.sims[0].n_channels, self.plain, rows, every, imp)
        self.safety.test([s.account_hour(st, sp, o) for s, st, sp, o in zip(self.sims, settled, spend, ours_now,
                                                                            strict=True)])
        return [s.end_hour(st.record) for s, st in zip(self.sims, settled, strict=True)]

    def offer(self) -> tuple[list[Offer], WorldRows, OpportunityColumns]:
        """Every world's `offer_hour`: each world's purchases due (`due_hour`), then the columns of every world's
        opportunities at once (stages, segments and weights gathered from the world-major population, device
        types from the worlds' device tables end to end, search intents drawn through `WorldsRng`), each
        world's `Offer` built from its rows; returns the offers, their rows and the columns (world-major)."""
        t, day, n, rng = self.t, self.t // 24, self.people.n, self.rng
        # every world's purchases due (after its start of day), before its opportunities as alone
        purchases = purchases_due(self.sims, self.people, self.touches, self.segment,
                                  [s.due_events() for s in self.sims])
        scheduled = [s.scheduled() for s in self.sims]
        sizes = [p.shape[0] for p, *_ in scheduled]
        bounds = np.zeros(self.n_worlds + 1, np.int64)
        np.cumsum(sizes, out=bounds[1:])
        person, device, channel, key = (np.concatenate(f) for f in zip(*scheduled, strict=True))
        world = np.repeat(np.arange(self.n_worlds), sizes)
        at = world * n + person
        stage = self.people.array("stage")[at]
        intent = self.sims[0].activity.query_intent(key, day, channel, stage, lambda r, keys: rng.uniform(
            world[r], keys, day, Purpose.INTENT))
        cols = OpportunityColumns(person, device, channel, key, stage, intent,
                                  self.device_type[self.device_base[world] + device], self.segment[at],
                                  self.market.reserve[channel], self.weight[at])
        offers = [Offer(t, p, s.opportunities(t, OpportunityColumns(*(f[a:b] for f in cols))))
                  for s, p, (a, b) in zip(self.sims, purchases, itertools.pairwise(bounds.tolist()), strict=True)]
        rows = WorldRows(t, bounds, world, channel.astype(np.int64) * N_INTENTS + intent, channel, intent, device,
                         cols.device_type, cols.weight, [o.opp.batch for o in offers])
        return offers, rows, cols

    def clear(self, inputs: Sequence[Clearing]) -> list[Cleared]:
        """The market's phase of the hour for every world at once: one `Market.clear_worlds` call.

        Args:
            inputs: each world's `Simulation.clearing` of its open hour, in world order.

        Returns:
            Each world's `Cleared`, as its own `Market.clear_within_budgets(*inputs[w])` returns it.
        """
        bounds = np.zeros(len(inputs) + 1, np.int64)
        np.cumsum([c.channel.shape[0] for c in inputs], out=bounds[1:])
        clicks = ClickInputs(*(np.concatenate(f) for f in zip(*(c.clicks for c in inputs), strict=True)))
        return self._clear(bounds, np.concatenate([c.channel for c in inputs]),
                           np.concatenate([c.bids for c in inputs], axis=1),
                           [Budgets(c.remaining, c.charge, c.watch) for c in inputs], clicks,
                           _scatter(bounds, [c.shown for c in inputs], self.market.max_slots))[0]

    def _clear(self, bounds: np.ndarray, channel: np.ndarray, bids: np.ndarray, budgets: Sequence[Budgets],
               clicks: ClickInputs, keep: Keep) -> tuple[list[Cleared], Cleared]:
        """`clear` of the worlds' rows end to end (`bounds`: (W + 1,) their offsets; `channel` (N,), `bids`
        (n_adv, N), `clicks` over them; `keep` notes the creatives shown), each world's `budgets`; also returns
        every world's impressions as one `Cleared` over the batch's rows (world-major)."""
        charged = [b.charge is not None for b in budgets]
        if any(charged) and not all(charged):  # alone, a plain world takes the budget test without charges
            raise ValueError(f"worlds {[w for w, c in enumerate(charged) if not c]} have no importance charges "
                             f"and the others have: a batch clears one kind")
        charges = [b.charge for b in budgets if b.charge is not None]
        charge = Charge(*(np.concatenate(f) for f in zip(*charges, strict=True))) if all(charged) else None
        watched = any(b.watch is not None for b in budgets)
        # each world's price watch is asked only in a pass where one of our impressions there is overcharged
        cl = self.market.clear_worlds(bounds, channel, bids, np.stack([b.remaining for b in budgets]),
                                      self._respond(bounds, clicks, keep), charge,
                                      [b.watch for b in budgets] if watched else None,
                                      overcharge_screen(bids[OURS]) if watched else None)
        cut = np.searchsorted(cl.row, bounds).tolist()
        out = []
        for w in range(len(budgets)):
            a, b, lo, hi = cut[w], cut[w + 1], bounds[w], bounds[w + 1]
            out.append(Cleared(cl.row[a:b] - lo, cl.slot[a:b], cl.advertiser[a:b], cl.price[a:b], cl.clicked[a:b],
                               cl.cost[a:b], cl.ctr[a:b], np.ascontiguousarray(cl.bids[:, lo:hi])))
        return out, cl

    def _respond(self, bounds: np.ndarray, clicks: ClickInputs, keep: Keep) -> Respond:
        """The worlds' click model over batch rows (`clicks`, world-major at `bounds`): every world's
        `click_response` in one array program, its draws through `WorldsRng` and its memory gathered from each
        world's own arrays; `keep` notes the creatives shown."""
        world = np.repeat(np.arange(self.n_worlds), np.diff(bounds))
        quality = np.stack([s.ctr_quality for s in self.sims])  # (W, n_adv): a fault may change a world's
        day, rng = self.t // 24, self.rng
        first = self.sims[0]
        return partial(click_response, first.response, clicks, first.n_adv, lambda r, a: quality[world[r], a],
                       self._gather("seen", world), self._gather("seen_creative", world),
                       lambda r, keys, purpose: rng.uniform(world[r], keys, day, purpose), keep)

    def _settle(self, hours: Sequence[OpenHour], rows: WorldRows, cols: OpportunityColumns, cleared: Sequence[Cleared],
                every: Cleared, scheduled: Sequence[tuple[np.ndarray, np.ndarray] | None],
                shown: np.ndarray) -> tuple[list[Settled], ImpressionColumns]:
        """Every world's `settle_hour` (together): the columns of every world's impressions at once (each world
        settles with its slice), then every world's journeys and our touches moved at once, as each world
        alone moves them; returns the worlds' `Settled` and the columns (over `every`, persons local)."""
        t, n = self.t, self.people.n
        world, person = rows.world[every.row], cols.person[every.row]
        imp = ImpressionColumns(person, rows.channel[every.row], cols.key[every.row] * SLOT_KEYS + every.slot,
                                shown[every.row * self.market.max_slots + every.slot],
                                logged_cost(every, None if self.plain else self.weight[world * n + person]),
                                np.flatnonzero(every.advertiser == OURS))
        cut = np.searchsorted(every.row, rows.bounds)
        ours_cut = np.searchsorted(imp.ours, cut).tolist()
        cut = cut.tolist()

        def world_columns(w: int) -> ImpressionColumns:  # world w's impressions (its `ours` local to them)
            a, b = cut[w], cut[w + 1]
            return ImpressionColumns(imp.person[a:b], imp.channel[a:b], imp.key[a:b], imp.creative[a:b], imp.cost[a:b],
                                     imp.ours[ours_cut[w]:ours_cut[w + 1]] - a)

        settled = [s.settle_hour(h, cl, together=True, scheduled=sc, columns=world_columns(w))
                   for w, (s, h, cl, sc) in enumerate(zip(self.sims, hours, cleared, scheduled, strict=True))]
        rel, exposures = exposures_of(self.sims[0].category, every, cols.stage, imp)
        self.people.expose(t, world[rel], exposures)  # every world's journeys move at once
        ours = imp.ours
        self.touches.touch(t, world[ours] * n + person[ours], imp.channel[ours], every.clicked[ours])
        return settled, imp

    def _schedule_post_click(self, rows: WorldRows, every: Cleared,
                             cols: OpportunityColumns) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Every world's post-click purchases of the hour at once (`post_click` over the batch's clicks, each
        drawn as its world's), pushed to each world's pending purchases; returns each world's clicks (indices
        into its `Cleared`) and their P(purchase), as its `settle_hour` schedules them (None: no click)."""
        t, day, rng, first = self.t, self.t // 24, self.rng, self.sims[0]
        ci = np.flatnonzero(every.clicked)
        if ci.size == 0:
            return [None] * self.n_worlds
        r = every.row[ci]
        world = rows.world[r]
        key = cols.key[r] * SLOT_KEYS + every.slot[ci]
        clicks = clicked_rows(rows, cols.person, cols.segment, cols.stage, r, every.advertiser[ci], key)

        def other_device(buy: np.ndarray, pe: np.ndarray, keys: np.ndarray) -> np.ndarray:
            at = world[buy] * self.people.n + pe
            u = rng.uniform(world[buy], pe, keys, Purpose.CONV_OTHER_DEVICE)
            return pick_device(self.device_offset[at], self.n_devices[at], u)

        p, bought = post_click(first.response, first.appeal, first.journey.same_device,
                               first.calendar.hour_cvr[t % 24], t, clicks,
                               lambda i, keys, purpose: rng.uniform(world[i], keys, day, purpose), other_device)
        imp_cut = np.searchsorted(every.row, rows.bounds)
        click_cut = np.searchsorted(ci, imp_cut).tolist()
        buy_cut = np.searchsorted(bought.rows, click_cut).tolist() if bought is not None else None
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        for w, s in enumerate(self.sims):
            a, b = click_cut[w], click_cut[w + 1]
            out.append((ci[a:b] - imp_cut[w], p[a:b]) if b > a else None)
            if bought is not None and buy_cut is not None and buy_cut[w + 1] > buy_cut[w]:
                mine = slice(buy_cut[w], buy_cut[w + 1])
                s.pending.push(bought.due[mine], bought.person[mine], bought.advertiser[mine], bought.device[mine],
                               POST_CLICK)
        return out

    def _learn_creatives(self, rows: WorldRows, every: Cleared, imp: ImpressionColumns,
                         settled: Sequence[Settled]) -> None:
        """Our creative selectors of every world learn from the hour at once (`WorldsCreatives.observe`): our
        impressions, clicks and pixel's purchases, as each world's `settle_hour` lets its selector learn."""
        ours = imp.ours
        won = every.row[ours]
        # every world's purchases end to end (most world-hours have none), ours picked once
        bought = [st.record.purchases for st in settled]
        adv, person, device = (np.concatenate([getattr(p, f) for p in bought]) for f in ("advertiser", "person", "device"))
        world = np.repeat(np.arange(self.n_worlds), [p.size for p in bought])
        mine = np.flatnonzero(adv == OURS)
        conv_world = world[mine]
        self.creatives.observe(rows.world[won], rows.device[won], creative_context(rows.context[won],
                                                                                   rows.device_type[won]),
                               imp.creative[ours], every.clicked[ours], rows.weight[won], conv_world, device[mine],
                               None if self.plain else self.weight[conv_world * self.people.n + person[mine]])

    def _gather(self, name: str, world: np.ndarray) -> Gather:
        """gather(rows, index): each batch row's value at `index` of its world's flat `JourneyState` array `name`."""
        flat = self.people.array(name).reshape(-1)
        per_world = flat.size // self.n_worlds
        return lambda rows, index: flat[world[rows] * per_world + index]

    def run(self, days: int, on_day: Callable[[int, DayLog], None] | None = None) -> None:
        """Simulate `days` more days of every world; `on_day(world, log)` gets each world's day logs."""
        for _ in range(days):
            if self.t % 24:
                raise ValueError(f"days start at hour 0; the batch is at hour {self.t % 24}")
            day = self.t // 24
            today: list[list[HourRecord]] = [[] for _ in self.sims]
            for _ in range(24):
                for w, record in enumerate(self.step_hour()):
                    today[w].append(record)
            if on_day is not None:
                for w, records in enumerate(today):
                    on_day(w, DayLog(day, records))
