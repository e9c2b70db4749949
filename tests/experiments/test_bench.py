"""The benchmark's summary of repeated runs."""

import pytest

from gaelp.experiments.bench import median_run


def _run(wall: float, rss: float) -> dict:
    return {"users": 100, "days": 1, "wall_s": wall, "users_per_s": 100 / wall, "auctions": 50,
            "auctions_per_s": 50 / wall, "peak_rss_mb": rss}


def test_one_run_is_reported_as_it_is():
    assert median_run([_run(2.0, 10.0)]) == _run(2.0, 10.0)


def test_the_median_run_with_the_spread_and_the_largest_memory():
    row = median_run([_run(3.0, 10.0), _run(1.0, 30.0), _run(2.0, 20.0)])
    assert row["wall_s"] == 2.0 and row["users_per_s"] == pytest.approx(50.0)
    assert (row["wall_s_min"], row["wall_s_max"], row["repeats"], row["peak_rss_mb"]) == (1.0, 3.0, 3, 30.0)


def test_an_even_count_reports_the_slower_middle_run():
    assert median_run([_run(1.0, 1.0), _run(4.0, 1.0)])["wall_s"] == 4.0
