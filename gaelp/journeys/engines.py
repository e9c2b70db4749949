"""Store URLs, engines, the writer lock and each engine's bulk path.

One schema serves three engines through SQLAlchemy Core; only bulk writes differ, because each
engine has its own fast path and a row-by-row `executemany` is a trap on two of them:

* DuckDB: a numpy batch is registered as an Arrow table and copied with one `INSERT ... SELECT`.
* PostgreSQL: `COPY ... FROM STDIN (FORMAT BINARY)`, the rows built as one numpy structured array
  (every column is fixed width, so every row has the same byte layout).
* SQLite: `executemany` of the sqlite3 module (a C loop: the only bulk path SQLite has).

One process writes a store at a time: file stores take an exclusive `flock` on `PATH.lock` (the OS
drops it when the process dies, so a killed run never leaves a stale lock); PostgreSQL takes a
session advisory lock (dropped with the session).
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from gaelp.journeys.schema import DTYPES

SUPPORTED = "sqlite:///PATH, duckdb:///PATH or postgresql+psycopg://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
_MAGIC = {"sqlite": (0, b"SQLite format 3\x00"), "duckdb": (8, b"DUCK")}
_ENGINE_NAMES = {"sqlite": "SQLite", "duckdb": "DuckDB", "postgresql": "PostgreSQL"}


class StoreError(RuntimeError):
    """A journey store that cannot be used; the message names the URL or path and what to do."""


class StoreLockedError(StoreError):
    """Another process is writing the store."""


def default_store_url(run_dir: str | Path) -> str:
    """The default store of a run: an embedded DuckDB file in the run's folder (see README)."""
    return f"duckdb:///{Path(run_dir) / 'journeys.duckdb'}"


def parse_url(url: str) -> sa.URL:
    """Validate a store URL and pin its driver.

    Raises:
        StoreError: for anything but a file path on SQLite / DuckDB or a PostgreSQL server.
    """
    try:
        u = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError(f"journey store URL {url!r} is not a URL; use {SUPPORTED}") from None
    backend = u.get_backend_name()
    if backend in ("postgres", "postgresql"):
        u = u.set(drivername="postgresql+psycopg")  # psycopg (3) is the driver we ship
    elif backend not in ("sqlite", "duckdb"):
        raise StoreError(f"journey store URL {shown(u)!r}: unsupported engine {backend!r}; use {SUPPORTED}")
    if backend in ("sqlite", "duckdb") and (not u.database or u.database == ":memory:"):
        raise StoreError(f"journey store URL {shown(u)!r} names no file: the store persists, so give a path "
                         f"({backend}:///runs/NAME/journeys.{backend}); leave --store unset to run in memory")
    return u


def shown(u: sa.URL | str) -> str:
    """The URL as safe to print (password hidden)."""
    return u if isinstance(u, str) else u.render_as_string(hide_password=True)


def engine_name(u: sa.URL) -> str:
    """'SQLite', 'DuckDB' or 'PostgreSQL'."""
    return _ENGINE_NAMES[u.get_backend_name()]


def _file_of(u: sa.URL) -> Path:
    """The file of an embedded store's URL (`parse_url` makes sure it names one)."""
    if u.database is None:
        raise StoreError(f"journey store URL {shown(u)!r} names no file")
    return Path(u.database).expanduser()


def check_file(u: sa.URL, write: bool) -> tuple[Path | None, bool]:
    """Check the file of an embedded store before connecting.

    Returns:
        (path or None for a server, whether the file is new).

    Raises:
        StoreError: missing (when reading), unwritable folder, a directory, or not this engine's file.
    """
    backend = u.get_backend_name()
    if backend == "postgresql":
        return None, False
    path = _file_of(u)
    if path.is_dir():
        raise StoreError(f"journey store path {path} is a directory; "
                         f"give a file path such as {path}/journeys.{backend}")
    if not path.exists():
        if not write:
            raise StoreError(f"journey store {path} does not exist; run a campaign with --store {shown(u)} first")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the folder of journey store {path}: {e.strerror}; "
                             f"pass --store with a path in a writable folder") from None
        if not os.access(path.parent, os.W_OK):
            raise StoreError(f"cannot write journey store {path}: folder {path.parent} is not writable; "
                             f"pass --store with a path in a writable folder")
        return path, True
    if write and not os.access(path, os.W_OK):
        raise StoreError(f"cannot write journey store {path}: the file is read-only; fix its permissions "
                         f"or pass another --store")
    if path.stat().st_size == 0:
        if not write:
            raise StoreError(f"journey store {path} is empty: no campaign was stored there yet")
        return path, True
    offset, magic = _MAGIC[backend]
    with path.open("rb") as f:
        head = f.read(32)
    if head[offset:offset + len(magic)] != magic:
        other = next((n for n, (o, m) in _MAGIC.items() if head[o:o + len(m)] == m), None)
        what = (f"is a {_ENGINE_NAMES[other]} file, not {engine_name(u)}" if other else
                f"is not a {engine_name(u)} database (corrupt, or another kind of file)")
        raise StoreError(f"journey store {path} {what}: move it away, or pass --store with the right "
                         f"engine or another path")
    return path, False


