"""Many worlds as one array program: a world in a batch is bit for bit the same world alone."""

import dataclasses
import hashlib
import json

import numpy as np
import pytest

from gaelp.bidders.protocol import OURS
from gaelp.config import load_config
from gaelp.experiments import batched
from gaelp.experiments.batched import BatchedWorlds
from gaelp.experiments.faults import FaultInjector, parse_fault
from gaelp.experiments.importance import with_importance
from gaelp.market.clearing import Market
from gaelp.records import DayLog
from gaelp.rng import Streams
from gaelp.simulation import Simulation, build_bidder, overcharge_screen
from gaelp.world.purchases import POST_CLICK

SEEDS = (11, 12, 13, 14)


def _hasher(sim: Simulation):
    """A running hash of a world's impressions and purchases (every column) by day, as /work/tools/digest.py."""
    h = hashlib.sha256()

    def on_day(log: DayLog) -> None:
        for tab in (log.impressions, log.conversions):
            for k in sorted(tab):
                h.update(k.encode())
                h.update(np.ascontiguousarray(tab[k]).tobytes())

    def finish() -> str:
        k = sim.kpis
        for name in ("daily", "channel", "market"):
            d = getattr(k, name)
            for key in sorted(d):
                h.update(key.encode())
                h.update(np.ascontiguousarray(d[key]).tobytes())
        h.update(json.dumps(k.table(sim.cfg.channel_names), sort_keys=True).encode())
        return h.hexdigest()

    return on_day, finish


