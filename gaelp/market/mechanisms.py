"""Auction mechanisms: pure, vectorized clearing of a whole hour of auctions at once.

**The bid layout.** Bids travel bidder-major from the bidders to the mechanisms: a ``(n_bidders,
n_auctions)`` float64 matrix whose row ``j`` holds bidder ``j``'s bid per click in every auction, one
contiguous row per bidder (each bidder bids a whole hour as one vector; every "over bidders"
reduction then runs elementwise over contiguous rows, measured ~10x faster than reducing along the
short axis of an auction-major matrix). Quality scores (the platform's predicted CTR of each
bidder's ad) come as one score per bidder ``(n_bidders,)`` or a matrix in the bids' layout
``(n_bidders, n_auctions)``. Every function here and in :mod:`gaelp.market.clearing` takes this
layout; the results (:class:`Allocation`) are auction-major, one row per auction, best slot first.

Shared rules:

* A bidder takes part in an auction only if its bid is > 0 and >= that auction's reserve.
* Participants are ranked by ad rank = bid * quality, highest first; equal ad ranks go to the lower
  bidder index, so every allocation is deterministic.
* ``second_price`` and ``gsp`` charge the slot-k winner
  ``max(reserve, next_ad_rank / own_quality)``, capped at its own bid (the cap only bites through
  floating-point rounding); ``next_ad_rank`` is the ad rank of the next participant below, or 0 when
  there is none. ``first_price`` charges the bid.

Each auction type is one :class:`Mechanism` record in :data:`MECHANISMS` (its name, whether the
winner pays its own bid, how many slots it can sell, its clear function): the one place that lists them.

No Python loop runs over auctions or bidders. Which path clears a batch depends on its size (both
give the same winners and prices to the last bit; tests check each against a slow reference):

* up to ``_SORT_MAX_AUCTIONS`` auctions: one stable sort of each auction's ad ranks, a fixed dozen
  numpy calls whatever the slots (:func:`_clear_sorted`).
* more: blocks of ``_BLOCK_CELLS`` ad ranks (bidders x auctions) that stay in cache, in each of which
  the only loop is over the (few) slots (:func:`_clear_block`).

:func:`clear_mixed` clears a batch whose auctions follow different mechanisms (a market's channels)
in one such sort; the market uses it for hours of up to ``clearing._ONE_PASS_MAX`` opportunities and
clears larger ones channel by channel, each by its mechanism's path above.

Example:
    >>> import numpy as np
    >>> bids = np.array([[2.0], [3.0], [1.0]])  # 3 bidders, 1 auction
    >>> alloc = gsp(bids, np.ones(3), n_slots=2, reserve=0.5)
    >>> alloc.winners.tolist(), alloc.prices.tolist()
    ([[1, 0]], [[2.0, 1.0]])
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Smallest positive float64: `bid >= max(reserve, _TINY)` tests "bid > 0 and bid >= reserve" with a
# single comparison over the matrix.
_TINY = float(np.nextafter(0.0, 1.0))

# Ad-rank cells (bidders x auctions) cleared per block on the block path: 128k float64 = 1 MiB, so a
# block's handful of temporaries stay in cache. Measured twice as fast as one pass over a
# 500k-auction batch, whose temporaries each cost a trip to main memory.
_BLOCK_CELLS = 1 << 17

# Batches of up to this many auctions are cleared by sorting (_clear_sorted): a dozen numpy calls
# whatever the slots, where the block path makes about ten per slot but less work per auction, so the
# sort wins while call overhead dominates. Measured (6 bidders, bidder-major): GSP with 4 slots 2.6x
# faster sorted at 20 auctions and 2x at 256, even at ~1,000; one slot 1.2-1.3x faster sorted up to
# 256, the blocks 1.6x faster at 512.
_SORT_MAX_AUCTIONS = 256


@dataclass(frozen=True, slots=True)
class Allocation:
    """The outcome of a batch of auctions.

    Attributes:
        winners: ``(n_auctions, n_slots)`` int64, the index of the bidder that won each slot, best
            slot first; -1 where the slot stays empty.
        prices: ``(n_auctions, n_slots)`` float64, the price per click charged to that slot's
            winner; 0.0 where the slot is empty.
    """

    winners: np.ndarray
    prices: np.ndarray


@dataclass(frozen=True, slots=True)
class Mechanism:
    """An auction type, as the platform announces it.

    Attributes:
        name: the name configs use (``ChannelConfig.mechanism``).
        pays_own_bid: True where the winner pays its bid (first price), False where it pays the
            generalized second price.
        max_slots: the most slots one auction can sell; 1 for a single-item auction, None for any number.
        clear: ``clear(bids, quality, n_slots, reserve, *, validate=True) -> Allocation``, bids
            ``(n_bidders, n_auctions)``.
    """

    name: str
    pays_own_bid: bool
    max_slots: int | None
    clear: Callable[..., Allocation]

    @property
    def reveals_price(self) -> bool:
        """Whether the winner's price tells it the ad rank just below (the second-price rules)."""
        return not self.pays_own_bid

    def check_slots(self, n_slots: object) -> int:
        """The slot count `n_slots` as an int, after checking that this mechanism can sell that many.

        Raises:
            ValueError: for a count that is not an integer >= 1, or more than ``max_slots``.
        """
        count = _as_slot_count(n_slots)
        if self.max_slots is not None and count > self.max_slots:
            several = ", ".join(sorted(m.name for m in MECHANISMS.values() if m.max_slots is None))
            sells, limit = ("one item", "1") if self.max_slots == 1 else (f"{self.max_slots} slots", f"<= {self.max_slots}")
            raise ValueError(
                f"{self.name} sells {sells}: n_slots must be {limit}, got {n_slots!r}; "
                f"use {several} for several slots"
            )
        return count


