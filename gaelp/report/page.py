"""The report page: a static HTML file with inline PNG plots, no script and no outside resource."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from gaelp.report import plots
from gaelp.report.sources import ReportData

# (title, plot, what the input lacks and how to get it)
SECTIONS: tuple[tuple[str, Callable[[ReportData], Figure | None], str], ...] = (
    ("Spend against budget, and pacing", plots.spend,
     "daily spend: give a run folder (`gaelp simulate --run DIR`) or JSON with `daily.spend`"),
    ("Conversions and CAC by day", plots.conversions,
     "daily conversions: give a run folder or JSON with `daily.conversions`"),
    ("Funnel by journey stage", plots.funnel, "journey stages: give a run folder or JSON with `funnel`"),
    ("Attribution against the replayed truth", plots.attribution,
     "the replayed truth: add the output of `gaelp attribute --truth --json` (a file, or in the run folder)"),
    ("Rivals' prices over time", plots.rivals,
     "rivals' prices: give a run folder (its store logs every advertiser's impressions)"),
    ("The agent against the baselines", plots.evaluation,
     "an evaluation: add the output of `gaelp evaluate --json`"),
    ("World by world: against the hindsight bound and the target CPA", plots.per_world,
     "an evaluation's per-world rows: add the output of `gaelp evaluate --json`"),
)
KPI_COLUMNS = ("score", "impressions", "clicks", "conversions", "spend", "revenue", "cac", "roas", "ctr", "cvr",
               "budget_use")
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 0.3em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; } tr:nth-child(even) { background: #f4f6f8; }
img { max-width: 100%; } .missing { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.6em 1em; }
.foot { color: #777; font-size: 0.85em; margin-top: 3em; }
"""


_RATES = ("ctr", "cvr", "budget_use")


def _fmt(v: Any, column: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if column == "p":  # small p-values are the point: three significant digits, never "0.00"
            return f"{v:.3g}"
        if column == "ratio":  # 0.805 against a target of 0.80: the third digit matters
            return f"{v:.3f}"
        return f"{v:.2%}" if column in _RATES else f"{v:,.2f}"
    return f"{v:,}" if isinstance(v, int) else html.escape(str(v))


def _kpi_table(kpis: dict[str, dict[str, Any]]) -> str:
    cols = [c for c in KPI_COLUMNS if any(c in row for row in kpis.values())]
    head = "".join(f"<th>{c}</th>" for c in ["", *cols])
    body = "".join(f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{_fmt(row.get(c), c)}</td>" for c in cols)
                   + "</tr>" for name, row in kpis.items())
    return f"<table><tr>{head}</tr>{body}</table>"


def _comparisons(evaluation: dict[str, Any]) -> str:
    rows = evaluation.get("comparisons") or []
    if not rows:
        return ""

    def band(r: dict[str, Any]) -> str:  # runs saved before the interval was reported have none
        ci = r.get("ratio_ci95")
        return "-" if not ci else f"{_fmt(ci[0], 'ratio')} - {_fmt(ci[1], 'ratio')}"

    body = "".join(f"<tr><td>{html.escape(str(r.get('a')))} vs {html.escape(str(r.get('b')))}</td>"
                   f"<td>{_fmt(r.get('ratio'), 'ratio')}</td><td>{band(r)}</td><td>{_fmt(r.get('p_value'), 'p')}</td>"
                   f"<td>{_fmt(r.get('p_holm'), 'p')}</td></tr>" for r in rows)
    return ("<p>Paired tests (Wilcoxon signed-rank, Holm-adjusted); the score ratio is the median over worlds of "
            "the per-world ratios, with its 95% bootstrap interval:</p><table><tr><th>pair</th><th>score ratio</th>"
            f"<th>95% CI</th><th>p</th><th>p (Holm)</th></tr>{body}</table>")


def render(data: ReportData) -> str:
    """The whole page as a string."""
    parts = [f"<h1>{html.escape(data.title)}</h1>"]
    note = f"<p>{html.escape(data.kpi_note)}</p>" if data.kpi_note else ""
    parts.append("<h2>Key figures</h2>" + (note + _kpi_table(data.kpis) if data.kpis else
                                           '<p class="missing">Missing: no KPI table in the input (give the JSON '
                                           "of `gaelp simulate --json` or `gaelp run --json`).</p>"))
    missing = []
    for title, plot, how in SECTIONS:
        fig = plot(data)
        if fig is None:
            missing.append(title)
            parts.append(f'<h2>{html.escape(title)}</h2><p class="missing">Missing from this input: '
                         f"{html.escape(how)}.</p>")
            continue
        parts.append(f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" src="{plots.png_data_uri(fig)}">')
        if plot is plots.evaluation and data.evaluation is not None:
            parts.append(_comparisons(data.evaluation))
    sources = ", ".join(html.escape(s) for s in data.sources) or "-"
    parts.append(f'<p class="foot">Made by <code>gaelp report</code> from: {sources}. '
                 f"{len(SECTIONS) - len(missing)} of {len(SECTIONS)} plot sections filled.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(data.title)}</title><link rel=\"icon\" href=\"data:,\"><style>{_CSS}</style>"
            f"</head><body>{''.join(parts)}</body></html>\n")


def write_report(data: ReportData, out: Path) -> Path:
    """Write the page to `out` (folders created); returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data), encoding="utf-8")
    return out
