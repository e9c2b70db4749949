"""Importance sampling against plain Monte Carlo on the same seeds: bias of each KPI and the variance of
the crisis-segment purchase estimate, in a market of rule-bidding rivals and in the default one.

    python -m benchmarks.bench_importance --worlds 128 --users 2000 --days 14
    python -m benchmarks.bench_importance --markets default --factors 2,4,8

Prints one JSON object: per market, the wall seconds of each run, and per oversampling factor and KPI
both means with 95% half-widths, the difference in standard errors, the ratio of the variances across
worlds (plain over importance-sampled) with a bootstrap interval, and that ratio at equal compute: over
the CPU-time ratio of a weighted world to a plain one, measured in this process on `--timing-worlds`
seeds run alternately (medians; wall times of the pool runs move with the machine's other load).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from gaelp.config import build_config
from gaelp.experiments.importance import with_importance
from gaelp.experiments.montecarlo import WorldsJob, run_worlds, world_kpis

KPIS = ("purchases_crisis", "purchases", "impressions", "clicks", "spend", "ctr", "cpc", "conversions", "revenue")


def compare(plain: list[float | None], weighted: list[float | None], rng: np.random.Generator) -> dict:
    """Means, half-widths, difference in standard errors and the variance ratio of one KPI."""
    a = np.array([x for x in plain if x is not None], float)
    b = np.array([x for x in weighted if x is not None], float)
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    boot = [np.var(rng.choice(a, a.size), ddof=1) / max(np.var(rng.choice(b, b.size), ddof=1), 1e-300)
            for _ in range(2000)]
    return {"plain": [a.mean(), 1.96 * a.std(ddof=1) / np.sqrt(a.size)],
            "importance": [b.mean(), 1.96 * b.std(ddof=1) / np.sqrt(b.size)],
            "diff_se": (b.mean() - a.mean()) / se if se > 0 else 0.0,
            "var_ratio": a.var(ddof=1) / b.var(ddof=1) if b.var() > 0 else None,
            "var_ratio_95": np.percentile(boot, [2.5, 97.5]).tolist()}


def cpu_ratio(plain: WorldsJob, weighted: WorldsJob, seeds: list[int]) -> float:
    """Median CPU seconds of a weighted world over a plain one, the two run alternately on each seed."""
    ratios = []
    for s in seeds:
        cpu = []
        for job in (plain, weighted):
            start = time.process_time()
            world_kpis(job, s)
            cpu.append(time.process_time() - start)
        ratios.append(cpu[1] / cpu[0])
    return float(np.median(ratios))


def main(argv: list[str] | None = None) -> None:
    """Run each market plain and with every `--factors` oversampling of crisis parents, print one JSON object."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--worlds", type=int, default=128)
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--factors", default="4", help="oversampling factors of crisis parents, comma-separated")
    p.add_argument("--markets", default="rules,default", help="rules (rivals bid by rules), default, or both")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timing-worlds", type=int, default=5, help="seeds timed alternately for the CPU-time ratio")
    a = p.parse_args(argv)
    factors = [float(f) for f in a.factors.split(",")]
    base = build_config({"users": a.users, "days": a.days})
    rules = [{"name": c.name, "kind": "rule"} for c in base.market.competitors]
    markets = {"rules": {"market": {"competitors": rules}}, "default": {}}
    seeds = list(range(1000, 1000 + a.worlds))
    rng = np.random.default_rng(0)
    out = {}
    for market in a.markets.split(","):
        cfg = build_config({"users": a.users, "days": a.days, **markets[market]})
        plain = run_worlds(WorldsJob(cfg, "fixed"), seeds, "local", a.workers)
        res: dict = {"wall_s": {"plain": plain.wall_s}}
        for f in factors:
            job = WorldsJob(with_importance(cfg, {"crisis": f}), "fixed")
            run = run_worlds(job, seeds, "local", a.workers)
            res["wall_s"][f"crisis={f:g}"] = run.wall_s
            kpis = {name: r.to_json()["kpis"] for name, r in (("plain", plain), ("importance", run))}
            cmp = {k: compare(kpis["plain"][k]["per_world"], kpis["importance"][k]["per_world"], rng) for k in KPIS}
            ratio = cmp["purchases_crisis"]["var_ratio"]
            cmp["cpu_ratio"] = cpu_ratio(plain.job, job, seeds[:a.timing_worlds])
            cmp["equal_compute_var_ratio"] = None if ratio is None else ratio / cmp["cpu_ratio"]
            res[f"crisis={f:g}"] = cmp
        out[market] = res
        print(json.dumps({market: res}, default=float), flush=True)
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