def create_engine(u: sa.URL, write: bool) -> sa.Engine:
    """An engine with the settings the store relies on (transactional DDL, durable commits)."""
    backend = u.get_backend_name()
    if backend == "duckdb":
        # never reach out to the network for an extension (DuckDB tries when it sees a foreign file)
        cfg: dict[str, object] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        if write:
            # one thread: the writer shares two cores with the simulation it persists, and DuckDB's
            # extra threads would take the simulation's core for work one thread does as fast here
            cfg["threads"] = 1
        return sa.create_engine(u, connect_args={"read_only": not write, "config": cfg})
    if backend == "postgresql":
        return sa.create_engine(u, connect_args={"connect_timeout": 10, "application_name": "gaelp-journeys"})
    engine = sa.create_engine(u, connect_args={"check_same_thread": False, "timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:
        # let SQLAlchemy, not the sqlite3 module, open transactions, so DDL is transactional too
        dbapi_conn.isolation_level = None
        if write:  # WAL: readers (`gaelp journeys stats`) go on while a campaign writes
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
        # a commit survives a killed process; a power cut may lose the last days, and a resume
        # recomputes them
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


# --- the writer lock ---------------------------------------------------------------------------
class WriterLock:
    """Exclusive right to write one store, held until `release` or the process's death."""

    def __init__(self, u: sa.URL, engine: sa.Engine | None) -> None:
        self.url = u
        self._file: tuple[int, Path] | None = None  # (descriptor, path) of a held lock file
        self._conn: sa.Connection | None = None
        if u.get_backend_name() == "postgresql":
            if engine is None:
                raise ValueError(f"the writer lock of server store {shown(u)} needs its engine")
            self._lock_server(engine)
        else:
            self._lock_file(_file_of(u))

    def _lock_file(self, db: Path) -> None:
        path = db.with_name(db.name + ".lock")
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise StoreLockedError(
                    f"journey store {db} is being written by another process (pid {holder}); wait for it "
                    f"to finish, or pass another --store") from None
            try:  # the previous holder may have unlinked the file between our open and flock
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._file = fd, path

    def _lock_server(self, engine: sa.Engine) -> None:
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        where = conn.exec_driver_sql("SELECT current_database() || '/' || current_schema()").scalar()
        key = int.from_bytes(hashlib.blake2b(f"gaelp-journeys:{where}".encode(), digest_size=8).digest(),
                             "big", signed=True)
        if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.close()
            raise StoreLockedError(
                f"journey store {shown(self.url)} is being written by another session (it holds the "
                f"store's advisory lock); wait for it to finish, or pass another --store")
        self._conn, self._key = conn, key

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        if self._file is not None:
            fd, path = self._file
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            os.close(fd)
            self._file = None
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            finally:
                self._conn.invalidate()  # closes the session rather than pooling it
                self._conn.close()
                self._conn = None


# --- bulk writes -------------------------------------------------------------------------------
_serial = itertools.count()  # names registered Arrow views (next() on a count is atomic)
_PG_CODES = {np.dtype(np.int16): ">i2", np.dtype(np.int32): ">i4", np.dtype(np.int64): ">i8",
             np.dtype(np.float64): ">f8", np.dtype(np.bool_): "u1"}
_PG_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8


def _typed(table: str, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    dt = DTYPES[table]
    return {c: np.ascontiguousarray(a, dtype=dt[c]) for c, a in cols.items()}


def pg_copy_payload(cols: dict[str, np.ndarray]) -> bytes:
    """PostgreSQL binary COPY data for fixed-width numpy columns (equal lengths)."""
    n = len(next(iter(cols.values())))
    fields = [("n", ">i2")]
    for i, a in enumerate(cols.values()):
        fields += [(f"l{i}", ">i4"), (f"v{i}", _PG_CODES[a.dtype])]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["n"] = len(cols)
    for i, a in enumerate(cols.values()):
        rows[f"l{i}"] = a.dtype.itemsize
        rows[f"v{i}"] = a
    return _PG_HEADER + rows.tobytes() + b"\xff\xff"


@contextmanager
def _as_sqlalchemy_errors(conn: sa.Connection, what: str) -> Iterator[None]:
    """Raise driver errors of the raw bulk paths as SQLAlchemy's (IntegrityError for a duplicate key...)."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as e:
        raise sa.exc.DBAPIError.instance(what, None, e, dbapi.Error) from e


def driver_connection(conn: sa.Connection) -> Any:
    """The DBAPI driver's own connection under `conn` (DuckDB, psycopg or sqlite3)."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise StoreError("the journey store's connection was closed under a bulk write")
    return raw


def duckdb_raw(conn: sa.Connection) -> Any:
    raw = driver_connection(conn)
    # DuckDB >= 2 refuses to register a view while an earlier result (say, of `.scalar()`) is
    # unread; run it to its end first
    finish = getattr(raw, "complete", None)
    if finish is not None:
        finish()
    return raw


def bulk_insert(conn: sa.Connection, table: str, cols: dict[str, np.ndarray]) -> None:
    """Append rows given as equal-length numpy columns, inside `conn`'s transaction.

    Args:
        conn: a connection in a transaction.
        table: a store table with only numeric columns among `cols`.
        cols: column -> (n,) array (cast to the column's dtype).
    """
    cols = _typed(table, cols)
    if len(next(iter(cols.values()))) == 0:
        return
    with _as_sqlalchemy_errors(conn, f"bulk insert into {table}"):
        _insert(conn, table, cols)


def _duckdb_with_batch(conn: sa.Connection, cols: dict[str, np.ndarray], sql: Callable[[str], str]) -> None:
    """Run `sql(view)` on DuckDB with the columns registered as an Arrow view (its bulk fast path)."""
    view = f"_gaelp_batch_{next(_serial)}"
    raw = duckdb_raw(conn)
    raw.register(view, pa.table(cols))
    try:
        raw.execute(sql(view))
    finally:
        raw.unregister(view)


def _insert(conn: sa.Connection, table: str, cols: dict[str, np.ndarray]) -> None:
    names = ", ".join(cols)
    raw = driver_connection(conn)
    dialect = conn.dialect.name
    if dialect == "duckdb":
        _duckdb_with_batch(conn, cols, lambda view: f"INSERT INTO {table} ({names}) SELECT {names} FROM {view}")
    elif dialect == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(pg_copy_payload(cols))
    else:
        marks = ", ".join("?" * len(cols))
        raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                        zip(*(a.tolist() for a in cols.values())))


def bulk_update(conn: sa.Connection, table: str, key: str, cols: dict[str, np.ndarray]) -> None:
    """Set columns of the rows whose `key` is given (all keys must exist), inside the transaction.

    Args:
        table: a store table; key: its single-column primary key.
        cols: `key` and the columns to set -> (n,) arrays.
    """
    cols = _typed(table, cols)
    if len(cols[key]) == 0:
        return
    with _as_sqlalchemy_errors(conn, f"bulk update of {table}"):
        _update(conn, table, key, cols)


def _update(conn: sa.Connection, table: str, key: str, cols: dict[str, np.ndarray]) -> None:
    names = ", ".join(cols)
    sets = ", ".join(f"{c} = s.{c}" for c in cols if c != key)
    raw = driver_connection(conn)
    dialect = conn.dialect.name
    if dialect == "duckdb":
        _duckdb_with_batch(conn, cols, lambda view: f"UPDATE {table} SET {sets} FROM {view} AS s "
                                                    f"WHERE {table}.{key} = s.{key}")
        return
    stage = f"_gaelp_stage_{table}"
    if dialect == "postgresql":
        conn.exec_driver_sql(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA")
        with raw.cursor() as cur, cur.copy(f"COPY {stage} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(pg_copy_payload(cols))
    else:
        conn.exec_driver_sql(f"CREATE TEMP TABLE {stage} AS SELECT {names} FROM {table} WHERE 0")
        raw.executemany(f"INSERT INTO {stage} VALUES ({', '.join('?' * len(cols))})",
                        zip(*(a.tolist() for a in cols.values())))
    conn.exec_driver_sql(f"UPDATE {table} SET {sets} FROM {stage} AS s WHERE {table}.{key} = s.{key}")
    if dialect != "postgresql":
        conn.exec_driver_sql(f"DROP TABLE {stage}")
