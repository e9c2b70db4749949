"""Importance sampling against plain Monte Carlo on the same seeds: bias of each KPI and the variance of
the crisis-segment purchase estimate, in a market of rule-bidding rivals and in the default one.

    python -m benchmarks.bench_importance --worlds 128 --users 2000 --days 14

Prints, per market and KPI, both means with 95% half-widths, the difference in standard errors, and
the ratio of the variances across worlds (plain over importance-sampled) with a bootstrap interval.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from gaelp.config import build_config
from gaelp.experiments.importance import with_importance
from gaelp.experiments.montecarlo import WorldsJob, run_worlds

KPIS = ("purchases_crisis", "purchases", "impressions", "clicks", "spend", "conversions", "revenue")


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


def main(argv: list[str] | None = None) -> None:
    """Run both markets plain and with `--importance`, print one JSON object."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--worlds", type=int, default=128)
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--factor", type=float, default=4.0, help="oversampling of crisis parents")
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args(argv)
    base = build_config({"users": a.users, "days": a.days})
    rules = [{"name": c.name, "kind": "rule"} for c in base.market.competitors]
    seeds = list(range(1000, 1000 + a.worlds))
    rng = np.random.default_rng(0)
    out = {}
    for market, data in (("rules", {"market": {"competitors": rules}}), ("default", {})):
        cfg = build_config({"users": a.users, "days": a.days, **data})
        runs = {name: run_worlds(WorldsJob(c, "fixed"), seeds, "local", a.workers)
                for name, c in (("plain", cfg), ("importance", with_importance(cfg, {"crisis": a.factor})))}
        kpis = {name: r.to_json()["kpis"] for name, r in runs.items()}
        out[market] = {"wall_s": {name: r.wall_s for name, r in runs.items()},
                       **{k: compare(kpis["plain"][k]["per_world"], kpis["importance"][k]["per_world"], rng)
                          for k in KPIS}}
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
