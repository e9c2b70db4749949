"""`gaelp competitors --shock DAY` (do rivals adapt?) and `gaelp intel` (what our logs reveal).

Thin wiring: build the config, call `gaelp.experiments.shock` / `gaelp.experiments.intel_run`, print.
Exit codes: 0 success, 2 bad usage or config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from gaelp.cli.core import ConfigOpt, JsonOpt, SeedOpt, UsersOpt, _config
from gaelp.cli.errors import fail, finite, writable
from gaelp.cli.render import err, out, print_json


def competitors(
    shock: Annotated[int, typer.Option("--shock", help="day from which our bidder doubles its bids", min=1)],
    days: Annotated[int, typer.Option("--days", help="days of the campaign", min=2)] = 30,
    users: UsersOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    bid: Annotated[float | None, typer.Option(
        "--bid", help="one fixed bid before the shock (USD per click); default: per channel and query intent, "
                      "what a click is worth to the median rival product", min=0.0, callback=finite)] = None,
    state: Annotated[Path | None, typer.Option(
        "--state", help="rivals' learned state: loaded from this .npz checkpoint if it exists (it must be one), "
                        "saved to it after the run", dir_okay=False, callback=writable)] = None,
    json_out: JsonOpt = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="write the daily series as a PNG",
                                              callback=writable)] = None,
) -> None:
    """Our bidder doubles its bids on day SHOCK: each rival's daily win rate, mean bid and profit, and
    what each learner would have earned had it stopped learning at the shock (its frozen twin)."""
    from gaelp.experiments.shock import plot_shock, rival_click_values, run_shock

    cfg = _config(config, users=users, seed=seed, days=days)
    if bid is not None:
        cfg = cfg.model_copy(update={"bidders": cfg.bidders.model_copy(update={"fixed_bid": bid})})
    if not shock < days:
        raise fail(f"--shock must be before the last day (1..{days - 1}), got {shock}", 2)
    try:
        result = run_shock(cfg, shock, days, bidder="market" if bid is None else "fixed", state_path=state)
    except ValueError as e:
        raise fail(str(e), 2) from None
    if plot is not None:
        plot_shock(result, str(plot))
    if json_out:
        print_json(result.to_json())
        return
    if bid is None:
        values = rival_click_values(cfg)
        t = Table(title="our bid before the shock: what a click is worth to the median rival", header_style="bold")
        t.add_column("channel")
        for head in ("informational", "category", "purchase"):
            t.add_column(head, justify="right")
        for name, row in zip(cfg.channel_names, values):
            t.add_row(name, *(f"${x:.2f}" for x in row))
        out.print(t)
    for field, title, pattern in (("win_rate", "daily win rate", "{:.1%}"), ("mean_bid", "daily mean bid", "${:.2f}"),
                                  ("profit", "daily expected ad profit", "${:,.0f}")):
        t = Table(title=f"{title} (our bids x2 from day {shock})", header_style="bold")
        t.add_column("day", justify="right")
        for name in result.names:
            t.add_column(name, justify="right")
        for d in range(days):
            t.add_row(str(d), *(pattern.format(getattr(result.adapted[n], field)[d]) for n in result.names),
                      style="bold" if d == shock else None)
        out.print(t)
    week = slice(shock, min(shock + 7, days))
    t = Table(title=f"the week from day {shock}: mean bid; profit from day {shock} on", header_style="bold")
    for head in ("rival", "learns", "bid move", "bid", "bid frozen", "bid no shock", "profit", "frozen",
                 "adapting is worth"):
        t.add_column(head, justify="right" if head != "rival" else "left")
    for name, learns in zip(result.names, result.learns):
        a, f = result.profit_after(name), result.profit_after(name, frozen=learns)
        bids = [float(s[name].mean_bid[week].mean()) for s in (result.adapted, result.frozen)]
        calm = "-" if result.no_shock is None else f"${result.no_shock[name].mean_bid[week].mean():.2f}"
        t.add_row(name, "yes" if learns else "no", f"{result.bid_move(name):.0%}", f"${bids[0]:.2f}",
                  f"${bids[1]:.2f}", calm, f"${a:,.0f}", f"${f:,.0f}", f"${a - f:+,.0f}")
    out.print(t)
    out.print("bid move: largest change of the daily mean bid within 7 days of the shock, against the day before")
    if plot is not None:
        err.print(f"plot -> {plot}")


def intel(
    days: Annotated[int, typer.Option("--days", help="days of the campaign", min=1)] = 7,
    users: UsersOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
    spread: Annotated[float, typer.Option("--spread", help="our probe bid varies in [bid/spread, bid x spread]",
                                          min=1.0, max=100.0, callback=finite)] = 2.0,
    json_out: JsonOpt = False,
) -> None:
    """Competitive intelligence from our own logs, beside the simulator's truth.

    Our bidder is a probe: the fixed bid times a random factor in [1/spread, spread], independent of
    the auction, so that our logs reveal the competing bids over a range of prices.
    """
    from gaelp.experiments.intel_run import run_intel

    cfg = _config(config, users=users, seed=seed, days=days)
    check = run_intel(cfg, days, spread)
    report = check.to_json()
    if json_out:
        print_json(report)
        return
    t = Table(title=f"what our logs say ({days} days, {check.entered:,} auctions entered)", header_style="bold")
    for head in ("metric", "from our logs", "truth"):
        t.add_column(head, justify="right" if head != "metric" else "left")
    for key, label in (("impression_share", "impression share"), ("lost_share_budget", "lost to budget"),
                       ("lost_share_rank", "lost to rank"), ("top_of_page_rate", "top-of-page (absolute top) rate"),
                       ("overlap_rate", "overlap rate"), ("position_above_rate", "position-above rate"),
                       ("outranking_share", "outranking share")):
        truth = report.get(f"{key}_truth")
        t.add_row(label, _pct(report[key]), _pct(truth) if truth is not None else "(exact)")
    out.print(t)
    cdf = report["price_to_beat_cdf"]
    t = Table(title="price to beat for the top slot: P(H <= x)", header_style="bold")
    for head in ("x (USD)", "estimate", "truth"):
        t.add_column(head, justify="right")
    for x, e, tr in zip(cdf["at"], cdf["estimate"], cdf["truth"]):
        t.add_row(f"${x:.2f}", f"{e:.3f}", f"{tr:.3f}")
    out.print(t)
    out.print(f"KS distance over our bid range ${report['bid_range'][0]:.2f}-${report['bid_range'][1]:.2f}: "
              f"{report['ks_distance']:.3f}")


def _pct(x: float) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.1%}"


def register(app: typer.Typer) -> None:
    """Add `competitors` and `intel` to `app`."""
    app.command("competitors")(competitors)
    app.command("intel")(intel)
