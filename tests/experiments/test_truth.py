"""Ground truth by replay: the full run is the campaign, replays leave one channel, the truth is
their difference, model credit matches the event-log route, errors are as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gaelp.attribution.ledger import RewardEvents, RewardLedger
from gaelp.attribution.paths import Paths
from gaelp.attribution.registry import MODELS, RULE_BASED, get_model
from gaelp.config import Config
from gaelp.experiments.campaign import run_campaign
from gaelp.experiments.truth import (
    IMPRESSION_OFFSET_H,
    PURCHASE_FIELDS,
    TOUCH_FIELDS,
    attribution_error,
    channel_truth,
    model_credit,
    plot_truth,
    replay,
    truth_report,
)

SEED = 11


def small(users: int = 5000, days: int = 8, ample: bool = False, **campaign) -> Config:
    """A small world where our product converts often (appeal 10), so a week has purchases."""
    data = Config().replace(users=users, days=days, seed=SEED).model_dump()
    data["campaign"].update({"appeal": 10.0, **campaign})
    if ample:  # nobody runs out of budget: no money moves between people through the market
        data["campaign"]["budget_per_user"] = 100.0
        for c in data["market"]["competitors"]:
            c["budget_per_user"] = 100.0
    return Config.model_validate(data)


@pytest.fixture(scope="module")
def cfg() -> Config:
    return small()


@pytest.fixture(scope="module")
def full(cfg):
    return replay(cfg)


@pytest.fixture(scope="module")
def report(cfg):
    return truth_report(cfg)


def test_the_full_replay_is_the_campaign(cfg, full) -> None:
    res = run_campaign(cfg, "fixed", keep_logs=True)
    for f in TOUCH_FIELDS:
        np.testing.assert_array_equal(full.touches[f], res.ours_impressions[f])
    for f in PURCHASE_FIELDS:
        np.testing.assert_array_equal(full.purchases[f], res.ours_conversions[f])
    np.testing.assert_array_equal(full.spend, res.sim.kpis.channel["spend"])
    assert full.purchases["t"].size >= 10  # enough purchases for the tests below to mean something


def test_truth_is_full_minus_each_replay(cfg, full, report) -> None:
    assert report.conversions == full.purchases["t"].size
    for c in range(len(cfg.channel_names)):
        run = replay(cfg, exclude=c)
        assert run.touches["t"].size > 0
        assert not np.any(run.touches["channel"] == c) and run.spend[c] == 0.0
        assert report.caused[c] == full.purchases["t"].size - run.purchases["t"].size
        lost = full.purchases["value"].sum() - run.purchases["value"].sum()
        assert report.value_caused[c] == pytest.approx(lost)
    # Ads cause purchases here: switching all the plan's channels off one at a time costs some.
    assert report.caused.sum() > 0


def test_only_people_the_channel_reached_change() -> None:
    """With ample budgets every draw of a person depends on that person alone, so removing a
    channel can change only people who had an impression on it in the full run."""
    cfg = small(users=2000, days=6, ample=True)
    seen: list = []
    full = replay(cfg, on_day=lambda log: seen.append(log.impressions))
    imp_person = np.concatenate([d["person"] for d in seen])
    imp_channel = np.concatenate([d["channel"] for d in seen])

    def per_person(log) -> np.ndarray:
        key = log.purchases["person"] * (24 * cfg.days) + log.purchases["t"]
        return np.sort(key)

    changed_any = False
    for c in range(len(cfg.channel_names)):
        run = replay(cfg, exclude=c)
        a, b = per_person(full), per_person(run)
        differ = np.setxor1d(a, b) // (24 * cfg.days)
        reached = np.unique(imp_person[imp_channel == c])
        assert np.isin(differ, reached).all(), f"a person never reached on channel {c} changed"
        changed_any |= differ.size > 0
    assert changed_any


def test_reduced_budget_cuts_each_replay_by_the_channels_spend() -> None:
    cfg = small(users=2000, days=4)
    full = replay(cfg)
    budget = full.daily_budget - full.spend[0] / cfg.days
    run = replay(cfg, exclude=0, daily_budget=budget)
    assert run.daily_budget == pytest.approx(budget)
    assert run.spend.sum() <= budget * cfg.days + 1e-6
    reduced = truth_report(cfg, budget="reduced", models=["linear"])
    assert reduced.caused[0] == full.purchases["t"].size - run.purchases["t"].size
    assert channel_truth(cfg, budget="reduced") == reduced.to_json()["truth"]
    with pytest.raises(ValueError, match="budget must be one of same, reduced"):
        truth_report(cfg, budget="half")


def events_frame(full, channels) -> pd.DataFrame:
    """The full run as an event export (the real-log route), timestamps in epoch seconds."""
    t0 = 1_767_571_200
    tch, buy = full.touches, full.purchases
    n_t, n_b = tch["t"].size, buy["t"].size
    return pd.DataFrame({
        "event_id": [f"e{i:08d}" for i in range(n_t + n_b)],  # ties keep log order
        "timestamp": np.r_[t0 + (tch["t"] + IMPRESSION_OFFSET_H) * 3600, t0 + buy["t"] * 3600]
        .astype(np.int64).astype(str),
        "user_id": np.r_[tch["person"], buy["person"]].astype(str),
        "channel": np.r_[np.array(channels)[tch["channel"]], np.full(n_b, "")],
        "event_type": np.r_[np.where(tch["clicked"], "click", "impression"),
                            np.full(n_b, "conversion")],
        "cost": np.r_[tch["cost"], np.zeros(n_b)].astype(str),
        "value": np.r_[np.zeros(n_t), buy["value"]].astype(str),
    })


def test_model_credit_is_what_gaelp_attribute_gives_on_the_export(cfg, full, report) -> None:
    channels = cfg.channel_names
    paths = Paths.from_events(events_frame(full, channels), window_days=cfg.campaign.lookback_days)
    by_name = dict(zip(paths.channels, range(len(paths.channels)), strict=True))  # sorted names
    assert list(report.credited) == list(MODELS)
    for name in MODELS:
        conv = get_model(name).channel_credit(paths).conversions
        np.testing.assert_allclose(
            report.credited[name], [conv[by_name[c]] for c in channels], rtol=1e-9, atol=1e-9
        )
    assert report.credited_total == pytest.approx(paths.conversions.sum())
    assert report.credited_total <= report.conversions


def test_error_is_the_documented_share_distance(report) -> None:
    pos = np.clip(report.caused, 0, None)
    for name, credit in report.credited.items():
        want = 0.5 * sum(abs(a / credit.sum() - b / pos.sum()) for a, b in zip(credit, pos))
        assert report.error[name] == pytest.approx(want)
        assert 0.0 <= report.error[name] <= 1.0


@pytest.mark.parametrize(
    ("credited", "caused", "want"),
    [
        ([2.0, 2.0], [1.0, 1.0], 0.0),  # same shares, different level
        ([3.0, 0.0], [0.0, 5.0], 1.0),  # all credit where nothing was caused
        ([1.0, 1.0], [4.0, -2.0], 0.5),  # a negative truth counts as nothing caused
        ([1.0, 1.0], [0.0, -1.0], float("nan")),  # nothing caused: undefined
    ],
)
def test_attribution_error_cases(credited, caused, want) -> None:
    got = attribution_error(np.array(credited), np.array(caused))
    assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want)


def test_json_shape(report, cfg) -> None:
    doc = report.to_json()
    assert set(doc) == {"truth", "models", "error"}
    assert list(doc["truth"]) == list(cfg.channel_names)
    assert all(list(v) == list(cfg.channel_names) for v in doc["models"].values())
    assert list(doc["error"]) == list(doc["models"]) == list(MODELS)


@pytest.mark.parametrize("model", RULE_BASED)
def test_the_ledger_pays_each_channel_its_model_credit(cfg, full, model: str) -> None:
    """Streaming the campaign through the ledger a day at a time, with weekly advances, pays each
    channel exactly the credit the model gives it on the whole log."""
    tch, buy = full.touches, full.purchases
    ledger = RewardLedger(cfg.channel_names, model, window_h=24.0 * cfg.campaign.lookback_days)
    decision = np.arange(tch["t"].size)
    parts = []
    for day in range(cfg.days):
        m = tch["t"] // 24 == day
        ledger.touch(decision[m], tch["t"][m] + IMPRESSION_OFFSET_H, tch["person"][m],
                     tch["channel"][m])
        b = buy["t"] // 24 == day
        parts.append(ledger.convert(buy["t"][b].astype(float), buy["person"][b]))
        if day % 3 == 2:
            parts.append(ledger.close_episode(24.0 * (day + 1), p=0.05,
                                              survival=lambda h: np.exp(-h / 72.0)))
    parts.append(ledger.expire(np.inf))
    events = RewardEvents.concat(parts)
    ids, paid = events.by_decision()
    per_channel = np.bincount(tch["channel"][ids], paid, minlength=len(cfg.channel_names))
    credited = model_credit(full, cfg.channel_names, cfg.campaign.lookback_days, [model])[model]
    np.testing.assert_allclose(per_channel, credited, atol=1e-9)


def test_plot_writes_a_png(report, tmp_path) -> None:
    out = plot_truth(report, tmp_path / "sub" / "truth.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
