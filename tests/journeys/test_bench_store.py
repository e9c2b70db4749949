"""The store benchmark runs end to end on a tiny world (its figures are measured, never asserted)."""

from __future__ import annotations

import pytest

from benchmarks.bench_store import fresh_store, store_overhead
from gaelp.journeys.engines import StoreError


def test_store_overhead_reports_both_runs(tmp_path) -> None:
    row = store_overhead(users=100, days=2, store_url=f"sqlite:///{tmp_path}/bench.sqlite")
    assert set(row) == {"users", "days", "engine", "wall_s", "store_wall_s", "store_overhead"}
    assert (row["users"], row["days"], row["engine"]) == (100, 2, "sqlite")
    assert row["wall_s"] > 0 and row["store_wall_s"] > 0
    # the reported times are rounded to milliseconds and the ratio is of the unrounded ones, so it lies
    # within what the rounded times allow (a fixed tolerance fails on a fast run: 0.043 s is +-1.2%)
    s, w, half = row["store_wall_s"], row["wall_s"], 0.0005
    assert (s - half) / (w + half) - 1 - half <= row["store_overhead"] <= (s + half) / (w - half) - 1 + half


def test_the_benchmark_never_reuses_a_store(tmp_path) -> None:
    existing = tmp_path / "old.duckdb"
    existing.write_bytes(b"")
    with pytest.raises(StoreError, match="writes a new store"), fresh_store(f"duckdb:///{existing}"):
        pass
    with fresh_store(None) as url:
        assert url.startswith("duckdb:///") and url.endswith("journeys.duckdb")
