"""`gaelp report`: what each input fills, what it says is missing, and bad inputs."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from gaelp.cli.report import register
from gaelp.journeys import JourneyStore, default_store_url
from gaelp.report import load_input, write_report
from gaelp.report.page import SECTIONS, render
from gaelp.report.sources import ReportInputError
from tests.report.conftest import EVALUATION, TRUTH


def _sections(page: str) -> tuple[list[str], list[str]]:
    """Titles of the sections drawn and of those said to be missing."""
    drawn = [html.unescape(t) for t in re.findall(r'<img alt="([^"]+)"', page)]
    missing = [t for t, _, _ in SECTIONS if f'<h2>{html.escape(t)}</h2><p class="missing">' in page]
    return drawn, missing


def test_a_run_folder_gives_the_store_series(run_folder):
    data = load_input(run_folder)
    with JourneyStore(default_store_url(run_folder)) as store:
        stats = store.stats()
        cfg = json.loads(store.meta()["config"])
    ours = stats["advertisers"][0]
    assert data.daily_spend.size == 3
    assert data.daily_spend.sum() == pytest.approx(ours["spend"], abs=0.01)
    assert data.hourly_spend.sum() == pytest.approx(data.daily_spend.sum())
    assert data.budget == pytest.approx(cfg["campaign"]["budget_per_user"] * 3000)
    assert data.funnel == stats["stages"]
    assert set(data.rivals) == {a["name"] for a in stats["advertisers"][1:]}
    assert set(data.kpis) >= {"search", "total"}  # the simulate JSON in the folder wins over the store's table
    assert data.attribution is None and data.evaluation is None


def test_the_page_draws_what_the_input_holds_and_names_the_rest(run_folder):
    drawn, missing = _sections(render(load_input(run_folder)))
    assert drawn == [t for t, _, _ in SECTIONS[:5] if "Attribution" not in t]
    assert missing == [SECTIONS[3][0], SECTIONS[5][0]]


def test_simulate_json_alone_fills_the_kpi_table_only(run_folder):
    page = render(load_input(run_folder / "simulate.json"))
    drawn, missing = _sections(page)
    assert drawn == [] and len(missing) == len(SECTIONS)
    assert "<td>search</td>" in page and "Missing from this input" in page


def test_evaluate_and_truth_documents_fill_their_sections(tmp_path):
    (tmp_path / "evaluate.json").write_text(json.dumps(EVALUATION))
    (tmp_path / "truth.json").write_text(json.dumps(TRUTH))
    data = load_input(tmp_path)
    assert data.evaluation == EVALUATION and data.attribution == TRUTH
    page = render(data)
    drawn, _ = _sections(page)
    assert drawn == [SECTIONS[3][0], SECTIONS[5][0]]
    assert "agent vs target_cpa" in page and "1.50" in page
    assert data.kpis["agent"]["score"] == 12.0 and "held-out worlds" in data.kpi_note


def test_null_scores_are_drawn_as_gaps_not_refused(tmp_path):
    doc = json.loads(json.dumps(EVALUATION))
    doc["bidders"]["fixed"]["score"] = {"mean": None, "ci95": [None, None]}
    path = tmp_path / "evaluate.json"
    path.write_text(json.dumps(doc))
    drawn, _ = _sections(render(load_input(path)))
    assert drawn == [SECTIONS[5][0]]


def test_optional_series_in_a_json_document(tmp_path):
    doc = {"daily": {"spend": [10.0, 12.0], "conversions": [0, 2], "budget": 11.0},
           "hourly_spend": list(np.arange(24.0)), "funnel": {"AWARE": 5, "INTENT": 2},
           "rivals": {"bark": [2.0, 2.5]}}
    path = tmp_path / "series.json"
    path.write_text(json.dumps(doc))
    data = load_input(path)
    assert data.budget == 11.0 and list(data.daily_conversions) == [0, 2]
    drawn, missing = _sections(render(data))
    assert missing == [SECTIONS[3][0], SECTIONS[5][0]]
    assert len(drawn) == len(SECTIONS) - 2


@pytest.mark.parametrize("content,message", [
    ("{not json", "is not JSON"),
    ('{"hello": 1}', "not a document the report knows"),
    ('[1, 2]', "not a document the report knows"),
    ('{"bidders": {"agent": {"score": {}}}, "comparisons": []}', "malformed document.*mean"),
    ('{"truth": {"search": "many"}, "models": {}}', "malformed document.*not a number"),
    ('{"daily": {"spend": ["x"]}}', "malformed document"),
])
def test_bad_documents_are_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(ReportInputError, match=message):
        load_input(path)


def test_an_empty_folder_and_a_missing_path_are_refused(tmp_path):
    with pytest.raises(ReportInputError, match="gaelp simulate --run"):
        load_input(tmp_path)
    with pytest.raises(ReportInputError, match="no such file"):
        load_input(tmp_path / "nope")


def test_the_command_writes_the_page_or_exits_1(run_folder, tmp_path):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    out = tmp_path / "sub" / "r.html"
    result = CliRunner().invoke(app, ["report", str(run_folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!DOCTYPE html>")
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nope.json")])
    assert result.exit_code == 1 and "no such file" in " ".join(result.output.split())


def test_write_report_creates_folders(tmp_path):
    doc = tmp_path / "truth.json"
    doc.write_text(json.dumps(TRUTH))
    path = write_report(load_input(doc), tmp_path / "a" / "b.html")
    assert "Attribution against the replayed truth" in path.read_text()
