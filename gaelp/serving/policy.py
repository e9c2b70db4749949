"""Which bidder the server runs: the learning agent from `--policy PATH`, else the `target_cpa` baseline."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from gaelp.bidders.protocol import Bidder
from gaelp.config import Config
from gaelp.rng import Streams
from gaelp.serving.hourlog import clock_hour
from gaelp.simulation import build_bidder as build_registered

DEFAULT_BIDDER = "target_cpa"


class ServeError(RuntimeError):
    """The server cannot start as asked; the message says how to fix it."""


def build_bidder(cfg: Config, policy: Path | None = None, guard_aim: str = "spent",
                 start_hour: int | None = None, horizon: bool = False) -> Bidder:
    """Our bidder, with the campaign's daily budget, as `gaelp simulate` builds it.

    Args:
        cfg: the config.
        policy: a trained agent's checkpoint, loaded by `gaelp.agent.bidder.make_agent_bidder` (learning
            online from the served events); None runs the registered `target_cpa` baseline.
        guard_aim: what the agent's CAC guard holds under the target (`gaelp.agent.bidder.GUARD_AIMS`): the
            CAC so far, or the whole campaign's (`rest`: what the rest of its `cfg.days` may cost).
        start_hour: the campaign's first hour in the server's clock (hours since the Unix epoch): the agent's
            guard and its report of the campaign's progress count from it. None: the hour now (the server's
            start: a restarted server starts a new campaign).
        horizon: the agent bids for the purchases that land before its campaign's end (`cfg.days` after
            `start_hour`), with its checkpoint's horizon table (`make_agent_bidder`); off by default, since a
            server's campaign runs as long as the server does.

    Raises:
        ServeError: the checkpoint does not exist or is not one, or a guard aim is asked of the baseline or is
            unknown.
    """
    if policy is None:
        if guard_aim != "spent":
            raise ServeError("--guard-aim sets the agent's CAC guard: pass --policy (the baseline has none)")
        if horizon:
            raise ServeError("--horizon sets the agent's campaign horizon: pass --policy (the baseline has none)")
        return build_registered(cfg, DEFAULT_BIDDER, Streams(cfg.seed))
    if not Path(policy).exists():
        raise ServeError(f"--policy {policy}: no such file (pass a checkpoint written by `gaelp train`)")
    from gaelp.agent.bidder import check_guard_aim, make_agent_bidder  # torch loads only when the agent is served

    try:
        check_guard_aim(guard_aim)
    except ValueError as e:
        raise ServeError(f"--guard-aim: {e}") from None
    from gaelp.agent.network import CheckpointError

    start = clock_hour(time.time()) if start_hour is None else int(start_hour)
    try:
        return make_agent_bidder(cfg, policy=Path(policy), online=True, guard_aim=guard_aim, campaign_start=start,
                                 horizon=horizon)
    except CheckpointError as e:
        raise ServeError(f"--policy {e}") from None


def store_sink(url: str) -> Callable[[pd.DataFrame], None]:
    """A function that appends accepted events to the journey store at `url` (its `ingested_events` table,
    the one `gaelp ingest` fills, idempotent by `event_id`). The store stays open for writing while the
    server runs.

    Raises:
        ServeError: the store cannot be opened.
    """
    from gaelp.journeys import JourneyStore, StoreError
    from gaelp.journeys.ingest import ingest

    try:
        store = JourneyStore(url, write=True)
    except StoreError as e:
        raise ServeError(f"--store {url}: {e}") from None

    def sink(events: pd.DataFrame) -> None:
        ingest(store, pa.table({
            "event_id": events["event_id"].astype(str).to_numpy(), "t_seconds": events["timestamp"].to_numpy(float),
            "user_id": events["user_id"].astype(str).to_numpy(), "channel": events["channel"].astype(str).to_numpy(),
            "event_type": events["event_type"].astype(str).to_numpy(), "cost": events["cost"].to_numpy(float),
            "value": events["value"].to_numpy(float)}))

    return sink
