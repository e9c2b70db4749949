"""What the score's conversions are made of: purchases a click caused, and organic ones that followed a click.

The KPI table (and so the score) counts a purchase of ours as a click-through conversion when a click of
ours came within the lookback window before it (last click, 30 days), whatever made the person buy. The
world knows which it was: a post-click purchase, scheduled by the click, or an organic one, which the
person's journey brought on its own. This benchmark plays each bidder on each world and splits its
click-through conversions by that truth, which no bidder sees: how much of what a pixel labels a click with
the click did not cause, per bidder (docs/agent.md, "What the score's conversions are made of").

    python -m benchmarks.bench_conversion_kinds --bidders agent,oracle_lp,target_cpa,fixed --seeds 0,1,2,3

`oracle_lp` plays at one `k` (`--oracle-k`, not its hindsight search). `--json` prints `{"users", "days",
"oracle_k", "wall_s", "rows": [{"bidder", "seed", "post_click", "organic"}]}`.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from gaelp.config import Config, load_config
from gaelp.experiments.hindsight import ORACLE_LP
from gaelp.experiments.play import AGENT, with_oracle_lp_k
from gaelp.jsonout import dumps
from gaelp.records import DayLog
from gaelp.simulation import Simulation
from gaelp.world.purchases import ORGANIC, POST_CLICK


def conversion_kinds(cfg: Config, bidder: str, oracle_k: float = 2.0) -> dict[str, Any]:
    """Our click-through conversions in world `cfg` (its seed) under `bidder` (a registered name, or `agent`:
    the shipped policy), split into post-click and organic purchases."""
    ours: Any = bidder
    if bidder == AGENT:
        from gaelp.agent.bidder import make_agent_bidder

        ours = make_agent_bidder(cfg)
    elif bidder == ORACLE_LP:
        cfg = with_oracle_lp_k(cfg, oracle_k)
    sim = Simulation(cfg, ours)
    if bidder == AGENT:
        ours.attach_world(sim)  # identity crediting, as the agent plays in `gaelp evaluate`
    counts = {"post_click": 0, "organic": 0}

    def on_day(log: DayLog) -> None:
        c = log.conversions
        kind = c["kind"][(c["advertiser"] == 0) & c["by_click"].astype(bool)]
        counts["post_click"] += int(np.count_nonzero(kind == POST_CLICK))
        counts["organic"] += int(np.count_nonzero(kind == ORGANIC))

    sim.run(on_day=on_day)
    return {"bidder": bidder, "seed": cfg.seed, **counts}


def _play(args: tuple[Config, str, float]) -> dict[str, Any]:
    return conversion_kinds(*args)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bidders", default="agent,oracle_lp,target_cpa,fixed", help="comma-separated")
    ap.add_argument("--seeds", default="0,1,2,3", help="world seeds, comma-separated")
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--oracle-k", type=float, default=2.0, help="oracle_lp's k (its hindsight k is 2.1-2.4 here)")
    ap.add_argument("--workers", type=int, default=2, help="processes")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    bidders, seeds = a.bidders.split(","), [int(s) for s in a.seeds.split(",")]
    jobs = [(load_config(None, users=a.users, days=a.days, seed=s), b, a.oracle_k) for b in bidders for s in seeds]
    start = time.perf_counter()
    with ProcessPoolExecutor(a.workers) as ex:
        rows = list(ex.map(_play, jobs))
    if a.json:
        print(dumps({"users": a.users, "days": a.days, "oracle_k": a.oracle_k,
                          "wall_s": round(time.perf_counter() - start, 1), "rows": rows}))
        return
    for b in bidders:
        mine = [r for r in rows if r["bidder"] == b]
        pc, org = sum(r["post_click"] for r in mine), sum(r["organic"] for r in mine)
        print(f"{b}: {pc + org} click-through conversions over {len(mine)} worlds, {pc} post-click and {org} "
              f"organic ({org / max(pc + org, 1):.1%})")


if __name__ == "__main__":
    main()
