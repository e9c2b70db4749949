"""What a report can be made of: a run folder (its journey store and JSON files) or one JSON document.

JSON documents are recognised by their keys:

* `gaelp simulate --json`: `totals` and `by_channel` (KPIs by channel);
* `gaelp run --json`: bidder name -> a `simulate` object (KPIs by bidder);
* `gaelp evaluate --json`: `bidders` and `comparisons` (scores with CIs, paired tests);
* `gaelp attribute --truth --json`: `truth` and `models` (credited against caused conversions);
* and, in any of them, the optional series `daily` (`spend`, `conversions`, lists by day, and `budget`;
  or `gaelp simulate --json`'s rows `[{"day", "spend", "budget", "conversions"}]`),
  `hourly_spend` (24 values), `funnel` (stage -> people) and `rivals` (name -> price per click by day).

A run folder (`gaelp simulate --run DIR`) gives daily spend and budget, the hourly spend curve,
conversions and CAC by day, the funnel (journeys by stage) and the rivals' prices per click by day from
its journey store, plus every JSON document above found in the folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STORE_FILE = "journeys.duckdb"
EVALUATED = ("score", "conversions", "cac", "roas", "spend", "budget_use")
"""The per-bidder means of `gaelp evaluate --json` the key figures show."""


class ReportInputError(ValueError):
    """An input the report cannot read; the message says what was expected."""


@dataclass(slots=True)
class ReportData:
    """Everything a report may show; None where the input does not hold it.

    Attributes:
        title: what the report is about.
        sources: where each part came from (shown at the foot of the page).
        kpis: row name (channel, bidder or advertiser) -> KPI name -> value.
        kpi_note: what the KPI rows are.
        budget: our daily budget, USD.
        daily_spend: (days,) our spend by day, USD.
        daily_conversions: (days,) our click-through conversions by day.
        hourly_spend: (24,) our spend by hour of day, summed over days.
        funnel: journey stage -> people in it.
        attribution: `{"truth": {channel: caused}, "models": {model: {channel: credited}}, "error"?: {...}}`.
        rivals: rival name -> (days,) average price per click paid.
        evaluation: the `gaelp evaluate --json` object.
    """

    title: str = "GAELP report"
    sources: list[str] = field(default_factory=list)
    kpis: dict[str, dict[str, Any]] | None = None
    kpi_note: str = ""
    budget: float | None = None
    daily_spend: np.ndarray | None = None
    daily_conversions: np.ndarray | None = None
    hourly_spend: np.ndarray | None = None
    funnel: dict[str, int] | None = None
    attribution: dict[str, Any] | None = None
    rivals: dict[str, np.ndarray] | None = None
    evaluation: dict[str, Any] | None = None


def load_input(path: Path) -> ReportData:
    """Read a run folder or a JSON file.

    Raises:
        ReportInputError: a missing path, unreadable JSON, or a document of no known shape.
    """
    path = Path(path)
    data = ReportData()
    if path.is_dir():
        data.title = f"Run {path.name}"
        store = path / STORE_FILE
        if store.exists():
            _from_store(data, store)
        docs = sorted(p for p in path.glob("*.json"))
        for p in docs:
            _from_json(data, _read_json(p), p.name, strict=False)
        if not store.exists() and not docs:
            raise ReportInputError(f"{path} holds neither a journey store ({STORE_FILE}) nor JSON documents: "
                                   f"make one with `gaelp simulate --run {path}`")
        return data
    if not path.is_file():
        raise ReportInputError(f"{path}: no such file or folder")
    data.title = path.stem
    _from_json(data, _read_json(path), path.name, strict=True)
    return data


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise ReportInputError(f"cannot read {path}: {e}") from None
    except json.JSONDecodeError as e:
        raise ReportInputError(f"{path} is not JSON ({e}); give a run folder or the JSON of gaelp simulate, "
                               f"run, evaluate or attribute --truth") from None


def _series(doc: dict[str, Any], key: str) -> np.ndarray | None:
    values = doc.get(key)
    return None if values is None else np.asarray(values, np.float64)


def as_number(x: Any) -> float:
    """A JSON number, or NaN for null (the project's JSON writes NaN as null)."""
    if x is None:
        return float("nan")
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise TypeError(f"{x!r} is not a number")
    return float(x)


def _check(doc: dict[str, Any]) -> None:
    """Read every number the plots will read, so that a malformed document fails here, by name."""
    if "bidders" in doc and "comparisons" in doc:
        for row in doc["bidders"].values():
            as_number(row["score"]["mean"])
            for x in row["score"].get("ci95") or []:
                as_number(x)
            for world in row.get("per_world") or []:  # what the per-world plot reads
                int(world["seed"])
                for k in ("score", "cac", "roas"):
                    as_number(world[k])
    if "truth" in doc and "models" in doc:
        for x in doc["truth"].values():
            as_number(x)
        for credit in doc["models"].values():
            for x in credit.values():
                as_number(x)


def _from_json(data: ReportData, doc: Any, name: str, strict: bool) -> None:
    """Fill `data` from one document; an unknown shape fails when `strict`, else is skipped."""
    known = False
    if isinstance(doc, dict):
        try:
            _check(doc)
            known = _fill(data, doc)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ReportInputError(f"{name}: a malformed document ({type(e).__name__}: {e}); expected the JSON of "
                                   f"gaelp simulate, run, evaluate or attribute --truth") from None
    if known:
        data.sources.append(name)
    elif strict:
        raise ReportInputError(f"{name}: not a document the report knows (expected the JSON of gaelp simulate, "
                               f"run, evaluate or attribute --truth)")


def _fill(data: ReportData, doc: dict[str, Any]) -> bool:
    """Take what `doc` holds; False if it holds nothing the report knows."""
    known = False
    if "totals" in doc and "by_channel" in doc:
        data.kpis = {**doc["by_channel"], "total": doc["totals"]}
        data.kpi_note = "By channel; a conversion is a purchase with a click of ours in the lookback window."
        users = f"{doc['users']:,}" if isinstance(doc.get("users"), int) else "?"
        data.title = f"{doc.get('bidder', 'campaign')}: {users} people, {doc.get('days', '?')} days"
        known = True
    elif doc and all(isinstance(v, dict) and "totals" in v for v in doc.values()):
        data.kpis = {bidder: v["totals"] for bidder, v in doc.items()}
        data.kpi_note = "By bidder, each on the same world."
        known = True
    if "bidders" in doc and "comparisons" in doc:
        data.evaluation, known = doc, True
        if data.kpis is None:  # a run's own KPI table, where there is one, stays the key figures
            data.kpis = {bidder: {k: row[k]["mean"] for k in EVALUATED if isinstance(row.get(k), dict)}
                         for bidder, row in doc["bidders"].items()}
            users = f"{doc['users']:,}" if isinstance(doc.get("users"), int) else "?"
            data.kpi_note = (f"By bidder: the mean over {len(doc.get('worlds', []))} held-out worlds of {users} "
                             f"people, {doc.get('days', '?')} days each (the score's 95% CI below).")
            data.title = f"Evaluation: {len(doc.get('worlds', []))} worlds of {users} people"
    if "truth" in doc and "models" in doc:
        data.attribution, known = doc, True
    daily = doc.get("daily") or {}
    if isinstance(daily, list):  # `gaelp simulate --json`: one row per day, `{"day", "spend", "budget", "conversions"}`
        daily = {k: [row[k] for row in daily] for k in ("spend", "conversions")} | (
            {"budget": daily[0]["budget"]} if daily else {})
    for key, attr in (("spend", "daily_spend"), ("conversions", "daily_conversions")):
        if daily.get(key) is not None:
            setattr(data, attr, _series(daily, key))
            known = True
    if daily.get("budget") is not None:
        data.budget = float(daily["budget"])
    if doc.get("hourly_spend") is not None:
        data.hourly_spend, known = _series(doc, "hourly_spend"), True
    if doc.get("funnel"):
        data.funnel, known = {str(k): int(v) for k, v in doc["funnel"].items()}, True
    if doc.get("rivals"):
        data.rivals, known = {str(k): np.asarray(v, np.float64) for k, v in doc["rivals"].items()}, True
    return known


def _from_store(data: ReportData, store_path: Path) -> None:
    """Daily and hourly series, the funnel and the rivals' prices from a run's journey store."""
    from gaelp.journeys import JourneyStore, StoreError

    try:
        store = JourneyStore(f"duckdb:///{store_path}")
    except StoreError as e:
        raise ReportInputError(str(e)) from None
    with store:
        cfg = json.loads(store.meta().get("config", "{}"))
        days = store.committed_days()
        names = store.advertiser_names()
        n_adv = max(names) + 1 if names else 1
        spend, clicks = np.zeros((n_adv, days)), np.zeros((n_adv, days))
        hourly = np.zeros(24)
        for page in store.iter_rows("touchpoints", columns=["t", "advertiser", "clicked", "cost"]):
            day, adv = page["t"] // 24, page["advertiser"].astype(np.int64)
            keep = day < days
            flat = adv[keep] * days + day[keep]
            spend += np.bincount(flat, page["cost"][keep], n_adv * days).reshape(n_adv, days)
            clicks += np.bincount(flat, page["clicked"][keep], n_adv * days).reshape(n_adv, days)
            ours = keep & (adv == 0)
            hourly += np.bincount(page["t"][ours] % 24, page["cost"][ours], 24)
        conversions = np.zeros(days)
        for page in store.iter_rows("conversions", columns=["t", "advertiser", "by_click"]):
            mine = (page["advertiser"] == 0) & page["by_click"] & (page["t"] // 24 < days)
            conversions += np.bincount(page["t"][mine] // 24, minlength=days)[:days]
        stats = store.stats()
    if data.kpis is None:
        data.kpis = {row["name"]: {k: row[k] for k in ("impressions", "clicks", "spend", "conversions", "revenue")}
                     for row in stats["advertisers"]}
        data.kpi_note = ("By advertiser, from the journey store (ours first); conversions are every purchase of "
                         "the brand, with or without a click.")
    data.daily_spend, data.daily_conversions, data.hourly_spend = spend[0], conversions, hourly
    if cfg:
        data.budget = float(cfg["campaign"]["budget_per_user"]) * int(cfg["users"])
    data.funnel = stats["stages"]
    with np.errstate(invalid="ignore", divide="ignore"):
        data.rivals = {names[a]: spend[a] / clicks[a] for a in range(1, n_adv) if a in names}
    data.sources.append(f"{store_path.name} ({days} days)")
