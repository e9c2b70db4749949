"""`gaelp safety faults` (does safety catch each fault?), `gaelp pacing eval` (is the promise kept?) and
`gaelp identity eval` (are devices linked into the right people?) and `gaelp creatives eval` (does the
selector find each segment's best message?).

Thin wiring: build the config, call `gaelp.experiments.faults` / `pacing_eval` / `identity_eval` /
`creatives_eval`, print.
Exit codes: 0 success, 2 bad usage or config.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gaelp.cli.core import ConfigOpt, DaysOpt, JsonOpt, SeedOpt, UsersOpt, _check_bidder, _config
from gaelp.cli.errors import EXIT_USAGE, fail
from gaelp.cli.render import fmt, out, print_json, progress_bar

safety_app = typer.Typer(help="Test the safety layer with injected faults.", no_args_is_help=True)
pacing_app = typer.Typer(help="Measure budget pacing against the platform's promise.", no_args_is_help=True)
identity_app = typer.Typer(help="Cross-device identity resolution, scored against the truth.",
                           no_args_is_help=True)
creatives_app = typer.Typer(help="Creative selection, scored against the truth.", no_args_is_help=True)
BidderOpt = Annotated[str | None, typer.Option("--bidder", help="our bidder (registered name)")]


@safety_app.command("faults")
def faults(
    fault: Annotated[list[str] | None, typer.Option("--fault", help="fault to inject (repeatable); default: "
                                                    "bid_x1000, cost_spike and ctr_collapse on day 3 at 10:00")] = None,
    config: ConfigOpt = None, bidder: BidderOpt = None, users: UsersOpt = None, days: DaysOpt = None,
    seed: SeedOpt = None, as_json: JsonOpt = False,
) -> None:
    """Run the world with and without each fault: when safety caught it and what the fault's day lost."""
    from gaelp.experiments.faults import fault_report, parse_fault, run_with_fault

    cfg = _config(config, bidder=bidder, users=users, days=days or 5, seed=seed)
    _check_bidder(cfg.bidder)
    texts = fault or ["bid_x1000@day3h10", "cost_spike@day3h10", "ctr_collapse@day3h10"]
    try:
        plan = [parse_fault(t) for t in texts]
    except ValueError as e:
        raise fail(str(e), EXIT_USAGE) from None
    late = [f.label for f in plan if f.day >= cfg.days]
    if late:
        raise fail(f"faults after the campaign's {cfg.days} days: {', '.join(late)}", EXIT_USAGE)
    rows = []
    with progress_bar(not as_json) as bar:
        task = bar.add_task(f"{len(plan)} faults + 1 run without: {cfg.users:,} people",
                            total=(len(plan) + 1) * cfg.days)
        base = run_with_fault(cfg, None, on_day=lambda _: bar.advance(task))
        for f in plan:
            rows.append(fault_report(cfg, f, on_day=lambda _: bar.advance(task), base=base))
    if as_json:
        print_json({"users": cfg.users, "bidder": cfg.bidder, "faults": rows})
        return
    for r in rows:
        caught = "not caught" if r["caught_t"] is None else f"caught by {r['kind']} after {r['delay_h']} h"
        out.print(f"{r['fault']}: {caught}; the day's excess spend ${r['loss']:.2f}, overcharge "
                  f"${r['overcharge']:.2f} (one hour's budget ${r['hour_budget']:.2f}), {r['clicks_lost']:.0f} clicks lost")


@pacing_app.command("eval")
def pacing_eval(config: ConfigOpt = None, bidder: BidderOpt = None, users: UsersOpt = None, days: DaysOpt = None,
                seed: SeedOpt = None, as_json: JsonOpt = False) -> None:
    """Largest day and 30-day period over the budget, and when each day's first half of spend is gone."""
    from gaelp.experiments.pacing_eval import pacing_figures

    cfg = _config(config, bidder=bidder, users=users, days=days, seed=seed)
    _check_bidder(cfg.bidder)
    f = pacing_figures(cfg)
    if as_json:
        print_json(f)
        return
    out.print(f"{f['bidder']} ({f['pacing']} pacing), budget ${f['budget']:.2f}/day: largest day "
              f"{f['max_day_over_budget']:.2f}x the budget (promise: 2x), largest {f['period_days']}-day period "
              f"{f['max_period_over_budget']:.1f}x (promise: 30.4x); half of a day's spend gone by "
              f"{f['spend_half_hour']['median']:.0f}:00 (median; earliest {f['spend_half_hour']['min']}:00), "
              f"half of its traffic by {f['traffic_half_hour']}:00; {f['days_exhausted_by_noon']} days "
              f"exhausted by noon")


