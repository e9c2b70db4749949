"""`JourneyStore`: opening a store, writing a world and its days, and resuming it.

A store holds one world: the people and devices of one config, then one committed day after another.
Each day is one transaction (its `days` row, touchpoints, conversions, changed journeys, stage
history, the episode's end, and on checkpoint days the bidders' state and a checkpoint), so a store
always ends on a whole day. The queries live in `queries.py`.

Example:
    >>> with JourneyStore("duckdb:///runs/demo/journeys.duckdb") as store:  # doctest: +SKIP
    ...     store.committed_days()
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
import sqlalchemy as sa

from gaelp.journeys import schema as S
from gaelp.journeys.engines import (
    StoreError,
    StoreLockedError,
    WriterLock,
    bulk_insert,
    bulk_update,
    check_file,
    create_engine,
    engine_name,
    parse_url,
    shown,
)
from gaelp.journeys.queries import Queries


@dataclass(frozen=True, slots=True)
class World:
    """The static part of a world, written once when a store starts.

    Attributes:
        config_json: the config the world was built from (JSON, without `days` / `store_url`).
        config_hash: sha256 of `config_json`; a store only continues a world of the same hash.
        segment: (n,) segment of each person.  n_devices: (n,).  device_type: (n_device_ids,).
        stage: (n,) initial journey stage of each person.
        advertisers: advertiser names, ours first.
    """

    config_json: str
    config_hash: str
    segment: np.ndarray
    n_devices: np.ndarray
    device_type: np.ndarray
    stage: np.ndarray
    advertisers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DayRecord:
    """One simulated day, ready to commit.

    Attributes:
        day: the day simulated.
        impressions, conversions: the day's `DayLog` columns.
        stage, last_activity, converted_at: (n,) journey state at the end of the day.
        bidders: each advertiser's packed state, ours first (None: not a checkpoint day).
        checkpoint: the packed simulation state after the day (None: not a checkpoint day).
    """

    day: int
    impressions: dict[str, np.ndarray]
    conversions: dict[str, np.ndarray]
    stage: np.ndarray
    last_activity: np.ndarray
    converted_at: np.ndarray
    bidders: list[bytes] | None = None
    checkpoint: bytes | None = None


def touchpoint_columns(imp: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`DayLog.impressions` as touchpoints columns."""
    return {"t": imp["t"], "key": imp["key"], "slot": imp["slot"], "person_id": imp["person"],
            "device_id": imp["device"], "advertiser": imp["advertiser"], "channel": imp["channel"],
            "intent": imp["intent"], "creative": imp["creative"], "clicked": imp["clicked"], "cost": imp["cost"]}