def second_price(
    bids: np.ndarray,
    quality: np.ndarray,
    n_slots: int = 1,
    reserve: float | np.ndarray = 0.0,
    *,
    validate: bool = True,
) -> Allocation:
    """Sell one item per auction at the quality-weighted second price (Vickrey when quality is 1).

    Args:
        bids: ``(n_bidders, n_auctions)`` finite bids per click; <= 0 or below the reserve sits out.
        quality: ``(n_bidders,)`` or ``(n_bidders, n_auctions)`` finite quality scores > 0.
        n_slots: must be 1 (one item); use :func:`gsp` for several slots.
        reserve: scalar or ``(n_auctions,)`` minimum price per click, finite and >= 0.
        validate: False skips checking the inputs, for a caller that checked them already (the
            market checks each hour's whole bid matrix once); they must then be float64 arrays.

    Returns:
        An :class:`Allocation` with arrays of shape ``(n_auctions, 1)``.

    Raises:
        ValueError: on a shape or value that breaks the rules above.
    """
    return _clear_as("second_price", bids, quality, n_slots, reserve, validate)


def first_price(
    bids: np.ndarray,
    quality: np.ndarray,
    n_slots: int = 1,
    reserve: float | np.ndarray = 0.0,
    *,
    validate: bool = True,
) -> Allocation:
    """Sell one item per auction to the highest ad rank, who pays its own bid.

    Args:
        bids: ``(n_bidders, n_auctions)`` finite bids per click; <= 0 or below the reserve sits out.
        quality: ``(n_bidders,)`` or ``(n_bidders, n_auctions)`` finite quality scores > 0.
        n_slots: must be 1 (one item).
        reserve: scalar or ``(n_auctions,)`` minimum price per click, finite and >= 0.
        validate: False skips checking the inputs, for a caller that checked them already (the
            market checks each hour's whole bid matrix once); they must then be float64 arrays.

    Returns:
        An :class:`Allocation` with arrays of shape ``(n_auctions, 1)``.

    Raises:
        ValueError: on a shape or value that breaks the rules above.
    """
    return _clear_as("first_price", bids, quality, n_slots, reserve, validate)


