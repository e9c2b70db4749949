"""A diagnostic bound: `oracle_lp` that also knows the campaign's horizon, on held-out worlds.

Usage: python scripts/oracle_lp_horizon.py FIRST END [--days D] [--users N] > OUT.json

`oracle_lp` (the issue's bound) bids `k x true P(purchase | click) x target CPA` whenever the purchase would
come; the score counts only the purchases that land before the campaign's end. This bound multiplies each bid
by the shipped checkpoint's horizon table (the share of a click's purchases that land in the hours left, the
factor the agent bids with), and chooses its `k` per world in hindsight exactly as `oracle_lp` does
(`gaelp.experiments.hindsight`). It plays worlds FIRST..END-1 in this process (run two at once on two cores)
and prints `{"worlds", "users", "days", "wall_s", "per_world": [...]}` (the rows of `gaelp evaluate --json`).

For reading the agent's ratio against a bound that is not blind to the horizon (docs/agent.md, "A
horizon-aware bound"); not a bidder of the product, so it patches `OracleLpBidder.bid` in its own process only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from gaelp.agent.bidder import default_policy_path, horizon_share
from gaelp.agent.network import load_checkpoint
from gaelp.bidders import baselines
from gaelp.bidders.protocol import OpportunityBatch
from gaelp.config import load_config
from gaelp.experiments.evaluate import play_worlds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=int)
    ap.add_argument("end", type=int)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--users", type=int, default=100_000)
    a = ap.parse_args()
    table = np.asarray(load_checkpoint(default_policy_path())["horizon"])
    hours = 24 * a.days
    plain = baselines.OracleLpBidder.bid

    def bid(self: baselines.OracleLpBidder, batch: OpportunityBatch) -> np.ndarray:
        return plain(self, batch) * horizon_share(table, hours - batch.t)

    baselines.OracleLpBidder.bid = bid  # type: ignore[method-assign]
    start = time.perf_counter()
    seeds = list(range(a.first, a.end))
    rows = play_worlds(load_config(None, users=a.users, days=a.days), seeds, ["oracle_lp"], workers=1)["oracle_lp"]
    json.dump({"worlds": seeds, "users": a.users, "days": a.days, "wall_s": round(time.perf_counter() - start, 2),
               "per_world": [r.to_json() for r in rows]}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
