"""One matplotlib figure per section of the report, from a `ReportData`; None where its data is missing."""

from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gaelp.experiments.hindsight import ORACLE_LP
from gaelp.experiments.score import RATIO_TARGET, ROAS_LINE
from gaelp.report.sources import ReportData, as_number

STAGE_ORDER = ("UNAWARE", "AWARE", "CONSIDERING", "INTENT", "CONVERTED", "LAPSED", "LOST")
OURS, BUDGET, TRUTH = "#1f77b4", "#d62728", "#2ca02c"


def _figure(figsize: tuple[float, float], ncols: int = 1) -> tuple[Figure, np.ndarray]:
    """A figure and its axes, without pyplot: no global figure registry, no GUI backend."""
    fig = Figure(figsize=figsize, layout="tight")
    return fig, np.atleast_1d(fig.subplots(1, ncols, squeeze=False)[0])


def _days_axis(ax, ylabel: str, title: str) -> None:
    ax.set(xlabel="day", ylabel=ylabel, title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)


def png_data_uri(fig: Figure) -> str:
    """The figure as an inline PNG (`data:image/png;base64,...`)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def spend(data: ReportData) -> Figure | None:
    """Daily spend against the budget (and the platform's 2x cap); the spend by hour of day."""
    if data.daily_spend is None:
        return None
    hourly = data.hourly_spend
    has_hours = hourly is not None and hourly.sum() > 0
    fig, axes = _figure((11 if has_hours else 6.5, 3.6), 2 if has_hours else 1)
    ax = axes[0]
    days = np.arange(data.daily_spend.size)
    ax.bar(days, data.daily_spend, color=OURS, label="spend")
    if data.budget is not None:
        ax.axhline(data.budget, color=BUDGET, label=f"daily budget ${data.budget:,.0f}")
        ax.axhline(2 * data.budget, color=BUDGET, ls=":", label="2x budget (platform's daily cap)")
    _days_axis(ax, "USD", "Daily spend")
    ax.legend(fontsize=8)
    if has_hours and hourly is not None:
        ax = axes[1]
        share = hourly / hourly.sum()
        ax.plot(np.arange(24), share, marker="o", color=OURS, label="share of spend")
        ax.axhline(1 / 24, color="grey", ls="--", label="flat (1/24)")
        ax.set(xlabel="hour of day", ylabel="share of the day's spend", title="Pacing: spend by hour",
               xticks=range(0, 24, 3))
        ax.legend(fontsize=8)
    return fig


def conversions(data: ReportData) -> Figure | None:
    """Conversions by day, and CAC by day and cumulative."""
    if data.daily_conversions is None:
        return None
    conv = data.daily_conversions
    fig, (ax,) = _figure((7.5, 3.6))
    days = np.arange(conv.size)
    ax.bar(days, conv, color=TRUTH, label="conversions")
    _days_axis(ax, "conversions (click-through)", "Conversions and CAC by day")
    if not conv.any():
        ax.text(0.5, 0.5, "no conversions in these days", transform=ax.transAxes, ha="center", color="grey")
    if data.daily_spend is not None and data.daily_spend.size == conv.size and conv.any():
        right = ax.twinx()
        with np.errstate(invalid="ignore", divide="ignore"):
            daily = np.where(conv > 0, data.daily_spend / conv, np.nan)
            cumulative = np.where(np.cumsum(conv) > 0, np.cumsum(data.daily_spend) / np.cumsum(conv), np.nan)
        right.plot(days, daily, "o", color=BUDGET, label="CAC of the day")
        right.plot(days, cumulative, "-", color="black", label="CAC so far")
        right.set_ylabel("CAC, USD")
        right.set_ylim(bottom=0)
        right.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def funnel(data: ReportData) -> Figure | None:
    """People by journey stage."""
    if not data.funnel:
        return None
    stages = [s for s in STAGE_ORDER if s in data.funnel] + sorted(set(data.funnel) - set(STAGE_ORDER))
    counts = np.array([data.funnel[s] for s in stages], np.float64)
    fig, (ax,) = _figure((7.5, 0.45 * len(stages) + 1.2))
    ax.barh(stages[::-1], counts[::-1], color=OURS)
    for y, c in enumerate(counts[::-1]):
        ax.text(c, y, f" {c:,.0f} ({c / counts.sum():.0%})", va="center", fontsize=8)
    ax.set(xlabel="people", title="Funnel: journeys by stage at the end of the run")
    ax.set_xlim(0, counts.max() * 1.25)
    return fig


def attribution(data: ReportData) -> Figure | None:
    """Each model's credited conversions by channel beside the conversions each channel really caused."""
    if not data.attribution:
        return None
    truth, models = data.attribution["truth"], data.attribution["models"]
    channels = list(truth)
    series = {"replayed truth": [as_number(truth[c]) for c in channels]}
    series.update({m: [as_number(credit.get(c, 0.0)) for c in channels] for m, credit in models.items()})
    width = 0.8 / len(series)
    fig, (ax,) = _figure((max(7.5, 1.6 * len(channels) + 3), 3.8))
    x = np.arange(len(channels))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + i * width, values, width, label=name, color=TRUTH if i == 0 else None,
               edgecolor="black" if i == 0 else None)
    ax.set_xticks(x + width * (len(series) - 1) / 2, channels)
    ax.set(ylabel="conversions", title="Attribution models against the replayed truth")
    ax.legend(fontsize=7, ncols=2)
    return fig