def gsp(
    bids: np.ndarray,
    quality: np.ndarray,
    n_slots: int,
    reserve: float | np.ndarray = 0.0,
    *,
    validate: bool = True,
) -> Allocation:
    """Generalized second price: slot k goes to the k-th highest ad rank.

    The slot-k winner pays ``max(reserve, ad_rank_{k+1} / quality_k)`` per click, never above its
    bid, where ``ad_rank_{k+1}`` is the next participant's ad rank (0 if none). With ``n_slots=1``
    this is exactly :func:`second_price`. Slots beyond the number of participants stay empty.

    Args:
        bids: ``(n_bidders, n_auctions)`` finite bids per click; <= 0 or below the reserve sits out.
        quality: ``(n_bidders,)`` or ``(n_bidders, n_auctions)`` finite quality scores > 0.
        n_slots: number of ad slots per auction, >= 1 (may exceed ``n_bidders``).
        reserve: scalar or ``(n_auctions,)`` minimum price per click, finite and >= 0.
        validate: False skips checking the inputs, for a caller that checked them already (the
            market checks each hour's whole bid matrix once); they must then be float64 arrays.

    Returns:
        An :class:`Allocation` with arrays of shape ``(n_auctions, n_slots)``.

    Raises:
        ValueError: on a shape or value that breaks the rules above.
    """
    return _clear_as("gsp", bids, quality, n_slots, reserve, validate)


# Every auction type the platform runs, by name: the one list of them.
MECHANISMS: dict[str, Mechanism] = {
    m.name: m
    for m in (
        Mechanism("second_price", pays_own_bid=False, max_slots=1, clear=second_price),
        Mechanism("first_price", pays_own_bid=True, max_slots=1, clear=first_price),
        Mechanism("gsp", pays_own_bid=False, max_slots=None, clear=gsp),
    )
}


def get_mechanism(name: str) -> Mechanism:
    """Look a mechanism up by name.

    Args:
        name: one of the keys of :data:`MECHANISMS`.

    Returns:
        The mechanism's record.

    Raises:
        ValueError: if the name is unknown; the message lists the known names.
    """
    try:
        return MECHANISMS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(MECHANISMS))
        raise ValueError(f"unknown auction mechanism {name!r}; known: {known}") from None


def clear_mixed(
    bids: np.ndarray,
    quality: np.ndarray,
    n_slots: np.ndarray,
    reserve: np.ndarray,
    pay_own_bid: np.ndarray,
    width: int,
) -> Allocation:
    """Clear auctions that each follow their own mechanism, in one pass (a market's channels at once).

    Auction ``a`` sells ``n_slots[a]`` slots, charging the winner its own bid where ``pay_own_bid[a]``
    (:func:`first_price`) and the generalized second price otherwise (:func:`gsp`, which is
    :func:`second_price` for one slot): auction by auction the result is that mechanism's, to the last
    bit. The inputs are not checked (the market checks each hour's bids once). Its cost is a dozen numpy
    calls plus a sort of every auction's bidders, so it pays for small batches; a large one is
    cheaper cleared mechanism by mechanism.

    Args:
        bids: ``(n_bidders, n_auctions)`` float64 finite bids per click.
        quality: ``(n_bidders,)`` float64 quality scores > 0.
        n_slots: ``(n_auctions,)`` int slots of each auction, 1..``width``.
        reserve: ``(n_auctions,)`` float64 reserve of each auction, finite and >= 0.
        pay_own_bid: ``(n_auctions,)`` bool, True where the auction is first price.
        width: columns of the result, >= every ``n_slots``.

    Returns:
        An :class:`Allocation` with arrays of shape ``(n_auctions, width)``; an auction's columns from
        ``n_slots[a]`` on stay empty.
    """
    if bids.size == 0:
        return _empty(bids.shape[1], width)
    return _clear_sorted(np.ascontiguousarray(bids), quality, reserve, width, pay_own_bid=pay_own_bid,
                         n_slots=n_slots)


def _clear_as(
    name: str, bids: np.ndarray, quality: np.ndarray, n_slots: object, reserve: float | np.ndarray, validate: bool
) -> Allocation:
    mechanism = MECHANISMS[name]
    slots = mechanism.check_slots(n_slots)
    return _clear(bids, quality, slots, reserve, pay_own_bid=mechanism.pays_own_bid, validate=validate)


