"""`gaelp attribute` and `gaelp lag fit`, run in-process on an app built here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from gaelp.attribution import MODELS, Paths, get_model
from gaelp.attribution.lag import sample_click_log
from gaelp.cli.attribute import register

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
CHANNELS = ["display", "email", "search", "social"]


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def run(app: typer.Typer, *args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args])


def event_log(seed: int = 0, n_users: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_users * 6
    kind = rng.choice(["impression", "click", "conversion"], size=n, p=[0.5, 0.35, 0.15])
    conv = kind == "conversion"
    secs = T0 + rng.integers(0, 60 * 86400, n)
    iso = pd.to_datetime(secs, unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "timestamp": np.where(rng.random(n) < 0.5, iso, secs.astype(str)),
            "user_id": [f"u{u}" for u in rng.integers(0, n_users, n)],
            "channel": np.where(conv, "", rng.choice(CHANNELS, n)),
            "event_type": kind,
            "cost": np.where(conv, "0", "1.25"),
            "value": np.where(conv, "220", ""),
            "campaign": "spring",
        }
    )


@pytest.fixture
def events_csv(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    event_log().to_csv(path, index=False)
    return path


def test_json_matches_the_library_for_every_model(app, events_csv: Path) -> None:
    result = run(app, "attribute", events_csv, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"models", "value"}
    assert list(doc["models"]) == list(MODELS) == list(doc["value"])
    paths = Paths.from_events(pd.read_csv(events_csv, dtype=str, keep_default_na=False))
    for name in MODELS:
        conversions, value = get_model(name).channel_credit(paths).as_dicts()
        assert doc["models"][name] == pytest.approx(conversions)
        assert doc["value"][name] == pytest.approx(value)
    assert "paths" in result.stderr  # the summary goes to stderr, stdout stays pure JSON


def test_table_output_lists_channels_and_models(app, events_csv: Path) -> None:
    result = run(app, "attribute", events_csv, "--model", "linear")
    assert result.exit_code == 0, result.stderr
    assert "Credited conversions" in result.stdout and "linear" in result.stdout
    assert all(c in result.stdout for c in CHANNELS) and "markov" not in result.stdout


def test_parquet_gives_the_same_credit(app, events_csv: Path, tmp_path: Path) -> None:
    df = pd.read_csv(events_csv, dtype=str, keep_default_na=False)
    df["cost"] = df["cost"].astype(float)
    df.to_parquet(tmp_path / "events.parquet")
    from_csv = json.loads(run(app, "attribute", events_csv, "--json").stdout)
    from_pq = json.loads(run(app, "attribute", tmp_path / "events.parquet", "--json").stdout)
    assert from_pq == from_csv


def test_path_table_runs_models_without_times(app, tmp_path: Path) -> None:
    table = tmp_path / "paths.csv"
    pd.DataFrame(
        {
            "path": ["search > social > search", "email", "social > email", "display"],
            "total_conversions": [3, 1, 0, 0],
            "total_conversion_value": [600, 50, 0, 0],
            "total_null": [10, 40, 25, 100],
        }
    ).to_csv(table, index=False)
    doc = json.loads(run(app, "attribute", table, "--format", "paths", "--json").stdout)
    assert list(doc["models"]) == [n for n in MODELS if n != "time_decay"]
    assert doc["models"]["linear"] == pytest.approx(
        {"display": 0, "email": 1, "search": 2, "social": 1}
    )
    assert sum(doc["value"]["markov"].values()) == pytest.approx(650)
    result = run(app, "attribute", table, "--format", "paths", "--model", "time_decay")
    assert result.exit_code == 2 and "time_decay needs touch times" in result.stderr


def test_window_shortens_paths(app, events_csv: Path) -> None:
    wide = run(app, "attribute", events_csv, "--json", "--window", "30")
    narrow = run(app, "attribute", events_csv, "--json", "--window", "0.5")
    credited = lambda r: sum(json.loads(r.stdout)["models"]["linear"].values())
    assert credited(narrow) < credited(wide)
    assert "had no touch within 0.5 days" in narrow.stderr


def test_bad_rows_fail_with_row_and_reason(app, tmp_path: Path) -> None:
    df = event_log()
    df.loc[2, "cost"] = "-3"
    df.loc[4, "event_type"] = "purchase"
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    result = run(app, "attribute", path)
    assert result.exit_code == 1
    assert "row 3: negative cost '-3'" in result.stderr
    assert "row 5: unknown event_type 'purchase'" in result.stderr
    assert "--skip-bad" in result.stderr


def test_skip_bad_writes_rejects_and_prints_the_count(app, tmp_path: Path) -> None:
    df = event_log()
    df.loc[2, "timestamp"] = "2024-01-01T10:00:00"
    df.loc[7, "user_id"] = ""
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    result = run(app, "attribute", path, "--skip-bad", "--json")
    assert result.exit_code == 0, result.stderr
    rejects = tmp_path / "bad.rejects.csv"
    assert f"2 bad row(s) rejected -> {rejects}" in result.stderr.replace("\n", "")
    written = pd.read_csv(rejects)
    assert written["row"].tolist() == [3, 8] and "no time zone" in written["reason"].iloc[0]
    clean = df.drop(index=[2, 7])
    expected = get_model("linear").channel_credit(Paths.from_events(clean)).conversions
    assert list(json.loads(result.stdout)["models"]["linear"].values()) == pytest.approx(expected)
    custom = tmp_path / "elsewhere.csv"
    assert run(app, "attribute", path, "--skip-bad", "--rejects", custom).exit_code == 0
    assert len(pd.read_csv(custom)) == 2


def test_out_writes_the_channel_table(app, events_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "credit.csv"
    result = run(app, "attribute", events_csv, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == ["channel", "model", "conversions", "value"]
    assert len(table) == len(CHANNELS) * len(MODELS)
    doc = json.loads(result.stdout)
    row = table[(table.model == "markov") & (table.channel == "search")].iloc[0]
    assert row.conversions == pytest.approx(doc["models"]["markov"]["search"])


@pytest.fixture
def truth_config(tmp_path: Path) -> Path:
    """A small world where our product converts often, so a few days have purchases."""
    path = tmp_path / "truth.toml"
    path.write_text("[campaign]\nappeal = 10.0\n")
    return path


def test_truth_json_is_the_documented_shape_and_error(app, truth_config: Path) -> None:
    result = run(app, "attribute", "--truth", "--users", "4000", "--days", "6", "--seed", "11",
                 "--config", truth_config, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"truth", "models", "error"}
    channels = list(doc["truth"])
    assert channels == ["search", "social", "display"]
    assert list(doc["models"]) == list(MODELS) == list(doc["error"])
    caused = np.clip([doc["truth"][c] for c in channels], 0, None)
    assert caused.sum() > 0
    for name, credit in doc["models"].items():
        x = np.array([credit[c] for c in channels])
        want = 0.5 * np.abs(x / x.sum() - caused / caused.sum()).sum()
        assert doc["error"][name] == pytest.approx(want)


def test_truth_table_one_model_and_plot(app, truth_config: Path, tmp_path: Path) -> None:
    png, csv = tmp_path / "truth.png", tmp_path / "truth.csv"
    result = run(app, "attribute", "--truth", "--users", "2000", "--days", "3", "--config",
                 truth_config, "--model", "linear", "--plot", png, "--out", csv)
    assert result.exit_code == 0, result.stderr
    assert "truth (caused)" in result.stdout and "linear" in result.stdout
    assert "markov" not in result.stdout and "error" in result.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"
    table = pd.read_csv(csv)
    assert list(table.columns) == ["channel", "model", "conversions"]
    assert sorted(set(table.model)) == ["linear", "truth"] and len(table) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--truth", "EVENTS"), "give INPUT or --truth, not both"),
        (("EVENTS", "--plot", "x.png"), "only with --truth"),
        (("EVENTS", "--users", "10"), "only with --truth"),
        (("--truth", "--bidder", "nope"), "unknown bidder 'nope'"),
        (("--truth", "--model", "u_shape"), "unknown model 'u_shape'"),
    ],
)
def test_truth_usage_errors_exit_2(app, events_csv: Path, args: tuple, message: str) -> None:
    argv = [events_csv if a == "EVENTS" else a for a in args]
    result = run(app, "attribute", *argv)
    assert result.exit_code == 2 and message in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "INPUT is required unless --truth"),
        (("--model", "u_shape"), "unknown model 'u_shape'"),
    ],
)
def test_usage_errors_exit_2(app, events_csv: Path, args: tuple, message: str) -> None:
    argv = ("attribute", *args) if not args else ("attribute", events_csv, *args)
    result = run(app, *argv)
    assert result.exit_code == 2 and message in result.stderr


def test_wrong_format_hints_at_the_other(app, events_csv: Path) -> None:
    result = run(app, "attribute", events_csv, "--format", "paths")
    assert result.exit_code == 1 and "use the events format" in result.stderr


def click_log_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    frames = []
    for segment, p, mean in (("crisis", 0.4, 6.0), ("researcher", 0.2, 96.0)):
        log = sample_click_log(rng, 10_000, p=p, mean_delay_h=mean, horizon_h=336.0)
        observed = T0 + 336 * 3600
        click = observed - log.elapsed_h * 3600
        frames.append(
            pd.DataFrame(
                {
                    "click_time": click.round(3),
                    "observation_time": observed,
                    "delay_h": log.delay_h,
                    "segment": segment,
                }
            )
        )
    path = tmp_path / "clicks.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_lag_fit_json_per_group(app, tmp_path: Path) -> None:
    path = click_log_csv(tmp_path)
    result = run(app, "lag", "fit", path, "--group", "segment", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc) == ["crisis", "researcher"]
    assert all(set(v) == {"p_convert", "mean_delay_h", "naive_rate"} for v in doc.values())
    assert doc["crisis"]["p_convert"] == pytest.approx(0.4, abs=0.02)
    assert doc["researcher"]["p_convert"] == pytest.approx(0.2, abs=0.02)
    assert doc["researcher"]["mean_delay_h"] == pytest.approx(96.0, rel=0.1)
    assert doc["researcher"]["naive_rate"] < doc["researcher"]["p_convert"] - 0.03
    single = json.loads(run(app, "lag", "fit", path, "--json", "--model", "weibull").stdout)
    assert list(single) == ["all"]


def test_lag_fit_table_and_bad_rows(app, tmp_path: Path) -> None:
    path = click_log_csv(tmp_path)
    result = run(app, "lag", "fit", path, "--group", "segment")
    assert result.exit_code == 0 and "researcher" in result.stdout and "p_convert" in result.stdout
    bad = tmp_path / "bad.csv"
    pd.DataFrame(
        {"click_time": ["2024-01-01T00:00:00Z"], "elapsed_h": [5.0], "delay_h": [9.0]}
    ).to_csv(bad, index=False)
    result = run(app, "lag", "fit", bad)
    assert result.exit_code == 1
    assert "row 1: conversion seen after the observation time" in result.stderr


def test_error_messages_show_bracketed_values_verbatim(app, tmp_path: Path) -> None:
    df = event_log()
    df.loc[0, "event_type"] = "[bold]click[/bold]"
    path = tmp_path / "markup.csv"
    df.to_csv(path, index=False)
    result = run(app, "attribute", path)
    assert result.exit_code == 1
    assert "row 1: unknown event_type '[bold]click[/bold]'" in result.stderr
