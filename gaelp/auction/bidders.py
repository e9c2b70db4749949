"""The `Bidder` protocol, what a bidder sees, a name registry and the `check_bidder` contract.

A bidder sees an `OpportunityBatch`: one hour of opportunities as arrays of what an advertiser
really gets from an ad platform (channel, device id and type, query intent, reserve, time). It never
sees a person id, a journey stage or another advertiser's bid. Only a bidder that declares
`sees_truth = True` (the oracle, an upper bound for experiments) also gets `batch.truth`.

After the auction, each bidder observes only its own `BidderOutcome`: which opportunities it won,
the slot, the price, its clicks and costs, and the conversions its own pixel reported this hour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gaelp.config import CompetitorConfig, Config

N_INTENTS = 3  # query intent levels: 0 informational, 1 category (or no query), 2 purchase


@dataclass(frozen=True, slots=True)
class Truth:
    """Ground truth for oracles only: per opportunity, for our product.

    Attributes:
        p_convert: (n,) probability that a click of ours becomes a purchase of ours.
        value: (n,) revenue of that purchase.
    """

    p_convert: np.ndarray
    value: np.ndarray


@dataclass(frozen=True, slots=True)
class OpportunityBatch:
    """One hour's ad opportunities, as an advertiser sees them.

    Attributes:
        t: the simulated hour; `day = t // 24`, `hour = t % 24`.
        weekday: 0 = Monday.
        channel: (n,) int8 channel index into `channel_names`.
        device: (n,) int64 device id (a cookie / advertising id; never a person).
        device_type: (n,) int8, 0 mobile, 1 desktop.
        intent: (n,) int8 query intent: 0 informational, 1 category (or no query), 2 purchase.
        reserve: (n,) float64 reserve price per click.
        channel_names: names of the channels.
        truth: ground truth, only for bidders with `sees_truth`.
        context: (n,) int64 `channel * N_INTENTS + intent`, derived once for every bidder's tables.
    """

    t: int
    weekday: int
    channel: np.ndarray
    device: np.ndarray
    device_type: np.ndarray
    intent: np.ndarray
    reserve: np.ndarray
    channel_names: tuple[str, ...]
    truth: Truth | None = None
    context: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "context", np.asarray(self.channel).astype(np.int64) * N_INTENTS + self.intent)

    @property
    def size(self) -> int:
        """Number of opportunities."""
        return int(self.channel.shape[0])

    @property
    def hour(self) -> int:
        """Hour of day."""
        return self.t % 24

    @property
    def day(self) -> int:
        """Simulated day."""
        return self.t // 24

    def without_truth(self) -> OpportunityBatch:
        """The advertiser's view of this batch."""
        return replace(self, truth=None) if self.truth is not None else self


@dataclass(frozen=True, slots=True)
class BidderOutcome:
    """What one bidder learns about one hour: its own results only.

    Attributes:
        batch: the batch it bid on (without truth).
        bids: (n,) its own bids (after safety limits).
        slot: (n,) int8 slot won, -1 where it lost or did not bid.
        price: (n,) price per click it would pay (0 where it lost).
        clicked: (n,) bool.
        cost: (n,) what it paid (price where clicked).
        conv_t: (k,) hours of the conversions its pixel reported this hour.
        conv_device: (k,) device ids of those conversions.
        conv_value: (k,) revenue of those conversions.
    """

    batch: OpportunityBatch
    bids: np.ndarray
    slot: np.ndarray
    price: np.ndarray
    clicked: np.ndarray
    cost: np.ndarray
    conv_t: np.ndarray
    conv_device: np.ndarray
    conv_value: np.ndarray

    @property
    def won(self) -> np.ndarray:
        """(n,) bool: an impression was shown."""
        return self.slot >= 0


