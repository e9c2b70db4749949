"""Which bidder the server runs: the learning agent from `--policy PATH`, else the `target_cpa` baseline."""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd

from gaelp.bidders.protocol import Bidder
from gaelp.config import Config
from gaelp.rng import Streams
from gaelp.simulation import build_bidder as build_registered

DEFAULT_BIDDER = "target_cpa"
AGENT_MODULE, AGENT_FACTORY = "gaelp.agent.bidder", "make_agent_bidder"


class ServeError(RuntimeError):
    """The server cannot start as asked; the message says how to fix it."""


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
    try:
        module = importlib.import_module(AGENT_MODULE)
    except ModuleNotFoundError as e:
        if e.name is None or not AGENT_MODULE.startswith(e.name):
            raise
        raise ServeError(f"--policy needs the learning agent ({AGENT_MODULE}.{AGENT_FACTORY}), which this "
                         f"install of gaelp lacks; update gaelp, or serve the {DEFAULT_BIDDER} baseline "
                         f"by leaving out --policy") from None
    factory = getattr(module, AGENT_FACTORY, None)
    if factory is None:
        raise ServeError(f"{AGENT_MODULE} has no {AGENT_FACTORY}: this gaelp's agent cannot be served")
    return factory(cfg, policy=Path(policy), online=True)


def store_sink(url: str):
    """A function that hands accepted events to the journey store at `url`.

    Raises:
        ServeError: the journey store of this install cannot take event logs.
    """
    journeys = importlib.import_module("gaelp.journeys")
    ingest = getattr(journeys, "ingest_events", None)
    if ingest is None:
        raise ServeError("--store: this gaelp's journey store cannot take event logs yet (it has no "
                         "gaelp.journeys.ingest_events); serve without --store, the events are kept in memory")

    def sink(events: pd.DataFrame) -> None:
        ingest(url, events)

    return sink