@identity_app.command("eval")
def identity_eval(
    config: ConfigOpt = None, bidder: BidderOpt = None, users: UsersOpt = None, days: DaysOpt = None,
    seed: SeedOpt = None, as_json: JsonOpt = False,
    attribution: Annotated[bool, typer.Option("--attribution/--no-attribution",
                                              help="also score attribution by device, resolved and true person "
                                                   "against the replayed truth (runs 1 + n_channels campaigns)")] = True,
    min_prob: Annotated[float | None, typer.Option("--min-prob", help="link a home's devices when the resolver expects "
                                                   "at least this share of its pairs to be one person (0-1; "
                                                   "default 0.6)")] = None,
) -> None:
    """Precision and recall of the device links against the truth, and attribution with and without them."""
    from gaelp.experiments.identity_eval import identity_eval as run_eval

    if min_prob is not None and not 0.0 <= min_prob <= 1.0:
        raise fail(f"--min-prob must be within 0-1, got {min_prob}", EXIT_USAGE)
    cfg = _config(config, bidder=bidder, users=users, days=days, seed=seed)
    _check_bidder(cfg.bidder)
    runs = cfg.days * ((1 + len(cfg.channel_names)) + 1 if attribution else 1)
    with progress_bar(not as_json) as bar:
        task = bar.add_task(f"identity: {cfg.users:,} people", total=runs)
        r = run_eval(cfg, attribution=attribution, on_day=lambda _: bar.advance(task), min_prob=min_prob)
    if as_json:
        print_json(r)
        return
    out.print(f"links: precision {fmt(r['precision'], '{:.3f}')}, recall {fmt(r['recall'], '{:.3f}')} over {r['pairs']:,} linked pairs "
              f"({r['devices']:,} devices of {r['people']:,} people resolved into {r['resolved_people']:,}; "
              f"expected precision without truth {fmt(r['expected_precision'], '{:.3f}')})")
    for model, e in r.get("attribution", {}).items():
        out.print(f"attribution error, {model}: by device {fmt(e['device'], '{:.3f}')}, resolved "
                  f"{fmt(e['resolved'], '{:.3f}')}, true person {fmt(e['person'], '{:.3f}')}")


@creatives_app.command("eval")
def creatives_eval(
    config: ConfigOpt = None, bidder: BidderOpt = None, users: UsersOpt = None, days: DaysOpt = None,
    seed: SeedOpt = None, as_json: JsonOpt = False,
    tail: Annotated[int, typer.Option("--tail", min=1, help="days at the end the shares are measured on")] = 7,
) -> None:
    """Thompson sampling against a uniform rotation: share of each segment's best creative, CTR gain."""
    from gaelp.experiments.creatives_eval import creatives_eval as run_eval

    cfg = _config(config, bidder=bidder, users=users, days=days, seed=seed)
    _check_bidder(cfg.bidder)
    with progress_bar(not as_json) as bar:
        task = bar.add_task(f"creatives: {cfg.users:,} people x 2 runs", total=2 * cfg.days)
        r = run_eval(cfg, tail_days=tail, on_day=lambda _: bar.advance(task))
    if as_json:
        print_json(r)
        return
    ts, rot = r["thompson"], r["rotate"]
    out.print(f"CTR: Thompson {ts['ctr']:.3%}, rotation {rot['ctr']:.3%} (gain {fmt(r['ctr_gain'], '{:+.1%}')}; "
              f"last {tail} days {fmt(r['ctr_gain_tail'], '{:+.1%}')})")
    out.print(f"impressions showing the person's best creative, last {tail} days: Thompson "
              f"{ts['best_share_all']:.1%}, rotation {rot['best_share_all']:.1%}")
    for seg, share in ts["best_share"].items():
        out.print(f"  {seg}: {fmt(share, '{:.1%}')} (rotation {fmt(rot['best_share'][seg], '{:.1%}')})")


def register(app: typer.Typer) -> None:
    """Add the control commands to `app`."""
    app.add_typer(safety_app, name="safety")
    app.add_typer(pacing_app, name="pacing")
    app.add_typer(identity_app, name="identity")
    app.add_typer(creatives_app, name="creatives")
