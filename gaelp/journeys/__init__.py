"""The journey store: people, journeys, touchpoints and learned state that persist across episodes.

One schema through SQLAlchemy Core, three engines: an embedded DuckDB file by default (see
README.md for why), SQLite, or PostgreSQL by URL. `JourneyStore` opens a store to write or query
it; `gaelp.experiments.stored.run_campaign` runs a campaign over a store (the store sits below the
simulation, so the runner lives above it), one transaction per simulated day, resumable after a kill.
"""

from gaelp.journeys.engines import StoreError, StoreLockedError, default_store_url
from gaelp.journeys.store import JourneyStore

__all__ = ["JourneyStore", "StoreError", "StoreLockedError", "default_store_url"]
