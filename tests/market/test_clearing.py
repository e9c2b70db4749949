"""Tests for gaelp.market.clearing: per-channel routing and clearing within budgets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gaelp.config import ChannelConfig
from gaelp.market import clearing as market_module
from gaelp.market.clearing import Charge, Cleared, Market, charged_impressions
from gaelp.market.mechanisms import MECHANISMS
from gaelp.rng import CounterRng, WorldsRng

SEED = 2718


def channel(name: str, mechanism: str, slots: int, reserve: float) -> ChannelConfig:
    return ChannelConfig(name=name, rate=1.0, ctr=0.05, cvr_mult=1.0, mechanism=mechanism, slots=slots,
                         reserve=reserve, position_ctr=tuple(1.0 / (1 + k) for k in range(slots)),
                         frequency_cap=1, stage_activity=(1.0,) * 7)


CHANNELS = (channel("search", "gsp", 3, 0.5), channel("social", "second_price", 1, 0.2),
            channel("display", "first_price", 1, 0.05))


@pytest.fixture(autouse=True, scope="module", params=["one pass", "by channel"])
def clearing_path(request):
    """Run every test both ways: all channels in one pass (small hours) and channel by channel."""
    saved = market_module._ONE_PASS_MAX
    market_module._ONE_PASS_MAX = 1 << 30 if request.param == "one pass" else 0
    yield request.param
    market_module._ONE_PASS_MAX = saved


def market(quality=(1.0, 1.3, 0.7, 1.0)) -> Market:
    return Market(CHANNELS, np.array(quality))


def random_clicks(p: float = 0.5, seed: int = SEED):
    """A deterministic click model: a pure function of (row, slot, advertiser), like the world's."""
    crng = CounterRng(seed)

    def respond(row, slot, adv):
        return crng.uniform(row * 64 + slot * 8 + adv, 0, 3) < p, np.full(row.size, p)

    return respond


def test_clear_routes_each_channel_to_its_mechanism_and_slots():
    rng = np.random.default_rng(SEED)
    n, k = 300, 4
    quality = np.array([1.0, 1.3, 0.7, 1.0])
    m = market(quality)
    ch = rng.integers(0, 3, n)
    bids = rng.choice([0.0, 0.1, 0.3, 0.6, 1.0, 2.5, 4.0], size=(k, n))
    winners, prices = m.clear(ch, bids)
    assert winners.shape == prices.shape == (n, max(c.slots for c in CHANNELS))
    for c, cfg in enumerate(CHANNELS):
        rows = ch == c
        mech = MECHANISMS[cfg.mechanism].clear
        alloc = mech(bids[:, rows], np.broadcast_to(quality[:, None], (k, rows.sum())), cfg.slots, cfg.reserve)
        assert np.array_equal(winners[rows, :cfg.slots], alloc.winners), cfg.name
        assert np.array_equal(prices[rows, :cfg.slots], alloc.prices), cfg.name
        assert np.all(winners[rows, cfg.slots:] == -1) and np.all(prices[rows, cfg.slots:] == 0)


def test_clear_handles_channels_without_opportunities_and_an_empty_hour():
    m = market()
    winners, prices = m.clear(np.zeros(3, np.int64), np.ones((4, 3)))
    assert np.all(winners[:, 0] >= 0)
    winners, prices = m.clear(np.empty(0, np.int64), np.empty((4, 0)))
    assert winners.shape == (0, 3) and prices.shape == (0, 3)


def test_an_advertiser_is_withdrawn_from_the_opportunity_where_its_budget_runs_out():
    m = Market((channel("social", "second_price", 1, 0.2),), np.ones(2))
    n = 6
    bids = np.tile([[5.0], [3.0]], (1, n))  # bidder 0 wins at 3.0 per click while it can pay
    always = lambda row, slot, adv: (np.ones(row.size, bool), np.ones(row.size))
    cl = m.clear_within_budgets(np.zeros(n, np.int64), bids, np.array([7.0, 100.0]), always)
    # two clicks at 3.0 fit in 7.0; the third would not: from there on bidder 1 wins at the reserve
    assert cl.advertiser.tolist() == [0, 0, 1, 1, 1, 1]
    assert cl.cost.tolist() == [3.0, 3.0, 0.2, 0.2, 0.2, 0.2]
    assert np.array_equal(cl.bids[0], [5.0, 5.0, 0, 0, 0, 0]) and np.all(cl.bids[1] == 3.0)
    assert np.array_equal(bids[0], np.full(n, 5.0)), "the caller's bids are not modified"


