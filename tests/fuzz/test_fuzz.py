"""A small fuzz run of every entry point (`benchmarks.fuzz` runs the large one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.fuzz import BAD, entry_points, fuzz

N = 12  # inputs per entry point: a few seconds each


@pytest.mark.parametrize("name", list(entry_points(Path("."))))
def test_no_traceback_hang_non_finite_output_or_lost_row(tmp_path: Path, name: str) -> None:
    counts = fuzz(name, entry_points(tmp_path)[name], N, tmp_path, timeout_s=60.0, save=None)
    assert sum(counts[o] for o in ("ok", "clean error", *BAD)) == N
    assert {b: counts[b] for b in BAD} == dict.fromkeys(BAD, 0)
