"""How much of the observable bound survives honest labels? The bound's model fitted on clicks, from several sources.

The observable bound (`benchmarks.bench_value_ceiling`) fits a log-link model over the journey encoder's
cells on the true P of *every* opportunity: no advertiser has that. Here the same form
(`ceiling_fit.fit_loglinear` over `ceiling_fit.Layout`) is fitted on bought clicks only, from one of:

* `oracle_truth`, `oracle_labels`: the clicks `oracle_lp` (k = 2) buys in training worlds, on their true P
  or on Bernoulli draws of it (a selective buyer: it buys what it values);
* `broad_truth`, `broad_labels`: the clicks of one bid (`fixed_bid`) everywhere (a broad buyer);
* `pixel`: the shipped prior's own data, the click logs of `gaelp.agent.prior_fit.collect_world` (an untrained
  agent in randomized training worlds) labelled by our pixel (a purchase within `--window` hours,
  `LABEL_WINDOW_H` by default; clicks censored by the campaign's end left out): nothing here reads the truth.

With `--requests` the model's rows add the device's bid-request history (`gaelp.agent.encoder.RequestLog`: every opportunity
offered to us, won or not, which an advertiser sees and the agent's encoder ignores) and its cells the
request buckets (`Layout(requests=True)`); the `pixel` source's collecting agent then keeps the history too
(`AgentBidder(requests=True)`, bidding as without), as `gaelp train --loglink-requests` would.

Each model plays the validation worlds as a `ceiling.BoundBidder` at every `k` of `--k`; per world the best
(a hindsight level, as `oracle_lp` has). R^2 of each model against the truth on every opportunity of one more
training world (`oracle_lp`'s, a fifth of them sampled) says how it extrapolates beyond its clicks.
Evaluation-only; seeds: training >= 1000, validation 900-999.

    nice -n 10 env OMP_NUM_THREADS=1 python -m benchmarks.bench_label_sources --json

`--json` prints `{"train_worlds", "train_users", "users", "days", "seeds", "k", "window_h", "requests", "wall_s",
"sources": {NAME: {"clicks", "labels", "r2_all", "mean", "per_world": [{"seed", "score", "k", "cac"}]}}}`
(`labels`: positive labels, or null for the truth).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from gaelp.agent.ceiling import Recorded, collect, play_bound
from gaelp.agent.ceiling_fit import Layout, LinearModel, fit_loglinear, ranking
from gaelp.agent.prior_fit import LABEL_WINDOW_H, PRIOR_SEED_BASE, collect_world, loglink_rows
from gaelp.config import build_config
from gaelp.experiments.evaluate import TRAINING_SEEDS_FROM

SOURCES = ("oracle_truth", "oracle_labels", "broad_truth", "broad_labels", "pixel")
LABEL_SEED = 7  # the Bernoulli draws of the `*_labels` sources


def _pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))  # clean workers


def _recorded(kind: str, seed: int, users: int, days: int) -> Recorded:
    """A training world's clicks with their observable rows and truth: `oracle` (k = 2) or `broad` buying."""
    cfg = build_config({"users": users, "days": days, "seed": seed})
    return collect(cfg, seed, 1.0, flat_bid=cfg.bidders.fixed_bid if kind == "broad" else None)