def conversion_columns(conv: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`DayLog.conversions` as conversions columns."""
    return {"t": conv["t"], "person_id": conv["person"], "device_id": conv["device"],
            "advertiser": conv["advertiser"], "value": conv["value"], "kind": conv["kind"],
            "credit_channel": conv["credit_channel"], "by_click": conv["by_click"]}


def day_digest(impressions: dict[str, np.ndarray], conversions: dict[str, np.ndarray]) -> str:
    """A digest of a day's rows (their exact bytes in the store's dtypes): a replayed day must match."""
    h = hashlib.blake2b(digest_size=16)
    for table, cols in (("touchpoints", touchpoint_columns(impressions)),
                        ("conversions", conversion_columns(conversions))):
        for c, dt in S.DTYPES[table].items():
            h.update(np.ascontiguousarray(cols[c], dtype=dt).tobytes())
    return h.hexdigest()


_JOURNEY = ("stage", "last_activity", "converted_at")
_LOCK_MESSAGE = re.compile(r"\b(lock|locked|locking)\b", re.IGNORECASE)
_DAMAGE_MESSAGE = re.compile(r"checksum|corrupt|malformed|truncat|not a database", re.IGNORECASE)
_SIDE_FILES = ("", ".wal", "-wal", "-shm", "-journal")


class JourneyStore(Queries):
    """A journey store at `url`; with `write=True` this process holds the store's writer lock.

    Args:
        url: `sqlite:///PATH`, `duckdb:///PATH` or `postgresql+psycopg://...`.
        write: open for writing (creates the file and schema if needed); False opens an existing store.

    Raises:
        StoreError: a bad URL or path, a corrupt or foreign file, a schema of another version, an
            unreachable server. StoreLockedError: another process writes the store.
    """

    def __init__(self, url: str, write: bool = False) -> None:
        self.url = parse_url(url)
        self.write = write
        self.name = shown(self.url)
        path, new = check_file(self.url, write)
        self.path = path
        self._lock: WriterLock | None = None
        self._engine: sa.Engine | None = None
        self._prev: dict[str, np.ndarray] | None = None
        try:
            if write and path is not None:
                self._lock = WriterLock(self.url, None)  # before connecting: the engine's own lock is terse
            if new and path is not None and path.exists():
                path.unlink()  # an empty file: start it afresh
            self._engine = create_engine(self.url, write)
            if write and path is None:
                try:
                    self._lock = WriterLock(self.url, self._engine)
                except sa.exc.DBAPIError as e:
                    raise self._connect_error(e) from None
            self._open_schema()
        except BaseException:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
            if new and path is not None and self._lock is not None:  # ours to remove: nothing half-written
                for suffix in _SIDE_FILES:
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            self.close()
            raise

    @property
    def engine(self) -> sa.Engine:
        """The open engine; StoreError once the store is closed."""
        if self._engine is None:
            raise StoreError(f"journey store {self.path or self.name} is closed")
        return self._engine

    # --- opening ---------------------------------------------------------------------------------
    def _connect_error(self, e: Exception) -> StoreError:
        msg = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        # "block" and "checksum" errors are damage, not a lock: match whole words of lock messages only.
        if _LOCK_MESSAGE.search(msg) and not _DAMAGE_MESSAGE.search(msg) and self.path is not None:
            return StoreLockedError(f"journey store {self.path} is open for writing by another process ({msg}); "
                                    f"{engine_name(self.url)} lets one process open it at a time: wait for "
                                    f"it to finish, or store in PostgreSQL to read while a campaign runs")
        if self.path is not None:
            return StoreError(f"cannot open journey store {self.path} as {engine_name(self.url)}: {msg}; "
                              f"the file is damaged or from another version: move it away or pass another --store")
        return StoreError(f"cannot connect to journey store {self.name}: {msg}; check that the server runs "
                          f"and the URL (user, host, port, database) is right")

    def _open_schema(self) -> None:
        try:
            with self.engine.begin() as conn:
                names = set(sa.inspect(conn).get_table_names())
                if not names and self.write:
                    S.metadata.create_all(conn)
                    conn.execute(S.meta.insert(), [{"key": "schema_version", "value": str(S.SCHEMA_VERSION)}])
                    return
        except sa.exc.DBAPIError as e:
            raise self._connect_error(e) from None
        where = self.path or self.name
        if not names:
            raise StoreError(f"journey store {where} is empty: no campaign was stored there yet")
        if "meta" not in names:
            raise StoreError(f"{where} holds other tables ({', '.join(sorted(names)[:5])}), not a GAELP journey "
                             f"store: pass another --store")
        version = self.meta().get("schema_version")
        if version != str(S.SCHEMA_VERSION):
            raise StoreError(f"journey store {where} has schema version {version}, this GAELP reads version "
                             f"{S.SCHEMA_VERSION}: start a new store (another --store) or migrate this one")
        missing = sorted(set(S.TABLE_NAMES) - names)
        if missing:
            raise StoreError(f"journey store {where} lacks tables {', '.join(missing)}: it is damaged; "
                             f"move it away and start a new store")

    def check_intact(self) -> None:
        """Read every stored byte once and raise `StoreError` if the store is damaged.

        A resume calls this before writing: a store truncated or overwritten in the middle can still
        answer the few queries a resume makes, and writing to it would then make it unreadable.
        SQLite runs its `quick_check`; DuckDB compares the file's size with the blocks it claims and
        reads every column of every table (each block is checksummed when read); a PostgreSQL
        server keeps its own files whole.
        """
        where = self.path or self.name
        dialect = self.engine.dialect.name
        try:
            with self.engine.connect() as conn:
                if dialect == "sqlite":
                    verdict = [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check").all()]
                    if verdict != ["ok"]:
                        raise StoreError(f"journey store {where} is damaged ({'; '.join(verdict[:3])}): "
                                         "move it away and start a new store, or restore it from a copy")
                    return
                if dialect != "duckdb":
                    return
                size = conn.exec_driver_sql("SELECT block_size, total_blocks FROM pragma_database_size()").first()
                if size is not None and self.path is not None:
                    # DuckDB files start with three 4 KiB headers, then the blocks.
                    expected = 3 * 4096 + int(size[0]) * int(size[1])
                    actual = self.path.stat().st_size
                    if actual < expected:
                        raise StoreError(f"journey store {where} is truncated ({actual:,} of {expected:,} bytes): "
                                         "move it away and start a new store, or restore it from a copy")
                for table in S.metadata.sorted_tables:
                    cols = ", ".join(c.name for c in table.columns)
                    conn.exec_driver_sql(f"SELECT count(*), sum(hash({cols})) FROM {table.name}").all()
        except sa.exc.DBAPIError as e:
            msg = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
            raise StoreError(f"journey store {where} is damaged ({msg}): move it away and start a new store, "
                             "or restore it from a copy") from None

    def close(self) -> None:
        """Release the writer lock and the connections (idempotent)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _writable(self) -> None:
        if not self.write or self._engine is None:
            raise StoreError(f"journey store {self.path or self.name} is not open for writing")

    # --- the world -------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        """The `meta` table as a dict."""
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(S.meta.c.key, S.meta.c.value)).all())

    def has_world(self) -> bool:
        """Whether a world was written."""
        return "config_hash" in self.meta()

    def check_world(self, config_json: str, config_hash: str) -> None:
        """Raise `StoreError` unless the store's world was built from this config."""
        m = self.meta()
        if m.get("config_hash") in (None, config_hash):
            return
        old, new = json.loads(m["config"]), json.loads(config_json)
        diff = _diff(old, new)
        raise StoreError(f"journey store {self.path or self.name} holds a world of another config (differs in "
                         f"{', '.join(diff[:6]) or 'details'}): continue it with the same config, "
                         "or pass another --store")

    def init_world(self, world: World) -> None:
        """Write the people, devices, initial journeys and advertisers, in one transaction."""
        self._writable()
        n = world.segment.shape[0]
        people = np.arange(n, dtype=np.int64)
        with self.engine.begin() as conn:
            conn.execute(S.meta.insert(), [{"key": "config_hash", "value": world.config_hash},
                                           {"key": "config", "value": world.config_json}])
            conn.execute(S.advertisers.insert(), [{"advertiser_id": i, "name": a, "ours": i == 0}
                                                  for i, a in enumerate(world.advertisers)])
            bulk_insert(conn, "people", {"person_id": people, "segment": world.segment, "n_devices": world.n_devices})
            bulk_insert(conn, "devices", {"device_id": np.arange(world.device_type.shape[0]),
                                          "person_id": np.repeat(people, world.n_devices),
                                          "device_type": world.device_type})
            minus = np.full(n, -1, np.int32)
            bulk_insert(conn, "journeys", {"person_id": people, "stage": world.stage, "last_activity": minus,
                                           "converted_at": minus, "day": minus})
        self._prev = {"stage": world.stage.astype(np.int16), "last_activity": minus, "converted_at": minus}

    # --- identity ----------------------------------------------------------------------------------
    def get_or_create_person(self, person_id: int, segment: int = -1) -> tuple[int, bool]:
        """Make sure a person exists (with a journey row, UNAWARE); returns (person id, created)."""
        self._writable()
        pid = int(person_id)
        if pid < 0:
            raise ValueError(f"person_id must be >= 0, got {pid}")
        with self.engine.begin() as conn:
            if conn.execute(sa.select(S.people.c.person_id).where(S.people.c.person_id == pid)).first():
                return pid, False
            self._new_person(conn, pid, segment, 0)
        return pid, True

    def person_for_device(self, device_id: int, device_type: int = 0) -> tuple[int, bool]:
        """The person owning a device; an unknown device becomes a new person (the next free id) who
        owns it. Returns (person id, created)."""
        self._writable()
        did = int(device_id)
        if did < 0:
            raise ValueError(f"device_id must be >= 0, got {did}")
        with self.engine.begin() as conn:
            pid = conn.execute(sa.select(S.devices.c.person_id).where(S.devices.c.device_id == did)).scalar()
            if pid is not None:
                return int(pid), False
            last = conn.execute(sa.select(sa.func.max(S.people.c.person_id))).scalar()
            pid = 0 if last is None else int(last) + 1
            self._new_person(conn, pid, -1, 1)
            conn.execute(S.devices.insert(), [{"device_id": did, "person_id": pid, "device_type": int(device_type)}])
        return pid, True

    def _new_person(self, conn: sa.Connection, pid: int, segment: int, n_devices: int) -> None:
        conn.execute(S.people.insert(), [{"person_id": pid, "segment": int(segment), "n_devices": n_devices}])
        conn.execute(S.journeys.insert(), [{"person_id": pid, "stage": 0, "last_activity": -1, "converted_at": -1,
                                            "day": -1}])
        self._prev = None  # the diff base grew: reread it before the next day

    # --- days ------------------------------------------------------------------------------------
    def begin_episode(self, start_day: int, seed: int, config_hash: str, bidder: str) -> int:
        """Record the start of a run over the store; returns its episode id."""
        self._writable()
        with self.engine.begin() as conn:
            last = conn.execute(sa.select(sa.func.max(S.episodes.c.episode_id))).scalar()
            eid = 0 if last is None else int(last) + 1
            conn.execute(S.episodes.insert(), [{"episode_id": eid, "start_day": start_day, "end_day": start_day,
                                                "seed": seed, "config_hash": config_hash, "bidder": bidder}])
        return eid

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        """(day it resumes at, packed simulation state) of the latest checkpoint, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(S.checkpoints.c.next_day, S.checkpoints.c.state)
                               .order_by(S.checkpoints.c.next_day.desc()).limit(1)).first()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def bidder_blobs(self) -> list[bytes]:
        """Each advertiser's packed bidder state, ours first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.bidder_state.c.state).order_by(S.bidder_state.c.advertiser_id)).all()
        return [bytes(r[0]) for r in rows]

    def _previous_journeys(self) -> dict[str, np.ndarray]:
        if self._prev is None:
            cols = self.read_columns(sa.select(S.journeys.c.person_id, *(S.journeys.c[c] for c in _JOURNEY))
                                     .order_by(S.journeys.c.person_id), S.DTYPES["journeys"])
            self._prev = {c: cols[c] for c in _JOURNEY}
        return self._prev

    def day_digests(self, start: int, end: int) -> dict[int, str]:
        """Digests of the committed days `start <= day < end`."""
        d = S.days
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(d.c.day, d.c.digest).where((d.c.day >= start) & (d.c.day < end))).all()
        return {int(k): v for k, v in rows}

    def commit_day(self, rec: DayRecord, episode_id: int) -> None:
        """Write one day in one transaction: rows, changed journeys, the `days` row, the episode's end,
        and on checkpoint days the bidders' state and the checkpoint.

        Raises:
            StoreError: if the store's committed days are not exactly the days before `rec.day`.
        """
        self._writable()
        prev = self._previous_journeys()
        if prev["stage"].shape != rec.stage.shape:
            raise StoreError(f"journey store {self.path or self.name} holds {prev['stage'].size} journeys, the "
                             f"day has {rec.stage.size}: it belongs to another world")
        stage = rec.stage.astype(np.int16)
        changed = np.flatnonzero((stage != prev["stage"]) | (rec.last_activity != prev["last_activity"])
                                 | (rec.converted_at != prev["converted_at"]))
        moved = np.flatnonzero(stage != prev["stage"])
        la = rec.last_activity[moved]
        t0 = rec.day * 24
        imp, conv = rec.impressions, rec.conversions
        digest = day_digest(imp, conv)
        with self.engine.begin() as conn:
            done = _committed(conn)
            if done != rec.day:
                raise StoreError(f"journey store {self.path or self.name} has {done} committed days; cannot "
                                 f"commit day {rec.day}")
            # the day's key first: a second writer of this day fails here, before any row
            conn.execute(S.days.insert(), [{"day": rec.day, "touchpoints": int(imp["t"].size),
                                            "conversions": int(conv["t"].size), "digest": digest}])
            bulk_insert(conn, "touchpoints", touchpoint_columns(imp))
            bulk_insert(conn, "conversions", conversion_columns(conv))
            bulk_update(conn, "journeys", "person_id", {
                "person_id": changed, "stage": stage[changed], "last_activity": rec.last_activity[changed],
                "converted_at": rec.converted_at[changed], "day": np.full(changed.size, rec.day)})
            bulk_insert(conn, "stage_history", {
                "person_id": moved, "day": np.full(moved.size, rec.day), "t": np.where(la >= t0, la, t0),
                "from_stage": prev["stage"][moved], "to_stage": stage[moved]})
            if rec.checkpoint is not None:
                self._write_checkpoint(conn, rec)
            conn.execute(S.episodes.update().where(S.episodes.c.episode_id == episode_id)
                         .values(end_day=rec.day + 1))
        self._prev = {"stage": stage, "last_activity": rec.last_activity, "converted_at": rec.converted_at}

    def _write_checkpoint(self, conn: sa.Connection, rec: DayRecord) -> None:
        names = dict(conn.execute(sa.select(S.advertisers.c.advertiser_id, S.advertisers.c.name)).all())
        conn.execute(S.bidder_state.delete())
        conn.execute(S.bidder_state.insert(), [{"advertiser_id": i, "name": names.get(i, str(i)), "day": rec.day,
                                                "state": b} for i, b in enumerate(rec.bidders or [])])
        conn.execute(S.checkpoints.delete())
        conn.execute(S.checkpoints.insert(), [{"next_day": rec.day + 1, "state": rec.checkpoint}])


def _committed(conn: sa.Connection) -> int:
    last = conn.execute(sa.select(sa.func.max(S.days.c.day))).all()[0][0]
    return 0 if last is None else int(last) + 1


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Dotted paths where two JSON trees differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for k in sorted(set(a) | set(b)) for p in _diff(a.get(k), b.get(k), f"{path}.{k}" if path else k)]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b)) for p in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [path or "(root)"]
