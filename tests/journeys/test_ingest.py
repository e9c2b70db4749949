"""`gaelp ingest`: an event log into the journey store, each event once however often it is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from gaelp.cli import run
from gaelp.journeys.ingest import ingested_events
from gaelp.journeys.store import JourneyStore

from ..attribution.helpers import make_events


def ingest(capsys, *args: str | Path) -> dict:
    code = run(["ingest", *map(str, args), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def stored(url: str) -> pd.DataFrame:
    with JourneyStore(url) as st, st.engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.select(ingested_events).order_by(ingested_events.c.event_id)).all())


def test_the_same_file_twice_stores_each_event_once(capsys, tmp_path: Path, new_store) -> None:
    """On every engine, PostgreSQL included (`make test` starts a throwaway server)."""
    df = make_events(np.random.default_rng(3), n_users=20)
    df.to_csv(tmp_path / "a.csv", index=False)
    url = new_store("j")
    first = ingest(capsys, tmp_path / "a.csv", "--store", url)
    assert first == {"rows": len(df), "new": len(df), "already_stored": 0, "rejected": 0, "total": len(df)}
    rows_once = stored(url)
    again = ingest(capsys, tmp_path / "a.csv", "--store", url)
    assert (again["new"], again["already_stored"], again["total"]) == (0, len(df), len(df))
    pd.testing.assert_frame_equal(stored(url), rows_once)
    # an overlapping export: half old, half new events (and lower-case types, trimmed text)
    more = make_events(np.random.default_rng(4), n_users=20)
    more["event_id"] = "x" + more["event_id"]
    both = pd.concat([df.iloc[: len(df) // 2], more], ignore_index=True)
    both.to_parquet(tmp_path / "b.parquet")
    third = ingest(capsys, tmp_path / "b.parquet", "--store", url)
    assert (third["new"], third["already_stored"]) == (len(more), len(df) // 2)
    rows = stored(url)
    assert len(rows) == len(df) + len(more) and rows["event_id"].is_unique
    assert set(rows["event_type"]) <= {"impression", "click", "conversion"}


def test_bad_rows_stop_the_load_or_go_to_the_rejects_file(capsys, tmp_path: Path) -> None:
    log = tmp_path / "e.csv"
    log.write_text("event_id,timestamp,user_id,channel,event_type,cost,value\n"
                   "e1,2024-05-01T10:00:00Z,u1,search,click,1,\n"
                   "e2,2024-05-02T10:00:00Z,u1,,conversion\n"
                   "e3,2024-05-02T11:00:00Z,u1,,Conversion,,1e308\n"
                   "e4,2024-05-02T12:00:00Z,u1,,conversion,,120\n")
    url = f"duckdb:///{tmp_path / 'j.duckdb'}"
    assert run(["ingest", str(log), "--store", url]) == 1
    assert "row 2: the row has 5 fields" in capsys.readouterr().err
    result = ingest(capsys, log, "--store", url, "--skip-bad")
    assert (result["new"], result["rejected"]) == (2, 2)
    rejects = pd.read_csv(tmp_path / "e.rejects.csv")
    assert rejects["row"].tolist() == [2, 3]
    rows = stored(url)
    assert rows["event_id"].tolist() == ["e1", "e4"] and rows["value"].tolist() == [0.0, 120.0]
    assert rows["t_seconds"].tolist() == [1714557600.0, 1714651200.0]
