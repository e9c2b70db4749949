"""The ad platform: clears each channel's auctions and stops advertisers whose budget is spent.

Clearing is per channel (each has its mechanism, slots and reserve) on the hour's bid matrix. Costs
are per click, so whether a budget holds is known only once the clicks are: `clear_within_budgets`
clears, asks the world who clicked, and when an advertiser's spend would pass its remaining budget,
withdraws its bids from the auction where it runs out onward (opportunities are in time order) and
clears again. An advertiser's own live monitoring (`watch`) can withdraw its bids the same way, from
the opportunity where it reacts to what it was charged. Each pass only zeroes bids (at least one), so
the loop ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gaelp.config import ChannelConfig
from gaelp.market import mechanisms

# Hours of up to this many opportunities are cleared in one pass over all channels
# (`mechanisms.clear_mixed`, one sort of each opportunity's bidders): a dozen numpy calls where clearing
# channel by channel makes dozens, at a higher cost per opportunity. Measured (3 channels, 6 bidders):
# 2.3x faster at 140 opportunities, 1.15x at 1,000, 0.7x at 1,500; larger hours are cleared channel by
# channel, each channel's mechanism picking its own path by size (see `mechanisms`).
_ONE_PASS_MAX = 1024


@dataclass(frozen=True, slots=True)
class Cleared:
    """An hour's impressions after budgets hold: one row per filled slot, in time order.

    Attributes:
        row: (k,) opportunity index.  slot: (k,) slot index.  advertiser: (k,) bidder index.
        price: (k,) price per click.  clicked: (k,) bool.  cost: (k,) price where clicked.
        ctr: (k,) the world's click probability of each impression (ground truth, never shown to bidders).
        bids: (n_bidders, n) the bids that were finally in force (bidder-major, as the mechanisms take them).
    """

    row: np.ndarray
    slot: np.ndarray
    advertiser: np.ndarray
    price: np.ndarray
    clicked: np.ndarray
    cost: np.ndarray
    ctr: np.ndarray
    bids: np.ndarray


class Charge(NamedTuple):
    """Importance sampling's charges (None in a plain world), per opportunity (n,).

    Attributes:
        weight: its person's importance weight w: an impression of it costs w times what a plain one
            costs on average.
        draw: a uniform that picks which impressions charge their price (`charged_impressions`).
    """

    weight: np.ndarray
    draw: np.ndarray


def charged_impressions(weight: np.ndarray, draw: np.ndarray, clicked: np.ndarray, ctr: np.ndarray) -> np.ndarray:
    """(k,) bool: the impressions that charge their price against a budget (where it does not fit, the
    budget ends there).

    An impression of weight w stands for w plain ones, so it must charge a price (a plain click's) w *
    ctr times per impression on average, and budgets near their end must end at that rate too: a light
    click (w < 1) charges with probability w (else it is free); a heavy impression (w > 1) charges when
    clicked and, unclicked, with probability (w - 1) * ctr / (1 - ctr) (a plain click that this world
    does not draw). A budget so runs down by the plain world's prices at the plain world's rate, whose
    last step ends it. Charging every click w prices and ending budgets at every click whose price does
    not fit ended budgets 1/w times too often on light clicks: the world stopped early (measured in
    docs/montecarlo.md, "Importance sampling").

    Args:
        weight, draw: (k,) each impression's `Charge` fields.  clicked, ctr: (k,) the world's response.
    """
    return np.where(clicked, (weight >= 1.0) | (draw < weight),
                    (weight > 1.0) & (draw * (1.0 - ctr) < (weight - 1.0) * ctr))


# Where an importance-sampled advertiser's budget ends in a pass (`Market._budget_end`), as indices among
# its impressions: (clicks withdrawn alone, the impression from which it is withdrawn (-1: none), 1 if from
# the one after it).
BudgetEnd = tuple[np.ndarray, int, int]
_NO_ROWS = np.zeros(0, np.int64)

# respond(row, slot, advertiser) -> (clicked, click probability): the world's response to impressions.
Respond = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
# watch(row, advertiser, price, clicked) -> (n_bidders,) int64: the opportunity from which each advertiser
# withdraws its bids after seeing its own charges in time order (n or more: it does not).
Watch = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
# screen(row, advertiser, price) -> (k,) bool: the impressions of a pass (batch rows) that a world's watch may
# react to; a world with none of them flagged must be one whose watch would ask for nothing and change nothing.
WatchScreen = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class Market:
    """Per-channel auctions over a shared bid matrix.

    Args:
        channels: channel configs (mechanism, slots, reserve).
        quality: (n_bidders,) creative quality of each bidder's ad (the platform's quality score).
    """

    def __init__(self, channels: tuple[ChannelConfig, ...], quality: np.ndarray) -> None:
        self.mechanisms = [mechanisms.get_mechanism(c.mechanism) for c in channels]
        self.slots = [m.check_slots(c.slots) for m, c in zip(self.mechanisms, channels)]
        self.max_slots = max(self.slots)
        self.reserve = np.array([c.reserve for c in channels])
        self.quality = np.asarray(quality, dtype=np.float64)
        # (n_bidders,) what the platform charges each bidder per unit of auction price; None: the price
        # itself (a fault injection sets it to test our safety against a billing fault)
        self.price_mult: np.ndarray | None = None
        if not (self.quality.ndim == 1 and np.isfinite(self.quality).all() and (self.quality > 0).all()):
            raise ValueError(f"quality must be one finite score > 0 per bidder, got {self.quality.tolist()}")
        # per channel, for clearing all channels in one pass
        self._slot_count = np.array(self.slots)
        self._pays_own_bid = np.array([m.pays_own_bid for m in self.mechanisms])

    def clear(self, channel: np.ndarray, bids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Winners and prices per slot.

        Args:
            channel: (n,) channel index per opportunity.
            bids: (n_bidders, n) bids per click.

        Returns:
            winners (n, max_slots) int64 (-1 empty) and prices (n, max_slots) float64.
        """
        bids = self._checked(channel, bids)
        return self._clear(channel, bids)

    def _checked(self, channel: np.ndarray, bids: np.ndarray) -> np.ndarray:
        """The bids as float64, after checking their shape and that they are finite."""
        bids = np.asarray(bids, dtype=np.float64)
        if bids.shape != (self.quality.size, channel.shape[0]):
            raise ValueError(f"bids must have shape (n bidders, n opportunities) = "
                             f"({self.quality.size}, {channel.shape[0]}), got {bids.shape}")
        # checked here once for the hour, so the mechanisms need not check each channel's share again
        if bids.size and not (math.isfinite(bids.min()) and math.isfinite(bids.max())):
            j, row = np.argwhere(~np.isfinite(bids))[0]
            raise ValueError(f"bids[{j}, {row}] = {bids[j, row]} is not finite (bidder {j}, opportunity {row})")
        return bids

    def _clear(self, channel: np.ndarray, bids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`clear` of float64 bids already checked (a later pass of `clear_within_budgets`)."""
        n = channel.shape[0]
        if 0 < n <= _ONE_PASS_MAX and self.quality.size:
            return self._clear_one_pass(channel, bids)
        winners = np.full((n, self.max_slots), -1, np.int64)
        prices = np.zeros((n, self.max_slots))
        for c, mech in enumerate(self.mechanisms):
            idx = np.flatnonzero(channel == c)
            if idx.size == 0:
                continue
            mine = np.take(bids, idx, axis=1)
            alloc = mech.clear(mine, self.quality, self.slots[c], float(self.reserve[c]), validate=False)
            winners[idx, : self.slots[c]] = alloc.winners
            prices[idx, : self.slots[c]] = alloc.prices
        return winners, prices

    def _clear_one_pass(self, channel: np.ndarray, bids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All channels' auctions in one `clear_mixed` pass (n >= 1); each row's result is its own."""
        ch = channel.astype(np.intp)  # one cast: gathers by an int8 index would each convert it again
        alloc = mechanisms.clear_mixed(bids, self.quality, self._slot_count.take(ch), self.reserve.take(ch),
                                       self._pays_own_bid.take(ch), self.max_slots)
        return alloc.winners, alloc.prices

    def clear_within_budgets(self, channel: np.ndarray, bids: np.ndarray, remaining: np.ndarray,
                             respond: Respond, charge: Charge | None = None,
                             watch: Watch | None = None) -> Cleared:
        """Clear, then withdraw advertisers from the point their budget runs out, until all hold.

        Args:
            channel: (n,) channel per opportunity (rows in time order).
            bids: (n_bidders, n) bids; not modified.
            remaining: (n_bidders,) budget left today.
            respond: the world's click model for impressions.
            charge: importance sampling's weights and draws per opportunity (`Charge`): which impressions
                cost their price (`charged_impressions`); None: every click costs its price.
            watch: advertisers' live monitoring of their own impressions (see `Watch`); None: none.

        With `charge`, the impressions that `charged_impressions` picks (w * ctr of an impression of weight w,
        on average) cost their price, and a budget ends at the first of them whose price does not fit in
        what is left: budgets run down by the plain world's prices at its rate and end as its budgets
        end, so the world stops where a plain one does, in law (`_budget_end`).
        """
        bids = np.array(bids, dtype=np.float64)
        n = bids.shape[1]
        exhausted = remaining <= 0
        if exhausted.any():
            bids[exhausted] = 0.0
        n_bidders = bids.shape[0]
        # an advertiser already at or past its budget has no bids left, so no spend to cut
        limit = np.maximum(remaining, 0.0) + 1e-9
        done = 0  # rows before `done` are final: their bids did not change in later passes
        parts: list[tuple[np.ndarray, ...]] = []
        while True:
            # the first pass checks the hour's bids; later ones clear the same bids with some zeroed
            winners, prices = self._clear(channel[done:], bids[:, done:]) if done else self.clear(channel, bids)
            row, slot, adv, price, clicked, cost, ctr, ends = self._impressions(
                winners, prices, respond, charge, offset=done)
            fields: tuple[np.ndarray, ...] = (row, slot, adv, price, clicked, cost, ctr)
            if charge is None:
                spend = np.bincount(adv, weights=cost, minlength=n_bidders)
                if parts:  # the earlier passes' final rows, added in the order they were cut
                    spend = sum((np.bincount(p[2], weights=p[5], minlength=n_bidders) for p in parts), spend)
                over = np.flatnonzero(spend > limit)
                first_over: dict[int, BudgetEnd | int] = {
                    int(j): self._first_over(cost, adv == j, parts, j, remaining[j]) for j in over.tolist()}
            else:
                first_over = dict(self._budget_end(adv, cost, price, clicked, ends, parts, remaining))
            stop = _withdrawals(watch(row, adv, price, clicked), bids, n) if watch is not None else {}
            if not first_over and not stop:
                if parts:
                    parts.append(fields)
                    fields = tuple(np.concatenate(f) for f in zip(*parts))
                row, slot, adv, price, clicked, cost, ctr = fields
                return Cleared(row, slot, adv, price, clicked, cost, ctr, bids)
            cut = row.max(initial=done) + 1
            for j, end in first_over.items():
                cut = min(cut, _withdraw(bids, j, row[adv == j], end, n))
            for j, r0 in stop.items():
                bids[j, r0:] = 0.0
                cut = min(cut, r0)
            keep = row < cut
            parts.append(tuple(f[keep] for f in fields))
            done = cut

    def _impressions(self, winners: np.ndarray, prices: np.ndarray, respond: Respond, charge: Charge | None,
                     offset: int = 0, rows: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """One pass's impressions in time order, then slot: (row, slot, advertiser, price, clicked, cost,
        click probability, and which charge (`charged_impressions`; all clicks without `charge`)).

        Args:
            winners, prices: (n_rows, max_slots) of the pass (`_clear`).
            respond: the world's click model.  charge: importance sampling's charges, or None.
            offset: the hour's row of the pass's first row.  rows: the hour's rows of the pass's rows
                (instead of `offset`).
        """
        filled = np.flatnonzero(winners.reshape(-1) >= 0)  # row-major: time order, then slot
        row, slot = np.divmod(filled, self.max_slots)
        adv = winners.reshape(-1)[filled]
        price = prices.reshape(-1)[filled]
        if self.price_mult is not None:
            price = price * self.price_mult[adv]
        if rows is not None:
            row = rows[row]
        elif offset:
            row += offset
        clicked, ctr = respond(row, slot, adv)
        ends = clicked if charge is None else charged_impressions(charge.weight[row], charge.draw[row], clicked, ctr)
        return row, slot, adv, price, clicked, np.where(ends, price, 0.0), ctr, ends

    @staticmethod
    def _first_over(cost: np.ndarray, mine: np.ndarray, parts: list[tuple[np.ndarray, ...]], j: int,
                    remaining: float) -> int:
        """Index among advertiser j's impressions (`mine`) of the first that takes its spend, counting the
        rows already final (`parts`), past `remaining`."""
        before = sum(float(p[5][p[2] == j].sum()) for p in parts)
        cum = before + np.cumsum(cost[mine])
        return int(np.searchsorted(cum, remaining + 1e-9, side="right"))

    @staticmethod
    def _budget_end(adv: np.ndarray, cost: np.ndarray, price: np.ndarray, clicked: np.ndarray, ends: np.ndarray,
                    parts: list[tuple[np.ndarray, ...]], remaining: np.ndarray) -> dict[int, BudgetEnd]:
        """With importance charges: per advertiser with one, where its budget ends (indices among its
        impressions): the first that charges (`ends`, `charged_impressions`) whose price does not fit in what is
        left after the charges before it (the rows already final, `parts`, included), withdrawn from its
        own row if clicked, from the next if not (it stands for a plain click this world does not draw);
        and the free clicks before it whose price does not fit, withdrawn alone (there a plain click is
        not shown: it fits or ends the budget). An unclicked end is shown: its `cost` is zeroed in place."""
        out: dict[int, BudgetEnd] = {}
        for j in np.unique(adv[ends | clicked]).tolist():
            mine = np.flatnonzero(adv == j)
            left = float(remaining[j]) - sum(float(p[5][p[2] == j].sum()) for p in parts) + 1e-9
            c, e = cost[mine], ends[mine]
            unfit = (np.cumsum(c) - c + price[mine] > left)
            first = np.flatnonzero(e & unfit)
            end = int(first[0]) if first.size else mine.size
            skip = np.flatnonzero((clicked[mine] & ~e & unfit)[:end])
            after = int(first.size > 0 and not clicked[mine[end]])
            if after:  # shown, unclicked: it charges nothing
                cost[mine[end]] = 0.0
            if first.size or skip.size:
                out[j] = (skip, end if first.size else -1, after)
        return out

    def clear_worlds(self, bounds: np.ndarray, channel: np.ndarray, bids: np.ndarray, remaining: np.ndarray,
                     respond: Respond, charge: Charge | None = None,
                     watch: Sequence[Watch | None] | None = None, screen: WatchScreen | None = None) -> Cleared:
        """`clear_within_budgets` of a batch of worlds' hours at once, each world's rows as it clears them alone.

        The rows are world-major: world w holds rows `bounds[w]:bounds[w + 1]`, in its own time order, and
        its auctions, budgets and clicks are its own. The passes of `clear_within_budgets` run in
        lockstep: each clears the rows not yet final of every world still cutting budgets in one array
        program (by the path the batch's size picks: `clear_mixed` and the mechanisms give every auction
        the same result to the last bit, tested in `test_mechanisms`) and asks `respond` once; only the
        search for where an advertiser's budget runs out is done per world (by `clear_within_budgets`' own
        helpers on the world's rows: with a charge, `_budget_end`), and each world's `watch` sees its own
        slice of every pass it takes part in (its rows, as alone). A world goes on to the next pass while
        it has an advertiser over budget or a withdrawal its watch asks for, as alone. Every sum adds the same numbers in the same order as the world alone, so the
        result, cut at `bounds`, is bit for bit what each world gets alone (a test checks it).

        Args:
            bounds: (W + 1,) int row offsets of the worlds, non-decreasing, from 0 to n.
            channel: (n,) channel per opportunity.
            bids: (n_bidders, n) bids; not modified.
            remaining: (W, n_bidders) budget left today per world and advertiser.
            respond: the worlds' click model for impressions, given batch rows (sorted).
            charge: (n,) per opportunity, importance sampling's weights and draws (see `clear_within_budgets`);
                None: a click costs the price.
            watch: (W,) each world's live monitoring (`Watch`, rows local to the world; None: none), or
                None for no watch in any world.
            screen: which impressions of a pass any watch may react to (`WatchScreen`, one call per pass):
                only the worlds with one of them are asked (None: every world with a watch).

        Returns:
            The batch's impressions, world-major (`row` indexes the batch); `bids` (n_bidders, n).
        """
        bounds = np.asarray(bounds, dtype=np.int64)
        n_worlds, n_bidders = remaining.shape
        if watch is not None and len(watch) != n_worlds:
            raise ValueError(f"watch must hold one entry (or None) per world: {len(watch)} for {n_worlds} worlds")
        world = np.repeat(np.arange(n_worlds), np.diff(bounds))
        bids = np.array(self._checked(channel, bids), dtype=np.float64)
        exhausted = remaining <= 0
        if exhausted.any():
            bids[exhausted[world].T] = 0.0
        limit = np.maximum(remaining, 0.0) + 1e-9
        done = bounds[:-1].copy()  # (W,) each world's rows before done[w] are final
        active = np.arange(n_worlds)  # the worlds whose budgets are still being cut
        final: list[list[np.ndarray]] = []
        parts: list[list[np.ndarray]] = []  # per pass, the rows it made final in the worlds that went on
        part_spend: list[np.ndarray] = []  # per pass, (W, n_bidders) spend of those rows
        idx: np.ndarray | None = None  # the rows of this pass (None: all)
        while True:
            winners, prices = self._clear(channel, bids) if idx is None else self._clear(channel[idx], bids[:, idx])
            row, slot, adv, price, clicked, cost, ctr, ends = self._impressions(
                winners, prices, respond, charge, rows=idx)
            fields = [row, slot, adv, price, clicked, cost, ctr]
            cuts = np.searchsorted(row, bounds).tolist()
            part_cuts = [np.searchsorted(p[0], bounds).tolist() for p in parts]

            # per world, {advertiser: index among its impressions of this pass of the first that ends its
            # budget}, found as `clear_within_budgets` finds it alone, on the world's own rows
            first_over: dict[int, dict[int, BudgetEnd | int]] = {}
            if charge is None:
                # a bincount adds each cell's costs in row order, and the passes' totals in pass order: as alone
                spend = np.bincount(world[row] * n_bidders + adv, weights=cost,
                                    minlength=n_worlds * n_bidders).reshape(n_worlds, n_bidders)
                for earlier in part_spend:
                    spend = spend + earlier
                for w in active[(spend[active] > limit[active]).any(axis=1)].tolist():
                    w_adv, w_cost, w_parts = _world_slice(w, cuts, adv, cost, parts, part_cuts)
                    first_over[w] = {j: self._first_over(w_cost, w_adv == j, w_parts, j, remaining[w, j])
                                     for j in np.flatnonzero(spend[w] > limit[w]).tolist()}
            else:
                for w in active.tolist():
                    w_adv, w_cost, w_parts = _world_slice(w, cuts, adv, cost, parts, part_cuts)  # w_cost: a view
                    a, b = cuts[w], cuts[w + 1]
                    found = self._budget_end(w_adv, w_cost, price[a:b], clicked[a:b], ends[a:b], w_parts,
                                             remaining[w])
                    if found:
                        first_over[w] = dict(found)
            watching = active if watch is None or screen is None else \
                np.intersect1d(active, world[row[screen(row, adv, price)]])
            stops = self._watched(watch, watching, bounds, cuts, bids, (row, adv, price, clicked))
            going_on = active[[w in first_over or bool(stops.get(w)) for w in active.tolist()]]
            if going_on.size < active.size:  # the pass's rows of the worlds that stop here are final
                if going_on.size:
                    stopping = np.ones(n_worlds, bool)  # a lookup by world: np.isin sorted every row of the pass
                    stopping[going_on] = False
                    done_rows = np.flatnonzero(stopping[world[row]])
                    final.append([f[done_rows] for f in fields])
                else:
                    final.append(fields)
            if going_on.size == 0:
                break
            kept = []
            for w in going_on.tolist():
                a, b = cuts[w], cuts[w + 1]
                r, j_adv = row[a:b], adv[a:b]
                cut = int(r.max(initial=done[w])) + 1
                for j, end in first_over.get(w, {}).items():
                    cut = min(cut, _withdraw(bids, j, r[j_adv == j], end, int(bounds[w + 1])))
                for j, r0 in stops.get(w, {}).items():
                    bids[j, bounds[w] + r0:bounds[w + 1]] = 0.0
                    cut = min(cut, int(bounds[w]) + r0)
                kept.append(np.arange(a, b)[r < cut])
                done[w] = cut
            keep = np.concatenate(kept)
            part = [f[keep] for f in fields]
            parts.append(part)
            final.append(part)
            if charge is None:
                part_spend.append(np.bincount(world[part[0]] * n_bidders + part[2], weights=part[5],
                                              minlength=n_worlds * n_bidders).reshape(n_worlds, n_bidders))
            active = going_on
            idx = np.concatenate([np.arange(done[w], bounds[w + 1]) for w in active.tolist()])
        fields = [np.concatenate(f) for f in zip(*final, strict=True)] if len(final) > 1 else final[0]
        if len(final) > 1:
            order = np.argsort(fields[0] * self.max_slots + fields[1], kind="stable")
            fields = [f[order] for f in fields]
        row, slot, adv, price, clicked, cost, ctr = fields
        return Cleared(row, slot, adv, price, clicked, cost, ctr, bids)

    @staticmethod
    def _watched(watch: Sequence[Watch | None] | None, active: np.ndarray, bounds: np.ndarray, cuts: list[int],
                 bids: np.ndarray, fields: tuple[np.ndarray, ...]) -> dict[int, dict[int, int]]:
        """{world: {advertiser: first row, local}} of the withdrawals the watches of worlds `active` ask for
        in a pass of `clear_worlds` (`fields`: the pass's batch rows, advertisers, prices and clicks)."""
        out: dict[int, dict[int, int]] = {}
        if watch is None:
            return out
        for w in active.tolist():
            if watch[w] is None:
                continue
            lo, hi, a, b = int(bounds[w]), int(bounds[w + 1]), cuts[w], cuts[w + 1]
            row, adv, price, clicked = (f[a:b] for f in fields)
            out[w] = _withdrawals(watch[w](row - lo, adv, price, clicked), bids[:, lo:hi], hi - lo)
        return out


def _world_slice(w: int, cuts: list[int], adv: np.ndarray, cost: np.ndarray, parts: list[list[np.ndarray]],
                 part_cuts: list[list[int]]) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, ...]]]:
    """World w's advertisers and costs of a `clear_worlds` pass (cut at `cuts`) and its slices of the earlier
    passes' final rows (each cut at its `part_cuts`): what `clear_within_budgets` alone has of that world."""
    a, b = cuts[w], cuts[w + 1]
    return adv[a:b], cost[a:b], [tuple(f[pc[w]:pc[w + 1]] for f in p) for p, pc in zip(parts, part_cuts, strict=True)]


def _withdraw(bids: np.ndarray, j: int, rows: np.ndarray, end: BudgetEnd | int, hi: int) -> int:
    """Zero advertiser j's bids where its budget ends (`end`: an index among its impressions `rows`, from
    which on it is withdrawn, or a `BudgetEnd`) up to row `hi`; returns the first row changed (hi: none)."""
    skip, first, after = (_NO_ROWS, end, 0) if isinstance(end, int) else end
    cut = hi
    if skip.size:
        bids[j, rows[skip]] = 0.0
        cut = int(rows[skip[0]])
    if first >= 0:
        r0 = int(rows[first]) + after
        bids[j, r0:hi] = 0.0
        cut = min(cut, r0)
    return cut


def _withdrawals(stop: np.ndarray, bids: np.ndarray, n: int) -> dict[int, int]:
    """{advertiser: first row} of the withdrawals `watch` asks for that still remove a bid."""
    return {int(j): int(stop[j]) for j in np.flatnonzero(np.asarray(stop) < n) if bids[j, int(stop[j]):].any()}
