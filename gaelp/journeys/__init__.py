"""The journey store: people, journeys, touchpoints and learned state that persist across episodes.

One schema through SQLAlchemy Core, three engines: an embedded DuckDB file by default (see
README.md for why), SQLite, or PostgreSQL by URL. `run_campaign` runs a campaign over a store,
one transaction per simulated day, resumable after a kill; `JourneyStore` opens a store to query it.
"""

from gaelp.journeys.engines import StoreError, StoreLockedError, default_store_url
from gaelp.journeys.store import JourneyStore

__all__ = ["JourneyStore", "StoreError", "StoreLockedError", "default_store_url", "run_campaign"]


def __getattr__(name: str):
    # run_campaign builds a Simulation, a floor above the store: import it only when asked for
    if name == "run_campaign":
        from gaelp.journeys.campaign import run_campaign

        return run_campaign
    raise AttributeError(f"module 'gaelp.journeys' has no attribute {name!r}")
