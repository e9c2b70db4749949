"""`gaelp journeys show --person ID` and `gaelp journeys stats`: read a journey store, for a human.

Thin wiring: open the store read-only (`gaelp.journeys`), query, print (rich tables, or `--json`).
Exit codes: 0 success, 1 a store that cannot be read or an unknown person, 2 bad usage.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from gaelp.cli.errors import fail as _fail
from gaelp.cli.render import out, print_json
from gaelp.journeys.engines import StoreError
from gaelp.journeys.store import JourneyStore
from gaelp.world.population import DeviceType, Stage

StoreOpt = Annotated[str, typer.Option("--store", help="journey store URL: duckdb:///PATH, sqlite:///PATH or "
                                                       "postgresql+psycopg://USER@HOST:PORT/DB")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]


def _open(url: str) -> JourneyStore:
    try:
        return JourneyStore(url)
    except StoreError as e:
        raise _fail(str(e)) from None


def _when(t: int) -> str:
    return "-" if t < 0 else f"day {t // 24} {t % 24:02d}:00"


def _stage(s: int) -> str:
    return Stage(int(s)).name if 0 <= int(s) < len(Stage) else str(s)


def _names(store: JourneyStore, group: str) -> list[str]:
    """Names of the stored world's channels or segments, in index order."""
    cfg = json.loads(store.meta().get("config", "{}"))
    return [c["name"] for c in cfg.get("world", {}).get(group, [])]


def show(person: Annotated[int, typer.Option("--person", help="person id")], store: StoreOpt,
         limit: Annotated[int, typer.Option(help="touchpoints to list (the latest)", min=0)] = 50,
         as_json: JsonOpt = False) -> None:
    """One person's devices, journey, stage history, touchpoints and purchases."""
    with _open(store) as st:
        who = st.person(person)
        if who is None:
            raise _fail(f"person {person} is not in journey store {st.path or st.name}")
        tp, hist, conv = st.touchpoints_of(person), st.stage_history_of(person), st.conversions_of(person)
        names = st.advertiser_names()
        channels, segments = _names(st, "channels"), _names(st, "segments")
    if as_json:
        print_json({"person": who, "stage_history": hist, "touchpoints": tp, "conversions": conv})
        return
    devs = ", ".join(f"{d} ({DeviceType(k).name.lower()})" for d, k in who["devices"])
    seg = int(who["segment"])
    out.print(f"person {person}: segment {segments[seg] if 0 <= seg < len(segments) else seg}, devices {devs}",
              highlight=False)
    out.print(f"journey: {_stage(who['stage'])}, last activity {_when(who['last_activity'])}, "
              f"purchase {_when(who['converted_at'])}", highlight=False)
    if hist["day"].size:
        out.print("stages: " + " -> ".join([_stage(hist["from_stage"][0])] + [
            f"{_stage(s)} (day {d})" for s, d in zip(hist["to_stage"], hist["day"])]), highlight=False)
    table = Table(title=f"touchpoints ({tp['t'].size}, latest {min(limit, tp['t'].size)})")
    for col in ("when", "advertiser", "channel", "slot", "device", "clicked", "cost"):
        table.add_column(col)
    first = max(0, tp["t"].size - limit)
    for i in range(first, tp["t"].size):
        ch = int(tp["channel"][i])
        table.add_row(_when(int(tp["t"][i])), names.get(int(tp["advertiser"][i]), str(tp["advertiser"][i])),
                      channels[ch] if ch < len(channels) else str(ch), str(tp["slot"][i]), str(tp["device_id"][i]),
                      "yes" if tp["clicked"][i] else "", f"{tp['cost'][i]:.2f}")
    out.print(table)
    for i in range(conv["t"].size):
        out.print(f"purchase {_when(int(conv['t'][i]))} from {names.get(int(conv['advertiser'][i]))}, "
                  f"value {conv['value'][i]:.2f}", highlight=False)


def stats(store: StoreOpt, as_json: JsonOpt = False) -> None:
    """Committed days, row counts, journeys by stage, and totals per advertiser."""
    with _open(store) as st:
        s = st.stats()
    if as_json:
        print_json(s)
        return
    out.print(f"{s['committed_days']} committed days, {len(s['episodes'])} episodes; "
              + ", ".join(f"{k} {v}" for k, v in s["counts"].items()), highlight=False)
    out.print("journeys: " + ", ".join(f"{k} {v}" for k, v in s["stages"].items()), highlight=False)
    table = Table(title="advertisers")
    for col in ("advertiser", "impressions", "clicks", "spend", "conversions", "revenue"):
        table.add_column(col, justify="left" if col == "advertiser" else "right")
    for a in s["advertisers"]:
        table.add_row(a["name"], str(a["impressions"]), str(a["clicks"]), f"{a['spend']:.2f}",
                      str(a["conversions"]), f"{a['revenue']:.2f}")
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the `journeys` command group to the `gaelp` app."""
    group = typer.Typer(help="Read a journey store: people, journeys, touchpoints.", no_args_is_help=True)
    group.command("show")(show)
    group.command("stats")(stats)
    app.add_typer(group, name="journeys")
