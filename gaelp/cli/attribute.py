"""`gaelp attribute` (multi-touch attribution of a log) and `gaelp lag fit` (conversion lag).

Thin wiring: read the file, validate it (`gaelp.attribution.tables`), build paths, run the
models picked from the registry, print. Exit codes: 0 success, 1 bad input data, 2 bad usage.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from gaelp.attribution.event_log import parse_events
from gaelp.attribution.events import events_to_paths
from gaelp.attribution.files import read_table
from gaelp.attribution.lag import fit_lag_groups
from gaelp.attribution.lag_table import parse_click_log
from gaelp.attribution.registry import MODELS, get_model, model_names
from gaelp.attribution.tables import BadRowsError, parse_path_table
from gaelp.cli import render
from gaelp.cli.errors import check_memory, positive, writable
from gaelp.cli.errors import fail as _fail
from gaelp.cli.render import print_json


class InputFormat(StrEnum):
    """Layout of the `attribute` input."""

    events = "events"
    paths = "paths"


class TruthBudget(StrEnum):
    """Our daily budget in the `--truth` replays."""

    same = "same"
    reduced = "reduced"


class DelayDistribution(StrEnum):
    """Delay distribution of `lag fit`."""

    exponential = "exponential"
    weibull = "weibull"


def _read(path: Path) -> pd.DataFrame:
    try:
        return read_table(path)
    except ValueError as err:  # its message names the file
        raise _fail(str(err)) from None
    except OSError as err:
        raise _fail(f"cannot read {path}: {err.strerror or err}; check the path and its permissions") from None


def _write_rejects(rejects: pd.DataFrame, target: Path) -> None:
    rejects.to_csv(target, index=False)
    render.err.print(f"{len(rejects)} bad row(s) rejected -> {target}", highlight=False)


def attribute(
    input: Annotated[
        Path | None,
        typer.Argument(
            help="Event log or path table (.csv or .parquet); required unless --truth.",
            exists=True,
            dir_okay=False,
            show_default=False,
            metavar="INPUT",
        ),
    ] = None,
    format: Annotated[
        InputFormat,
        typer.Option(
            "--format",
            help="events: event_id, timestamp, user_id, channel, event_type "
            "(impression|click|conversion), cost, value. paths: path ('a > b'), total_conversions, "
            "total_conversion_value, total_null.",
        ),
    ] = InputFormat.events,
    model: Annotated[str, typer.Option(help=f"Model name or 'all': {', '.join(MODELS)}.")] = "all",
    window: Annotated[
        float,
        typer.Option(help="Lookback window in days (events format).", max=3650.0, callback=positive),
    ] = 30.0,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the credit table as CSV (channel, model, conversions, value).",
                     callback=writable),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json", help='Print {"models": {MODEL: {CHANNEL: conversions}}, "value": {...}}.'
        ),
    ] = False,
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Write bad rows to the rejects file instead of failing."),
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Rejects file for --skip-bad (default: INPUT's name + .rejects.csv).",
                     callback=writable),
    ] = None,
    half_life: Annotated[
        float, typer.Option(help="time_decay half-life in days.", callback=positive)
    ] = 7.0,
    markov_order: Annotated[int, typer.Option(help="Markov chain order.", min=1, max=3)] = 1,
    truth: Annotated[
        bool,
        typer.Option(
            "--truth",
            help="Replay a simulated campaign without each channel and score every model "
            "against the conversions each channel caused (no INPUT).",
        ),
    ] = False,
    users: Annotated[
        int | None, typer.Option(help="--truth: people in the simulated world.", min=1)
    ] = None,
    days: Annotated[int | None, typer.Option(help="--truth: days of the campaign.", min=1)] = None,
    seed: Annotated[int | None, typer.Option(help="--truth: world seed.", min=0)] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="--truth: TOML config (only what differs from defaults)."),
    ] = None,
    bidder: Annotated[str, typer.Option(help="--truth: our bidder (registered name).")] = "fixed",
    budget: Annotated[
        TruthBudget,
        typer.Option(
            help="--truth: 'same' daily budget in every replay (the freed money goes to the other "
            "channels), or 'reduced' by the channel's mean daily spend."
        ),
    ] = TruthBudget.same,
    plot: Annotated[
        Path | None,
        typer.Option(help="--truth: write a bar chart of truth vs every model (e.g. truth.png).",
                     callback=writable),
    ] = None,
) -> None:
    """Credit conversions to channels with every attribution model.

    Timestamps: ISO 8601 with Z or an offset, or epoch seconds.
    Rows may come in any order.

    A conversion's path is its user's touches (impressions, clicks)
    within --window days before it. Touches that never lead to a
    conversion form non-converting paths (markov and shapley use them).
    time_decay needs times: it runs on event logs, not path tables.

    Bad rows (unparseable time, negative cost, unknown event type,
    missing id...) stop the run with their row numbers and reasons,
    or go to a rejects file with --skip-bad.

    --truth (no INPUT): simulate a campaign, replay it with our bids
    zeroed on one channel at a time (same seed), and print the
    purchases each channel caused beside every model's credit on the
    full run's logs, with an error per model (total variation distance
    of the channel shares). --json prints {"truth": {CHANNEL: caused},
    "models": {MODEL: {CHANNEL: credited}}, "error": {MODEL: score}}.
    """
    if truth:
        if input is not None:
            raise typer.BadParameter("give INPUT or --truth, not both", param_hint="INPUT")
        _truth(model, half_life, markov_order, users, days, seed, config, bidder, budget, plot,
               out, json_out)
        return
    for name, given in (("--users", users), ("--days", days), ("--seed", seed),
                        ("--config", config), ("--plot", plot)):
        if given is not None:
            raise typer.BadParameter("only with --truth", param_hint=name)
    if input is None:
        raise typer.BadParameter("INPUT is required unless --truth is given", param_hint="INPUT")
    _check_model(model)
    df = _read(input)
    try:
        if format is InputFormat.events:
            parsed = parse_events(df, skip_bad=skip_bad)
            built = events_to_paths(parsed.events, window_days=window)
            paths, bad, summary = built.paths, parsed.rejects, built.summary
        else:
            parsed_table = parse_path_table(df, skip_bad=skip_bad)
            paths, bad, summary = parsed_table.paths, parsed_table.rejects, None
    except BadRowsError as err:
        raise _fail(
            f"{input}: {err}\n(use --skip-bad to write bad rows to a rejects file)"
        ) from None
    except ValueError as err:
        raise _fail(f"{input}: {err}") from None
    if skip_bad:
        _write_rejects(bad, rejects or input.with_name(input.stem + ".rejects.csv"))

    names = model_names(paths.has_times) if model == "all" else [model]
    if MODELS[names[0]].needs_times and not paths.has_times:
        raise _fail(f"{model} needs touch times; the {format.value} format has none", code=2)
    params = _params(half_life, markov_order)
    credits = {
        name: get_model(name, **params.get(name, {})).channel_credit(paths) for name in names
    }

    render.err.print(
        f"{paths.n_paths} paths ({paths.conversions.sum():g} conversions, "
        f"{paths.nulls.sum():g} non-converting), {paths.n_touches} touches, "
        f"{len(paths.channels)} channels",
        highlight=False,
    )
    if summary is not None and summary.direct_conversions:
        render.err.print(
            f"{summary.direct_conversions} conversion(s) worth {summary.direct_value:g} had no "
            f"touch within {window:g} days: not credited to any channel",
            highlight=False,
        )
    if out is not None:
        rows = [
            (c, name, float(cc.conversions[i]), float(cc.value[i]))
            for name, cc in credits.items()
            for i, c in enumerate(paths.channels)
        ]
        pd.DataFrame(rows, columns=["channel", "model", "conversions", "value"]).to_csv(
            out, index=False
        )
    if json_out:
        doc: dict[str, dict[str, dict[str, float]]] = {"models": {}, "value": {}}
        for name, cc in credits.items():
            doc["models"][name], doc["value"][name] = cc.as_dicts()
        print_json(doc)
        return
    console = render.out
    for title, field in (("Credited conversions", "conversions"), ("Credited value", "value")):
        table = Table(title=title)
        table.add_column("channel")
        for name in credits:
            table.add_column(name, justify="right", overflow="fold")
        for i, channel in enumerate(paths.channels):
            table.add_row(channel, *(f"{getattr(cc, field)[i]:,.2f}" for cc in credits.values()))
        console.print(table)


def _check_model(model: str) -> None:
    if model != "all" and model not in MODELS:
        raise typer.BadParameter(
            f"unknown model {model!r}; use 'all' or one of {', '.join(MODELS)}",
            param_hint="--model",
        )


def _params(half_life: float, markov_order: int) -> dict[str, dict[str, float]]:
    return {"time_decay": {"half_life_days": half_life}, "markov": {"order": markov_order}}


def _truth(
    model: str, half_life: float, markov_order: int, users: int | None, days: int | None,
    seed: int | None, config: Path | None, bidder: str, budget: TruthBudget,
    plot: Path | None, out: Path | None, json_out: bool,
) -> None:
    """`attribute --truth`: replay the simulated campaign without each channel, score models."""
    from gaelp.bidders.registry import BIDDERS
    from gaelp.cli.render import progress_bar
    from gaelp.config import ConfigError, load_config
    from gaelp.experiments.truth import plot_truth, truth_report

    _check_model(model)
    try:
        cfg = load_config(config, users=users, days=days, seed=seed)
    except ConfigError as err:
        raise _fail(str(err), code=2) from None
    check_memory(cfg.users)
    if bidder not in BIDDERS:
        raise typer.BadParameter(
            f"unknown bidder {bidder!r}; known: {', '.join(sorted(BIDDERS))}",
            param_hint="--bidder",
        )
    names = list(MODELS) if model == "all" else [model]
    runs = 1 + len(cfg.channel_names)
    with progress_bar(not json_out) as bar:
        task = bar.add_task(
            f"{runs} runs x {cfg.users:,} people x {cfg.days} days", total=runs * cfg.days
        )
        report = truth_report(
            cfg, bidder, budget=budget.value, models=names,
            params=_params(half_life, markov_order), on_day=lambda _: bar.advance(task),
        )
    if plot is not None:
        written = plot_truth(report, plot)
        render.err.print(f"plot -> {written}", highlight=False)
    if out is not None:
        rows = [(c, "truth", float(report.caused[i])) for i, c in enumerate(report.channels)]
        rows += [
            (c, name, float(credit[i]))
            for name, credit in report.credited.items()
            for i, c in enumerate(report.channels)
        ]
        pd.DataFrame(rows, columns=["channel", "model", "conversions"]).to_csv(out, index=False)
    if json_out:
        print_json(report.to_json())
        return
    title = (
        f"Caused vs credited conversions: {bidder}, {cfg.users:,} people, {cfg.days} days, "
        f"seed {cfg.seed}, budget {budget.value}"
    )
    table = Table(title=title)
    table.add_column("conversions")
    for col in (*report.channels, "total", "error"):
        table.add_column(col, justify="right")
    table.add_row(
        "truth (caused)", *(f"{x:,.0f}" for x in report.caused), f"{report.caused_total:,.0f}",
        "", style="bold",
    )
    for name, credit in report.credited.items():
        error = report.error[name]
        table.add_row(
            name, *(f"{x:,.2f}" for x in credit), f"{credit.sum():,.2f}",
            "-" if np.isnan(error) else f"{error:.3f}",
        )
    table.add_row(
        "our spend", *(f"${x:,.0f}" for x in report.spend), f"${report.spend.sum():,.0f}", "",
        style="dim",
    )
    console = render.out
    console.print(table)
    console.print(
        f"truth: our purchases lost when our bids on the channel are zeroed ({report.conversions} "
        f"purchases in the full run). Models credit the {report.credited_total:g} purchases with a "
        f"touch in the {cfg.campaign.lookback_days}-day window. error: total variation distance "
        "between credit shares and caused shares (0 best, 1 worst).",
        highlight=False,
    )


def lag_fit(
    input: Annotated[
        Path,
        typer.Argument(
            help="Click log CSV or Parquet.",
            exists=True,
            dir_okay=False,
            show_default=False,
            metavar="INPUT",
        ),
    ],
    group: Annotated[
        str | None, typer.Option(help="Fit one model per value of this column.")
    ] = None,
    model: Annotated[
        DelayDistribution, typer.Option(help="Delay distribution.")
    ] = DelayDistribution.exponential,
    observed_at: Annotated[
        str | None,
        typer.Option(
            help="Observation time of the whole log, if it has no observation_time/elapsed_h."
        ),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option("--json", help='Print {GROUP: {"p_convert", "mean_delay_h", "naive_rate"}}.'),
    ] = False,
) -> None:
    """Fit the delayed-feedback conversion model (Chapelle 2014).

    INPUT has one row per click, with columns:

    click_time: when the click happened.

    observation_time (timestamp) or elapsed_h (hours since the click):
    when the log was observed; or give --observed-at for the whole log.

    conversion_time (timestamp) or delay_h (hours since the click):
    the conversion, where one was seen; empty otherwise.

    Timestamps: ISO 8601 with Z or an offset, or epoch seconds.
    Prints per group the conversion probability, the mean delay of
    converting clicks (hours) and the naive observed rate.
    """
    df = _read(input)
    try:
        parsed = parse_click_log(df, group=group, observed_at=observed_at)
    except ValueError as err:  # BadRowsError included
        raise _fail(f"{input}: {err}") from None
    fits = fit_lag_groups(parsed.log, parsed.groups, model=model.value)

    def number_or_null(x: np.ndarray | float) -> float | None:
        v = float(x)
        return None if np.isnan(v) else v  # JSON has no NaN

    for name, fit in fits.items():
        if not fit.converged:
            render.err.print(f"warning: the fit for group {name!r} did not converge", highlight=False)
    if json_out:
        doc = {
            name: {
                "p_convert": float(fit.p_convert()),
                "mean_delay_h": number_or_null(fit.mean_delay_h()),
                "naive_rate": number_or_null(fit.naive_rate),
            }
            for name, fit in fits.items()
        }
        print_json(doc)
        return
    table = Table(title=f"Conversion lag ({model.value} delay)")
    for col in (
        group or "group",
        "clicks",
        "conversions seen",
        "naive rate",
        "p_convert",
        "mean delay (h)",
    ):
        table.add_column(col, justify="left" if col == (group or "group") else "right")
    for name, fit in fits.items():
        mean = fit.mean_delay_h()
        table.add_row(
            name,
            f"{fit.n_clicks:,}",
            f"{fit.n_converted:,}",
            f"{fit.naive_rate:.4f}",
            f"{fit.p_convert():.4f}",
            "-" if np.isnan(mean) else f"{mean:,.1f}",
        )
    render.out.print(table)


def register(app: typer.Typer) -> None:
    """Add `attribute` and the `lag` sub-app (with `fit`) to `app`."""
    app.command("attribute")(attribute)
    lag_app = typer.Typer(
        help="Conversion-lag model: delayed conversions with censoring.", no_args_is_help=True
    )
    lag_app.command("fit")(lag_fit)
    app.add_typer(lag_app, name="lag")
