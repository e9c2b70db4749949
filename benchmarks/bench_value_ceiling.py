"""The ceiling of an advertiser-side value model: how much of `oracle_lp`'s score can bidding on the best
estimate of P(purchase | click) from observable features reach?

`oracle_lp` bids `k x true P x target CPA`, `k` per world in hindsight. The truth depends on the
person's segment and journey stage, which no advertiser sees. This benchmark (evaluation-only; see
`gaelp.agent.ceiling`):

1. plays training worlds (seeds >= 1000) with `oracle_lp` at k = 2 behind a recorder, logging a sample
   of opportunities: observable row (journey encoder per device, converted) and the truth;
2. fits E[P | observables] (a shrunk cell table, a ridge fit, a Poisson regression; the best on the
   last training world, then refitted on all) and E[P | observables, segment] (the table split by segment class),
   and reports how each ranks the truth on the last training world, beside the shipped agent's value
   model on its own clicks (`gaelp.agent.diagnose.calibration`);
3. on held-out validation worlds, plays `oracle_lp`, the observable bound (the encoder's features), the
   requests bound (those and the device's bid-request history) and the segment bound, each with `k`
   per world by the same hindsight search (`gaelp.experiments.hindsight`), and the shipped agent;
   prints per-world scores and the median per-world ratios.

    nice -n 10 env OMP_NUM_THREADS=1 python -m benchmarks.bench_value_ceiling --users 100000 --worlds 5

`--json` prints `{"users", "days", "train_seeds", "seeds", "wall_s", "fit": {"table", "linear",
"segment", ..., "chosen"}, "agent_calibration", "per_world": [{"seed", "oracle_lp", "observable_bound",
"requests_bound", "segment_bound", "agent"} -> {"score", "k", "cac"}], "medians": {...}}`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from gaelp.agent.bidder import make_agent_bidder
from gaelp.agent.ceiling import Recorded, ValueEstimate, collect, play_bound, segment_classes
from gaelp.agent.ceiling_fit import Layout, fit_linear, fit_loglinear, fit_table, ranking
from gaelp.agent.diagnose import calibration
from gaelp.config import Config, build_config
from gaelp.experiments.evaluate import TRAINING_SEEDS_FROM
from gaelp.experiments.hindsight import DEFAULT_GRID, search_worlds
from gaelp.experiments.play import AGENT, Play, WorldResult, play

BOUNDS = ("oracle_lp", "observable_bound", "requests_bound", "segment_bound")


def _agent_calibration(cfg: Config) -> dict[str, Any]:
    return calibration(cfg, make_agent_bidder(cfg))


GLM_ROWS = 200_000
"""Rows the Poisson regressions are fitted on (a seeded sample; Newton steps over all rows cost minutes)."""


def _subsample(r: Recorded) -> tuple[np.ndarray, np.ndarray]:
    keep = np.random.default_rng(0).permutation(r.p.size)[:GLM_ROWS]
    return r.x[keep], r.p[keep]


def fit_models(train: Recorded, test: Recorded, n_channels: int,
               n_classes: int) -> tuple[dict[str, Any], dict[str, ValueEstimate]]:
    """Rank-quality of the models fitted on `train`, measured on `test` (all opportunities and our clicks),
    then each bound's model refitted on both: the best (by R^2) of table, ridge and Poisson regression on
    the encoder's features (`observable_bound`) and with the request history too (`requests_bound`), and
    the table by segment."""
    both = Recorded.concat([train, test])
    base, req = Layout(n_channels), Layout(n_channels, requests=True)
    fits: dict[str, Callable[[Recorded], ValueEstimate]] = {
        "table": lambda r: fit_table(base, r.x, r.hour, r.p),
        "linear": lambda r: fit_linear(base, r.x, r.p),
        "table_requests": lambda r: fit_table(req, r.x, r.hour, r.p),
        "linear_requests": lambda r: fit_linear(req, r.x, r.p),
        "loglinear": lambda r: fit_loglinear(base, *_subsample(r)),
        "loglinear_requests": lambda r: fit_loglinear(req, *_subsample(r)),
        "segment": lambda r: fit_table(base, r.x, r.hour, r.p, seg=r.seg, n_classes=n_classes)}
    report: dict[str, Any] = {}
    for name, fit in fits.items():
        m = fit(train)
        seg = test.seg if name == "segment" else None
        c = test.clicked
        report[name] = {"opportunities": ranking(m.predict(test.x, test.hour, seg), test.p),
                        "clicks": ranking(m.predict(test.x[c], test.hour[c], None if seg is None else seg[c]),
                                          test.p[c])}
    chosen = {"observable_bound": max(("table", "linear", "loglinear"), key=lambda n: report[n]["opportunities"]["r2"]),
              "requests_bound": max(("table_requests", "linear_requests", "loglinear_requests"),
                                    key=lambda n: report[n]["opportunities"]["r2"]),
              "segment_bound": "segment"}
    report["chosen"] = chosen
    return report, {b: fits[name](both) for b, name in chosen.items()}


def run(cfg: Config, train_seeds: list[int], seeds: list[int], sample: float, workers: int,
        progress: Callable[[str, int], None], bounds: tuple[str, ...] = BOUNDS) -> dict[str, Any]:
    """The whole benchmark (see the module docstring); `progress(what, plays_done_increment)`."""
    start = time.perf_counter()
    n_classes = len(segment_classes(cfg)[0])
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max(workers, 1), mp_context=ctx) as ex:
        def tracked(f: Future) -> Future:
            f.add_done_callback(lambda _f: progress("play", 1))
            return f

        parts = [tracked(ex.submit(collect, cfg, s, sample)) for s in train_seeds]
        calib = tracked(ex.submit(_agent_calibration, cfg.replace(seed=seeds[0])))
        recorded = [f.result() for f in parts]
        report, models = fit_models(Recorded.concat(recorded[:-1]), recorded[-1], len(cfg.world.channels), n_classes)
        progress("fitted", 0)

        def runner(name: str) -> Callable[[Play], Future[WorldResult]]:
            def submit(job: Play) -> Future[WorldResult]:
                if name == "oracle_lp":
                    return tracked(ex.submit(play, cfg, job))
                k = 1.0 if job.k is None else job.k
                return tracked(ex.submit(play_bound, cfg, job.seed, models[name], k, name == "segment_bound", name))
            return submit

        agent = [tracked(ex.submit(play, cfg, Play(s, AGENT), make_agent_bidder)) for s in seeds]
        with ThreadPoolExecutor(len(bounds)) as threads:  # the searches keep the pool busy together
            searches = {b: threads.submit(search_worlds, seeds, runner(b), DEFAULT_GRID) for b in bounds}
            best = {b: f.result() for b, f in searches.items()}
        agent_results = [f.result() for f in agent]
        calib_result = calib.result()
    per_world = []
    for i, s in enumerate(seeds):
        row: dict[str, Any] = {"seed": s}
        for b in bounds:
            row[b] = {"score": best[b][s].score, "k": best[b][s].k, "cac": best[b][s].cac}
        row["agent"] = {"score": agent_results[i].score, "k": None, "cac": agent_results[i].cac}
        per_world.append(row)
    return {"users": cfg.users, "days": cfg.days, "train_seeds": train_seeds, "seeds": seeds, "sample": sample,
            "wall_s": round(time.perf_counter() - start, 1), "fit": report, "agent_calibration": calib_result,
            "per_world": per_world, "medians": medians(per_world)}


def medians(per_world: list[dict[str, Any]]) -> dict[str, float | None]:
    """Median per-world score ratios of every bidder to `oracle_lp`, and of the agent to each bound
    (worlds where the denominator scores 0 left out)."""
    def ratio(a: str, b: str) -> float | None:
        r = [w[a]["score"] / w[b]["score"] for w in per_world if w[b]["score"] > 0]
        return float(np.median(r)) if r else None
    names = [n for n in per_world[0] if n not in ("seed", "oracle_lp")]
    out = {f"{n}/oracle_lp": ratio(n, "oracle_lp") for n in names if "oracle_lp" in per_world[0]}
    out.update({f"agent/{n}": ratio("agent", n) for n in names if n != "agent"})
    return out


def _print(out: dict[str, Any], console: Console) -> None:
    fit = Table(title=f"ranking of the true P on training world {out['train_seeds'][-1]} (fitted on the others)")
    for c in ("model", "rows", "R^2", "explained", "true P by predicted quintile"):
        fit.add_column(c)
    chosen = set(out["fit"]["chosen"].values())
    for name in (n for n in out["fit"] if n != "chosen"):
        for view in ("opportunities", "clicks"):
            r = out["fit"][name][view]
            fit.add_row(f"{name}{' (chosen)' if name in chosen else ''}", view, f"{r['r2']:.3f}",
                        f"{r['explained']:.3f}", ", ".join(f"{b['pred']:.4f}->{b['p_true']:.4f}" for b in r["bins"]))
    cal = out["agent_calibration"]
    fit.add_row("shipped agent (online value model)", f"its clicks, world {out['seeds'][0]}", "", "",
                ", ".join(f"{b['p_hat']:.4f}->{b['p_true']:.4f}" for b in cal["bins"]))
    console.print(fit)
    names = [n for n in out["per_world"][0] if n != "seed"]
    t = Table(title=f"scores, {out['users']:,} people, {out['days']} days (k chosen per world in hindsight)")
    for c in ("seed", *names, *(f"{n} / oracle_lp" for n in names if n != "oracle_lp")):
        t.add_column(c, justify="right")
    for w in out["per_world"]:
        o = w["oracle_lp"]["score"]
        t.add_row(str(w["seed"]), *(f"{w[n]['score']:.1f}" + (f" (k {w[n]['k']:.2f})" if w[n]["k"] else "")
                                    for n in names),
                  *(f"{w[n]['score'] / o:.2f}" if o > 0 else "-" for n in names if n != "oracle_lp"))
    console.print(t)
    console.print("median per-world ratios: " + ", ".join(
        f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in out["medians"].items()))
    console.print(f"wall time {out['wall_s']:.0f} s")


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=100_000, help="people per world")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--train-worlds", type=int, default=4, help="training worlds to fit on (seeds from 1000)")
    p.add_argument("--train-base", type=int, default=TRAINING_SEEDS_FROM)
    p.add_argument("--worlds", type=int, default=5, help="held-out worlds to score on")
    p.add_argument("--seed-base", type=int, default=900, help="first held-out world (900-999: validation)")
    p.add_argument("--sample", type=float, default=0.2, help="share of training opportunities recorded")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--bounds", default=",".join(BOUNDS),
                   help=f"hindsight-searched bidders to play, comma-separated, from {','.join(BOUNDS)}")
    p.add_argument("--json", action="store_true", help="print the JSON object only")
    a = p.parse_args(argv)
    if a.train_worlds < 2:
        p.error("--train-worlds must be >= 2 (the last one measures the fit)")
    if a.train_base < TRAINING_SEEDS_FROM:
        p.error(f"--train-base {a.train_base} is a held-out seed: training seeds start at {TRAINING_SEEDS_FROM}")
    if not 0 <= a.seed_base or a.seed_base + a.worlds > TRAINING_SEEDS_FROM or a.worlds < 1:
        p.error(f"--seed-base/--worlds must name held-out seeds below {TRAINING_SEEDS_FROM}")
    bounds = tuple(b for b in a.bounds.split(",") if b)
    unknown = [b for b in bounds if b not in BOUNDS]
    if unknown or "oracle_lp" not in bounds:
        p.error(f"--bounds {a.bounds!r}: names must come from {','.join(BOUNDS)} and include oracle_lp")
    cfg = build_config({"users": a.users, "days": a.days, "seed": a.seed_base})
    train = list(range(a.train_base, a.train_base + a.train_worlds))
    seeds = list(range(a.seed_base, a.seed_base + a.worlds))
    console = Console(stderr=a.json, width=max(Console().width, 160))
    total = len(train) + 1 + len(seeds) * (1 + len(bounds) * DEFAULT_GRID.typical_replays)
    with Progress(console=console, transient=a.json) as bar:
        task = bar.add_task("recording training worlds", total=total)

        def tick(what: str, n: int) -> None:
            if what == "fitted":
                bar.update(task, description="hindsight searches and the agent")
            bar.advance(task, n)

        out = run(cfg, train, seeds, a.sample, a.workers, tick, bounds)
    if a.json:
        print(json.dumps(out))
    else:
        _print(out, console)


if __name__ == "__main__":
    main()
