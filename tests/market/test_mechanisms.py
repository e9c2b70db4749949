"""Tests for gaelp.market.mechanisms: a slow per-auction reference, properties and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gaelp.market import mechanisms
from gaelp.market.mechanisms import (
    MECHANISMS,
    Allocation,
    Mechanism,
    clear_mixed,
    first_price,
    get_mechanism,
    gsp,
    second_price,
)

SEED = 20240611


# --------------------------------------------------------------------------------------------------
# Slow, obvious reference: one auction at a time, straight from the rules in the module docstring.
# Bids and quality are bidder-major, (n_bidders, n_auctions), as the mechanisms take them.


def reference(
    bids: np.ndarray,
    quality: np.ndarray,
    n_slots: int,
    reserve: float | np.ndarray,
    *,
    pay_own_bid: bool,
) -> tuple[np.ndarray, np.ndarray]:
    n_bidders, n_auctions = bids.shape
    reserves = np.broadcast_to(np.asarray(reserve, dtype=np.float64), (n_auctions,))
    winners = np.full((n_auctions, n_slots), -1, dtype=np.int64)
    prices = np.zeros((n_auctions, n_slots), dtype=np.float64)
    for i in range(n_auctions):
        floor = float(reserves[i])
        entrants = [
            (float(bids[j, i]) * float(quality[j, i]), j)
            for j in range(n_bidders)
            if bids[j, i] > 0 and bids[j, i] >= floor
        ]
        entrants.sort(key=lambda entrant: (-entrant[0], entrant[1]))
        for k, (_, j) in enumerate(entrants[:n_slots]):
            bid = float(bids[j, i])
            if pay_own_bid:
                price = bid
            else:
                below = entrants[k + 1][0] if k + 1 < len(entrants) else 0.0
                price = min(bid, max(floor, below / float(quality[j, i])))
            winners[i, k] = j
            prices[i, k] = price
    return winners, prices


def reference_for(name: str, bids, quality, n_slots, reserve) -> tuple[np.ndarray, np.ndarray]:
    return reference(bids, quality, n_slots, reserve, pay_own_bid=MECHANISMS[name].pays_own_bid)


def slots_for(name: str, n_slots: int) -> int:
    """`n_slots`, or the most a single-item mechanism sells."""
    most = MECHANISMS[name].max_slots
    return n_slots if most is None else min(n_slots, most)


SINGLE_ITEM = sorted(name for name, m in MECHANISMS.items() if m.max_slots == 1)


def assert_same(alloc: Allocation, expected: tuple[np.ndarray, np.ndarray]) -> None:
    winners, prices = expected
    assert alloc.winners.dtype == np.int64
    assert alloc.prices.dtype == np.float64
    np.testing.assert_array_equal(alloc.winners, winners)
    np.testing.assert_array_equal(alloc.prices, prices)


# --------------------------------------------------------------------------------------------------
# Strategies: few distinct values so that ties in bid and ad rank are common.

BIDS = st.one_of(
    st.sampled_from([-1.0, 0.0, 0.25, 0.5, 1.0, 1.0, 2.0, 2.0, 3.0]),
    st.floats(-1.0, 10.0, allow_nan=False, allow_infinity=False),
)
QUALITIES = st.one_of(st.sampled_from([0.5, 1.0, 1.0, 2.0]), st.floats(1e-3, 1.0))
RESERVES = st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.5]), st.floats(0.0, 5.0))


@st.composite
def markets(draw, max_bidders: int = 7):
    n_auctions = draw(st.integers(0, 12))
    n_bidders = draw(st.integers(0, max_bidders))
    bids = draw(hnp.arrays(np.float64, (n_bidders, n_auctions), elements=BIDS))
    quality = draw(hnp.arrays(np.float64, (n_bidders, n_auctions), elements=QUALITIES))
    reserve = draw(
        st.one_of(RESERVES, hnp.arrays(np.float64, (n_auctions,), elements=RESERVES))
    )
    return bids, quality, reserve


EXAMPLES = settings(deadline=None, max_examples=150)


@pytest.fixture(autouse=True, scope="module", params=["sort", "blocks"])
def clearing_path(request):
    """Run every test on both paths: one sort per auction (small batches) and max-and-remove in blocks."""
    saved = mechanisms._SORT_MAX_AUCTIONS
    mechanisms._SORT_MAX_AUCTIONS = 1 << 30 if request.param == "sort" else 0
    yield request.param
    mechanisms._SORT_MAX_AUCTIONS = saved


# --------------------------------------------------------------------------------------------------
# Fast == reference.


@EXAMPLES
@given(market=markets(), n_slots=st.integers(1, 9))
def test_gsp_matches_reference(market, n_slots):
    bids, quality, reserve = market
    expected = reference_for("gsp", bids, quality, n_slots, reserve)
    assert_same(gsp(bids, quality, n_slots, reserve), expected)


@EXAMPLES
@given(market=markets(), name=st.sampled_from(SINGLE_ITEM))
def test_single_item_mechanisms_match_reference(market, name):
    bids, quality, reserve = market
    alloc = MECHANISMS[name].clear(bids, quality, 1, reserve)
    assert_same(alloc, reference_for(name, bids, quality, 1, reserve))


@EXAMPLES
@given(market=markets())
def test_gsp_with_one_slot_is_second_price(market):
    bids, quality, reserve = market
    one_slot = gsp(bids, quality, 1, reserve)
    vickrey = second_price(bids, quality, reserve=reserve)
    np.testing.assert_array_equal(one_slot.winners, vickrey.winners)
    np.testing.assert_array_equal(one_slot.prices, vickrey.prices)


@EXAMPLES
@given(market=markets())
def test_first_and_second_price_pick_the_same_winner(market):
    bids, quality, reserve = market
    first = first_price(bids, quality, reserve=reserve)
    second = second_price(bids, quality, reserve=reserve)
    np.testing.assert_array_equal(first.winners, second.winners)
    assert np.all(second.prices <= first.prices)


@EXAMPLES
@given(market=markets(), name=st.sampled_from(sorted(MECHANISMS)), n_slots=st.integers(1, 9))
def test_one_quality_per_bidder_is_the_broadcast_matrix(market, name, n_slots):
    bids, quality, reserve = market
    n_slots = slots_for(name, n_slots)
    per_bidder = quality[:, 0] if quality.size else np.ones(bids.shape[0])
    alloc = MECHANISMS[name].clear(bids, per_bidder, n_slots, reserve)
    assert_same(alloc, reference_for(name, bids, np.broadcast_to(per_bidder[:, None], bids.shape), n_slots, reserve))


@pytest.mark.parametrize("block_cells", [1, 5, 16])
@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_blocking_does_not_change_the_result(monkeypatch, block_cells, name):
    # Batches are cleared in cache-sized blocks; force many small ones, with a ragged last block.
    rng = np.random.default_rng(SEED)
    bids = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0], size=(4, 37))
    quality = rng.choice([0.5, 1.0], size=(4, 37))
    reserve = rng.choice([0.0, 0.75, 2.5], size=37)
    n_slots = slots_for(name, 3)
    monkeypatch.setattr(mechanisms, "_BLOCK_CELLS", block_cells)
    alloc = MECHANISMS[name].clear(bids, quality, n_slots, reserve)
    assert_same(alloc, reference_for(name, bids, quality, n_slots, reserve))


@st.composite
def mixed_markets(draw):
    bids, quality, _ = draw(markets())
    n_auctions = bids.shape[1]
    names = draw(st.lists(st.sampled_from(sorted(MECHANISMS)), min_size=n_auctions, max_size=n_auctions))
    many_slots = draw(st.lists(st.integers(1, 9), min_size=n_auctions, max_size=n_auctions))
    n_slots = np.array([slots_for(name, k) for name, k in zip(names, many_slots)], dtype=np.int64)
    reserve = draw(hnp.arrays(np.float64, (n_auctions,), elements=RESERVES))
    width = int(n_slots.max(initial=1)) + draw(st.integers(0, 2))
    return bids, quality[:, 0] if quality.size else np.ones(bids.shape[0]), names, n_slots, reserve, width


def later_auctions(matrix: np.ndarray) -> np.ndarray:
    """`matrix` as a view of its bidder-major parent's later auctions, rows not contiguous (the
    market clears the auctions after a budget cut this way)."""
    return np.hstack([np.ones((matrix.shape[0], 2)), matrix])[:, 2:]


@EXAMPLES
@given(market=mixed_markets(), sliced=st.booleans())
def test_mixed_clearing_is_each_auctions_own_mechanism(market, sliced):
    # The market clears a small hour of all channels at once, or the hour's auctions after a budget cut.
    bids, quality, names, n_slots, reserve, width = market
    if sliced:
        bids = later_auctions(bids)
    pays_own = np.array([MECHANISMS[name].pays_own_bid for name in names], dtype=bool)
    alloc = clear_mixed(bids, quality, n_slots, reserve, pays_own, width)
    assert alloc.winners.shape == alloc.prices.shape == (bids.shape[1], width)
    for i, name in enumerate(names):
        winners, prices = reference_for(name, bids[:, i:i + 1], quality[:, None], int(n_slots[i]), reserve[i])
        expected_winners = np.full(width, -1)
        expected_prices = np.zeros(width)
        expected_winners[:n_slots[i]], expected_prices[:n_slots[i]] = winners[0], prices[0]
        np.testing.assert_array_equal(alloc.winners[i], expected_winners)
        np.testing.assert_array_equal(alloc.prices[i], expected_prices)


# --------------------------------------------------------------------------------------------------
# Invariants that hold for every mechanism, checked on the fast implementation alone.


@EXAMPLES
@given(market=markets(), name=st.sampled_from(sorted(MECHANISMS)), n_slots=st.integers(1, 9))
def test_allocation_invariants(market, name, n_slots):
    bids, quality, reserve = market
    n_slots = slots_for(name, n_slots)
    alloc = MECHANISMS[name].clear(bids, quality, n_slots, reserve)
    n_auctions = bids.shape[1]
    assert alloc.winners.shape == alloc.prices.shape == (n_auctions, n_slots)

    floor = np.broadcast_to(np.asarray(reserve, dtype=np.float64), (n_auctions,))[:, None]
    eligible = ((bids > 0) & (bids >= floor[:, 0])).T  # (n_auctions, n_bidders)
    filled = alloc.winners >= 0
    # Empty slots: -1 and free; filled slots come first; as many filled as there are entrants.
    assert np.all(alloc.winners[~filled] == -1)
    assert np.all(alloc.prices[~filled] == 0.0)
    assert np.all(filled[:, 1:] <= filled[:, :-1])
    np.testing.assert_array_equal(filled.sum(axis=1), np.minimum(eligible.sum(axis=1), n_slots))

    rows, slots = np.nonzero(filled)
    cols = alloc.winners[rows, slots]
    assert np.all(eligible[rows, cols])
    own_bid = bids[cols, rows]
    price = alloc.prices[rows, slots]
    assert np.all(price <= own_bid)
    assert np.all(price >= floor[rows, 0])

    ad_rank = (bids * quality).T
    for i in range(n_auctions):
        won = alloc.winners[i][filled[i]]
        assert len(set(won.tolist())) == len(won), "a bidder won two slots"
        ranks = ad_rank[i, won]
        assert np.all(ranks[1:] <= ranks[:-1]), "slots not in ad-rank order"
        losers = np.setdiff1d(np.flatnonzero(eligible[i]), won)
        if len(won) and len(losers):
            assert ad_rank[i, losers].max() <= ranks[-1]


# --------------------------------------------------------------------------------------------------
# Worked examples, computed by hand.


def test_unit_quality_second_price_is_vickrey():
    bids = np.array([[1.0, 4.0, 3.0], [5.0, 0.0, 0.0]]).T  # 3 bidders, 2 auctions
    alloc = second_price(bids, np.ones_like(bids))
    assert alloc.winners.tolist() == [[1], [0]]
    # Second-highest bid; a lone bidder pays the reserve (0).
    assert alloc.prices.tolist() == [[3.0], [0.0]]
    assert first_price(bids, np.ones_like(bids)).prices.tolist() == [[4.0], [5.0]]


def test_quality_reorders_and_reprices():
    # Ad ranks 1.0 and 2.0: the lower bid wins and pays 1.0 / 2.0 per click.
    alloc = second_price(np.array([[2.0], [1.0]]), np.array([[0.5], [2.0]]))
    assert alloc.winners.tolist() == [[1]]
    assert alloc.prices.tolist() == [[0.5]]


@pytest.mark.parametrize(
    ("reserve", "winners", "prices"),
    [
        # Ad ranks 4, 3, 1, 1: the tie goes to bidder 2; its price 1.0 / 0.5 equals its bid.
        (0.0, [[0, 1, 2]], [[3.0, 1.0, 2.0]]),
        # Bidder 3 (bid 1.0) sits out; the reserve lifts the two lower prices.
        (1.5, [[0, 1, 2]], [[3.0, 1.5, 1.5]]),
        # Only bidder 0 clears a reserve of 3.5.
        (3.5, [[0, -1, -1]], [[3.5, 0.0, 0.0]]),
    ],
)
def test_gsp_worked_example(reserve, winners, prices):
    bids = np.array([[4.0], [3.0], [2.0], [1.0]])
    quality = np.array([[1.0], [1.0], [0.5], [1.0]])
    alloc = gsp(bids, quality, 3, reserve)
    assert alloc.winners.tolist() == winners
    assert alloc.prices.tolist() == prices


def test_ties_go_to_the_lower_bidder_index():
    bids = np.full((3, 1), 2.0)
    quality = np.ones_like(bids)
    assert second_price(bids, quality).winners.tolist() == [[0]]
    assert second_price(bids, quality).prices.tolist() == [[2.0]]
    alloc = gsp(bids, quality, 3, reserve=0.5)
    assert alloc.winners.tolist() == [[0, 1, 2]]
    assert alloc.prices.tolist() == [[2.0, 2.0, 0.5]]


@pytest.mark.parametrize(("bid", "score"), [(0.1, 0.1), (3.7, 0.3)])
def test_price_never_exceeds_the_bid_despite_rounding(bid, score):
    # Two identical bids: the runner-up's ad rank divided back by the quality rounds above the bid.
    assert (bid * score) / score > bid
    bids = np.full((2, 1), bid)
    quality = np.full((2, 1), score)
    assert second_price(bids, quality).prices.tolist() == [[bid]]
    assert gsp(bids, quality, 2).prices.tolist() == [[bid, 0.0]]


def test_array_reserve_applies_per_auction():
    bids = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    alloc = second_price(bids, np.ones_like(bids), reserve=np.array([0.0, 1.5, 2.5]))
    assert alloc.winners.tolist() == [[1], [1], [-1]]
    assert alloc.prices.tolist() == [[1.0], [1.5], [0.0]]


def test_bid_equal_to_reserve_takes_part_and_nonpositive_bids_do_not():
    bids = np.array([[1.0, 0.0, -2.0], [0.0, -0.0, -1.0]]).T
    alloc = gsp(bids, np.ones_like(bids), 2, reserve=1.0)
    assert alloc.winners.tolist() == [[0, -1], [-1, -1]]
    assert alloc.prices.tolist() == [[1.0, 0.0], [0.0, 0.0]]


# --------------------------------------------------------------------------------------------------
# Edge cases of shape.


@pytest.mark.parametrize("name", sorted(MECHANISMS))
@pytest.mark.parametrize("shape", [(4, 0), (0, 0), (0, 3)])
def test_empty_batches_and_no_bidders(name, shape):
    n_slots = slots_for(name, 2)
    alloc = MECHANISMS[name].clear(np.ones(shape), np.ones(shape), n_slots)
    assert alloc.winners.shape == alloc.prices.shape == (shape[1], n_slots)
    assert np.all(alloc.winners == -1)
    assert np.all(alloc.prices == 0.0)


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_single_bidder(name):
    bids = np.array([[2.0, 0.0, 0.25]])
    n_slots = slots_for(name, 2)
    alloc = MECHANISMS[name].clear(bids, np.ones_like(bids), n_slots, 0.5)
    expected = reference_for(name, bids, np.ones_like(bids), n_slots, 0.5)
    assert_same(alloc, expected)
    assert alloc.winners[:, 0].tolist() == [0, -1, -1]


@pytest.mark.parametrize("n_slots", [3, 4, 10])
def test_more_slots_than_bidders_leaves_the_rest_empty(n_slots):
    bids = np.array([[1.0], [3.0], [2.0]])
    alloc = gsp(bids, np.ones_like(bids), n_slots)
    assert alloc.winners.tolist() == [[1, 2, 0] + [-1] * (n_slots - 3)]
    assert alloc.prices.tolist() == [[2.0, 1.0, 0.0] + [0.0] * (n_slots - 3)]


def test_inputs_are_not_modified_and_any_layout_is_accepted():
    rng = np.random.default_rng(SEED)
    bids = rng.choice([0.0, 1.0, 2.0, 3.0], size=(6, 20))
    quality = rng.uniform(0.1, 1.0, size=(6, 20))
    reserve = rng.uniform(0.0, 1.0, size=20)
    saved = (bids.copy(), quality.copy(), reserve.copy())
    expected = gsp(bids, quality, 3, reserve)
    for arg, before in zip((bids, quality, reserve), saved, strict=True):
        np.testing.assert_array_equal(arg, before)
    # Fortran order, strided views and plain lists give the same allocation.
    for b, q in [
        (np.asfortranarray(bids), np.asfortranarray(quality)),
        (np.repeat(bids, 2, axis=1)[:, ::2], later_auctions(quality)),
        (bids.tolist(), quality.tolist()),
    ]:
        alloc = gsp(b, q, 3, reserve.tolist())
        np.testing.assert_array_equal(alloc.winners, expected.winners)
        np.testing.assert_array_equal(alloc.prices, expected.prices)


def test_integer_bids_are_accepted():
    alloc = second_price(np.array([[3], [5]]), np.array([[1], [1]]))
    assert alloc.winners.tolist() == [[1]]
    assert alloc.prices.tolist() == [[3.0]]


# --------------------------------------------------------------------------------------------------
# Bad input.

GOOD = np.ones((3, 2))  # 3 bidders, 2 auctions


@pytest.mark.parametrize(
    ("bids", "quality", "n_slots", "reserve", "message"),
    [
        (np.ones(3), np.ones(3), 1, 0.0, r"bids must be 2-D .* got shape \(3,\)"),
        (GOOD, np.ones((2, 2)), 1, 0.0, r"quality must have the shape of bids \(3, 2\)"),
        (GOOD, np.ones(2), 1, 0.0, r"or one score per bidder \(3,\), got shape \(2,\)"),
        (np.array([[1.0, 1.0], [np.nan, 1.0]]), np.ones((2, 2)), 1, 0.0, r"bids\[1, 0\] = nan .*bidder 1, auction 0"),
        (np.array([[1.0, np.inf]]), np.ones((1, 2)), 1, 0.0, r"bids\[0, 1\] = inf .*bidder 0, auction 1"),
        (GOOD, np.array([[1.0, 0.0]] + [[1.0, 1.0]] * 2), 1, 0.0, r"quality\[0, 1\] = 0.0; .* > 0"),
        (GOOD, np.array([[1.0, 1.0]] * 2 + [[1.0, -1.0]]), 1, 0.0, r"quality\[2, 1\] = -1.0"),
        (GOOD, np.array([[1.0, 1.0], [np.nan, 1.0], [1.0, 1.0]]), 1, 0.0, r"quality\[1, 0\] = nan"),
        (GOOD, np.array([1.0, 0.0, 1.0]), 1, 0.0, r"quality\[1\] = 0.0; .* > 0"),
        (GOOD, GOOD, 1, -0.5, r"reserve = -0.5; .* >= 0"),
        (GOOD, GOOD, 1, np.nan, r"reserve = nan"),
        (GOOD, GOOD, 1, np.zeros(3), r"scalar or have shape \(n_auctions,\) = \(2,\)"),
        (GOOD, GOOD, 1, np.zeros((2, 1)), r"got shape \(2, 1\)"),
        (GOOD, GOOD, 1, np.array([0.0, -1.0]), r"reserve\[1\] = -1.0"),
        (GOOD, GOOD, 0, 0.0, r"n_slots must be an integer >= 1, got 0"),
        (GOOD, GOOD, 1.5, 0.0, r"n_slots must be an integer >= 1, got 1.5"),
        (GOOD, GOOD, True, 0.0, r"n_slots must be an integer >= 1, got True"),
    ],
)
@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_bad_input_is_rejected_with_a_clear_message(name, bids, quality, n_slots, reserve, message):
    with pytest.raises(ValueError, match=message):
        MECHANISMS[name].clear(bids, quality, n_slots, reserve)


@pytest.mark.parametrize("name", SINGLE_ITEM)
@pytest.mark.parametrize("validate", [True, False])
def test_single_item_mechanisms_refuse_several_slots(name, validate):
    with pytest.raises(ValueError, match=f"{name} sells one item: n_slots must be 1, got 2; use gsp"):
        MECHANISMS[name].clear(GOOD, GOOD, 2, validate=validate)


def test_gsp_accepts_numpy_integer_slots():
    alloc = gsp(GOOD, GOOD, np.int64(2))
    assert alloc.winners.tolist() == [[0, 1], [0, 1]]


# --------------------------------------------------------------------------------------------------
# Registry.


@pytest.mark.parametrize("name", ["second_price", "first_price", "gsp"])
def test_get_mechanism_returns_the_registered_record(name):
    assert get_mechanism(name) is MECHANISMS[name] and get_mechanism(name).name == name


def test_registry_lists_exactly_the_three_mechanisms():
    assert MECHANISMS == {
        "second_price": Mechanism("second_price", pays_own_bid=False, max_slots=1, clear=second_price),
        "first_price": Mechanism("first_price", pays_own_bid=True, max_slots=1, clear=first_price),
        "gsp": Mechanism("gsp", pays_own_bid=False, max_slots=None, clear=gsp),
    }
    assert [m.reveals_price for m in MECHANISMS.values()] == [True, False, True]


def test_mechanism_records_are_frozen():
    with pytest.raises(AttributeError):
        MECHANISMS["gsp"].max_slots = 1  # type: ignore[misc]


@pytest.mark.parametrize("name", ["vickrey", "", "GSP"])
def test_get_mechanism_rejects_unknown_names_listing_known_ones(name):
    with pytest.raises(ValueError, match="known: first_price, gsp, second_price"):
        get_mechanism(name)


def test_allocation_is_frozen():
    alloc = gsp(GOOD, GOOD, 1)
    with pytest.raises(AttributeError):
        alloc.winners = np.zeros((2, 1), dtype=np.int64)  # type: ignore[misc]


@EXAMPLES
@given(market=markets(), name=st.sampled_from(sorted(MECHANISMS)), n_slots=st.integers(1, 9))
def test_unvalidated_clearing_equals_validated(market, name, n_slots):
    # The market checks a whole hour's bids once and then clears each channel without checks.
    bids, quality, reserve = market
    n_slots = slots_for(name, n_slots)
    checked = MECHANISMS[name].clear(bids, quality, n_slots, reserve)
    assert_same(MECHANISMS[name].clear(bids, quality, n_slots, reserve, validate=False),
                (checked.winners, checked.prices))


@EXAMPLES
@given(market=markets(), name=st.sampled_from(sorted(MECHANISMS)), n_slots=st.integers(1, 9),
       quality_layout=st.sampled_from(["matrix", "sliced matrix", "per bidder"]), sliced=st.booleans(),
       block_cells=st.sampled_from([1, 7, 1 << 17]))
def test_sliced_bids_clear_the_same(market, name, n_slots, quality_layout, sliced, block_cells):
    # The market clears an hour's later auctions (after a budget cut) from a view of its bid matrix, in
    # one block or several.
    bids, quality, reserve = market
    n_slots = slots_for(name, n_slots)
    if quality_layout == "per bidder":
        quality = quality[:, 0] if quality.size else np.ones(bids.shape[0])
    elif quality_layout == "sliced matrix":
        quality = later_auctions(quality)
    matrix = quality[:, None] if quality.ndim == 1 else quality
    expected = reference_for(name, bids, np.broadcast_to(matrix, bids.shape), n_slots, reserve)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mechanisms, "_BLOCK_CELLS", block_cells)
        alloc = MECHANISMS[name].clear(later_auctions(bids) if sliced else bids, quality, n_slots, reserve)
    assert_same(alloc, expected)


def test_check_slots_knows_what_each_mechanism_can_sell():
    assert MECHANISMS["gsp"].check_slots(4) == 4 and MECHANISMS["first_price"].check_slots(1) == 1
    with pytest.raises(ValueError, match="second_price sells one item: n_slots must be 1, got 2"):
        MECHANISMS["second_price"].check_slots(2)
    with pytest.raises(ValueError, match="n_slots must be an integer >= 1, got 0"):
        MECHANISMS["gsp"].check_slots(0)