def _as_slot_count(n_slots: object) -> int:
    if isinstance(n_slots, bool):
        # a bool is an int to Python; ValueError like every other bad count (noqa: not a type check)
        raise ValueError(f"n_slots must be an integer >= 1, got {n_slots!r}")  # noqa: TRY004
    try:
        count = operator.index(n_slots)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"n_slots must be an integer >= 1, got {n_slots!r}") from None
    if count < 1:
        raise ValueError(f"n_slots must be an integer >= 1, got {count}")
    return count


def _empty(n_auctions: int, width: int) -> Allocation:
    return Allocation(winners=np.full((n_auctions, width), -1, dtype=np.int64),
                      prices=np.zeros((n_auctions, width), dtype=np.float64))


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _validate(
    bids: np.ndarray, quality: np.ndarray, reserve: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray, float | np.ndarray]:
    """Check and convert the inputs; returns float64 bids, quality and the reserve.

    The reserve comes back as a Python float or an ``(n_auctions,)`` float64 array.
    """
    bids = np.asarray(bids, dtype=np.float64)
    quality = np.asarray(quality, dtype=np.float64)
    if bids.ndim != 2:
        raise ValueError(f"bids must be 2-D (n_bidders, n_auctions), got shape {bids.shape}")
    if quality.shape not in (bids.shape, bids.shape[:1]):
        raise ValueError(
            f"quality must have the shape of bids {bids.shape} or one score per bidder "
            f"{bids.shape[:1]}, got shape {quality.shape}"
        )
    if bids.size:
        # min/max propagate NaN, so two cheap reductions stand in for an elementwise isfinite pass.
        if not (np.isfinite(bids.min()) and np.isfinite(bids.max())):
            bidder, auction = _first_bad(~np.isfinite(bids))
            raise ValueError(
                f"bids[{bidder}, {auction}] = {bids[bidder, auction]} is not finite (bidder {bidder}, "
                f"auction {auction}); bids must be finite (a bid <= 0 means the bidder sits out)"
            )
        if not (quality.min() > 0.0 and np.isfinite(quality.max())):
            at = _first_bad(~(np.isfinite(quality) & (quality > 0.0)))
            raise ValueError(
                f"quality[{', '.join(map(str, at))}] = {quality[at]}; "
                "quality scores must be finite and > 0"
            )
    reserve_arr = np.asarray(reserve, dtype=np.float64)
    if reserve_arr.ndim == 0:
        value = float(reserve_arr)
        if not (np.isfinite(value) and value >= 0.0):
            raise ValueError(f"reserve = {value}; a reserve must be finite and >= 0")
        return bids, quality, value
    if reserve_arr.shape != (bids.shape[1],):
        raise ValueError(
            f"reserve must be a scalar or have shape (n_auctions,) = ({bids.shape[1]},), "
            f"got shape {reserve_arr.shape}"
        )
    bad = ~(np.isfinite(reserve_arr) & (reserve_arr >= 0.0))
    if bad.any():
        (auction,) = _first_bad(bad)
        raise ValueError(f"reserve[{auction}] = {reserve_arr[auction]}; a reserve must be finite and >= 0")
    return bids, quality, reserve_arr


