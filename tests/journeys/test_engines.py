"""Store URLs, file checks, the writer lock and the bulk paths of every engine."""

from __future__ import annotations

import sqlite3
import struct

import numpy as np
import pytest
import sqlalchemy as sa

from gaelp.journeys import schema as S
from gaelp.journeys.engines import (
    StoreError,
    StoreLockedError,
    bulk_insert,
    bulk_update,
    default_store_url,
    parse_url,
    pg_copy_payload,
)
from gaelp.journeys.store import JourneyStore

SEED = 3


# --- URLs and files ----------------------------------------------------------------------------
@pytest.mark.parametrize("url, message", [
    ("not a url", "is not a URL"),
    ("mysql://u@h/db", "unsupported engine 'mysql'"),
    ("sqlite://", "names no file"),
    ("duckdb:///:memory:", "names no file"),
])
def test_bad_urls_say_what_is_allowed(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as e:
        parse_url(url)
    assert "duckdb:///PATH" in str(e.value) or "give a path" in str(e.value)


def test_postgres_urls_get_the_psycopg_driver() -> None:
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgres://u@h/db").drivername == "postgresql+psycopg"


def test_default_store_is_a_duckdb_file_in_the_run_folder(tmp_path) -> None:
    assert default_store_url(tmp_path / "runs" / "a") == f"duckdb:///{tmp_path}/runs/a/journeys.duckdb"


def test_unwritable_path_is_named(tmp_path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    with pytest.raises(StoreError, match=f"{blocker}.*writable folder"):
        JourneyStore(f"duckdb:///{blocker}/j.duckdb", write=True)


def test_a_directory_is_not_a_store(tmp_path) -> None:
    with pytest.raises(StoreError, match=f"{tmp_path} is a directory"):
        JourneyStore(f"sqlite:///{tmp_path}", write=True)


@pytest.mark.parametrize("engine_of_file, url_engine, what", [
    ("sqlite", "duckdb", "is a SQLite file, not DuckDB"),
    ("duckdb", "sqlite", "is a DuckDB file, not SQLite"),
    ("garbage", "duckdb", "is not a DuckDB database"),
    ("garbage", "sqlite", "is not a SQLite database"),
])
def test_foreign_or_corrupt_files_are_refused_untouched(tmp_path, engine_of_file: str, url_engine: str,
                                                        what: str) -> None:
    path = tmp_path / "store.db"
    if engine_of_file == "sqlite":
        sqlite3.connect(path).execute("CREATE TABLE x (a)").connection.commit()
    elif engine_of_file == "duckdb":
        JourneyStore(f"duckdb:///{path}", write=True).close()
    else:
        path.write_bytes(np.random.default_rng(SEED).bytes(5000))
    before = path.read_bytes()
    with pytest.raises(StoreError, match=f"{path} {what}.*move it away"):
        JourneyStore(f"{url_engine}:///{path}", write=True)
    assert path.read_bytes() == before


def test_corrupt_duckdb_body_names_the_file(tmp_path) -> None:
    path = tmp_path / "j.duckdb"
    JourneyStore(f"duckdb:///{path}", write=True).close()
    data = bytearray(path.read_bytes())
    data[4096:] = np.random.default_rng(SEED).bytes(len(data) - 4096)  # keep the magic, break the rest
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=f"{path}"):
        JourneyStore(f"duckdb:///{path}", write=True)


def test_missing_or_empty_store_when_reading(tmp_path) -> None:
    with pytest.raises(StoreError, match="does not exist; run a campaign"):
        JourneyStore(f"duckdb:///{tmp_path}/none.duckdb")
    (tmp_path / "empty.sqlite").touch()
    with pytest.raises(StoreError, match="is empty"):
        JourneyStore(f"sqlite:///{tmp_path}/empty.sqlite")


def test_unreachable_server_names_the_url_without_password() -> None:
    url = r"postgresql\+psycopg://me:\*\*\*@127.0.0.1:9/db"
    with pytest.raises(StoreError, match=f"cannot connect to journey store {url}") as e:
        JourneyStore("postgresql://me:secret@127.0.0.1:9/db", write=True)
    assert "secret" not in str(e.value)


def test_failed_creation_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(S.metadata, "create_all", broken)
    for engine in ("duckdb", "sqlite"):
        with pytest.raises(RuntimeError, match="disk full"):
            JourneyStore(f"{engine}:///{tmp_path}/new.{engine}", write=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --- the writer lock ---------------------------------------------------------------------------
def test_one_writer_at_a_time(new_store) -> None:
    url = new_store()
    with JourneyStore(url, write=True), pytest.raises(StoreLockedError, match="being written by another"):
        JourneyStore(url, write=True)
    with JourneyStore(url, write=True) as again:  # released on close
        assert again.committed_days() == 0


# --- bulk paths --------------------------------------------------------------------------------
def random_touchpoints(rng: np.random.Generator, n: int, t0: int = 0) -> dict[str, np.ndarray]:
    return {"t": np.sort(rng.integers(t0, t0 + 24, n)), "key": rng.permutation(10 * n)[:n] * 8,
            "slot": rng.integers(0, 4, n), "person_id": rng.integers(0, 50, n),
            "device_id": rng.integers(0, 2**40, n), "advertiser": rng.integers(0, 6, n),
            "channel": rng.integers(0, 3, n), "intent": rng.integers(0, 3, n), "creative": rng.integers(0, 4, n),
            "clicked": rng.random(n) < 0.1,
            "cost": np.where(rng.random(n) < 0.5, rng.lognormal(size=n), [np.pi, -0.0, 1e-300, 1e300][n % 4])}


def _read_all(url: str, table: str) -> dict[str, np.ndarray]:
    with JourneyStore(url) as st:
        pages = list(st.iter_rows(table, batch_size=1000))
    return {c: np.concatenate([p[c] for p in pages]) for c in pages[0]}


def test_bulk_insert_round_trips_exactly(new_store) -> None:
    url = new_store()
    rng = np.random.default_rng(SEED)
    cols = random_touchpoints(rng, 2500)
    with JourneyStore(url, write=True) as st, st.engine.begin() as conn:
        bulk_insert(conn, "touchpoints", cols)
        bulk_insert(conn, "touchpoints", {c: a[:0] for c, a in cols.items()})  # empty batches are fine
    back = _read_all(url, "touchpoints")
    order = np.lexsort((cols["slot"], cols["key"], cols["t"]))
    for c, a in cols.items():
        assert back[c].dtype == S.DTYPES["touchpoints"][c]
        assert back[c].tobytes() == a[order].astype(S.DTYPES["touchpoints"][c]).tobytes(), c


def test_bulk_insert_is_part_of_the_transaction(new_store) -> None:
    url = new_store()
    cols = random_touchpoints(np.random.default_rng(SEED), 100)
    with JourneyStore(url, write=True) as st:
        with pytest.raises(RuntimeError, match="abort"), st.engine.begin() as conn:
            bulk_insert(conn, "touchpoints", cols)
            raise RuntimeError("abort")
        assert st.counts()["touchpoints"] == 0


def test_bulk_update_sets_only_the_given_rows(new_store) -> None:
    url = new_store()
    rng = np.random.default_rng(SEED)
    n = 1000
    people = np.arange(n)
    state = {"person_id": people, "stage": rng.integers(0, 7, n), "last_activity": rng.integers(-1, 500, n),
             "converted_at": np.full(n, -1), "day": np.full(n, -1)}
    pick = np.sort(rng.choice(n, 137, replace=False))
    new = {"person_id": pick, "stage": rng.integers(0, 7, pick.size), "last_activity": rng.integers(0, 900, pick.size),
           "converted_at": rng.integers(0, 900, pick.size), "day": np.full(pick.size, 4)}
    with JourneyStore(url, write=True) as st:
        with st.engine.begin() as conn:
            bulk_insert(conn, "journeys", state)
        with st.engine.begin() as conn:
            bulk_update(conn, "journeys", "person_id", new)
    expected = {c: a.copy() for c, a in state.items()}
    for c, column in expected.items():  # the slow, obvious way
        for i, p in enumerate(pick):
            column[p] = new[c][i]
    back = _read_all(url, "journeys")
    for c, column in expected.items():
        assert np.array_equal(back[c], column), c


def test_pg_copy_payload_matches_the_format_row_by_row() -> None:
    rng = np.random.default_rng(SEED)
    cols = {"a": rng.integers(-2**15, 2**15, 7).astype(np.int16), "b": rng.integers(-2**31, 2**31, 7).astype(np.int32),
            "c": rng.integers(-2**62, 2**62, 7), "d": rng.random(7) < 0.5, "e": rng.normal(size=7)}
    fmt = {"a": ">h", "b": ">i", "c": ">q", "d": ">?", "e": ">d"}
    rows = []
    for i in range(7):
        row = struct.pack(">h", len(cols))
        for c, a in cols.items():
            value = struct.pack(fmt[c], a[i].item())
            row += struct.pack(">i", len(value)) + value
        rows.append(row)
    expected = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + b"".join(rows) + struct.pack(">h", -1)
    assert pg_copy_payload(cols) == expected


def test_keys_refuse_a_second_copy(new_store, engine: str) -> None:
    url = new_store()
    row = {c: a[:1] for c, a in random_touchpoints(np.random.default_rng(SEED), 5).items()}
    day = {"day": 0, "touchpoints": 1, "conversions": 0, "digest": "x"}
    with JourneyStore(url, write=True) as st:
        with st.engine.begin() as conn:
            conn.execute(S.days.insert(), [day])
            bulk_insert(conn, "touchpoints", row)
        with pytest.raises(sa.exc.IntegrityError), st.engine.begin() as conn:
            conn.execute(S.days.insert(), [day])
        if engine != "duckdb":  # DuckDB keeps no row-level index (see schema.py): the day key guards it
            with pytest.raises(sa.exc.IntegrityError), st.engine.begin() as conn:
                bulk_insert(conn, "touchpoints", row)
        assert st.counts()["touchpoints"] == 1
