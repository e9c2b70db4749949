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
    assert missing == [SECTIONS[3][0], SECTIONS[5][0], SECTIONS[6][0]]


def test_simulate_json_alone_fills_the_kpi_table_and_the_daily_series(run_folder):
    data = load_input(run_folder / "simulate.json")
    page = render(data)
    drawn, missing = _sections(page)
    assert drawn == [SECTIONS[0][0], SECTIONS[1][0]] and len(missing) == len(SECTIONS) - 2
    assert "<td>search</td>" in page and "Missing from this input" in page
    rows = json.loads((run_folder / "simulate.json").read_text())["daily"]
    assert data.daily_spend.tolist() == [r["spend"] for r in rows] and data.budget == rows[0]["budget"]


def test_evaluate_and_truth_documents_fill_their_sections(tmp_path):
    (tmp_path / "evaluate.json").write_text(json.dumps(EVALUATION))
    (tmp_path / "truth.json").write_text(json.dumps(TRUTH))
    data = load_input(tmp_path)
    assert data.evaluation == EVALUATION and data.attribution == TRUTH
    page = render(data)
    drawn, _ = _sections(page)
    assert drawn == [SECTIONS[3][0], SECTIONS[5][0]]
    assert "agent vs target_cpa" in page and "1.500" in page
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
    assert missing == [SECTIONS[3][0], SECTIONS[5][0], SECTIONS[6][0]]
    assert len(drawn) == len(SECTIONS) - 3


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


def _with_worlds(rows: dict[str, list[tuple[float, float, float]]]) -> dict:
    """EVALUATION with per-world rows (score, cac, roas) of worlds 100, 101, ... for the bidders given."""
    doc = json.loads(json.dumps(EVALUATION))
    doc["target_cpa"], doc["reference"] = 110.0, "agent"
    for name, worlds in rows.items():
        doc["bidders"].setdefault(name, json.loads(json.dumps(doc["bidders"]["fixed"])))["per_world"] = [
            {"seed": 100 + i, "score": s, "conversions": s, "cac": c, "roas": r, "spend": s * (c or 0.0), "budget_use": 0.5}
            for i, (s, c, r) in enumerate(worlds)]
    return doc


def test_per_world_rows_draw_the_ratio_to_oracle_lp_and_each_bidders_cac_against_the_target(tmp_path):
    from gaelp.report import plots

    doc = _with_worlds({"agent": [(80.0, 100.0, 2.5), (90.0, 120.0, 2.1), (70.0, None, None)],
                        "oracle_lp": [(100.0, 105.0, 2.4), (100.0, 95.0, 2.6), (0.0, None, None)]})
    path = tmp_path / "evaluate.json"
    path.write_text(json.dumps(doc))
    data = load_input(path)
    drawn, _ = _sections(render(data))
    assert SECTIONS[6][0] in drawn
    ratio_ax, cac_ax = plots.per_world(data).axes
    np.testing.assert_allclose(sorted(ratio_ax.collections[0].get_offsets()[:, 0]), [0.8, 0.9])  # oracle_lp's 0 left out
    assert [t.get_text() for t in ratio_ax.get_yticklabels()] == ["agent\nmedian 0.850"]
    # met: CAC under $110 and ROAS over 2 (a world without conversions has no CAC and does not meet it)
    assert [t.get_text() for t in cac_ax.get_yticklabels()][:1] == ["agent\n1 of 3 met"]
    assert [t.get_text() for t in cac_ax.get_yticklabels()][-1] == "oracle_lp\n2 of 3 met"


def test_without_oracle_lp_only_the_cac_panel_is_drawn_and_bad_rows_are_refused(tmp_path):
    from gaelp.report import plots

    doc = _with_worlds({"agent": [(80.0, 100.0, 2.5)]})
    path = tmp_path / "evaluate.json"
    path.write_text(json.dumps(doc))
    (ax,) = plots.per_world(load_input(path)).axes
    assert ax.get_title().startswith("CAC per world")
    doc["bidders"]["agent"]["per_world"][0]["cac"] = "cheap"
    path.write_text(json.dumps(doc))
    with pytest.raises(ReportInputError, match="'cheap' is not a number"):
        load_input(path)