def test_weighted_clicks_charge_plain_prices_as_often_as_they_stand_for_plain_clicks():
    m = Market((channel("social", "second_price", 1, 0.2),), np.ones(2))
    n = 6
    bids = np.tile([[5.0], [3.0]], (1, n))
    always = lambda row, slot, adv: (np.ones(row.size, bool), np.ones(row.size))
    weight = np.array([0.5, 0.5, 1.5, 0.5, 0.5, 0.5])  # importance weights of the opportunities' people
    draw = np.array([0.3, 0.7, 0.9, 0.7, 0.2, 0.9])  # a light click charges when its draw < its weight
    cl = m.clear_within_budgets(np.zeros(n, np.int64), bids, np.array([7.0, 100.0]), always, Charge(weight, draw))
    # 3.0, a free click, the heavy click's 3.0; the fourth is free but its price does not fit in the 1.0 left:
    # withdrawn alone (bidder 1 wins it, free); the fifth charges and does not fit: the budget ends there
    assert cl.advertiser.tolist() == [0, 0, 0, 1, 1, 1]
    assert cl.price.tolist() == [3.0, 3.0, 3.0, 0.2, 0.2, 0.2]
    assert cl.cost.tolist() == [3.0, 0.0, 3.0, 0.0, 0.2, 0.0]
    assert np.array_equal(cl.bids[0], [5.0, 5.0, 5.0, 0.0, 0.0, 0.0])
    plain = m.clear_within_budgets(np.zeros(n, np.int64), bids, np.array([7.0, 100.0]), always)
    ones = m.clear_within_budgets(np.zeros(n, np.int64), bids, np.array([7.0, 100.0]), always,
                                  Charge(np.ones(n), np.full(n, 0.999)))
    assert all(np.array_equal(getattr(plain, f.name), getattr(ones, f.name)) for f in dataclasses.fields(Cleared))


def test_a_free_click_that_does_not_fit_is_withdrawn_even_where_nothing_charges():
    m = Market((channel("social", "second_price", 1, 0.2),), np.ones(2))
    bids = np.tile([[5.0], [3.0]], (1, 2))
    always = lambda row, slot, adv: (np.ones(row.size, bool), np.ones(row.size))
    # bidder 0's clicks are free (draw 0.9 >= weight 0.5) and their price (3.0) does not fit in its 1.0 left:
    # a plain world would not show them (a plain click there ends the budget); bidder 1 wins them, free too
    cl = m.clear_within_budgets(np.zeros(2, np.int64), bids, np.array([1.0, 100.0]), always,
                                Charge(np.full(2, 0.5), np.full(2, 0.9)))
    assert cl.advertiser.tolist() == [1, 1] and cl.cost.tolist() == [0.0, 0.0]


def test_an_unclicked_heavy_impression_charges_for_the_plain_click_it_stands_for():
    m = Market((channel("social", "second_price", 1, 0.2),), np.ones(2))
    n = 6
    bids = np.tile([[5.0], [3.0]], (1, n))
    never = lambda row, slot, adv: (np.zeros(row.size, bool), np.full(row.size, 0.5))
    # weight 2, ctr 0.5: an unclicked impression charges with probability (2 - 1) * 0.5 / (1 - 0.5) = 1
    cl = m.clear_within_budgets(np.zeros(n, np.int64), bids, np.array([7.0, 100.0]), never,
                                Charge(np.full(n, 2.0), np.full(n, 0.5)))
    # 3.0 + 3.0, then the third's price does not fit: it is shown (unclicked, free) and bidder 0 withdrawn after it
    assert cl.advertiser.tolist() == [0, 0, 0, 1, 1, 1]
    assert cl.cost.tolist() == [3.0, 3.0, 0.0, 0.2, 0.2, 0.2]


