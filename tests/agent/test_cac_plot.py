"""The CAC plot of `gaelp evaluate --json` outputs (`scripts/cac_plot.py`)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "cac_plot.py"


def _module():
    spec = importlib.util.spec_from_file_location("cac_plot", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(path: Path, seeds: range, cac: float, target: float = 110.0, bidder: str = "agent") -> Path:
    rows = [{"seed": s, "score": 10.0, "conversions": 10, "cac": cac + s, "roas": 2.5, "spend": 10 * (cac + s),
             "budget_use": 0.5} for s in seeds]
    path.write_text(json.dumps({"target_cpa": target, "bidders": {bidder: {"per_world": rows}}}))
    return path


def test_a_variant_joins_its_runs_rows_and_keeps_their_target(tmp_path):
    plot = _module()
    rows, target = plot.agent_rows([_run(tmp_path / "a.json", range(3), 100.0), _run(tmp_path / "b.json",
                                                                                     range(3, 5), 100.0)])
    assert [r["seed"] for r in rows] == [0, 1, 2, 3, 4] and target == 110.0


def test_runs_without_the_agent_or_with_other_targets_are_refused_by_name(tmp_path):
    plot = _module()
    with pytest.raises(ValueError, match="a.json: no agent rows"):
        plot.agent_rows([_run(tmp_path / "a.json", range(2), 100.0, bidder="fixed")])
    with pytest.raises(ValueError, match="different target CPAs: \\[100.0, 110.0\\]"):
        plot.agent_rows([_run(tmp_path / "a.json", range(2), 90.0), _run(tmp_path / "b.json", range(2), 90.0, 100.0)])


def test_main_writes_a_png_of_every_variant(tmp_path):
    plot = _module()
    a, b = _run(tmp_path / "a.json", range(4), 104.0), _run(tmp_path / "b.json", range(4), 99.0)
    c = _run(tmp_path / "c.json", range(4, 8), 99.0)
    out = tmp_path / "cac.png"
    plot.main([str(out), f"{a}=spent", f"{b}+{c}=rest"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit, match="different target CPAs"):
        plot.main([str(out), str(a), str(_run(tmp_path / "d.json", range(2), 90.0, target=100.0))])
