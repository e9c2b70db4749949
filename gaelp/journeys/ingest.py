"""Real event logs in the journey store: `ingested_events`, written idempotently by `event_id`.

A log validated by `gaelp.attribution.event_log` is appended to its own table beside the simulator's
(ids and channels of a real log are text, not the simulator's integers). The table has its own
`MetaData`: it is created by the first ingestion, and stores without it (every simulated store)
keep their schema version.

Idempotent: an event whose `event_id` the store already holds is skipped, so ingesting the same file
twice (or two overlapping exports) stores every event once. The new rows go in one transaction
through each engine's bulk path: DuckDB reads the batch as an Arrow view; SQLite and PostgreSQL stage
it in a temporary table (`executemany`, the DB-API's batch path) and insert what is new with one
`INSERT ... SELECT ... WHERE NOT EXISTS`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pyarrow as pa
import sqlalchemy as sa

from gaelp.journeys.engines import StoreError, duckdb_raw
from gaelp.journeys.store import JourneyStore

event_metadata = sa.MetaData()
ingested_events = sa.Table(
    "ingested_events", event_metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("t_seconds", sa.Float(53), nullable=False),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("cost", sa.Float(53), nullable=False),
    sa.Column("value", sa.Float(53), nullable=False),
)
COLUMNS = tuple(c.name for c in ingested_events.columns)
_serial = itertools.count()


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one ingestion did.

    Attributes:
        new: Events written.
        already_stored: Valid events the store held already (same `event_id`), skipped.
        total: Events in the store's table afterwards.
    """

    new: int
    already_stored: int
    total: int


def ingest(store: JourneyStore, events: pa.Table) -> IngestResult:
    """Append the events the store does not hold yet, in one transaction.

    Args:
        store: A store open for writing.
        events: Validated events with the columns of `ingested_events` (ids unique).

    Returns:
        Counts of new and skipped events.
    """
    if not store.write:
        raise StoreError(f"journey store {store.path or store.name} is not open for writing")
    events = events.select(list(COLUMNS))
    dialect = store.engine.dialect.name
    with store.engine.begin() as conn:
        event_metadata.create_all(conn, checkfirst=True)
        before = conn.execute(sa.select(sa.func.count()).select_from(ingested_events)).scalar_one()
        cols = ", ".join(COLUMNS)
        stage = f"_gaelp_ingest_{next(_serial)}"
        new_rows = (f"INSERT INTO ingested_events ({cols}) SELECT {cols} FROM {stage} AS s WHERE NOT EXISTS "
                    f"(SELECT 1 FROM ingested_events AS e WHERE e.event_id = s.event_id)")
        if events.num_rows:
            if dialect == "duckdb":
                raw = duckdb_raw(conn)
                raw.register(stage, events)
                try:
                    raw.execute(new_rows)
                finally:
                    raw.unregister(stage)
            else:
                conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {stage} AS SELECT {cols} FROM ingested_events "
                                     f"WHERE 1 = 0")
                marks = ", ".join(["%s" if dialect == "postgresql" else "?"] * len(COLUMNS))
                rows = list(zip(*(events[c].to_pylist() for c in COLUMNS), strict=True))
                conn.exec_driver_sql(f"INSERT INTO {stage} ({cols}) VALUES ({marks})", rows)
                conn.exec_driver_sql(new_rows)
                conn.exec_driver_sql(f"DROP TABLE {stage}")
        after = conn.execute(sa.select(sa.func.count()).select_from(ingested_events)).scalar_one()
    new = int(after) - int(before)
    return IngestResult(new=new, already_stored=events.num_rows - new, total=int(after))
