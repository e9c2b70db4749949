"""`gaelp journeys show / stats` (gaelp/cli/journeys.py) on a small stored campaign."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from gaelp.cli import journeys
from gaelp.config import load_config
from gaelp.experiments.stored import run_campaign
from gaelp.journeys.store import JourneyStore


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """The gaelp app, as far as these commands need it."""

    journeys.register(app)
    return app


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('cli')}/journeys.duckdb"
    run_campaign(load_config(users=200, days=4, seed=3), 4, url)
    return url


def test_stats(app, store: str) -> None:
    runner = CliRunner()
    text = runner.invoke(app, ["journeys", "stats", "--store", store])
    assert text.exit_code == 0, text.output
    assert "4 committed days" in text.output and "qustodio" in text.output
    as_json = runner.invoke(app, ["journeys", "stats", "--store", store, "--json"])
    data = json.loads(as_json.output)
    with JourneyStore(store) as st:
        assert data["counts"] == st.counts()
    assert sum(data["stages"].values()) == 200


def test_show_a_person(app, store: str) -> None:
    with JourneyStore(store) as st:
        busy = int(np.bincount(next(st.iter_rows("touchpoints", columns=["person_id"]))["person_id"]).argmax())
        touches = st.touchpoints_of(busy)
    runner = CliRunner()
    out = runner.invoke(app, ["journeys", "show", "--person", str(busy), "--store", store, "--limit", "3"])
    assert out.exit_code == 0, out.output
    assert f"person {busy}:" in out.output and f"touchpoints ({touches['t'].size}, latest 3)" in out.output
    data = json.loads(runner.invoke(app, ["journeys", "show", "--person", str(busy), "--store", store,
                                          "--json"]).output)
    assert data["touchpoints"]["key"] == touches["key"].tolist()


@pytest.mark.parametrize("args, message", [
    (["show", "--person", "999999"], "person 999999 is not in journey store"),
    (["stats", "--store", "duckdb:////nonexistent/j.duckdb"], "does not exist"),
    (["stats", "--store", "oracle://x"], "unsupported engine 'oracle'"),
])
def test_errors_exit_1_with_a_message(app, store: str, args: list[str], message: str) -> None:
    if "--store" not in args:
        args = [*args, "--store", store]
    out = CliRunner().invoke(app, ["journeys", *args])
    assert out.exit_code == 1
    assert message in out.output