def _pixel(seed: int, users: int, days: int, window_h: int, requests: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A prior-collection world's click rows (with `requests`, their request history) and pixel labels within
    `window_h` hours, as the log-link prior takes them (`prior_fit.loglink_rows`: censored clicks left out)."""
    return loglink_rows(collect_world(build_config({}), seed, users, days, requests=requests), window_h, requests)


def fit_source(source: str, train_worlds: int, users: int, days: int, workers: int,
               window_h: int = LABEL_WINDOW_H, requests: bool = False) -> tuple[LinearModel, dict[str, Any]]:
    """The bound's model fitted on one source's clicks (see the module docstring), with its counts; `window_h`:
    the pixel source's label window; `requests`: the rows and cells with the bid-request history."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    with _pool(workers) as ex:
        if source == "pixel":
            parts = list(ex.map(_pixel, [PRIOR_SEED_BASE + k for k in range(train_worlds)],
                                [users] * train_worlds, [days] * train_worlds, [window_h] * train_worlds,
                                [requests] * train_worlds))
            x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
            info: dict[str, Any] = {"clicks": int(y.size), "labels": int(y.sum())}
        else:
            kind, target = source.split("_")
            seeds = [TRAINING_SEEDS_FROM + k for k in range(train_worlds)]
            rec = Recorded.concat(list(ex.map(_recorded, [kind] * train_worlds, seeds, [users] * train_worlds,
                                              [days] * train_worlds)))
            x, y = rec.x[rec.clicked], rec.p[rec.clicked]
            if target == "labels":
                y = (np.random.default_rng(LABEL_SEED).random(y.size) < y).astype(np.float64)
            info = {"clicks": int(y.size), "labels": int(y.sum()) if target == "labels" else None}
    layout = Layout(len(build_config({}).world.channels), requests)
    return fit_loglinear(layout, x, y), info


def _play(model: LinearModel, seed: int, k: float, users: int, days: int) -> dict[str, Any]:
    r = play_bound(build_config({"users": users, "days": days, "seed": seed}), seed, model, k)
    return {"seed": seed, "score": r.score, "k": k, "cac": r.cac}


def run(sources: list[str], train_worlds: int, train_users: int, seeds: list[int], ks: list[float], users: int,
        days: int, workers: int, test_seed: int, window_h: int = LABEL_WINDOW_H,
        requests: bool = False) -> dict[str, Any]:
    """The whole benchmark (see the module docstring)."""
    start = time.perf_counter()
    test = collect(build_config({"users": train_users, "days": days, "seed": test_seed}), test_seed, 0.2)
    out: dict[str, Any] = {"train_worlds": train_worlds, "train_users": train_users, "users": users, "days": days,
                           "seeds": seeds, "k": ks, "window_h": window_h, "requests": requests, "sources": {}}
    for source in sources:
        model, info = fit_source(source, train_worlds, train_users, days, workers, window_h, requests)
        info["r2_all"] = ranking(model.predict(test.x, test.hour), test.p)["r2"]
        jobs = [(s, k) for s in seeds for k in ks]
        with _pool(workers) as ex:
            plays = list(ex.map(_play, [model] * len(jobs), *zip(*jobs, strict=True), [users] * len(jobs),
                                [days] * len(jobs)))
        best = [max((p for p in plays if p["seed"] == s), key=lambda p: p["score"]) for s in seeds]
        out["sources"][source] = {**info, "mean": float(np.mean([b["score"] for b in best])), "per_world": best}
    out["wall_s"] = round(time.perf_counter() - start, 1)
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sources", default=",".join(SOURCES), help=f"comma-separated, from {','.join(SOURCES)}")
    p.add_argument("--train-worlds", type=int, default=30)
    p.add_argument("--train-users", type=int, default=20_000)
    p.add_argument("--users", type=int, default=100_000, help="people per validation world")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seeds", default="900,901,902,903,904,905", help="validation worlds (900-999)")
    p.add_argument("--k", default="1.0,1.19,1.41,1.68,2.0", help="levels each model plays at")
    p.add_argument("--window", type=int, default=LABEL_WINDOW_H,
                   help="the pixel source's label window, hours (a shorter one lowers P: scale --k up to match)")
    p.add_argument("--requests", action="store_true", help="add the bid-request history to the model's rows")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print the JSON object only")
    a = p.parse_args(argv)
    sources = [s for s in a.sources.split(",") if s]
    if not sources or any(s not in SOURCES for s in sources):
        p.error(f"--sources {a.sources!r}: names must come from {','.join(SOURCES)}")
    try:
        seeds, ks = [int(s) for s in a.seeds.split(",")], [float(k) for k in a.k.split(",")]
    except ValueError as e:
        p.error(f"--seeds / --k: {e}")
    if any(not 900 <= s < TRAINING_SEEDS_FROM for s in seeds):
        p.error(f"--seeds {a.seeds!r}: validation worlds lie in 900-999")
    if a.window < 1:
        p.error(f"--window {a.window}: the label window is at least 1 hour")
    if any(not k > 0 for k in ks) or a.train_worlds < 1:
        p.error("--k must be positive and --train-worlds at least 1")
    out = run(sources, a.train_worlds, a.train_users, seeds, ks, a.users, a.days, a.workers,
              TRAINING_SEEDS_FROM + a.train_worlds, a.window, a.requests)
    if a.json:
        print(json.dumps(out))
        return
    t = Table(title=f"best score per world over k in {ks}")
    t.add_column("source")
    t.add_column("clicks (labels)", justify="right")
    t.add_column("R^2, all opportunities", justify="right")
    for s in seeds:
        t.add_column(str(s), justify="right")
    t.add_column("mean", justify="right")
    for name, r in out["sources"].items():
        labels = "truth" if r["labels"] is None else f"{r['labels']:,}"
        t.add_row(name, f"{r['clicks']:,} ({labels})", f"{r['r2_all']:.3f}",
                  *(f"{w['score']:.1f} (k {w['k']:g})" for w in r["per_world"]), f"{r['mean']:.1f}")
    Console().print(t)


if __name__ == "__main__":
    main()
