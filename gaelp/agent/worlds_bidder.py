"""Our bidders of a batch's campaigns (one `AgentBidder` per world), bidding and learning as one.

The vector env steps its worlds as one `BatchedWorlds`, which asks `WorldsAgent` for every world's bids
of the hour in one call and hands it every world's outcome in one call (`gaelp.bidders.worlds.WorldsBidder`).
A world-hour has about 21 opportunities and 0.2 clicks, so nearly all of a bidder's hour is numpy's fixed
cost per call; here the journey tables are read and updated once for all worlds (`WorldsEncoder`), the
feature rows, estimates and bids are one array program over every world's rows, and only what is each
world's own runs world by world: the value model's product by its weights (one per world, on the world's
own rows), the clicks' and purchases' logs (in the few hours that have them), the report, the reward and
the refit.

Exactness: each world gets, bit for bit, the bids, logs, reports and rewards its bidder gives alone
(elementwise arithmetic on longer arrays, each world's matrix product on its own rows; tested against
the worlds bidding alone). Where the tables cannot be read as one (an encoder grew past the devices it
expected), or the worlds' estimates differ in kind (some on a log-link prior, some not), or the bidders keep the
bid-request history, each world's bidder bids and observes alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
from scipy.special import expit

from gaelp.agent.bidder import AgentBidder, bid_multipliers
from gaelp.agent.encoder import WorldsEncoder
from gaelp.bidders.protocol import BidderOutcome
from gaelp.bidders.worlds import SlotOutcomes, WorldRows

# report(rows, columns, p, conv_weight): every world's hour into the reports (`WorldsStats.observe_rows`)
Report = Callable[[WorldRows, Sequence[np.ndarray], np.ndarray, Sequence[np.ndarray]], None]


class WorldsAgent:
    """Every world's `AgentBidder.bid` and `observe` at once (`gaelp.bidders.worlds.WorldsBidder`).

    Args:
        bidders: each world's bidder, of one market (the same channels and value model's terms).
        report: if given, every world's hour is reported through it at once, from the batch's columns
            (`WorldsStats.observe_rows`'s arguments), not by each bidder (whose reports it then holds: the vector
            env's, `AgentBidder.defer_report`).
    """

    def __init__(self, bidders: Sequence[AgentBidder], report: Report | None = None) -> None:
        self.bidders, self.report = list(bidders), report
        self.encoder = WorldsEncoder([b.encoder for b in self.bidders])
        self.target_cpa = np.array([b.target_cpa for b in self.bidders])
        self.bid_level = np.array([b.bid_level for b in self.bidders])[:, None]
        self.n_ctx = self.bidders[0].action.size - 1
        # every world's estimates from the log-link prior (each world's on its own rows), or from value models on
        # the same terms (one `terms` for every world's rows); a mix bids world by world
        self.loglink = all(b.loglink is not None for b in self.bidders)
        self.same_terms = self.loglink or (len({(b.value.n_channels, b.value.w.size) for b in self.bidders}) == 1
                                           and all(b.loglink is None for b in self.bidders))
        # bidders that keep the bid-request history (`AgentBidder(requests=True)`) bid and observe world by world
        self.same_terms &= all(b.requests is None for b in self.bidders)
        self._hour: tuple[int, np.ndarray, np.ndarray] | None = None  # (t, x, p) of every world's rows

    def bid(self, rows: WorldRows) -> list[np.ndarray]:
        """Each world's `AgentBidder.bid` of its rows (a world without opportunities: empty, its bidder not
        asked, as `BatchedWorlds` does alone)."""
        t, cut = rows.t, list(itertools.pairwise(rows.bounds.tolist()))
        if not (self.same_terms and self.encoder.ready(rows.device)):
            self._hour = None
            return [b.bid(batch) if batch.size else np.zeros(0)
                    for b, batch in zip(self.bidders, rows.batches, strict=True)]
        for b, (lo, hi) in zip(self.bidders, cut, strict=True):
            if hi > lo:
                b.choose_action(t)
        x, converted = self.encoder.features_and_converted(rows)
        p = self._estimates(x, converted, cut)
        self._hour = (t, x, p)
        for b, (lo, hi) in zip(self.bidders, cut, strict=True):
            if hi > lo:
                b.keep_features(t, x[lo:hi], p[lo:hi])
        # `AgentBidder.multipliers` and `hour_factor` of every world, then its bids' product in the same order
        mult = bid_multipliers(np.stack([b.action for b in self.bidders]), self.bid_level)
        factor = np.array([b.hour_factor(t) for b in self.bidders])
        w = rows.world
        bids = (self.target_cpa[w] * p) * (mult.reshape(-1)[w * self.n_ctx + rows.context] * factor[w])
        return [bids[lo:hi] for lo, hi in cut]

    def _estimates(self, x: np.ndarray, converted: np.ndarray, cut: list[tuple[int, int]]) -> np.ndarray:
        """(N,) every world's `AgentBidder.estimate` of its rows `cut` of `x` (N, d), each as its bidder gives it
        alone: the log-link prior's world by world, the value models' terms once and each world's product by its
        own weights on its own rows."""
        if self.loglink:
            p = np.empty(x.shape[0])
            for b, (lo, hi) in zip(self.bidders, cut, strict=True):
                p[lo:hi] = b.estimate(x[lo:hi], converted[lo:hi])
            return p
        terms = self.bidders[0].value.terms(x)
        eta = np.empty(x.shape[0])
        for b, (lo, hi) in zip(self.bidders, cut, strict=True):
            if hi > lo:  # each world's own weights on its own rows (one product each, as alone)
                eta[lo:hi] = terms[lo:hi] @ b.value.w
        return np.where(converted, 0.0, expit(eta))

    def observe(self, outcomes: SlotOutcomes) -> None:
        """Each world's `AgentBidder.observe` of its outcome of the hour."""
        rows = outcomes.rows
        worlds: Sequence[BidderOutcome] = outcomes
        if self._hour is None or self._hour[0] != rows.t or not self.encoder.ready(rows.device):
            for b, o in zip(self.bidders, worlds, strict=True):
                b.observe(o)
            return
        _, x, p = self._hour
        self._hour = None
        _, slot, _, clicked, _ = outcomes.columns
        cut = rows.bounds.tolist()
        clicks = np.flatnonzero(clicked)
        at = np.searchsorted(clicks, cut).tolist()  # each world's clicks, as indices into its own rows
        spans = list(itertools.pairwise(cut))
        mine = [clicks[at[w]:at[w + 1]] - lo for w, (lo, _) in enumerate(spans)]
        for b, batch, c, (lo, hi) in zip(self.bidders, rows.batches, mine, spans, strict=True):
            b.record_clicks(batch, x[lo:hi], c)
        won = np.flatnonzero(slot >= 0)
        if won.size:
            self.encoder.touch(rows, won, clicked[won])
        if self.report is not None:  # every world's report of its hour at once
            self.report(rows, outcomes.columns, p, [pixel[3] for pixel in outcomes.pixels])
        for w, (b, c, (lo, hi)) in enumerate(zip(self.bidders, mine, spans, strict=True)):
            o = worlds[w]
            b.encoder.mark_converted(o.conv_device)
            b.close_hour(o, p[lo:hi], c, report=self.report is None)
