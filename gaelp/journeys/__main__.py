"""`python -m gaelp.journeys`: run (or resume) a campaign into a journey store, printing each commit.

    python -m gaelp.journeys --store URL --users 1000 --days 40 [--seed 0] [--resume]

Prints `committed DAYS_DONE` after each committed day (flushed), then `done DAY` with the world's
next day. Exit codes: 0 done, 1 a store error (message on stderr). The tests kill it mid-run; users
run campaigns with `gaelp simulate --store URL`.
"""

from __future__ import annotations

import argparse
import sys

from gaelp.config import ConfigError, load_config
from gaelp.journeys.campaign import CHECKPOINT_EVERY, run_campaign
from gaelp.journeys.engines import StoreError


def main(argv: list[str] | None = None) -> int:
    """Parse, run, report; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m gaelp.journeys", description="Run a campaign into a journey store.")
    ap.add_argument("--store", required=True, help="store URL (sqlite:///PATH, duckdb:///PATH, postgresql+psycopg://...)")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--days", type=int, default=30, help="days to simulate in this run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", default=None, help="TOML config file")
    ap.add_argument("--resume", action="store_true", help="continue the world the store holds")
    ap.add_argument("--checkpoint-every", type=int, default=CHECKPOINT_EVERY)
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config, users=args.users, seed=args.seed)
        sim = run_campaign(cfg, args.days, args.store, resume=args.resume, checkpoint_every=args.checkpoint_every,
                           progress=lambda done, _total: print(f"committed {done}", flush=True))
    except (StoreError, ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"done {sim.day}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