@pytest.mark.parametrize("w", [0.25, 1.0, 1.5])
def test_an_impression_of_weight_w_charges_w_times_as_often_as_a_plain_one(w):
    # so a budget runs down and ends at the plain world's rate: near its end, a plain world stops at its
    # first click, and an impression standing for w plain ones must stop it w times as often
    rng = np.random.default_rng(SEED)
    n = 200_000
    ctr = rng.choice([0.02, 0.3], n)
    clicked = rng.uniform(size=n) < ctr
    ends = charged_impressions(np.full(n, w), rng.uniform(size=n), clicked, ctr)
    assert ends.mean() == pytest.approx(w * ctr.mean(), rel=0.02)
    assert np.all(ends[clicked]) if w >= 1 else not np.any(ends & ~clicked)  # heavy: every click; light: clicks only


def test_a_watch_withdraws_an_advertiser_from_the_row_it_asks_for_along_with_budget_cuts():
    m = Market((channel("social", "second_price", 1, 0.2),), np.ones(2))
    n = 6
    bids = np.tile([[5.0], [3.0]], (1, n))
    always = lambda row, slot, adv: (np.ones(row.size, bool), np.ones(row.size))
    stops = lambda row, adv, price, clicked: np.array([n, 4])  # bidder 1 withdraws from row 4 on
    cl = m.clear_within_budgets(np.zeros(n, np.int64), bids, np.array([7.0, 100.0]), always, watch=stops)
    # bidder 0's budget holds two clicks; bidder 1 takes rows 2-3, then nobody bids
    assert cl.advertiser.tolist() == [0, 0, 1, 1] and cl.row.tolist() == [0, 1, 2, 3]
    assert np.array_equal(cl.bids[1], [3.0, 3.0, 3.0, 3.0, 0.0, 0.0])
    never = lambda row, adv, price, clicked: np.full(2, n)
    plain = m.clear_within_budgets(np.zeros(n, np.int64), bids, np.array([7.0, 100.0]), always)
    watched = m.clear_within_budgets(np.zeros(n, np.int64), bids, np.array([7.0, 100.0]), always, watch=never)
    assert all(np.array_equal(getattr(plain, f.name), getattr(watched, f.name)) for f in dataclasses.fields(Cleared))


def test_advertisers_without_budget_left_do_not_take_part():
    m = market()
    bids = np.full((4, 20), 2.0)
    cl = m.clear_within_budgets(np.zeros(20, np.int64), bids, np.array([10.0, 0.0, 0.0, 10.0]), random_clicks())
    assert not np.isin(cl.advertiser, [1, 2]).any()
    assert np.all(cl.bids[[1, 2]] == 0)
    assert cl.advertiser.size > 0


def test_an_overspent_advertiser_sits_out_instead_of_crashing_the_auction():
    m = market()
    bids = np.full((4, 20), 2.0)
    cl = m.clear_within_budgets(np.zeros(20, np.int64), bids, np.array([10.0, -0.5, 10.0, 10.0]), random_clicks())
    assert not (cl.advertiser == 1).any()


def test_ample_budgets_leave_the_clearing_unchanged():
    rng = np.random.default_rng(SEED)
    n, k = 400, 4
    m = market()
    ch = rng.integers(0, 3, n)
    bids = rng.choice([0.0, 0.3, 1.0, 2.5, 4.0], size=(k, n))
    respond = random_clicks(0.4)
    cl = m.clear_within_budgets(ch, bids, np.full(k, 1e9), respond)
    winners, prices = m.clear(ch, bids)
    row, slot = np.nonzero(winners >= 0)
    assert np.array_equal(cl.row, row) and np.array_equal(cl.slot, slot)
    assert np.array_equal(cl.advertiser, winners[row, slot]) and np.array_equal(cl.price, prices[row, slot])
    assert np.array_equal(cl.clicked, respond(row, slot, winners[row, slot])[0])
    assert np.array_equal(cl.bids, bids)


# --------------------------------------------------------------------------------------------------
# property: budgets always hold, and what is left is a consistent clearing


