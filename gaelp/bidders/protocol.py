"""The `Bidder` protocol: what a bidder sees, what it learns afterwards, and what it must do.

A bidder sees an `OpportunityBatch`: one hour of opportunities as arrays of what an advertiser
really gets from an ad platform (channel, device id and type, query intent, reserve, time). It never
sees a person id, a journey stage or another advertiser's bid. Only a bidder that declares
`sees_truth = True` (the oracle, an upper bound for experiments) also gets `batch.truth`.

After the auction, each bidder observes only its own `BidderOutcome`: which opportunities it won,
the slot, the price, its clicks and costs, and the conversions its own pixel reported this hour.

**Sampling weights.** A world that importance-samples people (`world.importance`) draws rare segments
more often than they occur and gives each opportunity and each purchase the weight of its person
(`share / drawn share`; exactly 1.0 in a plain world). A real advertiser never sees such weights: they
are the Monte-Carlo device, not the market. Every learner folds an observation in with its weight
(counts become sums of weights, means weighted means), so that it learns what it would have learned
from the plain population. With weights of 1.0 every such sum is the plain count, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gaelp.config import CompetitorConfig, Config

N_INTENTS = 3  # query intent levels: 0 informational, 1 category (or no query), 2 purchase
OURS = 0
"""Our advertiser's index: row 0 of every bid matrix and advertiser axis; the rivals follow in config order."""


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
        weight: (n,) float64 sampling weight of each opportunity's person (see the module's doc); None
            builds 1.0 everywhere, as in a plain world.
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
    weight: np.ndarray = None  # type: ignore[assignment]  # None: ones, set in __post_init__
    context: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "context", np.asarray(self.channel).astype(np.int64) * N_INTENTS + self.intent)
        if self.weight is None:
            object.__setattr__(self, "weight", np.ones(self.size))

    @property
    def volume(self) -> float:
        """Opportunities as the plain population would have them: the sum of the weights (the size in a
        plain world)."""
        return float(self.weight.sum())

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
        conv_weight: (k,) sampling weight of each converting person (see the module's doc); None
            builds 1.0 everywhere.
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
    conv_weight: np.ndarray = None  # type: ignore[assignment]  # None: ones, set in __post_init__

    def __post_init__(self) -> None:
        if self.conv_weight is None:
            object.__setattr__(self, "conv_weight", np.ones(np.shape(self.conv_device)[0]))

    @property
    def weight(self) -> np.ndarray:
        """(n,) sampling weight of each opportunity (`batch.weight`)."""
        return self.batch.weight

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
"""Builds a bidder from its context: a bidder class taking a `BidderContext`, or any such function."""