@runtime_checkable
class Bidder(Protocol):
    """An advertiser's bidding policy."""

    name: str
    daily_budget: float
    sees_truth: bool

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """(n,) bid per click for every opportunity; 0 means do not take part."""
        ...

    def observe(self, outcome: BidderOutcome) -> None:
        """Learn from this hour's own results."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Learned and running state (JSON- or numpy-serialisable), for persistence."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        ...


class BaseBidder:
    """Defaults for the protocol's bookkeeping; subclasses implement `bid`."""

    sees_truth = False
    learns = False

    def __init__(self, name: str, daily_budget: float) -> None:
        self.name = name
        self.daily_budget = float(daily_budget)

    def bid(self, batch: OpportunityBatch) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def observe(self, outcome: BidderOutcome) -> None:
        """Stateless by default."""

    def state_dict(self) -> dict[str, Any]:
        """No state by default."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """No state by default."""


class BidderWrapper(BaseBidder):
    """A bidder that changes another's bids (an experiment's intervention) and passes the rest on.

    Subclasses override `bid` (calling `self.inner.bid`); outcomes and state go to the inner bidder,
    which keeps its name, budget and view of the truth.
    """

    def __init__(self, inner: Bidder) -> None:
        super().__init__(inner.name, inner.daily_budget)
        self.inner = inner
        self.sees_truth = inner.sees_truth

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """The inner bidder's bids, unchanged."""
        return np.asarray(self.inner.bid(batch), np.float64)

    def observe(self, outcome: BidderOutcome) -> None:
        """Passed to the inner bidder."""
        self.inner.observe(outcome)

    def state_dict(self) -> dict[str, Any]:
        """The inner bidder's state."""
        return self.inner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the inner bidder's state."""
        self.inner.load_state_dict(state)


@dataclass(frozen=True, slots=True)
class BidderContext:
    """Everything a bidder factory may use to build a bidder."""

    config: Config
    daily_budget: float
    rng: np.random.Generator
    competitor: CompetitorConfig | None = None
    extra: dict[str, Any] = field(default_factory=dict)


BidderFactory = Callable[[BidderContext], Bidder]
_REGISTRY: dict[str, BidderFactory] = {}


def register_bidder(name: str) -> Callable[[BidderFactory], BidderFactory]:
    """Decorator: register a bidder factory (a class taking a `BidderContext`) under `name`."""

    def deco(factory: BidderFactory) -> BidderFactory:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"bidder {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory

    return deco


def registered_bidders() -> dict[str, BidderFactory]:
    """A copy of the registry, name -> factory."""
    _load_builtin()
    return dict(_REGISTRY)


def make_bidder(name: str, ctx: BidderContext) -> Bidder:
    """Build the bidder registered as `name`."""
    _load_builtin()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown bidder {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None
    return factory(ctx)


def _load_builtin() -> None:
    # Built-in bidders register themselves on import; import lazily so that this module (a floor
    # below them) does not import them at load time.
    import gaelp.auction.baselines
    import gaelp.auction.competitors
    import gaelp.auction.learners  # noqa: F401


def check_bidder(bidder: Bidder, batch: OpportunityBatch, make_outcome: Callable[[np.ndarray], BidderOutcome]) -> None:
    """Contract test of a bidder, in the style of gymnasium's `check_env`.

    Checks: it satisfies the protocol; bids are a float array of shape (n,), finite and >= 0; bidding
    does not mutate the batch; it bids the same on the same batch from the same state; it accepts an
    outcome; its state survives a `state_dict` / `load_state_dict` round trip.

    Args:
        bidder: the bidder under test.
        batch: a batch to bid on (with truth if the bidder sees truth).
        make_outcome: builds a plausible outcome from the bids.

    Raises:
        AssertionError: naming the broken rule.
    """
    assert isinstance(bidder, Bidder), f"{type(bidder).__name__} does not implement the Bidder protocol"
    assert isinstance(bidder.name, str) and bidder.name, "bidder.name must be a non-empty string"
    assert bidder.daily_budget >= 0, "daily_budget must be >= 0"
    view = batch if bidder.sees_truth else batch.without_truth()
    before = {k: getattr(view, k).copy() for k in ("channel", "device", "device_type", "intent", "reserve")}
    state = bidder.state_dict()
    bids = np.asarray(bidder.bid(view))
    assert bids.shape == (view.size,), f"bid() returned shape {bids.shape}, expected ({view.size},)"
    assert np.issubdtype(bids.dtype, np.floating), f"bid() returned dtype {bids.dtype}, expected float"
    assert np.isfinite(bids).all(), "bid() returned a non-finite bid"
    assert (bids >= 0).all(), "bid() returned a negative bid"
    for k, v in before.items():
        assert np.array_equal(getattr(view, k), v), f"bid() mutated batch.{k}"
    bidder.load_state_dict(state)
    again = np.asarray(bidder.bid(view))
    assert np.array_equal(bids, again), "bid() is not deterministic for the same state and batch"
    bidder.observe(make_outcome(bids))
    after = bidder.state_dict()
    bidder.load_state_dict(after)
    assert np.array_equal(np.asarray(bidder.bid(view)), np.asarray(bidder.bid(view))), "bid() not repeatable"