@st.composite
def hours(draw):
    n = draw(st.integers(0, 40))
    k = draw(st.integers(1, 4))
    bids = draw(hnp.arrays(np.float64, (k, n), elements=st.one_of(
        st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.0, 3.0]), st.floats(0.0, 6.0, allow_nan=False))))
    channels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 2)))
    remaining = draw(hnp.arrays(np.float64, (k,), elements=st.one_of(
        st.sampled_from([0.0, 1e9]), st.floats(0.0, 15.0, allow_nan=False))))
    quality = draw(hnp.arrays(np.float64, (k,), elements=st.sampled_from([0.5, 1.0, 1.5])))
    p_click = draw(st.sampled_from([0.2, 0.6, 1.0]))
    seed = draw(st.integers(0, 2**31))
    if draw(st.booleans()):  # a view of a larger matrix: rows not contiguous
        bids = np.hstack([np.ones((k, 3)), bids])[:, 3:]
    return bids, channels, remaining, quality, p_click, seed


@settings(max_examples=150, deadline=None)
@given(hours())
def test_clear_within_budgets_never_overspends(case):
    bids, ch, remaining, quality, p_click, seed = case
    m = Market(CHANNELS, quality)
    respond = random_clicks(p_click, seed)
    original = bids.copy()
    cl = m.clear_within_budgets(ch, bids, remaining, respond)
    k = bids.shape[0]
    assert np.array_equal(bids, original), "the caller's bids are not modified"
    spend = np.bincount(cl.advertiser, weights=cl.cost, minlength=k)
    assert np.all(spend <= remaining + 1e-9), (spend, remaining)
    # what remains is exactly the clearing of the bids left in force, with the world's clicks
    winners, prices = m.clear(ch, cl.bids)
    row, slot = np.nonzero(winners >= 0)
    assert np.array_equal(cl.row, row) and np.array_equal(cl.slot, slot)
    assert np.array_equal(cl.advertiser, winners[row, slot]) and np.array_equal(cl.price, prices[row, slot])
    assert np.array_equal(cl.clicked, respond(row, slot, cl.advertiser)[0])
    assert np.array_equal(cl.cost, np.where(cl.clicked, cl.price, 0.0))
    assert np.all(np.diff(cl.row) >= 0), "impressions come in time order"
    # bids are only ever withdrawn, and from a point in time onward (a suffix of the hour)
    for j in range(k):
        kept, orig = cl.bids[j], original[j]
        if remaining[j] <= 0:
            assert np.all(kept == 0)
            continue
        changed = np.flatnonzero(kept != orig)
        if changed.size:
            assert np.all(kept[changed[0]:] == 0), f"bidder {j} withdrawn only from row {changed[0]} onward"
            assert np.array_equal(kept[:changed[0]], orig[:changed[0]])


def test_bad_bids_and_quality_are_refused_with_the_cell() -> None:
    m = market()
    bids = np.ones((4, 3))
    bids[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"bids\[1, 2\] = nan is not finite \(bidder 1, opportunity 2\)"):
        m.clear(np.zeros(3, np.int8), bids)
    with pytest.raises(ValueError, match=r"shape \(n bidders, n opportunities\) = \(4, 3\), got \(3, 4\)"):
        m.clear(np.zeros(3, np.int8), np.ones((3, 4)))
    with pytest.raises(ValueError, match="one finite score > 0 per bidder"):
        market(quality=(1.0, 0.0, 1.0, 1.0))


def test_a_single_item_mechanism_with_several_slots_is_refused_when_the_market_is_built() -> None:
    with pytest.raises(ValueError, match="second_price sells one item: n_slots must be 1, got 2"):
        Market((channel("social", "second_price", 2, 0.2),), np.ones(2))