def _people(sim: Simulation) -> str:
    """A hash of every array of the world's people (`JourneyState`), which the batch moves as one population."""
    h = hashlib.sha256()
    for name, a in sim.state.state_dict().items():
        h.update(name.encode())
        h.update(a.tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("bidder", ["target_cpa", "oracle"])
def test_a_world_in_a_batch_is_the_world_alone(bidder, monkeypatch):
    cfg = load_config(None, users=1500, days=4, bidder=bidder)
    alone = []
    for s in SEEDS:
        sim = Simulation(cfg.replace(seed=s))
        on_day, finish = _hasher(sim)
        sim.run(on_day=on_day)
        alone.append((finish(), _people(sim)))

    # count the batch hours where a world's budget ran out mid-hour (its bids withdrawn from there on)
    cut_hours = []
    original = Market.clear_worlds

    def counting(self, bounds, channel, bids, remaining, *args, **kwargs):
        cl = original(self, bounds, channel, bids, remaining, *args, **kwargs)
        spent = (remaining <= 0)[np.repeat(np.arange(len(remaining)), np.diff(bounds))].T
        cut_hours.append(bool((cl.bids != np.where(spent, 0.0, bids)).any()))
        return cl

    monkeypatch.setattr(Market, "clear_worlds", counting)
    sims = [Simulation(cfg.replace(seed=s)) for s in SEEDS]
    hashers = [_hasher(sim) for sim in sims]
    BatchedWorlds(sims).run(cfg.days, on_day=lambda w, log: hashers[w][0](log))
    assert [(finish(), _people(sim)) for (_, finish), sim in zip(hashers, sims, strict=True)] == alone
    assert len(set(alone)) == len(SEEDS)  # the worlds differ
    assert any(cut_hours)  # budgets ran out within some hours: the lockstep cut-off passes ran


def test_a_batch_refuses_worlds_it_cannot_step_together():
    cfg = load_config(None, users=100, days=1)
    a, b = Simulation(cfg.replace(seed=1)), Simulation(cfg.replace(seed=2))
    b.step_hour()
    with pytest.raises(ValueError, match="lockstep"):
        BatchedWorlds([a, b])
    with pytest.raises(ValueError, match="more than the seed"):
        BatchedWorlds([a, Simulation(cfg.replace(seed=3, users=200))])
    with pytest.raises(ValueError, match="at least one"):
        BatchedWorlds([])


def _strict_watch(sim: Simulation, from_hour: int) -> Simulation:
    """The world's price watch, from `from_hour` on, takes any price above half our bid for a billing fault
    (as a platform overcharging would be seen): our bids are withdrawn within the hour and bidding pauses."""
    original = sim.safety.charge_stop

    def charge_stop(bids, row, price):
        return original(bids * 0.5 if sim.t >= from_hour else bids, row, price)

    sim.safety.charge_stop = charge_stop
    return sim


def test_a_world_whose_price_watch_fires_in_a_batch_is_the_world_alone(monkeypatch):
    # the strict watch reacts to prices our own screen lets through: the batch asks every world's watch
    monkeypatch.setattr(batched, "overcharge_screen", lambda bids: lambda row, adv, price: adv == OURS)
    cfg = load_config(None, users=1500, days=2)
    seeds, strict = (21, 22, 23), 1  # the watch fires in world 1 only

    def worlds():
        return [_strict_watch(Simulation(cfg.replace(seed=s)), 30) if w == strict else Simulation(cfg.replace(seed=s))
                for w, s in enumerate(seeds)]

    alone = []
    for sim in worlds():
        on_day, finish = _hasher(sim)
        sim.run(on_day=on_day)
        alone.append((finish(), sim.safety.events))
    sims = worlds()
    hashers = [_hasher(sim) for sim in sims]
    BatchedWorlds(sims).run(cfg.days, on_day=lambda w, log: hashers[w][0](log))
    assert [(finish(), sim.safety.events) for (_, finish), sim in zip(hashers, sims, strict=True)] == alone
    kinds = [[e["kind"] for e in events] for _, events in alone]
    assert "overcharge" in kinds[strict] and all("overcharge" not in k for w, k in enumerate(kinds) if w != strict)
    assert any("stopped from opportunity" in e["action"] for e in alone[strict][1])  # withdrawn mid-hour


def test_the_overcharge_screen_flags_what_our_price_watch_reacts_to():
    """A world's price watch asks for a withdrawal exactly when the batch's screen (`overcharge_screen`)
    flags one of the impressions it sees, so a batch that asks only those worlds' watches loses nothing."""
    sim = Simulation(load_config(None, users=1500, days=1).replace(seed=5))
    for _ in range(12):
        sim.step_hour()
    c = sim.clearing(sim.open_hour())
    n = c.bids.shape[1]
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        k = int(rng.integers(0, 5))
        row = np.sort(rng.choice(n, k, replace=False))
        adv = rng.integers(0, c.bids.shape[0], k)
        # priced around our bid on the row, rivals' impressions too (above our bid is no overcharge of theirs)
        price = c.bids[OURS, row] * rng.choice([0.5, 1.0, 1.0 + 1e-12, 1.01, 2.0], k)
        flagged = bool(overcharge_screen(c.bids[OURS])(row, adv, price).any())
        assert flagged == (c.watch(row, adv, price, np.ones(k, bool))[OURS] < n)
        seen.add(flagged)
    assert seen == {True, False}


def test_post_click_purchases_scheduled_for_a_batch_are_each_worlds_alone():
    """Every purchase a click leads to goes on a device drawn for it (none on the clicked device), so each
    world's purchases, their hours and devices show whether the batch drew them as the world alone."""
    base = load_config(None, users=6000, days=3)
    world = base.world.model_copy(update={"journey": base.world.journey.model_copy(
        update={"same_device_conversion": 0.0})})
    cfg = base.model_copy(update={"world": world})
    seeds = (31, 32, 33)
    alone = []
    for s in seeds:
        sim = Simulation(cfg.replace(seed=s))
        on_day, finish = _hasher(sim)
        sim.run(on_day=on_day)
        alone.append((finish(), repr(sim.pending.state_dict())))
    sims = [Simulation(cfg.replace(seed=s)) for s in seeds]
    hashers = [_hasher(sim) for sim in sims]
    post_click = np.zeros(len(seeds), np.int64)

    def on_day(w: int, log: DayLog) -> None:
        hashers[w][0](log)
        post_click[w] += int((log.conversions["kind"] == POST_CLICK).sum())

    BatchedWorlds(sims).run(cfg.days, on_day=on_day)
    assert [(finish(), repr(sim.pending.state_dict())) for (_, finish), sim in zip(hashers, sims, strict=True)] == alone
    post_click += [int((sim.pending.state_dict()["pending_kind"] == POST_CLICK).sum()) for sim in sims]
    assert post_click.min() >= 3, post_click  # clicks led to purchases (due or still pending) in every world


def _faulty(cfg, fault: str | None) -> Simulation:
    """A world whose `fault` (`gaelp.experiments.faults`) breaks our bidding or our ads' clicks mid-run."""
    if fault is None:
        return Simulation(cfg)
    injector = FaultInjector(build_bidder(cfg, cfg.bidder, Streams(cfg.seed)), parse_fault(fault))
    sim = injector.sim = Simulation(cfg, bidder=injector)
    return sim


def test_worlds_whose_anomaly_detectors_alarm_in_a_batch_are_the_worlds_alone():
    """Our anomaly tests run for every world of a batch at once: a world whose bids jump (a bid spike) and one
    whose ads stop being clicked (a CTR collapse) pause as alone, the others do not."""
    cfg = load_config(None, users=10_000, days=2)
    faults = (None, "bid_x1000@day1h4", "ctr_collapse_x0.01@day1h4", None)

    def worlds():
        return [_faulty(cfg.replace(seed=40 + w), f) for w, f in enumerate(faults)]

    alone = []
    for sim in worlds():
        on_day, finish = _hasher(sim)
        sim.run(on_day=on_day)
        alone.append((finish(), sim.safety.events, repr(sim.safety.state_dict())))
    sims = worlds()
    hashers = [_hasher(sim) for sim in sims]
    BatchedWorlds(sims).run(cfg.days, on_day=lambda w, log: hashers[w][0](log))
    assert [(finish(), sim.safety.events, repr(sim.safety.state_dict()))
            for (_, finish), sim in zip(hashers, sims, strict=True)] == alone
    kinds = [{e["kind"] for e in events if e["kind"] != "hour_ceiling"} for _, events, _ in alone]
    assert kinds == [set(), {"bid_spike"}, {"ctr_collapse"}, set()], kinds


def _same_state(a, b) -> bool:
    """Whether two `state_dict`s hold the same numbers, bit for bit."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (np.ndarray, list)):
        return np.array_equal(np.asarray(a), np.asarray(b))
    return a == b


@pytest.mark.parametrize("users, importance", [(40, {}), (1500, {"crisis": 4.0})])
def test_rivals_creatives_and_caps_batched_across_worlds_are_each_world_alone(users, importance):
    # 40 people: hours where some worlds have no opportunity (empty slices); crisis=4: weights that are not 1
    cfg = with_importance(load_config(None, users=users, days=3, bidder="fixed"), importance)
    alone = [Simulation(cfg.replace(seed=s)) for s in SEEDS[:3]]
    empty_hours = 0
    for sim in alone:
        for _ in range(24 * cfg.days):
            empty_hours += sim.step_hour().batch.size == 0
    sims = [Simulation(cfg.replace(seed=s)) for s in SEEDS[:3]]
    batch = BatchedWorlds(sims)
    assert sorted(type(r).__name__ for r in batch.rivals.values()) == [
        "BatchedPolicyGradient", "BatchedQLearning", "BatchedRule", "BatchedRule", "BatchedTargetCpa"]
    batch.run(cfg.days)
    for a, s in zip(alone, sims, strict=True):
        assert all(_same_state(x.state_dict(), y.state_dict()) for x, y in zip(a.rivals, s.rivals, strict=True))
        assert _same_state(a.kpis.state_dict(), s.kpis.state_dict())  # every KPI table
        assert np.array_equal(a.caps.counts, s.caps.counts)  # today's frequency counts (WorldsCaps)
        assert _same_state(a.creatives.state_dict(), s.creatives.state_dict())  # our creatives (WorldsCreatives)
    assert any(r.hours_ > 0 for r in sims[0].rivals if hasattr(r, "hours_"))  # they learned
    assert (empty_hours > 0) == (users == 40)


def test_a_frozen_rival_learns_nothing_in_a_batch_as_alone():
    cfg = load_config(None, users=300, days=2, bidder="fixed")

    def worlds():
        sims = [Simulation(cfg.replace(seed=s)) for s in SEEDS[:2]]
        sims[1].bidders[1].frozen = True  # the Q-learner of world 1
        return sims

    alone = worlds()
    for sim in alone:
        sim.run()
    sims = worlds()
    BatchedWorlds(sims).run(cfg.days)
    for a, s in zip(alone, sims, strict=True):
        assert all(_same_state(x.state_dict(), y.state_dict()) for x, y in zip(a.rivals, s.rivals, strict=True))
    assert sims[1].bidders[1].hours_ == 0 < sims[0].bidders[1].hours_


def test_a_rival_without_a_batched_form_bids_world_by_world_as_alone():
    """A rival slot the batch cannot take (a kind without a batched form) bids and learns in each world
    alone, its bids merged with the batched ones world by world; every world hashes as alone."""
    cfg = load_config(None, users=1500, days=2, bidder="target_cpa")

    def worlds():
        sims = [Simulation(cfg.replace(seed=s)) for s in SEEDS[:3]]
        for sim in sims:  # the rule rival of slot 2, as a kind of its own
            sim.bidders[2].__class__ = type("OwnRule", (type(sim.bidders[2]),), {})
        return sims

    alone = []
    for sim in worlds():
        on_day, finish = _hasher(sim)
        sim.run(on_day=on_day)
        alone.append(finish())
    sims = worlds()
    hashers = [_hasher(sim) for sim in sims]
    batch = BatchedWorlds(sims)
    assert 2 not in batch.rivals and len(batch.rivals) == sims[0].n_adv - 2
    batch.run(cfg.days, on_day=lambda w, log: hashers[w][0](log))
    assert [finish() for _, finish in hashers] == alone


def _same(a, b) -> bool:
    """Equal, array by array (values and dtypes), through tuples and dataclasses."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def test_every_worlds_offer_of_the_hour_at_once_is_its_offer_alone():
    """`BatchedWorlds.offer` (purchases due, then every world's opportunity columns at once) against each
    world's `offer_hour`, hour by hour, each world then finishing its hour alone: worlds of different start
    dates (weekdays), importance weights (crisis=4), an oracle (the truth view), 200 people (hours without
    opportunities in some worlds)."""
    cfg = with_importance(load_config(None, users=200, days=2, bidder="oracle"), {"crisis": 4.0})
    worlds = [(51, "2024-03-04"), (52, "2024-03-09"), (53, "2024-03-05")]

    def build(seed, start):
        return Simulation(cfg.replace(seed=seed, start_date=start))

    batch = BatchedWorlds([build(*w) for w in worlds])
    alone = [build(*w) for w in worlds]
    empty, weights = 0, set()
    for _ in range(24 * cfg.days):
        offers, rows, cols = batch.offer()
        weights.update(rows.weight.tolist())
        own = [sim.offer_hour() for sim in alone]
        assert _same(own, offers)  # purchases, batches (every column and dtype), truth, people, keys
        for w, o in enumerate(own):
            a, b = rows.bounds[w], rows.bounds[w + 1]
            for name in ("context", "channel", "intent", "device", "device_type", "weight"):
                assert _same(getattr(rows, name)[a:b], getattr(o.opp.batch, name)), name
            assert all(_same(c[a:b], x) for c, x in zip(cols[:4], (o.opp.person, o.opp.batch.device,
                                                                   o.opp.batch.channel, o.opp.key)))
            empty += o.opp.batch.size == 0
        for world, offer in [*zip(alone, own), *zip(batch.sims, offers)]:
            hour = world.bid_hour(offer)
            world.close_hour(hour, world.market.clear_within_budgets(*world.clearing(hour).market_args))
    assert empty and len(weights) > 1
    assert all(o.opp.truth_view.truth is not None for o in offers)


def test_every_worlds_hour_settled_at_once_is_its_hour_alone():
    """The impressions' columns, our touches and the journeys' moves of every world taken at once: after every
    hour, each world's record (its impressions, truth, creatives), our touch tracker, its people's journeys
    and our bidder's logged costs (importance weights, crisis=4: costs that are not the platform's) equal the
    world's alone."""
    cfg = with_importance(load_config(None, users=1500, days=2, bidder="target_cpa"), {"crisis": 4.0})
    seeds = (61, 62, 63)
    runs = []
    for together in (False, True):
        sims = [Simulation(cfg.replace(seed=s)) for s in seeds]
        seen: list[list] = [[] for _ in sims]
        for sim, log in zip(sims, seen, strict=True):
            costs = []
            original = sim.ours.observe
            sim.ours.observe = lambda outcome, original=original, costs=costs: (costs.append(outcome.cost.copy()),
                                                                                original(outcome))[1]
            sim.observe(lambda r, sim=sim, log=log, costs=costs: log.append(
                (r, sim.touches.state_dict(), sim.state.state_dict(), costs[-1])))
        if together:
            BatchedWorlds(sims).run(cfg.days)
        else:
            for sim in sims:
                sim.run()
        runs.append(seen)
    alone, batched = runs
    assert _same(alone, batched)
    assert any(h[3].sum() != h[0].impressions.cost[h[0].impressions.advertiser == OURS].sum()
               for world in alone for h in world)  # our log's costs are not the platform's
