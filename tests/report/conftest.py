"""A small stored run and report documents in the shapes GAELP's commands print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gaelp.config import build_config
from gaelp.experiments.campaign import run_campaign as run_in_memory
from gaelp.experiments.stored import run_campaign
from gaelp.journeys import default_store_url


@pytest.fixture(scope="package")
def run_folder(tmp_path_factory) -> Path:
    """`gaelp simulate --run DIR`, 3 days of 3,000 people, with its --json output saved beside the store."""
    folder = tmp_path_factory.mktemp("run")
    cfg = build_config({"users": 3000, "days": 3, "seed": 1})
    run_campaign(cfg, 3, default_store_url(folder))
    (folder / "simulate.json").write_text(json.dumps(run_in_memory(cfg, "fixed").to_json()))
    return folder


EVALUATION = {
    "worlds": [100, 101, 102], "users": 1000, "days": 3,
    "bidders": {name: {"score": {"mean": m, "ci95": [m - 1.0, m + 1.5]}, "conversions": {"mean": m},
                       "cac": {"mean": 100.0}, "roas": {"mean": 2.0}, "budget_use": {"mean": 0.9},
                       "per_world": []}
                for name, m in (("agent", 12.0), ("target_cpa", 8.0), ("fixed", 5.0))},
    "comparisons": [{"a": "agent", "b": "target_cpa", "ratio": 1.5, "p_value": 0.01, "p_holm": 0.02},
                    {"a": "agent", "b": "fixed", "ratio": 2.4, "p_value": 0.001, "p_holm": 0.002}],
}
TRUTH = {"truth": {"search": 30.0, "social": 6.0, "display": 1.0},
         "models": {"last_click": {"search": 33.0, "social": 3.0, "display": 1.0},
                    "linear": {"search": 28.0, "social": 6.5, "display": 2.5}},
         "error": {"last_click": 0.08, "linear": 0.04}}
