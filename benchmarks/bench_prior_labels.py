"""Labels per CPU-second of the offline prior's collection settings, and how well the priors they give rank.

For each collection setting `BIDxBUDGET` (`gaelp.agent.prior_fit.collect_world`: the collecting agent's
bids x BID, its daily budget x BUDGET) the benchmark plays the prior's training worlds (seeds from
`PRIOR_SEED_BASE`), alternating the settings world by world so that a shared machine's load falls on
each alike, and counts clicks, labels (our pixel's purchases within the label window) and the CPU time
of the collection (`time.process_time`, one thread). For each number of worlds in `--worlds` it fits the
prior on the first worlds' pooled log and measures, on the shipped agent's own clicks in validation
worlds (`gaelp.agent.diagnose`'s truth recorder: evaluation only), the prior's correlation with the true
P(purchase | click), mean over truth, and the slope of the truth's logit on the prior's (over deciles of
the prior: 1 is proportional; below 1, the prior spreads its bids wider than the truth does).

    nice -n 10 env OMP_NUM_THREADS=1 python -m benchmarks.bench_prior_labels --settings 1x1,4x100 \\
        --worlds 30,60,90 --val-seeds 900,901,902,903

`--json` prints `{"users", "window_h", "val_seeds", "rows": [{"setting", "worlds", "clicks", "labels",
"cpu_s", "labels_per_cpu_s", "corr", "ratio", "slope"}]}`.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from scipy.special import expit, logit

from benchmarks.bench_prior import validation_seeds
from gaelp.agent.bidder import default_policy_path, make_agent_bidder
from gaelp.agent.ceiling_fit import ranking
from gaelp.agent.diagnose import clicks_with_truth
from gaelp.agent.prior_fit import LABEL_WINDOW_H, PRIOR_SEED_BASE, PRIOR_USERS, ClickLog, collect_world, fit_prior
from gaelp.agent.value import value_terms
from gaelp.config import Config


def logit_slope(eta: np.ndarray, p_true: np.ndarray, bins: int = 10) -> float:
    """Slope of logit(mean truth) on the mean predicted logit over quantile bins of the prediction."""
    parts = np.array_split(np.argsort(eta, kind="stable"), bins)
    e = np.array([eta[p].mean() for p in parts])
    t = logit(np.array([p_true[p].mean() for p in parts]))
    return float(np.polyfit(e, t, 1)[0])


def prior_ranking(w: np.ndarray, val: list[dict[str, np.ndarray]], n_channels: int) -> dict[str, float]:
    """Mean over validation worlds of the prior's correlation with the truth, mean / truth, and logit slope."""
    etas = [value_terms(v["x"], n_channels) @ w for v in val]
    ranks = [ranking(expit(e), v["p_true"]) for e, v in zip(etas, val)]
    return {"corr": float(np.mean([r["corr"] for r in ranks])),
            "ratio": float(np.mean([r["mean_pred"] / r["mean_true"] for r in ranks])),
            "slope": float(np.mean([logit_slope(e, v["p_true"]) for e, v in zip(etas, val)]))}


def bench(settings: list[tuple[float, float]], worlds: list[int], users: int, window_h: int,
          val: list[dict[str, np.ndarray]], cfg: Config) -> list[dict[str, Any]]:
    """The rows of the benchmark (see the module's doc)."""
    logs: dict[int, list[ClickLog]] = {i: [] for i in range(len(settings))}
    cpu: dict[int, list[float]] = {i: [] for i in range(len(settings))}
    for k in range(max(worlds)):
        for i, (bid, budget) in enumerate(settings):
            start = time.process_time()
            logs[i].append(collect_world(cfg, PRIOR_SEED_BASE + k, users, bid_scale=bid, budget_scale=budget))
            cpu[i].append(time.process_time() - start)
    n_ch = len(cfg.world.channels)
    rows = []
    for i, (bid, budget) in enumerate(settings):
        for n in worlds:
            log = ClickLog.concat(logs[i][:n])
            labels = int((log.converted & (log.delay <= window_h)).sum())
            w, _ = fit_prior(log, window_h, n_ch)
            cpu_s = float(sum(cpu[i][:n]))
            rows.append({"setting": f"{bid:g}x{budget:g}", "worlds": n, "clicks": int(log.x.shape[0]),
                         "labels": labels, "cpu_s": round(cpu_s, 1), "labels_per_cpu_s": round(labels / cpu_s, 2),
                         **prior_ranking(w, val, n_ch)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", default="1x1,4x100", help="collection settings BIDxBUDGET, comma-separated")
    ap.add_argument("--worlds", default="30", help="numbers of training worlds to fit on, comma-separated")
    ap.add_argument("--users", type=int, default=PRIOR_USERS)
    ap.add_argument("--window", type=int, default=LABEL_WINDOW_H, help="label window, hours")
    ap.add_argument("--val-seeds", default="900,901", help="validation worlds (900-999)")
    ap.add_argument("--val-users", type=int, default=100_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    val_seeds = validation_seeds(a.val_seeds, "--val-seeds")
    try:
        settings = [(float(b), float(g)) for b, g in (s.split("x") for s in a.settings.split(","))]
    except ValueError:
        raise SystemExit(f"--settings: BIDxBUDGET pairs such as 4x100, got {a.settings!r}") from None
    torch.set_num_threads(1)
    cfg = Config()
    val = [clicks_with_truth(c, make_agent_bidder(c, default_policy_path()))
           for c in (cfg.replace(seed=s, users=a.val_users, days=30) for s in val_seeds)]
    rows = bench(settings, sorted({int(n) for n in a.worlds.split(",")}), a.users, a.window, val, cfg)
    if a.json:
        print(json.dumps({"users": a.users, "window_h": a.window, "val_seeds": val_seeds, "rows": rows}))
        return
    table = Table("setting", "worlds", "clicks", "labels", "CPU s", "labels / CPU s", "corr", "mean / true",
                  "logit slope")
    for r in rows:
        table.add_row(r["setting"], str(r["worlds"]), f"{r['clicks']:,}", f"{r['labels']:,}", f"{r['cpu_s']:.0f}",
                      f"{r['labels_per_cpu_s']:.2f}", f"{r['corr']:.3f}", f"{r['ratio']:.2f}", f"{r['slope']:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
