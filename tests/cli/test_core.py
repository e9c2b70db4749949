"""The core commands, run as a user runs them (a subprocess each, tiny sizes)."""

import json
import subprocess
import sys
import tomllib

import pytest

KPI_KEYS = {"impressions", "clicks", "conversions", "spend", "revenue", "cac", "roas", "ctr", "cpc", "cvr",
            "impression_share"}


def gaelp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from gaelp.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=300, check=False)


def test_simulate_json_has_the_documented_shape():
    out = gaelp("simulate", "--users", "800", "--days", "2", "--seed", "3", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"users", "days", "seed", "bidder", "totals", "by_channel", "elapsed_s"} <= set(data)
    assert (data["users"], data["days"], data["seed"], data["bidder"]) == (800, 2, 3, "fixed")
    assert KPI_KEYS <= set(data["totals"])
    assert set(data["by_channel"]) == {"search", "social", "display"}
    for row in data["by_channel"].values():
        assert KPI_KEYS <= set(row)
    assert data["totals"]["impressions"] == sum(r["impressions"] for r in data["by_channel"].values())


def test_simulate_table_and_same_seed_same_numbers():
    a = gaelp("simulate", "--users", "500", "--days", "2", "--bidder", "target_cpa")
    assert a.returncode == 0, a.stderr
    assert "search" in a.stdout and "CAC" in a.stdout
    j1 = json.loads(gaelp("simulate", "--users", "500", "--days", "2", "--json").stdout)
    j2 = json.loads(gaelp("simulate", "--users", "500", "--days", "2", "--json").stdout)
    j1.pop("elapsed_s"), j2.pop("elapsed_s")
    assert j1 == j2


def test_config_show_round_trips_and_overrides_apply(tmp_path):
    shown = gaelp("config", "show")
    assert shown.returncode == 0
    data = tomllib.loads(shown.stdout)
    data["users"] = 600
    data["days"] = 1
    f = tmp_path / "c.toml"
    import tomli_w

    f.write_text(tomli_w.dumps(data))
    out = gaelp("simulate", "--config", str(f), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["users"] == 600
    # a flag beats the file
    out = gaelp("simulate", "--config", str(f), "--users", "700", "--json")
    assert json.loads(out.stdout)["users"] == 700


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("simulate", "--users", "-3"), "users: Input should be greater than or equal to 1"),
        (("simulate", "--bidder", "nope"), "unknown bidder 'nope'"),
        (("simulate", "--config", "/nonexistent.toml"), "does not exist"),
    ],
)
def test_bad_input_fails_with_a_clear_message(args, message):
    out = gaelp(*args)
    assert out.returncode == 2
    assert message in out.stderr


def test_bench_json_rows():
    out = gaelp("bench", "--users", "500", "--days", "2", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) == 1
    assert set(rows[0]) == {"users", "days", "wall_s", "users_per_s", "auctions", "auctions_per_s", "peak_rss_mb",
                            "worlds", "worlds_per_s"}
    assert rows[0]["users"] == 500 and rows[0]["auctions"] > 0 and rows[0]["worlds"] == 1


def test_bench_worlds_adds_the_runners_row_beside_the_single_world():
    out = gaelp("bench", "--users", "400", "--days", "1", "--worlds", "3", "--json")
    assert out.returncode == 0, out.stderr
    single, many = json.loads(out.stdout)
    assert (single["users"], single["worlds"], many["users"], many["worlds"], many["workers"]) == (400, 1, 400, 3, 2)
    assert many["worlds_per_s"] == pytest.approx(3 / many["wall_s"], rel=0.01)
    assert many["users_per_s"] == pytest.approx(3 * 400 / many["wall_s"], rel=0.01)


def test_bench_repeats_report_the_median_and_the_spread():
    out = gaelp("bench", "--users", "300", "--users", "400", "--days", "1", "--repeats", "3", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["users"] for r in rows] == [300, 400]
    for r in rows:
        assert r["repeats"] == 3
        assert r["wall_s_min"] <= r["wall_s"] <= r["wall_s_max"]
        # the rate of the median run itself (wall_s is rounded to 0.1 ms, runs take tens of ms)
        assert r["users_per_s"] == pytest.approx(r["users"] / r["wall_s"], rel=0.01)


def test_calibrate_sources_and_a_failing_check_exits_nonzero(tmp_path):
    out = gaelp("calibrate", "--sources", "--json")
    facts = json.loads(out.stdout)
    assert facts["segments.crisis.share"]["assumption"] is True
    assert "WordStream" in facts["channels.search.ctr"]["source"]
    # a tiny world cannot meet the targets: the check must say so and exit 1
    out = gaelp("calibrate", "--check", "--users", "300", "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout)["ok"] is False
