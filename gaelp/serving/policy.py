"""Which bidder the server runs: the learning agent from `--policy PATH`, else the `target_cpa` baseline."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pandas as pd
import pyarrow as pa

from gaelp.bidders.protocol import Bidder
from gaelp.config import Config
from gaelp.rng import Streams
from gaelp.simulation import build_bidder as build_registered

DEFAULT_BIDDER = "target_cpa"
AGENT_MODULE, AGENT_FACTORY = "gaelp.agent.bidder", "make_agent_bidder"


class ServeError(RuntimeError):
    """The server cannot start as asked; the message says how to fix it."""


def _optional_module(name: str, missing: str) -> ModuleType:
    """Import `name`, or raise `ServeError(missing)` if it (or a package above it) does not exist.

    An import error from inside the module (one of its own dependencies) is not hidden.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is None or not (name == e.name or name.startswith(e.name + ".")):
            raise
        raise ServeError(missing) from None


def build_bidder(cfg: Config, policy: Path | None = None) -> Bidder:
    """Our bidder, with the campaign's daily budget, as `gaelp simulate` builds it.

    Args:
        cfg: the config.
        policy: a trained agent's checkpoint, loaded by `gaelp.agent.bidder.make_agent_bidder` (learning
            online from the served events); None runs the registered `target_cpa` baseline.

    Raises:
        ServeError: the checkpoint does not exist, or this install has no learning agent.
    """
    if policy is None:
        return build_registered(cfg, DEFAULT_BIDDER, Streams(cfg.seed))
    if not Path(policy).exists():
        raise ServeError(f"--policy {policy}: no such file (pass a checkpoint written by `gaelp train`)")
    module = _optional_module(AGENT_MODULE, f"--policy needs the learning agent ({AGENT_MODULE}.{AGENT_FACTORY}), "
                              f"which this install of gaelp lacks; update gaelp, or serve the {DEFAULT_BIDDER} "
                              f"baseline by leaving out --policy")
    factory = getattr(module, AGENT_FACTORY, None)
    if factory is None:
        raise ServeError(f"{AGENT_MODULE} has no {AGENT_FACTORY}: this gaelp's agent cannot be served")
    return factory(cfg, policy=Path(policy), online=True)


STORE_INGEST_MODULE = "gaelp.journeys.ingest"


def store_sink(url: str) -> Callable[[pd.DataFrame], None]:
    """A function that appends accepted events to the journey store at `url` (its `ingested_events` table,
    the one `gaelp ingest` fills, idempotent by `event_id`). The store stays open for writing while the
    server runs.

    Raises:
        ServeError: the store cannot be opened, or this install's journey store cannot take event logs.
    """
    module = _optional_module(STORE_INGEST_MODULE, f"--store: this gaelp's journey store cannot take event logs "
                              f"({STORE_INGEST_MODULE} is missing; it comes with `gaelp ingest`); serve without "
                              f"--store, the events are then kept in memory only")
    from gaelp.journeys import JourneyStore, StoreError

    try:
        store = JourneyStore(url, write=True)
    except StoreError as e:
        raise ServeError(f"--store {url}: {e}") from None

    def sink(events: pd.DataFrame) -> None:
        module.ingest(store, pa.table({
            "event_id": events["event_id"].astype(str).to_numpy(), "t_seconds": events["timestamp"].to_numpy(float),
            "user_id": events["user_id"].astype(str).to_numpy(), "channel": events["channel"].astype(str).to_numpy(),
            "event_type": events["event_type"].astype(str).to_numpy(), "cost": events["cost"].to_numpy(float),
            "value": events["value"].to_numpy(float)}))

    return sink
