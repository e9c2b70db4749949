"""Rich tables and progress bars for the command line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# Piped output gets a wide fixed width instead of rich's 80 columns, so that no KPI is cut off.
# No markup: channel, group and file names are user text, and a name such as "[/]" is not a tag.
# Styles are given as `style=` or `rich.text.Text`, never inside strings.
err = Console(stderr=True, markup=False)
out = Console(width=None if sys.stdout.isatty() else 160, markup=False)

KPI_COLUMNS = (
    ("impressions", "Impr.", "{:,}"), ("clicks", "Clicks", "{:,}"), ("ctr", "CTR", "{:.2%}"),
    ("cpc", "CPC", "${:.2f}"), ("conversions", "Conv.", "{:,}"), ("cvr", "CVR", "{:.2%}"),
    ("spend", "Spend", "${:,.0f}"), ("revenue", "Revenue", "${:,.0f}"), ("cac", "CAC", "${:,.0f}"),
    ("roas", "ROAS", "{:.2f}x"), ("impression_share", "Impr. share", "{:.1%}"),
)


def fmt(value: Any, pattern: str) -> str:
    """Format a KPI; None (undefined, e.g. CAC with no conversion) shows as a dash."""
    return "-" if value is None else pattern.format(value)


def kpi_table(title: str, rows: dict[str, dict[str, Any]], first: str = "Channel") -> Table:
    """A KPI table with one row per entry of `rows` (channel or bidder)."""
    t = Table(title=title, header_style="bold")
    t.add_column(first)
    for _, head, _ in KPI_COLUMNS:
        t.add_column(head, justify="right")
    for name, r in rows.items():
        style = "bold" if name in ("total", "TOTAL") else None
        t.add_row(name, *(fmt(r.get(k), p) for k, _, p in KPI_COLUMNS), style=style)
    return t


def print_json(doc: Any) -> None:
    """Print one JSON document on stdout (`gaelp.jsonout.dumps`: NaN and infinities refused)."""
    from gaelp.jsonout import dumps

    sys.stdout.write(dumps(doc) + "\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress]:
    """A progress bar on stderr (so that --json output on stdout stays clean)."""
    p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                 console=err, disable=not enabled, transient=False)
    with p:
        yield p
