"""Many small worlds as one array program: worlds of one config stepped together, hour by hour.

A 10,000-person world spends much of each simulated hour in fixed per-call costs (a numpy call costs
microseconds whatever its size, and an hour makes hundreds), so W worlds cost about W times one. A batch
steps its worlds in lockstep through the three phases of `Simulation`'s hour (`open_hour`, clearing,
`close_hour`) and runs the stages that take a world axis once for the whole batch: today the market's
clearing (`Market.clear_worlds`: one auction pass over every world's opportunities, budgets per world and
advertiser). The other stages still run world by world; docs/montecarlo.md lists what moves next.

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

from collections.abc import Callable, Sequence

import numpy as np

from gaelp.market.clearing import Cleared, Respond
from gaelp.records import DayLog, HourRecord
from gaelp.simulation import Clearing, Simulation


def _batch_respond(bounds: np.ndarray, responds: Sequence[Respond]) -> Respond:
    """The worlds' click models as one, over batch rows (sorted, world-major): each world answers its rows."""

    def respond(row: np.ndarray, slot: np.ndarray, adv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cut = np.searchsorted(row, bounds)
        answers = [responds[w](row[a:b] - bounds[w], slot[a:b], adv[a:b])
                   for w, (a, b) in enumerate(zip(cut[:-1].tolist(), cut[1:].tolist())) if b > a]
        if len(answers) == 1:
            return answers[0]
        if not answers:
            return np.zeros(0, bool), np.zeros(0)
        return np.concatenate([c for c, _ in answers]), np.concatenate([p for _, p in answers])

    return respond


class BatchedWorlds:
    """Worlds of one config (different seeds) stepped together, their markets cleared as one.

    Args:
        sims: the worlds, built from configs that differ in the seed only (same channels, advertisers
            and auction rules), all at the same hour. A world whose market is changed after building
            (a fault injection's billing fault) cannot be batched: run it alone.
    """

    def __init__(self, sims: Sequence[Simulation]) -> None:
        if not sims:
            raise ValueError("a batch needs at least one world")
        self.sims = list(sims)
        first = self.sims[0]
        for i, s in enumerate(self.sims):
            if s.t != first.t:
                raise ValueError(f"world {i} is at hour {s.t}, world 0 at hour {first.t}: a batch steps in lockstep")
            if s.cfg.replace(seed=first.cfg.seed) != first.cfg:
                raise ValueError(f"world {i}'s config differs from world 0's in more than the seed")
        self.market = first.market
        self.n_worlds = len(self.sims)

    @property
    def t(self) -> int:
        """The hour every world of the batch simulates next."""
        return self.sims[0].t

    def step_hour(self) -> list[HourRecord]:
        """Simulate the next hour of every world; returns their records, in world order."""
        if any(s.market.price_mult is not None for s in self.sims):
            raise ValueError("a world's market charges differently (a fault injection): run it alone")
        hours = [s.open_hour() for s in self.sims]
        cleared = self.clear([s.clearing(h) for s, h in zip(self.sims, hours, strict=True)])
        return [s.close_hour(h, cl) for s, h, cl in zip(self.sims, hours, cleared, strict=True)]

    def clear(self, inputs: Sequence[Clearing]) -> list[Cleared]:
        """The market's phase of the hour for every world at once: one `Market.clear_worlds` call.

        Args:
            inputs: each world's `Simulation.clearing` of its open hour, in world order.

        Returns:
            Each world's `Cleared`, as its own `Market.clear_within_budgets(*inputs[w])` returns it.
        """
        bounds = np.zeros(len(inputs) + 1, np.int64)
        np.cumsum([c.channel.shape[0] for c in inputs], out=bounds[1:])
        charge = None
        if any(c.charge is not None for c in inputs):  # a plain world's clicks cost 1.0 x the price: exact
            charge = np.concatenate([np.ones(c.channel.shape[0]) if c.charge is None else c.charge for c in inputs])
        cl = self.market.clear_worlds(bounds, np.concatenate([c.channel for c in inputs]),
                                      np.concatenate([c.bids for c in inputs], axis=1),
                                      np.stack([c.remaining for c in inputs]),
                                      _batch_respond(bounds, [c.respond for c in inputs]), charge)
        cut = np.searchsorted(cl.row, bounds).tolist()
        out = []
        for w in range(len(inputs)):
            a, b, lo, hi = cut[w], cut[w + 1], bounds[w], bounds[w + 1]
            out.append(Cleared(cl.row[a:b] - lo, cl.slot[a:b], cl.advertiser[a:b], cl.price[a:b], cl.clicked[a:b],
                               cl.cost[a:b], cl.ctr[a:b], np.ascontiguousarray(cl.bids[:, lo:hi])))
        return out

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
