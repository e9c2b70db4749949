"""`gaelp ingest FILE`: load an event log into the journey store, idempotently by `event_id`.

Thin wiring: read and validate the log (`gaelp.attribution.event_log`), append what is new
(`gaelp.journeys.ingest`), print what happened. Exit codes: 0 success, 1 bad input or store, 2 usage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gaelp.attribution.event_log import parse_events, validated_rows
from gaelp.attribution.files import read_table
from gaelp.attribution.tables import BadRowsError
from gaelp.cli.errors import fail, writable
from gaelp.cli.render import err, print_json

DEFAULT_STORE = "duckdb:///journeys.duckdb"


def ingest(
    input: Annotated[Path, typer.Argument(help="Event log (.csv or .parquet), columns as `gaelp attribute`'s.",
                                          exists=True, dir_okay=False, show_default=False, metavar="FILE")],
    store: Annotated[str, typer.Option("--store", help="journey store URL (duckdb:///F, sqlite:///F, "
                                                       "postgresql+psycopg://...)")] = DEFAULT_STORE,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="write bad rows to the rejects file and load the "
                                                              "rest, instead of failing")] = False,
    rejects: Annotated[Path | None, typer.Option(help="rejects file for --skip-bad (default: FILE's name + "
                                                      ".rejects.csv)", callback=writable)] = None,
    as_json: Annotated[bool, typer.Option("--json", help='print {"rows", "new", "already_stored", "rejected", '
                                                         '"total"}')] = False,
) -> None:
    """Load an event log into the journey store; the same file twice stores each event once.

    Rows are validated as by `gaelp attribute` (timestamps, numbers, event types, duplicate ids);
    bad rows stop the load, or with --skip-bad go to a rejects file while the rest is loaded.
    """
    from gaelp.journeys.ingest import ingest as append
    from gaelp.journeys.store import JourneyStore

    table = read_table(input)
    try:
        parsed = parse_events(table, skip_bad=skip_bad)
    except BadRowsError as e:
        raise fail(f"{input}: {e}\n(use --skip-bad to write bad rows to a rejects file)") from None
    if skip_bad:
        target = rejects or input.with_name(input.stem + ".rejects.csv")
        parsed.rejects.to_csv(target, index=False)
        if not as_json:
            err.print(f"{len(parsed.rejects)} bad row(s) rejected -> {target}", highlight=False)
    rows = validated_rows(table, parsed.events)
    with JourneyStore(store, write=True) as st:
        result = append(st, rows)
        where = st.path or st.name
    if as_json:
        print_json({"rows": table.num_rows, "new": result.new, "already_stored": result.already_stored,
                    "rejected": len(parsed.rejects), "total": result.total})
        return
    err.print(f"{result.new:,} new event(s) stored, {result.already_stored:,} already there, "
              f"{len(parsed.rejects):,} rejected; {result.total:,} events in {where}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `ingest` to `app`."""
    app.command("ingest")(ingest)
