"""The benchmark's summary of repeated runs."""

import statistics
import subprocess

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


def test_compare_alternates_runs_of_a_revision_and_this_tree():
    from benchmarks.bench_compare import compare

    r = compare("HEAD", users=300, days=1, pairs=2)
    assert len(r["base_wall_s"]) == len(r["tree_wall_s"]) == 2
    assert r["ratio"] == pytest.approx(statistics.median(r["tree_wall_s"]) / statistics.median(r["base_wall_s"]),
                                       abs=1e-3)
    worktrees = subprocess.run(["git", "worktree", "list"], capture_output=True, text=True, check=True).stdout
    assert "gaelp-base-" not in worktrees  # the base's checkout is removed
    with pytest.raises(RuntimeError, match="cannot check out 'no-such-revision'"):
        compare("no-such-revision", users=300, days=1, pairs=1)