def rivals(data: ReportData) -> Figure | None:
    """Each rival's average price per click by day."""
    if not data.rivals:
        return None
    fig, (ax,) = _figure((7.5, 3.6))
    for name, cpc in data.rivals.items():
        ax.plot(np.arange(cpc.size), cpc, marker=".", label=name)
    _days_axis(ax, "USD per click", "Rivals: average price per click paid")
    ax.legend(fontsize=8)
    return fig


def evaluation(data: ReportData) -> Figure | None:
    """Mean score per bidder with its 95% CI."""
    if not data.evaluation:
        return None
    bidders = data.evaluation["bidders"]
    names = list(bidders)
    mean = np.array([as_number(bidders[n]["score"]["mean"]) for n in names])
    ci = np.array([[as_number(x) for x in bidders[n]["score"].get("ci95") or (m, m)]
                   for n, m in zip(names, mean, strict=True)])
    fig, (ax,) = _figure((7.5, 0.5 * len(names) + 1.4))
    y = np.arange(len(names))[::-1]
    ax.errorbar(mean, y, xerr=[mean - ci[:, 0], ci[:, 1] - mean], fmt="o", color=OURS, capsize=4)
    ax.set_yticks(y, names)
    if np.all(np.nan_to_num(ci, nan=0.0) >= 0):
        ax.set_xlim(left=0)  # scores are never negative
    ax.set(xlabel="score: conversions x min(1, (target CPA / CAC)^2), mean and 95% CI",
           title=f"Bidders on {len(data.evaluation.get('worlds', []))} held-out worlds")
    return fig


def per_world(data: ReportData) -> Figure | None:
    """World by world: the reference bidder's score over `oracle_lp`'s (its median and the 80% target; when
    both played) and every bidder's CAC against the target CPA (how many worlds end under it with a ROAS
    over 2, the agent's target line)."""
    ev = data.evaluation
    if not ev or not any(b.get("per_world") for b in ev["bidders"].values()):
        return None
    rows = {name: b.get("per_world") or [] for name, b in ev["bidders"].items()}
    ref = ev.get("reference") or next(iter(rows))
    oracle = {r["seed"]: as_number(r["score"]) for r in rows.get(ORACLE_LP, [])}
    ratio = np.array([as_number(r["score"]) / oracle[r["seed"]] for r in rows.get(ref, [])
                      if ref != ORACLE_LP and oracle.get(r["seed"], 0.0) > 0])
    ratio = ratio[np.isfinite(ratio)]
    fig, axes = _figure((12.0, 0.55 * len(rows) + 1.8) if ratio.size else (7.5, 0.55 * len(rows) + 1.8),
                        2 if ratio.size else 1)
    ax = axes[-1]
    target = ev.get("target_cpa")
    names = list(rows)
    for i, name in enumerate(names):
        cac = np.array([as_number(r["cac"]) for r in rows[name]])
        roas = np.array([as_number(r["roas"]) for r in rows[name]])
        y = np.full(cac.size, i) + np.linspace(-0.2, 0.2, cac.size)
        ax.scatter(cac, y, s=12, alpha=0.7, color=OURS if name == ref else "0.45")
        if target is not None:
            met = int(np.count_nonzero((cac < target) & (roas > ROAS_LINE)))
            names[i] = f"{name}\n{met} of {cac.size} met"
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    if target is not None:
        ax.axvline(target, color=BUDGET, ls="--", lw=1)
    ax.set(xlabel="CAC per world, USD" + ("" if target is None else f" (dashed: the target CPA, ${target:,.0f})"),
           title="CAC per world" + ("" if target is None else " (met: under the target, ROAS over 2)"))
    if ratio.size:
        ax = axes[0]
        ax.scatter(ratio, np.linspace(-0.2, 0.2, ratio.size), s=14, alpha=0.7, color=OURS)
        med = float(np.median(ratio))
        ax.plot([med, med], [-0.35, 0.35], color="black", lw=2)
        ax.axvline(RATIO_TARGET, color=BUDGET, ls="--", lw=1)
        ax.set_yticks([0], [f"{ref}\nmedian {med:.3f}"], fontsize=8)
        ax.set_ylim(-0.6, 0.6)
        ax.set(xlabel=f"score / oracle_lp's, per world (dashed: the {RATIO_TARGET:.0%} target)",
               title=f"{ref} against the hindsight bound, {ratio.size} worlds")
    return fig