@pytest.mark.parametrize("one_pass_max", [None, 50])
@pytest.mark.parametrize("variant", ["plain", "charge", "price_mult", "watch", "screened"])
def test_clear_worlds_gives_each_world_what_it_gets_alone(one_pass_max, variant, monkeypatch):
    """A batch of worlds' hours cleared at once: each world's slice equals its own clearing bit for bit,
    also where budgets run out mid-hour (some worlds), are spent already, or never bind, and where some
    worlds' watches withdraw an advertiser mid-hour (each watch sees the same passes as alone; with a
    screen, only the passes where the world has an impression the screen flags, with the same result)."""
    if one_pass_max is not None:  # worlds above and below the one-pass size in one batch
        monkeypatch.setattr(market_module, "_ONE_PASS_MAX", one_pass_max)
    rng = np.random.default_rng(SEED)
    seeds, sizes, n_b = [3, 4, 5, 6, 7], [40, 0, 120, 75, 33], 4
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    n = int(bounds[-1])
    world = np.repeat(np.arange(len(sizes)), sizes)
    ch = rng.integers(0, 3, n).astype(np.int8)
    bids = rng.uniform(0.0, 3.0, (n_b, n))
    remaining = rng.choice([-1.0, 0.0, 2.0, 8.0, 1e9], size=(len(sizes), n_b))
    # light and heavy clicks: some end budgets (by their draws), some are charged what is left
    charge = Charge(rng.choice([0.25, 0.5, 2.0], n), rng.uniform(size=n)) if variant == "charge" else None
    watched = variant in ("watch", "screened")
    if watched:
        remaining[4] = 1e9  # no budget binds in world 4: only its watch makes it go on to a second pass
    m = market()
    if variant == "price_mult":
        m.price_mult = np.array([1.5, 1.0, 1.0, 0.5])
    wr = WorldsRng(seeds)

    def respond(row, slot, adv):
        w = world[row]
        return wr.uniform(w, (row - bounds[w]) * 64 + slot * 8 + adv, 0, 3) < 0.5, np.full(row.size, 0.5)

    def price_watch(w, log):
        """World w's watch (None in worlds 1 and 3): advertiser w % n_b withdraws 2 rows after its first
        click priced above 1.2; every call is logged."""
        if not watched or w in (1, 3):
            return None

        def watch(row, adv, price, clicked):
            log.append((row.copy(), adv.copy(), price.copy(), clicked.copy()))
            stop = np.full(n_b, 1 << 40, np.int64)
            bad = np.flatnonzero((adv == w % n_b) & clicked & (price > 1.2))
            if bad.size:
                stop[w % n_b] = row[bad[0]] + 2
            return stop

        return watch

    def screen(row, adv, price):  # what the watches may react to (they also need a click)
        return (adv == world[row] % n_b) & (price > 1.2)

    batch_logs = [[] for _ in seeds]
    batch = m.clear_worlds(bounds, ch, bids, remaining, respond, charge,
                           [price_watch(w, batch_logs[w]) for w in range(len(seeds))] if watched else None,
                           screen if variant == "screened" else None)
    cuts = np.searchsorted(batch.row, bounds)
    ran_out = withdrawn = screened = 0
    for w, seed in enumerate(seeds):
        a, b = bounds[w], bounds[w + 1]
        log = alone_log = []
        alone = m.clear_within_budgets(ch[a:b], bids[:, a:b], remaining[w], random_clicks(0.5, seed),
                                       None if charge is None else Charge(*(f[a:b] for f in charge)),
                                       price_watch(w, log))
        if variant == "screened":  # asked in the passes where it has a flagged impression, with the same ones
            log = [c for c in log if screen(c[0] + a, c[1], c[2]).any()]
            screened += len(batch_logs[w]) < len(alone_log)
        assert len(batch_logs[w]) == len(log)  # the watch saw the same passes, with the same impressions
        assert all(np.array_equal(x, y) for calls in zip(batch_logs[w], log, strict=True)
                   for x, y in zip(*calls, strict=True))
        if log:
            unwatched = m.clear_within_budgets(ch[a:b], bids[:, a:b], remaining[w], random_clicks(0.5, seed))
            withdrawn += int(not np.array_equal(unwatched.bids, alone.bids))
        part = slice(cuts[w], cuts[w + 1])
        assert np.array_equal(batch.row[part] - a, alone.row)
        for f in ("slot", "advertiser", "price", "clicked", "cost", "ctr"):
            assert np.array_equal(getattr(batch, f)[part], getattr(alone, f)), (w, f)
        assert np.array_equal(batch.bids[:, a:b], alone.bids)
        ran_out += int((alone.bids != np.where(remaining[w][:, None] <= 0, 0.0, bids[:, a:b])).any())
    assert ran_out >= 1  # some world's budget ran out within the hour, so the fallback was exercised
    assert withdrawn >= 2 * watched  # watches withdrew bids, in world 4 too
    assert screened >= (variant == "screened")  # the screen spared some watch a pass
