"""Core commands: `simulate`, `run` (the main job), `config show`, `calibrate`, `bench`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from gaelp.bidders.registry import BIDDERS
from gaelp.calibration import all_facts
from gaelp.cli.errors import EXIT_USAGE, check_memory, fail
from gaelp.cli.render import err, fmt, kpi_table, out, print_json, progress_bar
from gaelp.config import Config, ConfigError, dump_toml, load_config

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML config file (only what differs from defaults)")]
UsersOpt = Annotated[int | None, typer.Option("--users", help="people in the world")]
DaysOpt = Annotated[int | None, typer.Option("--days", help="days of the campaign")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="world seed")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")]


def _config(path: Path | None, simulate: bool = True, **overrides) -> Config:
    """The config of a command; with `simulate`, a world too big for this machine's memory is refused."""
    try:
        cfg = load_config(path, **overrides)
    except ConfigError as e:
        raise fail(str(e), 2) from None
    if simulate:
        check_memory(cfg.users)
    return cfg


def _check_bidder(name: str) -> None:
    if name not in BIDDERS:
        raise fail(f"unknown bidder {name!r}; known: {', '.join(BIDDERS)}", 2)


def _campaign(cfg: Config, bidder: str, show: bool, label: str | None = None):
    from gaelp.experiments.campaign import run_campaign

    with progress_bar(show) as bar:
        task = bar.add_task(label or f"{bidder}: {cfg.users:,} people", total=cfg.days)
        return run_campaign(cfg, bidder, on_day=lambda _: bar.advance(task))


def _stored_campaign(cfg: Config, days: int, store_url: str, resume: bool, show: bool):
    from gaelp.experiments.campaign import CampaignResult
    from gaelp.experiments.stored import run_campaign as run_stored
    from gaelp.journeys.engines import StoreError

    with progress_bar(show) as bar:
        task = bar.add_task(f"{cfg.bidder}: {cfg.users:,} people -> store", total=days)
        start = time.perf_counter()
        try:
            sim = run_stored(cfg, days, store_url, resume=resume,
                             progress=lambda done, _total: bar.update(task, completed=done))
        except (StoreError, ValueError) as e:
            raise fail(str(e)) from None
    return CampaignResult(cfg, cfg.bidder, sim, time.perf_counter() - start)


def simulate(
    config: ConfigOpt = None,
    bidder: Annotated[str | None, typer.Option("--bidder", help="our bidder (registered name)")] = None,
    users: UsersOpt = None, days: DaysOpt = None, seed: SeedOpt = None, as_json: JsonOpt = False,
    store: Annotated[str | None, typer.Option(
        "--store", help="journey store URL (sqlite:///F, duckdb:///F, postgresql+psycopg://...); "
                        "default: the config's store_url, else in memory")] = None,
    run_dir: Annotated[Path | None, typer.Option(
        "--run", help="the run's folder: persist to the default store there (DuckDB) unless --store")] = None,
    resume: Annotated[bool, typer.Option("--resume",
                                         help="continue the world the store holds for --days more")] = False,
    fault: Annotated[str | None, typer.Option(
        "--fault", help="inject a fault to test safety: bid_x1000@day5, cost_spike@day5h10, ctr_collapse@day5")] = None,
) -> None:
    """Run one campaign (or continue one from a store) and print KPIs per channel and in total."""
    cfg = _config(config, bidder=bidder, users=users, days=days, seed=seed)
    _check_bidder(cfg.bidder)
    if fault is not None:
        res = _fault_campaign(cfg, fault, store or run_dir, show=not as_json)
        _print_campaign(cfg, res, as_json)
        return
    store_url = store or cfg.store_url
    if store_url is None and run_dir is not None:
        from gaelp.journeys.engines import default_store_url

        store_url = default_store_url(str(run_dir))
    if resume and store_url is None:
        raise fail("--resume needs a store: pass --store URL or --run FOLDER", 2)
    if store_url is None:
        res = _campaign(cfg, cfg.bidder, show=not as_json)
    else:
        res = _stored_campaign(cfg, cfg.days, store_url, resume, show=not as_json)
    _print_campaign(cfg, res, as_json)


