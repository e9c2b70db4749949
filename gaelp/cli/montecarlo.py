"""`gaelp montecarlo`: one campaign in many worlds, KPI means with 95% confidence intervals."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from gaelp.cli.core import ConfigOpt, DaysOpt, JsonOpt, UsersOpt, _check_bidder, _config
from gaelp.cli.errors import fail
from gaelp.cli.render import out, progress_bar


def montecarlo(
    config: ConfigOpt = None,
    bidder: Annotated[str | None, typer.Option("--bidder", help="our bidder (registered name)")] = None,
    worlds: Annotated[int, typer.Option("--worlds", min=1, help="worlds to run (one seed each)")] = 16,
    users: UsersOpt = None, days: DaysOpt = None,
    seed_base: Annotated[int, typer.Option("--seed-base", min=0, help="seed of the first world")] = 0,
    backend: Annotated[str, typer.Option("--backend", help="local (process pool) or ray")] = "local",
    address: Annotated[str | None, typer.Option(
        "--address", help="Ray cluster to join (ray://HEAD:10001, or auto on a node); default: a local Ray")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="processes (or local Ray CPUs); default: this machine's cores")] = None,
    importance: Annotated[str | None, typer.Option(
        "--importance", help="oversample segments and weight them back, e.g. crisis=4")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a campaign in WORLDS worlds (seeds seed-base..) and print each KPI's mean and 95% CI."""
    from gaelp.experiments.importance import parse_importance, with_importance
    from gaelp.experiments.montecarlo import WorldsJob, kpi_names, run_worlds

    cfg = _config(config, bidder=bidder, users=users, days=days)
    _check_bidder(cfg.bidder)
    if backend not in ("local", "ray"):
        raise fail(f"--backend must be local or ray, got {backend!r}", 2)
    if importance is not None:
        try:
            cfg = with_importance(cfg, parse_importance(importance))
        except ValueError as e:
            raise fail(str(e), 2) from None
    factors = cfg.world.importance
    job = WorldsJob(cfg, cfg.bidder)
    seeds = list(range(seed_base, seed_base + worlds))
    with progress_bar(not as_json) as bar:
        task = bar.add_task(f"{worlds} worlds x {cfg.users:,} people ({backend})", total=worlds)
        try:
            res = run_worlds(job, seeds, backend, workers or min(worlds, os.cpu_count() or 1), address,
                             on_worlds=lambda n: bar.advance(task, n))
        except (RuntimeError, ValueError, ConnectionError) as e:
            raise fail(str(e)) from None
    doc = res.to_json()
    if as_json:
        print(json.dumps(doc, allow_nan=False))
        return
    from rich.table import Table

    t = Table(title=f"{cfg.bidder}: {worlds} worlds x {cfg.users:,} people x {cfg.days} days"
                    + (f", importance {factors}" if factors else ""), header_style="bold")
    for col in ("KPI", "mean", "95% CI", "worlds"):
        t.add_column(col, justify="left" if col == "KPI" else "right")
    for name in kpi_names(cfg):
        k = doc["kpis"][name]
        n = sum(v is not None for v in k["per_world"])
        ci = "-" if k["ci95"] is None else f"{k['ci95'][0]:,.4g} .. {k['ci95'][1]:,.4g}"
        t.add_row(name, "-" if k["mean"] is None else f"{k['mean']:,.4g}", ci, str(n))
    out.print(t)
    out.print(f"{doc['worlds_per_s']:.2f} worlds/s ({doc['wall_s']:.1f} s on {res.workers} {backend} workers); "
              f"digest {doc['digest']}")


def register(app: typer.Typer) -> None:
    """Add `montecarlo` to `app`."""
    app.command()(montecarlo)