def _clear(
    bids: np.ndarray,
    quality: np.ndarray,
    slots: int,
    reserve: float | np.ndarray,
    *,
    pay_own_bid: bool,
    validate: bool = True,
) -> Allocation:
    """Validate (unless told not to), then clear the batch by sorting or block by block (shared by all mechanisms)."""
    if validate:
        bids, quality, reserve = _validate(bids, quality, reserve)
    else:
        reserve = float(reserve) if np.ndim(reserve) == 0 else reserve
    n_bidders, n_auctions = bids.shape
    if n_auctions == 0 or n_bidders == 0:
        return _empty(n_auctions, slots)
    if n_auctions <= _SORT_MAX_AUCTIONS:
        quality = np.ascontiguousarray(quality)  # a quality matrix is read cell by cell like the bids
        return _clear_sorted(np.ascontiguousarray(bids), quality, reserve, slots, pay_own_bid=pay_own_bid)
    winners = np.full((n_auctions, slots), -1, dtype=np.int64)
    prices = np.zeros((n_auctions, slots), dtype=np.float64)
    block = max(1, _BLOCK_CELLS // n_bidders)
    for start in range(0, n_auctions, block):
        cols = slice(start, start + block)
        _clear_block(
            np.ascontiguousarray(bids[:, cols]),
            np.ascontiguousarray(quality[:, cols]) if quality.ndim == 2 else quality,
            reserve if isinstance(reserve, float) else reserve[cols],
            winners[cols],
            prices[cols],
            pay_own_bid=pay_own_bid,
        )
    return Allocation(winners=winners, prices=prices)


def _ranked(bids: np.ndarray, quality: np.ndarray, reserve: float | np.ndarray) -> np.ndarray:
    """Ad ranks ``(n_bidders, n_auctions)`` of C-ordered bids, -inf where the bidder sits out."""
    rank = bids * (quality[:, None] if quality.ndim == 1 else quality)
    np.putmask(rank, bids < np.maximum(reserve, _TINY), -np.inf)
    return rank


def _top_ranks(
    ranks: np.ndarray, n_indexed: int, n_values: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Select the best ``n_values`` ad ranks of every auction, in order.

    Repeated max-and-remove costs ``n_values`` passes over the matrix, cheaper than sorting every
    auction when few slots are sold, and its tie-break is exact: among equal maxima the lowest bidder
    index is taken first.

    Args:
        ranks: ``(n_bidders, n_auctions)`` C-ordered ad ranks, -inf for non-participants; overwritten.
        n_indexed: how many leading positions also need the bidder index (<= n_values).
        n_values: how many positions to select (<= n_bidders).

    Returns:
        ``(indices, values)``: ``indices[k]`` is the ``(n_auctions,)`` int64 bidder at position k
        (meaningless where ``values[k]`` is -inf), ``values[k]`` its ``(n_auctions,)`` ad rank.
    """
    n_bidders, n_auctions = ranks.shape
    # Weight n_bidders - j for bidder j: the max of weight * is_top picks the lowest tied index.
    weight = np.arange(n_bidders, 0, -1, dtype=np.min_scalar_type(n_bidders))[:, None]
    flat = ranks.reshape(-1)
    columns = np.arange(n_auctions, dtype=np.int64)
    indices: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for k in range(n_values):
        top = ranks.max(axis=0)
        values.append(top)
        if k >= n_indexed:
            continue
        code = ((ranks == top) * weight).max(axis=0)
        index = n_bidders - code.astype(np.int64)
        indices.append(index)
        if k + 1 < n_values:
            flat[index * n_auctions + columns] = -np.inf
    return indices, values


def _clear_block(
    bids: np.ndarray,
    quality: np.ndarray,
    reserve: float | np.ndarray,
    winners: np.ndarray,
    prices: np.ndarray,
    *,
    pay_own_bid: bool,
) -> None:
    """Clear one block of auctions into ``winners`` / ``prices`` (pre-filled with -1 / 0).

    ``bids`` is ``(n_bidders, n_auctions)`` C-ordered; ``quality`` is ``(n_bidders,)`` or a C-ordered
    matrix like the bids.
    """
    n_bidders, n_auctions = bids.shape
    n_filled = min(winners.shape[1], n_bidders)
    # A second-price slot needs the ad rank just below it; a first-price one does not.
    n_values = n_filled if pay_own_bid else min(winners.shape[1] + 1, n_bidders)
    indices, values = _top_ranks(_ranked(bids, quality, reserve), n_filled, n_values)

    columns = np.arange(n_auctions, dtype=np.int64)  # (bidder j, auction a) is cell j * n_auctions + a
    flat_bids = bids.reshape(-1)
    per_bidder = quality.ndim == 1
    flat_quality = quality.reshape(-1)
    # One pass per slot (a handful), each vectorized over the block.
    for k in range(n_filled):
        taken = values[k] > -np.inf
        cell = indices[k] * n_auctions + columns
        own_bid = flat_bids[cell]
        if pay_own_bid:
            price = own_bid
        else:
            # -inf (nobody below) becomes 0, so the price falls back to the reserve.
            if k + 1 < n_values:
                price = np.maximum(values[k + 1], 0.0)
                np.divide(price, flat_quality[indices[k] if per_bidder else cell], out=price)
            else:
                price = np.zeros(n_auctions)
            np.maximum(price, reserve, out=price)
            np.minimum(price, own_bid, out=price)
        np.copyto(winners[:, k], indices[k], where=taken)
        np.copyto(prices[:, k], price, where=taken)


def _clear_sorted(
    bids: np.ndarray,
    quality: np.ndarray,
    reserve: float | np.ndarray,
    width: int,
    *,
    pay_own_bid: bool | np.ndarray,
    n_slots: np.ndarray | None = None,
) -> Allocation:
    """Clear a batch with one stable sort per auction; the same result as the block path, in fewer calls.

    Sorting the negated ad ranks ascending, stably, puts the best first and equal ones in bidder
    order, which is exactly the order repeated max-and-remove (lowest tied index first) produces;
    prices are then computed from the same numbers by the same operations, so they match bit for bit.

    Args:
        bids: ``(n_bidders, n_auctions)`` C-ordered float64, n_bidders and n_auctions >= 1.
        quality: ``(n_bidders,)`` or C-ordered ``(n_bidders, n_auctions)`` float64.
        reserve: a float or ``(n_auctions,)`` float64.
        width: slots per auction (columns of the result).
        pay_own_bid: first price (True) or second price (False), for all auctions or ``(n_auctions,)``.
        n_slots: ``(n_auctions,)`` slots of each auction (<= width), or None for ``width`` everywhere.
    """
    n_bidders, n_auctions = bids.shape
    n_filled = min(width, n_bidders)
    # A second-price slot needs the ad rank just below it; a first-price one does not.
    n_values = n_filled if pay_own_bid is True else min(width + 1, n_bidders)
    key = _ranked(bids, quality, reserve)
    np.negative(key, out=key)  # ascending keys are descending ad ranks
    # Each auction's bidders in rank order, (n_auctions, n_values); cells are gathered by flat index
    # (take_along_axis costs twice as much): (bidder j, auction a) is cell j * n_auctions + a.
    order = np.argsort(key.T, axis=1, kind="stable")[:, :n_values]
    cell = order * n_auctions
    cell += np.arange(n_auctions)[:, None]
    values = key.reshape(-1)[cell]
    np.negative(values, out=values)  # ad ranks best first, -inf past the last participant
    winners = order[:, :n_filled]
    own_bid = bids.reshape(-1)[cell[:, :n_filled]]
    if pay_own_bid is True:
        prices = own_bid
    else:
        # -inf (nobody below) becomes 0, so the price falls back to the reserve.
        prices = np.zeros((n_auctions, n_filled))
        np.maximum(values[:, 1:n_values], 0.0, out=prices[:, : n_values - 1])
        own_quality = quality[winners] if quality.ndim == 1 else quality.reshape(-1)[cell[:, :n_filled]]
        np.divide(prices, own_quality, out=prices)
        np.maximum(prices, reserve[:, None] if isinstance(reserve, np.ndarray) else reserve, out=prices)
        np.minimum(prices, own_bid, out=prices)
        if pay_own_bid is not False:
            np.copyto(prices, own_bid, where=pay_own_bid[:, None])
    empty = values[:, :n_filled] == -np.inf
    if n_slots is not None:
        empty |= np.arange(n_filled) >= n_slots[:, None]
    np.putmask(winners, empty, -1)
    np.putmask(prices, empty, 0.0)
    if n_filled < width:
        winners = np.concatenate([winners, np.full((n_auctions, width - n_filled), -1, np.int64)], axis=1)
        prices = np.concatenate([prices, np.zeros((n_auctions, width - n_filled))], axis=1)
    return Allocation(winners=winners, prices=prices)