def _fault_campaign(cfg: Config, text: str, stored: object, show: bool):
    from gaelp.experiments.campaign import CampaignResult
    from gaelp.experiments.faults import parse_fault, run_with_fault

    if stored is not None:
        raise fail("--fault runs in memory only; drop --store / --run", EXIT_USAGE)
    try:
        f = parse_fault(text)
    except ValueError as e:
        raise fail(str(e), EXIT_USAGE) from None
    if f.day >= cfg.days:
        raise fail(f"--fault {text!r} starts on day {f.day}, after the campaign's {cfg.days} days", EXIT_USAGE)
    with progress_bar(show) as bar:
        task = bar.add_task(f"{cfg.bidder} with {f.label}: {cfg.users:,} people", total=cfg.days)
        start = time.perf_counter()
        run = run_with_fault(cfg, f, on_day=lambda _: bar.advance(task))
    return CampaignResult(cfg, cfg.bidder, run.sim, time.perf_counter() - start)


def _print_campaign(cfg: Config, res, as_json: bool) -> None:
    if as_json:
        print_json(res.to_json())
        return
    tab = res.table()
    rows = {**tab["by_channel"], "total": tab["totals"]}
    out.print(kpi_table(f"{cfg.bidder}: {cfg.users:,} people, {cfg.days} days, seed {cfg.seed}", rows))
    t = tab["totals"]
    out.print(f"Also: {t['view_through_conversions']} view-through and {t['organic_conversions']} organic "
              f"purchases of ours (not in CAC). Simulated in {res.elapsed_s:.2f} s.")
    for e in res.safety_events():
        out.print(f"safety: hour {e['t']} (day {e['t'] // 24}, {e['t'] % 24:02d}:00) {e['kind']}: {e['action']}")


def run(config: ConfigOpt = None,
        users: Annotated[int, typer.Option("--users", help="people per world")] = 100_000,
        days: DaysOpt = None,
        seconds: Annotated[float, typer.Option("--seconds", min=1, help="about how long to play worlds")] = 120.0,
        seed_base: Annotated[int, typer.Option("--seed-base", min=0, max=999, help="first held-out world seed")] = 0,
        as_json: JsonOpt = False) -> None:
    """The main job: the shipped agent against the baselines and oracle_lp on held-out worlds, with CIs."""
    from gaelp.cli.evaluate import load_agent_factory, main_job

    cfg = _config(config, users=users, days=days)
    main_job(cfg, seconds, as_json, agent_factory=load_agent_factory(), seed_base=seed_base)


config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@config_app.command("show")
def config_show(config: ConfigOpt = None) -> None:
    """Print the effective config (defaults + file) as TOML."""
    print(dump_toml(_config(config, simulate=False)), end="")


def calibrate(
    check: Annotated[bool, typer.Option("--check", help="run the default market and check its targets")] = False,
    sources: Annotated[bool, typer.Option("--sources", help="list every default number and its source")] = False,
    config: ConfigOpt = None,
    users: Annotated[int, typer.Option("--users", help="people (more: less noise)")] = 300_000,
    seed: SeedOpt = None, as_json: JsonOpt = False,
) -> None:
    """Check the market against the published ranges, or list the sources of its numbers."""
    if sources:
        facts = all_facts()
        if as_json:
            print_json({k: {"value": f.value, "source": f.source, "assumption": f.assumption}
                        for k, f in facts.items()})
            return
        for k, f in facts.items():
            mark = ("assumption", "yellow") if f.assumption else ("sourced", "green")
            out.print(Text.assemble(f"{k} = {f.value!r}  ", mark, f"  {f.source}"))
        return
    if not check:
        err.print("nothing to do: pass --check or --sources")
        raise typer.Exit(2)
    from gaelp.experiments.calibrate import calibration_checks

    cfg = _config(config, users=users, seed=seed)
    with progress_bar(not as_json) as bar:
        task = bar.add_task("calibration campaigns", total=3)
        started: list[str] = []

        def step(name: str) -> None:
            bar.update(task, description=f"campaign: {name}", completed=len(started))
            started.append(name)

        checks = calibration_checks(cfg, progress=step)
        bar.update(task, completed=3)
    ok = all(c.ok for c in checks)
    if as_json:
        print_json({"ok": ok, "users": cfg.users, "seed": cfg.seed, "checks": [c.to_json() for c in checks]})
    else:
        from rich.table import Table

        t = Table(title=f"Calibration of the default market ({cfg.users:,} people, seed {cfg.seed})")
        for col in ("KPI", "value", "range", "verdict"):
            t.add_column(col, justify="right" if col != "KPI" else "left")
        for c in checks:
            hi = "inf" if c.high == float("inf") else f"{c.high:g}"
            val = "-" if c.value is None else f"{c.value:.4g}"
            t.add_row(c.name, val, f"[{c.low:g}, {hi}]", Text("ok", "green") if c.ok else Text("FAIL", "red"))
        out.print(t)
    raise typer.Exit(0 if ok else 1)


