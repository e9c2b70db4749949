"""Each world's accounts of a batch's hour taken for every world at once: the purchases due and our hour's
counts for the safety watch.

Both were a dozen numpy calls per world-hour in `Simulation` (`purchases`, `our_hour`), on a few rows
each; here they are one array program over every world's rows (`gaelp.experiments.batched`), each world's
result cut from it. Exactness: the steps are elementwise over each world's own people and rows, the
counts are whole numbers, and the sums that numpy pairs are taken per world (`segment_sums`), so every world
gets what it gets alone (tests/experiments/test_batched.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np

from gaelp.bidders.protocol import OURS
from gaelp.bidders.worlds import WorldRows
from gaelp.market.clearing import Cleared
from gaelp.market.tracking import WorldsTouches
from gaelp.records import Purchases
from gaelp.simulation import ImpressionColumns, OurHour, Simulation
from gaelp.stacked import segment_sums
from gaelp.world.batched_journeys import WorldsJourneys
from gaelp.world.population import Stage, can_buy


def purchases_due(sims: Sequence[Simulation], people: WorldsJourneys, touches: WorldsTouches, segment: np.ndarray,
                  events: Sequence[dict[str, np.ndarray]]) -> list[Purchases]:
    """Every world's `Simulation.purchases` of its due events (`Simulation.due_events`, one per world): the
    buyers of all the worlds with events are checked, close their journeys and are credited by our last touch
    at once (person `w * n + i` of the batch's world-major `people`, `touches` and (W * n,) `segment`); the
    other worlds take their own (empty) path."""
    sizes = [ev["person"].size for ev in events]
    busy = [w for w, k in enumerate(sizes) if k]
    if len(busy) < 2:
        return [s.purchases(ev) for s, ev in zip(sims, events, strict=True)]
    t, n, first = sims[0].t, people.n, sims[0]
    world = np.repeat(np.array(busy), [sizes[w] for w in busy])
    person, adv, device, kind = (np.concatenate([events[w][f] for w in busy])
                                 for f in ("person", "advertiser", "device", "kind"))
    at = world * n + person
    stage = people.array("stage")
    open_ = stage[at]
    ok = np.flatnonzero(can_buy(open_))
    _, once = np.unique(at[ok], return_index=True)  # a person's first event (worlds' people are distinct)
    keep = ok[np.sort(once)]
    at, world, adv = at[keep], world[keep], adv[keep].astype(np.int64)
    journey_start = people.array("journey_start")[at].astype(np.int64)
    ours = adv == OURS
    stage[at] = np.where(ours, Stage.CONVERTED, Stage.LOST)
    people.array("converted_at")[at] = t
    rival_value = np.stack([s.rival_value for s in sims])
    value = np.where(ours, first.response.value[segment[at]], rival_value[world, adv])
    ch, by_click = touches.classify(t, at, first.window_h)
    ch = np.where(ours, ch, -1)
    by_click &= ours
    columns = (at - world * n, device[keep], adv, value, kind[keep], ch, by_click, journey_start)
    lo, hi = np.searchsorted(world, busy).tolist(), np.searchsorted(world, busy, side="right").tolist()
    out = [s.purchases(ev) if not k else None for s, ev, k in zip(sims, events, sizes, strict=True)]
    for w, a, b in zip(busy, lo, hi, strict=True):
        out[w] = Purchases(np.full(b - a, t, np.int64), *(c[a:b] for c in columns))
    return cast(list[Purchases], out)


def our_hours(n_ch: int, plain: bool, rows: WorldRows, every: Cleared, imp: ImpressionColumns) -> list[OurHour]:
    """Every world's `Simulation.our_hour` at once (`n_ch` channels; `plain`: no importance sampling): our
    impressions and clicks by (world, channel) in one bincount each (each cell adds its rows in the world's
    order; plain, the weights are 1.0 and their sums the counts), our spend as each world's own pairwise sum
    (`segment_sums`) and, plain, our bids counted by differences of one running count (as the safety layer
    counts them: whole numbers); `every`, `imp`: every world's impressions and their columns over `rows`."""
    n_w = rows.n_worlds
    ours = imp.ours
    row = every.row[ours]
    world = rows.world[row]
    cell = world * n_ch + imp.channel[ours]
    wins: np.ndarray  # float64 either way (bincount with weights is float64)
    if plain:
        wins = np.bincount(cell, minlength=n_w * n_ch).astype(np.float64)
        clicks = np.bincount(cell[every.clicked[ours]], minlength=n_w * n_ch).astype(np.float64)
    else:
        wins = np.bincount(cell, rows.weight[row], minlength=n_w * n_ch)
        clicks = np.bincount(cell[every.cost[ours] > 0.0], minlength=n_w * n_ch).astype(np.float64)
    spend = segment_sums(every.cost[ours][None], np.searchsorted(world, np.arange(n_w + 1)))[0].tolist()
    n_bids: list[float | None] = [None] * n_w
    if plain:
        count = np.zeros(every.bids.shape[1] + 1, np.int64)
        np.cumsum(every.bids[OURS] != 0, out=count[1:])
        n_bids = (count[rows.bounds[1:]] - count[rows.bounds[:-1]]).astype(np.float64).tolist()
    wins, clicks = wins.reshape(n_w, n_ch), clicks.reshape(n_w, n_ch)
    return [OurHour(wins[w], clicks[w], spend[w], n_bids[w]) for w in range(n_w)]
