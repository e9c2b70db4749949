"""`gaelp report INPUT [--out report.html]`: one static HTML page with plots (gaelp/report).

Exit codes: 0 written, 1 an input that cannot be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gaelp.cli.render import err


def report(
    input: Annotated[Path, typer.Argument(help="a run folder (gaelp simulate --run DIR) or the JSON of gaelp "
                                         "simulate / run / evaluate / attribute --truth", metavar="INPUT")],
    out: Annotated[Path, typer.Option("--out", help="the HTML file to write")] = Path("report.html"),
) -> None:
    """Write one static HTML page with plots of a run or an evaluation.

    Sections the input cannot fill are named on the page, with the
    command that produces them.
    """
    from gaelp.report import load_input, write_report
    from gaelp.report.sources import ReportInputError

    try:
        data = load_input(input)
    except ReportInputError as e:
        err.print(f"error: {e}", markup=False, highlight=False)  # paths may hold [brackets]
        raise typer.Exit(1) from None
    path = write_report(data, out)
    err.print(f"report written to {path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `report` to `app`."""
    app.command()(report)
