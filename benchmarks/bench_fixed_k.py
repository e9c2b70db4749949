"""A constant bid multiplier on a checkpoint's value model: what its prior is worth without the policy.

Diagnostic (validation worlds only): the agent of a checkpoint (`make_agent_bidder`: its prior, its
online level refit, identity crediting) plays each world with its policy removed and the CAC guard off,
bidding `k x target CPA x p_hat` (every multiplier 1, the pacing `k`: `gaelp.agent.bidder.pacing_action`)
for each `k` given. Beside `gaelp evaluate --bidders agent` on the same seeds it says how much of the
score the policy adds over a constant level; with priors of different checkpoints, which prior bids
better at the same level.

    nice -n 10 env OMP_NUM_THREADS=1 python -m benchmarks.bench_fixed_k --k 1.4,1.7 --seeds 900,901,902

`--json` prints `{"policy", "users", "days", "wall_s", "rows": [{"seed", "k", "score", "cac", "budget_use"}]}`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from benchmarks.bench_prior import validation_parser, validation_seeds
from gaelp.agent.bidder import make_agent_bidder, pacing_action
from gaelp.bidders.protocol import Bidder
from gaelp.config import Config
from gaelp.experiments.play import AGENT, Play, play


def play_fixed_k(cfg: Config, policy: Path, k: float) -> dict[str, Any]:
    """One world (`cfg`'s seed) played at the constant level `k` on `policy`'s value model."""

    def agent(c: Config, path: str | Path | None, online: bool) -> Bidder:
        bidder = make_agent_bidder(c, path, online, cac_guard=False)
        bidder.controller = None  # the action stays as set: no policy
        bidder.set_action(pacing_action(len(c.world.channels), k))
        return bidder

    r = play(cfg, Play(cfg.seed, AGENT), agent, policy)
    return {"seed": cfg.seed, "k": k, "score": r.score, "cac": r.cac, "budget_use": r.budget_use}


def main() -> None:
    ap = validation_parser(__doc__.splitlines()[0], "900,901,902")
    ap.add_argument("--k", default="1.4", help="constant bid levels, comma-separated (within [1/4, 4])")
    a = ap.parse_args()
    seeds = validation_seeds(a.seeds)
    ks = [float(k) for k in a.k.split(",")]
    if any(not 0.25 <= k <= 4.0 for k in ks):
        raise SystemExit(f"--k: within [0.25, 4], got {ks}")
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = [play_fixed_k(Config().replace(seed=s, users=a.users, days=a.days), a.policy, k) for s in seeds for k in ks]
    if a.json:
        print(json.dumps({"policy": str(a.policy), "users": a.users, "days": a.days,
                          "wall_s": round(time.perf_counter() - start, 1), "rows": rows}))
        return
    table = Table("seed", "k", "score", "CAC", "budget use")
    for r in rows:
        cac = "-" if r["cac"] is None else f"{r['cac']:.1f}"
        table.add_row(str(r["seed"]), f"{r['k']:g}", f"{r['score']:.1f}", cac, f"{r['budget_use']:.2f}")
    for k in ks:
        table.add_row("mean", f"{k:g}", f"{np.mean([r['score'] for r in rows if r['k'] == k]):.1f}", "", "")
    Console().print(table)


if __name__ == "__main__":
    main()
