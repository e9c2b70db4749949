"""The journey store's schema: one SQLAlchemy Core `MetaData` for every engine.

Tables (ids are the simulator's: person ids, global device ids, advertiser columns with 0 = ours):

* `meta`: key -> value (schema version, config hash and JSON of the world).
* `advertisers`: advertiser 0 is our campaign (named after our bidder), then the competitors in
  config order.
* `people`, `devices`: who exists (static).
* `journeys`: one row per person, the journey state as of the last committed day; `day` is the day
  the row last changed (-1: the world's initial state).
* `stage_history`: net stage changes per person and day, from day-over-day state diffs (moves that
  cancel within a day are not seen); `t` is the person's last activity that day, else the day's start.
* `touchpoints`: every impression of every advertiser; `(t, key, slot)` names one (an opportunity
  key names one opportunity of a day).
* `conversions`: every purchase; a person buys at most once an hour, so `(t, person_id)` is unique.
* `days`: one row per committed day, written in the day's transaction with its row counts and a
  digest of its rows. Its key makes writing a day twice impossible on every engine.
* `episodes`: each run of the campaign over the store (days `start_day` .. `end_day - 1`).
* `bidder_state`: each advertiser's learned state (a packed blob) as of `day`.
* `checkpoints`: the latest full simulation state (a packed blob; the bidders' part is `bidder_state`,
  written in the same transaction); `next_day` is the day it resumes at. Taken every few days and at
  the end of every episode: a resume after a kill replays the days since, checking each against its
  digest in `days`.

Row-level keys: PostgreSQL and SQLite enforce `(t, key, slot)` on touchpoints and `(person_id, day)`
on stage history as primary keys. DuckDB builds no index for them (an ART index doubles the cost of
its bulk appends); there the `days` key, taken in the same transaction as the rows, is what rules
out duplicates.

Integer columns map to fixed-width numpy dtypes (`DTYPES`); queries return those dtypes on every
engine, so the same rows compare equal whichever engine wrote them.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.ddl import BaseDDLElement

SCHEMA_VERSION = 1

metadata = sa.MetaData()


_ColumnType: TypeAlias = sa.types.TypeEngine[Any] | type[sa.types.TypeEngine[Any]]


def _id(name: str, type_: _ColumnType = sa.BigInteger, **kw: Any) -> sa.Column:
    # autoincrement off: ids come from the simulator, and DuckDB has no SERIAL types
    return sa.Column(name, type_, primary_key=True, autoincrement=False, **kw)


def _col(name: str, type_: _ColumnType) -> sa.Column:
    return sa.Column(name, type_, nullable=False)


def _row_store(
    ddl: BaseDDLElement, target: sa.schema.SchemaItem | str, bind: Connection | None,
    tables: list[sa.Table] | None = None, state: Any = None, *, dialect: Dialect,
    compiler: DDLCompiler | None = None, checkfirst: bool = False, **kw: Any,
) -> bool:
    """DDL only for row stores: DuckDB answers these lookups with zone maps and a columnar scan, and
    an ART index there would only slow the bulk appends."""
    return dialect.name != "duckdb"


meta = sa.Table("meta", metadata, sa.Column("key", sa.String(64), primary_key=True), _col("value", sa.Text))

advertisers = sa.Table(
    "advertisers", metadata,
    _id("advertiser_id", sa.SmallInteger), _col("name", sa.Text), _col("ours", sa.Boolean),
)

people = sa.Table(
    "people", metadata,
    _id("person_id"), _col("segment", sa.SmallInteger), _col("n_devices", sa.SmallInteger),
)

devices = sa.Table(
    "devices", metadata,
    _id("device_id"), _col("person_id", sa.BigInteger), _col("device_type", sa.SmallInteger),
)

journeys = sa.Table(
    "journeys", metadata,
    _id("person_id"), _col("stage", sa.SmallInteger), _col("last_activity", sa.Integer),
    _col("converted_at", sa.Integer), _col("day", sa.Integer),
)

stage_history = sa.Table(
    "stage_history", metadata,
    _col("person_id", sa.BigInteger), _col("day", sa.Integer), _col("t", sa.Integer),
    _col("from_stage", sa.SmallInteger), _col("to_stage", sa.SmallInteger),
    sa.PrimaryKeyConstraint("person_id", "day").ddl_if(callable_=_row_store),
)

touchpoints = sa.Table(
    "touchpoints", metadata,
    _col("t", sa.Integer), _col("key", sa.BigInteger), _col("slot", sa.SmallInteger),
    _col("person_id", sa.BigInteger), _col("device_id", sa.BigInteger), _col("advertiser", sa.SmallInteger),
    _col("channel", sa.SmallInteger), _col("intent", sa.SmallInteger), _col("creative", sa.SmallInteger),
    _col("clicked", sa.Boolean), _col("cost", sa.Double),
    sa.PrimaryKeyConstraint("t", "key", "slot").ddl_if(callable_=_row_store),
)

conversions = sa.Table(
    "conversions", metadata,
    _id("t", sa.Integer), _id("person_id"), _col("device_id", sa.BigInteger),
    _col("advertiser", sa.SmallInteger), _col("value", sa.Double), _col("kind", sa.SmallInteger),
    _col("credit_channel", sa.SmallInteger), _col("by_click", sa.Boolean),
)

episodes = sa.Table(
    "episodes", metadata,
    _id("episode_id", sa.Integer), _col("start_day", sa.Integer), _col("end_day", sa.Integer),
    _col("seed", sa.BigInteger), _col("config_hash", sa.String(64)), _col("bidder", sa.Text),
)

bidder_state = sa.Table(
    "bidder_state", metadata,
    _id("advertiser_id", sa.SmallInteger), _col("name", sa.Text), _col("day", sa.Integer),
    _col("state", sa.LargeBinary),
)

days = sa.Table(
    "days", metadata,
    _id("day", sa.Integer), _col("touchpoints", sa.Integer), _col("conversions", sa.Integer),
    _col("digest", sa.String(32)),
)

checkpoints = sa.Table(
    "checkpoints", metadata, _id("next_day", sa.Integer), _col("state", sa.LargeBinary),
)


# Indexes for the queries `store.py` makes: a person's devices and touchpoints (history), journeys by
# stage (active journeys), conversions by person (the primary keys serve time ranges).
sa.Index("ix_devices_person", devices.c.person_id).ddl_if(callable_=_row_store)
sa.Index("ix_touchpoints_person", touchpoints.c.person_id, touchpoints.c.t).ddl_if(callable_=_row_store)
sa.Index("ix_journeys_stage", journeys.c.stage).ddl_if(callable_=_row_store)
sa.Index("ix_conversions_person", conversions.c.person_id).ddl_if(callable_=_row_store)

_NUMPY = {sa.SmallInteger: np.int16, sa.Integer: np.int32, sa.BigInteger: np.int64, sa.Boolean: np.bool_,
          sa.Double: np.float64}


def _dtypes(table: sa.Table) -> dict[str, np.dtype]:
    out = {}
    for c in table.columns:
        for sa_type, np_type in _NUMPY.items():
            if type(c.type) is sa_type:
                out[c.name] = np.dtype(np_type)
    return out


DTYPES: dict[str, dict[str, np.dtype]] = {t.name: _dtypes(t) for t in metadata.sorted_tables}
"""table name -> column -> numpy dtype of its numeric columns."""

TABLE_NAMES = tuple(t.name for t in metadata.sorted_tables)
