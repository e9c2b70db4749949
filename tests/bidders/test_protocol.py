"""Tests for gaelp.bidders.protocol: the batch and outcome views, the registry and `check_bidder`
catching each broken rule."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.bidders.contract import check_bidder
from gaelp.bidders.protocol import BaseBidder, Bidder, BidderContext, BidderOutcome, OpportunityBatch, Truth
from gaelp.bidders.registry import BIDDERS, bidder_names, make_bidder
from gaelp.config import Config

N = 40


def batch(t: int = 50, truth: bool = False) -> OpportunityBatch:
    rng = np.random.default_rng(t)
    tr = Truth(rng.random(N), np.full(N, 100.0)) if truth else None
    return OpportunityBatch(t=t, weekday=2, channel=rng.integers(0, 3, N).astype(np.int8),
                            device=np.arange(N, dtype=np.int64), device_type=rng.integers(0, 2, N).astype(np.int8),
                            intent=rng.integers(0, 3, N).astype(np.int8), reserve=np.full(N, 0.2),
                            channel_names=("search", "social", "display"), truth=tr)


def outcome_for(b: OpportunityBatch):
    def make(bids: np.ndarray) -> BidderOutcome:
        won = bids > 0
        return BidderOutcome(b, bids, np.where(won, 0, -1).astype(np.int8), np.where(won, bids / 2, 0.0),
                             won, np.where(won, bids / 2, 0.0), np.empty(0, np.int64), np.empty(0, np.int64),
                             np.empty(0))
    return make


def test_batch_views():
    b = batch(t=24 * 3 + 7, truth=True)
    assert b.size == N and b.hour == 7 and b.day == 3
    view = b.without_truth()
    assert view.truth is None and view.channel is b.channel
    assert b.truth is not None, "without_truth returns a copy; the original keeps its truth"
    assert view.without_truth() is view


def test_outcome_won_is_a_filled_slot():
    b = batch()
    out = outcome_for(b)(np.where(np.arange(N) % 2 == 0, 1.0, 0.0))
    assert np.array_equal(out.won, np.arange(N) % 2 == 0)


# --------------------------------------------------------------------------------------------------
# registry


def test_the_registry_is_read_only():
    with pytest.raises(TypeError):
        BIDDERS["bogus"] = BaseBidder  # type: ignore[index]
    assert "bogus" not in BIDDERS


def test_make_bidder_takes_the_callers_own_bidders_but_never_over_a_built_in_one():
    class Mine(BaseBidder):
        def __init__(self, ctx: BidderContext) -> None:
            super().__init__("mine", ctx.daily_budget)

    ctx = BidderContext(Config(), 10.0, np.random.default_rng(0))
    assert isinstance(make_bidder("mine", ctx, extra={"mine": Mine}), Mine)
    assert bidder_names({"mine": Mine})[-1] == "mine"
    with pytest.raises(ValueError, match="already built in: fixed"):
        make_bidder("mine", ctx, extra={"mine": Mine, "fixed": Mine})


def test_make_bidder_names_the_known_bidders_when_the_name_is_unknown():
    ctx = BidderContext(Config(), 10.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown bidder 'nope'.*fixed"):
        make_bidder("nope", ctx)


# --------------------------------------------------------------------------------------------------
# check_bidder catches each broken rule


class Good(BaseBidder):
    def __init__(self) -> None:
        super().__init__("good", 10.0)

    def bid(self, b: OpportunityBatch) -> np.ndarray:
        return 0.5 + b.intent.astype(np.float64)


class Negative(Good):
    def bid(self, b):
        return super().bid(b) - 1.0


class NotFinite(Good):
    def bid(self, b):
        out = super().bid(b)
        out[3] = np.nan
        return out


class WrongShape(Good):
    def bid(self, b):
        return super().bid(b)[:-1]


class IntegerBids(Good):
    def bid(self, b):
        return np.ones(b.size, np.int64)


class Mutates(Good):
    def bid(self, b):
        b.intent[:] = 0
        return super().bid(b)


class Drifts(Good):
    """Bids move with a hidden counter that state_dict does not capture."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def bid(self, b):
        self.calls += 1
        return super().bid(b) * self.calls


class Forgets(Good):
    """Learns a bid level from its outcomes, but its state_dict leaves the level out."""

    def __init__(self) -> None:
        super().__init__()
        self.level = 1.0

    def bid(self, b):
        return super().bid(b) * self.level

    def observe(self, outcome):
        self.level += float(outcome.clicked.sum()) + 1.0


class Nameless(Good):
    def __init__(self) -> None:
        super().__init__()
        self.name = ""


class NoObserve:
    name, daily_budget, sees_truth = "x", 1.0, False

    def bid(self, b):
        return np.zeros(b.size)


def test_check_bidder_accepts_a_good_bidder():
    b = batch()
    bidder = Good()
    assert isinstance(bidder, Bidder)
    check_bidder(bidder, b, outcome_for(b), Good)


@pytest.mark.parametrize("cls, message", [
    (Negative, "negative"),
    (NotFinite, "non-finite"),
    (WrongShape, "shape"),
    (IntegerBids, "dtype"),
    (Mutates, "mutated batch.intent"),
    (Drifts, "not deterministic"),
    (Nameless, "name"),
    (NoObserve, "protocol"),
    (Forgets, "fresh bidder loaded with the state_dict"),
])
def test_check_bidder_catches_each_broken_rule(cls, message):
    b = batch()
    with pytest.raises(AssertionError, match=message):
        check_bidder(cls(), b, outcome_for(b), cls)


def test_check_bidder_hides_truth_from_bidders_that_do_not_see_it():
    seen = []

    class Spy(Good):
        def bid(self, b):
            seen.append(b.truth)
            return super().bid(b)

    class TruthSpy(Spy):
        sees_truth = True

    b = batch(truth=True)
    check_bidder(Spy(), b, outcome_for(b), Spy)
    assert seen and all(t is None for t in seen)
    seen.clear()
    check_bidder(TruthSpy(), b, outcome_for(b), TruthSpy)
    assert seen and all(t is b.truth for t in seen)