def bench(
    users: Annotated[list[int] | None, typer.Option("--users", help="population sizes (repeatable)")] = None,
    days: Annotated[int, typer.Option("--days")] = 30,
    config: ConfigOpt = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    mechanism: Annotated[bool, typer.Option("--mechanism", help="also time the GSP mechanism alone")] = False,
    with_store: Annotated[bool, typer.Option("--with-store",
                                             help="also time a run persisted to the default store")] = False,
    store: Annotated[str | None, typer.Option("--store", help="also time a run persisted to this store URL")] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="runs per size; report the median (shared "
                                         "machines drift)")] = 1,
    worlds: Annotated[int | None, typer.Option("--worlds", min=2, help="also run this many worlds of each size "
                                               "with the Monte Carlo runner, beside the single world")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="processes of the runner's pool")] = 2,
    as_json: JsonOpt = False,
) -> None:
    """Throughput: users/s, auctions/s, worlds/s and peak memory per population size (and the store's cost)."""
    from gaelp.experiments.bench import bench_sizes

    sizes = users or [10_000, 100_000, 1_000_000]
    store_arg = store or ("default" if with_store else None)
    with progress_bar(not as_json) as bar:
        task = bar.add_task("benchmark", total=len(sizes) * repeats * (1 if worlds is None else 2))
        try:
            rows = bench_sizes(sizes, days, str(config) if config else None, seed, store=store_arg, repeats=repeats,
                               on_run=lambda: bar.advance(task), worlds=worlds, workers=workers)
        except RuntimeError as e:
            raise fail(str(e)) from None
    mech = None
    if mechanism:
        from gaelp.experiments.bench import bench_mechanism

        mech = bench_mechanism("gsp", n_slots=4)
    if as_json:
        print_json(rows if mech is None else {"campaigns": rows, "gsp": mech})
        return
    from rich.table import Table

    t = Table(title=f"Throughput, {days}-day campaigns, one process"
              + ("" if worlds is None else f" (many worlds: a pool of {workers})"))
    cols = ["users", "worlds", "wall s" if repeats == 1 else f"wall s (median of {repeats})", "worlds/s", "users/s",
            "auctions", "auctions/s", "peak RSS MB"]
    if repeats > 1:
        cols.insert(3, "fastest-slowest s")
    if store_arg:
        cols += ["with store s", "store overhead"]
    for col in cols:
        t.add_column(col, justify="right")
    for r in rows:
        cells = [f"{r['users']:,}", f"{r['worlds']:,}", f"{r['wall_s']:.2f}", f"{r['worlds_per_s']:,.2f}",
                 f"{r['users_per_s']:,.0f}", fmt(r.get("auctions"), "{:,}"), fmt(r.get("auctions_per_s"), "{:,.0f}"),
                 f"{r['peak_rss_mb']:,.0f}"]
        if repeats > 1:
            cells.insert(3, f"{r['wall_s_min']:.2f}-{r['wall_s_max']:.2f}")
        if store_arg:
            cells += [fmt(r.get("store_wall_s"), "{:.2f}"), fmt(r.get("store_overhead"), "{:+.0%}")]
        t.add_row(*cells)
    out.print(t)
    if mech is not None:
        out.print(f"GSP alone: {mech['auctions_per_s']:,.0f} auctions/s "
                  f"({mech['n_bidders']} bidders, {mech['n_slots']} slots, {mech['n_auctions']:,} auctions)")


def register(app: typer.Typer) -> None:
    """Add the core commands to `app`."""
    app.command()(simulate)
    app.command()(run)
    app.add_typer(config_app, name="config")
    app.command()(calibrate)
    app.command()(bench)

