"""Ground truth for attribution: replay the campaign without each channel, score the models.

**What the truth measures.** The campaign is run once as is (the *full* run) and once per channel
with our bids zeroed on that channel, same config and same seed. Person-level draws are
counter-based (docs/design.md section 3), so a replay differs from the full run only downstream of what
changed. A channel's *caused conversions* are our purchases (all kinds: post-click,
view-through and organic) in the full run minus those in the run without it. It is the effect of
switching the channel off, with everything else reacting as it really would:

* **Budget** (`budget="same"`, the default): our daily budget stays the same, so the money the
  channel spent is free for the other channels, which buy more impressions with it. The truth is
  then "what we lose by dropping this channel from the plan", smaller than what the channel's
  impressions did, and it can be negative where the money buys more elsewhere. With
  `budget="reduced"` the replay's daily budget is cut by the channel's mean daily spend in the
  full run, so the other channels get about what they had ("what the channel's own money
  bought"); about, because the cut is the same every day while the channel's spend varied.
* **Everything else reacts**: rivals win the auctions we leave, their ads move the people (who may
  buy a rival's product instead), learning bidders (ours and theirs) learn from different data,
  fatigue and frequency caps change. These are real effects of the channel, so they are counted.
* **Interactions**: channels are not additive, so the caused conversions of all channels need not
  sum to the conversions that needed some ad (removing two channels is not the sum of removing
  each). Nor do they sum to the conversions the models credit: models split every purchase with a
  touch in the window, including those that would have happened anyway.
* **Horizon**: both runs stop at the campaign's end; purchases a channel caused that would land
  after it are not counted (the models do not see them either).

**Model credit** is computed on the full run's own logs, as `gaelp attribute` would on an event
export: our impressions are the touches (an impression falls inside its hour, after the hour's
purchases, so it is dated `t + 0.5`), our purchases the conversions, paths are cut by person
(perfect identity resolution, so the score measures the models, not identity stitching) with the
campaign's lookback window, and touches that never lead to a purchase form non-converting paths.

**The error** of a model compares how it splits credit with how the channels caused purchases:
`error = 1/2 sum_c |credited_c / sum(credited) - caused+_c / sum(caused+)|`, the total variation
distance between the two shares, where `caused+` is the caused conversions with negative values
set to 0 (a model cannot credit less than nothing). 0: the model splits exactly as the channels
caused; 1: all its credit goes to channels that caused nothing. It is undefined (NaN; `null` in
JSON) when no channel caused a purchase. Shares, not counts: every model credits the same total
(each purchase with a touch in the window), which exceeds what the channels caused because
purchases that would have happened anyway get credited too; compared as counts, every model that
over-credits every channel would score the same (the excess). The level is reported separately
(`credited_total` against `caused_total`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gaelp.attribution.event_log import EventTable
from gaelp.attribution.events import events_to_paths
from gaelp.attribution.registry import get_model, model_names
from gaelp.bidders.protocol import Bidder, BidderWrapper, OpportunityBatch
from gaelp.config import Config
from gaelp.experiments.campaign import our_rows
from gaelp.records import DayLog
from gaelp.rng import Streams
from gaelp.simulation import Simulation, build_bidder, our_daily_budget

BudgetMode = Literal["same", "reduced"]
BUDGET_MODES: tuple[str, ...] = ("same", "reduced")
TOUCH_FIELDS = ("t", "person", "channel", "slot", "clicked", "cost")
PURCHASE_FIELDS = ("t", "person", "value", "kind")
IMPRESSION_OFFSET_H = 0.5  # an impression happens during its hour, after the hour's purchases


class ChannelMask(BidderWrapper):
    """Our bidder with its bids zeroed on one channel (a bid of 0 sits every auction out).

    Args:
        inner: The bidder to wrap (its name, learning and `sees_truth` are kept).
        excluded: Channel index to leave, or None to bid as `inner` everywhere.
    """

    def __init__(self, inner: Bidder, excluded: int | None = None) -> None:
        super().__init__(inner)
        self.excluded = excluded

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """The inner bids, 0 on the excluded channel."""
        b = super().bid(batch)
        return b if self.excluded is None else np.where(batch.channel == self.excluded, 0.0, b)


@dataclass(frozen=True, slots=True, eq=False)
class CampaignLog:
    """Our side of one run.

    Attributes:
        touches: TOUCH_FIELDS -> (n,) arrays, our impressions in time order.
        purchases: PURCHASE_FIELDS -> (m,) arrays, our purchases in time order.
        spend: (n_channels,) our spend per channel.
        daily_budget: Our daily budget in this run.
    """

    touches: dict[str, np.ndarray]
    purchases: dict[str, np.ndarray]
    spend: np.ndarray
    daily_budget: float


def replay(
    cfg: Config,
    bidder: str = "fixed",
    *,
    exclude: int | None = None,
    daily_budget: float | None = None,
    on_day: Callable[[DayLog], None] | None = None,
) -> CampaignLog:
    """Run the campaign of `cfg` (same seed) with our bidder kept off one channel.

    Our bidder comes from the simulation's own builder (`build_bidder`: same context, same random
    stream), so with `exclude=None` and no budget change this is the campaign `run_campaign` runs.

    Args:
        cfg: The campaign.
        bidder: Our bidder's registered name.
        exclude: Channel index we do not bid on, or None.
        daily_budget: Our daily budget (default: the campaign's).
        on_day: Called with each day's log (progress).
    """
    budget = our_daily_budget(cfg) if daily_budget is None else daily_budget
    if not budget >= 0:
        raise ValueError(f"daily_budget must be >= 0, got {daily_budget}")
    inner = build_bidder(cfg, bidder, Streams(cfg.seed), budget)
    imps: list[dict[str, np.ndarray]] = []
    buys: list[dict[str, np.ndarray]] = []

    def collect(log: DayLog) -> None:
        imp, buy = our_rows(log, TOUCH_FIELDS, PURCHASE_FIELDS)
        imps.append(imp)
        buys.append(buy)
        if on_day is not None:
            on_day(log)

    sim = Simulation(cfg, ChannelMask(inner, exclude))
    sim.run(cfg.days, on_day=collect)
    return CampaignLog(
        touches={f: np.concatenate([d[f] for d in imps]) for f in TOUCH_FIELDS},
        purchases={f: np.concatenate([d[f] for d in buys]) for f in PURCHASE_FIELDS},
        spend=sim.kpis.channel["spend"].copy(),
        daily_budget=float(budget),
    )


def log_events(log: CampaignLog, channels: tuple[str, ...]) -> EventTable:
    """Our impressions (touches) and purchases (conversions) as one event table, by person."""
    tch, buy = log.touches, log.purchases
    n_t, n_b = tch["t"].size, buy["t"].size
    n = n_t + n_b
    return EventTable(
        user=np.concatenate([tch["person"], buy["person"]]).astype(np.int64),
        t_hours=np.concatenate([tch["t"] + IMPRESSION_OFFSET_H, buy["t"]]).astype(np.float64),
        is_conversion=np.r_[np.zeros(n_t, bool), np.ones(n_b, bool)],
        channel=np.r_[tch["channel"].astype(np.int64), np.full(n_b, -1, np.int64)],
        channels=channels,
        value=np.r_[np.zeros(n_t), buy["value"].astype(np.float64)],
        cost=np.r_[tch["cost"].astype(np.float64), np.zeros(n_b)],
        event_key=np.arange(n, dtype=np.int64),
        row=np.arange(1, n + 1, dtype=np.int64),
        t0_seconds=0.0,
    )


def model_credit(
    log: CampaignLog,
    channels: tuple[str, ...],
    window_days: float,
    models: list[str] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> dict[str, np.ndarray]:
    """Conversions each model credits to each channel on a run's own logs.

    Args:
        log: The run.
        channels: Channel names.
        window_days: Lookback window.
        models: Registry names (default: all).
        params: Per-model parameters, e.g. `{"time_decay": {"half_life_days": 7.0}}`.

    Returns:
        Model name -> (n_channels,) credited conversions.
    """
    paths = events_to_paths(log_events(log, channels), window_days).paths
    params = params or {}
    return {
        name: get_model(name, **params.get(name, {})).channel_credit(paths).conversions
        for name in (models or model_names())
    }


def attribution_error(credited: np.ndarray, caused: np.ndarray) -> float:
    """Total variation distance between credit shares and caused shares (see the module doc).

    Args:
        credited: (n_channels,) conversions a model credits (>= 0).
        caused: (n_channels,) conversions each channel caused (may be negative).

    Returns:
        A score in [0, 1], or NaN when nothing was caused or nothing credited.
    """
    credited = np.asarray(credited, np.float64)
    pos = np.clip(np.asarray(caused, np.float64), 0.0, None)
    if pos.sum() <= 0 or credited.sum() <= 0:
        return float("nan")
    return float(0.5 * np.abs(credited / credited.sum() - pos / pos.sum()).sum())


@dataclass(frozen=True, slots=True, eq=False)
class TruthReport:
    """Caused conversions per channel beside every model's credit.

    Attributes:
        channels: Channel names.
        budget: `"same"` or `"reduced"` (see the module doc).
        conversions: Our purchases in the full run (all kinds).
        without: (n_channels,) our purchases in the run without each channel.
        caused: (n_channels,) `conversions - without`.
        value_caused: (n_channels,) revenue lost without each channel.
        spend: (n_channels,) our spend per channel in the full run.
        credited: Model -> (n_channels,) credited conversions on the full run's logs.
        error: Model -> `attribution_error` (NaN when undefined).
        credited_total: Conversions every model credits (our purchases with a touch in the
            window).
        caused_total: Sum of the channels' caused conversions.
    """

    channels: tuple[str, ...]
    budget: str
    conversions: int
    without: np.ndarray
    caused: np.ndarray
    value_caused: np.ndarray
    spend: np.ndarray
    credited: dict[str, np.ndarray]
    error: dict[str, float]
    credited_total: float
    caused_total: float

    def to_json(self) -> dict[str, Any]:
        """`{"truth": {CHANNEL: caused}, "models": {MODEL: {CHANNEL: credited}},
        "error": {MODEL: score}}`."""

        def per_channel(arr: np.ndarray) -> dict[str, float]:
            return {c: float(x) for c, x in zip(self.channels, arr, strict=True)}

        return {
            "truth": per_channel(self.caused),
            "models": {m: per_channel(v) for m, v in self.credited.items()},
            "error": {m: None if np.isnan(e) else float(e) for m, e in self.error.items()},
        }


def truth_report(
    cfg: Config,
    bidder: str = "fixed",
    *,
    budget: BudgetMode = "same",
    models: list[str] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    on_day: Callable[[DayLog], None] | None = None,
) -> TruthReport:
    """Replay the campaign without each channel and score every model against the truth.

    Runs the campaign `1 + n_channels` times.

    Args:
        cfg: The campaign (users, days, seed, market).
        bidder: Our bidder's registered name.
        budget: `"same"` daily budget in every replay, or `"reduced"` by the channel's mean
            daily spend.
        models: Registry names to score (default: all).
        params: Per-model parameters.
        on_day: Called with each simulated day's log, over all runs (progress).
    """
    if budget not in BUDGET_MODES:
        raise ValueError(f"budget must be one of {', '.join(BUDGET_MODES)}, got {budget!r}")
    channels = cfg.channel_names
    full = replay(cfg, bidder, on_day=on_day)
    without, value_lost = np.zeros(len(channels)), np.zeros(len(channels))
    total_value = float(full.purchases["value"].sum())
    for c in range(len(channels)):  # one replay per channel
        cut = full.spend[c] / cfg.days if budget == "reduced" else 0.0
        run = replay(cfg, bidder, exclude=c, daily_budget=max(full.daily_budget - cut, 0.0),
                     on_day=on_day)
        without[c] = run.purchases["t"].size
        value_lost[c] = total_value - float(run.purchases["value"].sum())
    n_full = int(full.purchases["t"].size)
    caused = n_full - without
    credited = model_credit(full, channels, cfg.campaign.lookback_days, models, params)
    paths_total = float(next(iter(credited.values())).sum()) if credited else float("nan")
    return TruthReport(
        channels=channels,
        budget=budget,
        conversions=n_full,
        without=without,
        caused=caused,
        value_caused=value_lost,
        spend=full.spend,
        credited=credited,
        error={m: attribution_error(v, caused) for m, v in credited.items()},
        credited_total=paths_total,
        caused_total=float(caused.sum()),
    )


def channel_truth(
    cfg: Config, bidder: str = "fixed", *, budget: BudgetMode = "same"
) -> dict[str, float]:
    """Conversions each channel caused: `{channel: full-run purchases - purchases without it}`.

    Args:
        cfg: The campaign (users, days, seed, market).
        bidder: Our bidder's registered name.
        budget: `"same"` or `"reduced"` daily budget in the replays (see the module doc).
    """
    report = truth_report(cfg, bidder, budget=budget, models=[])
    return report.to_json()["truth"]


def plot_truth(report: TruthReport, path: str | Path, title: str | None = None) -> Path:
    """Grouped bars per channel, truth then each model (matplotlib, Agg backend).

    Left panel: conversions caused against conversions credited. Right panel: the same as shares
    of each series' total (caused shares with negatives at 0), which is what the error compares.

    Args:
        report: The truth report.
        path: Image file to write (the format follows the suffix, e.g. `.png`).
        title: Figure title (default: a summary of the run).

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [("truth: caused", report.caused)] + [
        (f"{m} (error {report.error[m]:.2f})", v) for m, v in report.credited.items()
    ]
    n_ch, n_s = len(report.channels), len(series)
    width = 0.84 / n_s
    x = np.arange(n_ch)
    colors = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 2, figsize=(max(11.0, 2.0 + 2 * n_ch * n_s * 0.3), 5.0), dpi=120)
    for ax, shares in zip(axes, (False, True), strict=True):
        for i, (label, values) in enumerate(series):
            v = np.asarray(values, np.float64)
            if shares:
                v = np.clip(v, 0.0, None)
                v = v / v.sum() if v.sum() > 0 else np.zeros_like(v)
            ax.bar(x - 0.42 + width * (i + 0.5), v, width, label=label,
                   color="black" if i == 0 else colors((i - 1) % 10),
                   edgecolor="black", linewidth=0.4)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xticks(x, report.channels)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0].set_ylabel("conversions")
    axes[0].set_title("Conversions caused vs credited", fontsize=10)
    axes[1].set_ylabel("share of the series' total")
    axes[1].set_title("Shares (what the error compares)", fontsize=10)
    axes[1].legend(fontsize=8, frameon=False, loc="upper right")
    fig.suptitle(title or (
        f"Attribution vs ground truth: {report.conversions} purchases of ours, budget "
        f"{report.budget}; models credit {report.credited_total:g}, channels caused "
        f"{report.caused_total:g}"
    ), fontsize=11)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
