"""Worlds stepped one by one against worlds stepped together as one array program (`BatchedWorlds`).

    python -m benchmarks.bench_batched --worlds 16 --users 10000 --days 7 --batch 16 --repeats 3

Both run the same seeds through the Monte Carlo runner's local backend (`--workers` processes; 1: in
this process), alternating so that a slow spell of a shared machine touches both alike; each figure is
the median of `repeats`, and the digests must agree (the batch keeps every world's KPIs bit for bit).

    python -m benchmarks.bench_batched --stage --worlds 16 --users 10000 --days 2

`--stage` times the batched stage alone: every hour of a batch, each world's market cleared on its own
(`Market.clear_within_budgets`) and all of them at once (`BatchedWorlds.clear`), on the same inputs,
alternating which goes first; it checks that both give the same impressions.

    python -m benchmarks.bench_batched --rivals --worlds 16 --users 10000 --days 2

`--rivals` times the rivals' bids and learning alone: the hours of a batch replayed to fresh rivals, each
world's one by one and all worlds' batched (`gaelp.bidders.batched_rivals`), alternating; both must bid alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time

import numpy as np

from gaelp.bidders.batched_rivals import batch_rivals
from gaelp.bidders.outcomes import own_outcomes, pixel_reports
from gaelp.bidders.protocol import OURS
from gaelp.bidders.worlds import WorldOutcomes, WorldRows
from gaelp.config import Config, load_config
from gaelp.experiments.batched import BatchedWorlds
from gaelp.experiments.montecarlo import WorldsJob, run_worlds
from gaelp.records import HourRecord
from gaelp.rng import Streams
from gaelp.simulation import Simulation, build_competitors


def clearing_stage(cfg: Config, worlds: int) -> dict[str, float]:
    """Seconds of the market's phase over `cfg.days` days of `worlds` worlds: one by one and batched."""
    batch = BatchedWorlds([Simulation(cfg.replace(seed=s)) for s in range(worlds)])
    spent = {"one_by_one_s": 0.0, "batched_s": 0.0}
    for t in range(24 * cfg.days):
        hours = [s.open_hour() for s in batch.sims]
        inputs = [s.clearing(h) for s, h in zip(batch.sims, hours, strict=True)]
        for turn in ((0, 1) if t % 2 else (1, 0)):
            start = time.perf_counter()
            if turn == 0:
                alone = [s.market.clear_within_budgets(*c.market_args) for s, c in zip(batch.sims, inputs, strict=True)]
            else:
                together = batch.clear(inputs)
            spent["one_by_one_s" if turn == 0 else "batched_s"] += time.perf_counter() - start
        assert all(np.array_equal(a.row, b.row) and np.array_equal(a.cost, b.cost) for a, b in zip(alone, together))
        for s, h, cl in zip(batch.sims, hours, together, strict=True):
            s.close_hour(h, cl)
    return spent


def rivals_stage(cfg: Config, worlds: int) -> dict[str, float]:
    """Seconds of the rivals' bids and learning over `cfg.days` days of `worlds` worlds: one by one and batched.

    The worlds run once (batched) and every hour's batches and outcomes are kept; then two fresh sets of the
    worlds' rivals (built as each world builds them) replay the hours, one world by one (each rival's `bid`
    and `observe`) and batched (`batch_rivals`), alternating which goes first; both must bid the same.
    """
    sims = [Simulation(cfg.replace(seed=s)) for s in range(worlds)]
    hours: list[list[tuple]] = [[] for _ in range(24 * cfg.days)]
    for sim in sims:  # each world's hour, in world order (the batch finishes its worlds' hours in order)
        sim.observe(lambda r, sim=sim: hours[r.t].append(_outcomes(sim, r)))
    BatchedWorlds(sims).run(cfg.days)
    alone = [build_competitors(s.cfg, Streams(s.cfg.seed)) for s in sims]
    together = batch_rivals([[None, *r] for r in [build_competitors(s.cfg, Streams(s.cfg.seed)) for s in sims]], OURS)
    spent = {"one_by_one_s": 0.0, "batched_s": 0.0}
    for t, hour in enumerate(hours):
        batches = [batch for batch, _ in hour]
        for turn in ((0, 1) if t % 2 else (1, 0)):
            start = time.perf_counter()
            if turn == 0:
                bids = [np.concatenate([r.bid(b) for r, b in zip(slot, batches, strict=True)])
                        for slot in zip(*alone, strict=True)]
                for rivals, (_, outcomes) in zip(alone, hour, strict=True):
                    for r, o in zip(rivals, outcomes[1:], strict=True):
                        r.observe(o)
            else:
                rows = WorldRows.of(batches)
                bids_b = [together[j].bid(rows) for j in sorted(together)]
                for j in sorted(together):
                    together[j].observe(WorldOutcomes.of(rows, [outcomes[j] for _, outcomes in hour]))
            spent["one_by_one_s" if turn == 0 else "batched_s"] += time.perf_counter() - start
        assert all(np.array_equal(a, b) for a, b in zip(bids, bids_b, strict=True)), f"hour {t}: bids differ"
    return spent


def _outcomes(sim: Simulation, r: HourRecord) -> tuple:
    """The hour's batch and every advertiser's own outcome of it, rebuilt from its record (a plain world)."""
    cl, p = r.impressions, r.purchases
    pixels = pixel_reports(p.t, p.device, p.value, p.advertiser, sim.n_adv)
    return r.batch, own_outcomes(r.batch, r.bids, cl.row, cl.slot, cl.advertiser, cl.price, cl.clicked, cl.cost,
                                 pixels)


def main(argv: list[str] | None = None) -> None:
    """Print one JSON object: median wall seconds one by one and batched, their ratio, the load."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--worlds", type=int, default=16)
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--stage", action="store_true", help="time the batched stage (the market) alone")
    p.add_argument("--rivals", action="store_true", help="time the rivals' bids and learning alone")
    a = p.parse_args(argv)
    if a.stage or a.rivals:
        stage = rivals_stage if a.rivals else clearing_stage
        spent = stage(load_config(None, users=a.users, days=a.days), a.worlds)
        print(json.dumps({"worlds": a.worlds, "users": a.users, "days": a.days,
                          **{k: round(v, 3) for k, v in spent.items()},
                          "speedup": round(spent["one_by_one_s"] / spent["batched_s"], 3), "load_avg": os.getloadavg()}))
        return
    job = WorldsJob(load_config(None, users=a.users, days=a.days), "fixed")
    seeds = list(range(a.worlds))
    walls: dict[int, list[float]] = {1: [], a.batch: []}
    digests = set()
    for _ in range(a.repeats):
        for batch, w in walls.items():
            res = run_worlds(dataclasses.replace(job, batch=batch), seeds, "local", a.workers)
            w.append(res.wall_s)
            digests.add(res.to_json()["digest"])
    alone, batched = (statistics.median(w) for w in walls.values())
    print(json.dumps({"worlds": a.worlds, "users": a.users, "days": a.days, "batch": a.batch, "workers": a.workers,
                      "one_by_one_s": round(alone, 3), "batched_s": round(batched, 3),
                      "speedup": round(alone / batched, 3), "runs": {str(k): v for k, v in walls.items()},
                      "same_digest": len(digests) == 1, "load_avg": os.getloadavg()}))


if __name__ == "__main__":
    main()
