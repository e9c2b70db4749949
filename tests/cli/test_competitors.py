"""`gaelp competitors --shock` and `gaelp intel` on tiny worlds."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from gaelp.cli import competitors

app = typer.Typer()
competitors.register(app)
runner = CliRunner()


def test_shock_json_and_plot(tmp_path) -> None:
    png = tmp_path / "s.png"
    res = runner.invoke(app, ["competitors", "--shock", "2", "--days", "4", "--users", "400", "--json",
                              "--plot", str(png)])
    assert res.exit_code == 0, res.output
    j = json.loads(res.stdout)
    assert j["shock_day"] == 2
    for c in j["competitors"].values():
        assert len(c["daily_profit"]) == 4 and "profit_after_shock_frozen" in c
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_shock_tables() -> None:
    res = runner.invoke(app, ["competitors", "--shock", "1", "--days", "2", "--users", "300", "--bid", "2.5"])
    assert res.exit_code == 0, res.output
    assert "adapting is worth" in res.stdout and "daily mean bid" in res.stdout
    assert "what a click is worth" not in res.stdout  # a fixed --bid replaces the market bid
    res = runner.invoke(app, ["competitors", "--shock", "1", "--days", "2", "--users", "300"])
    assert res.exit_code == 0, res.output
    assert "our bid before the shock" in res.stdout and "frozen" in res.stdout


def test_shock_keeps_the_rivals_state_in_a_checkpoint(tmp_path) -> None:
    state = tmp_path / "rivals.npz"
    args = ["competitors", "--shock", "1", "--days", "2", "--users", "300", "--json", "--state", str(state)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert state.exists()
    second = runner.invoke(app, args)  # the rivals start from what they learned in the first run
    assert second.exit_code == 0, second.output
    bids = [json.loads(r.stdout)["competitors"]["qustodio"]["daily_mean_bid"] for r in (first, second)]
    assert bids[0] != bids[1]


def test_shock_day_must_be_inside_the_campaign() -> None:
    res = runner.invoke(app, ["competitors", "--shock", "5", "--days", "5", "--users", "100"])
    assert res.exit_code == 2


def test_intel_json_and_table() -> None:
    res = runner.invoke(app, ["intel", "--days", "2", "--users", "500", "--json"])
    assert res.exit_code == 0, res.output
    j = json.loads(res.stdout)
    assert {"impression_share", "top_of_page_rate", "ks_distance"} <= j.keys()
    res = runner.invoke(app, ["intel", "--days", "1", "--users", "300"])
    assert res.exit_code == 0 and "KS distance" in res.stdout
