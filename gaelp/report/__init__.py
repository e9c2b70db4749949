"""The report: one static HTML page with plots, from a run folder or the JSON of a GAELP command.

`sources` reads what the input holds into a `ReportData` (a field stays None when the input lacks
it), `plots` draws each section with matplotlib, `page` writes the HTML, with every plot inlined as a
PNG, and says which sections the input could not fill and how to get them. `gaelp report` runs it.
"""

from gaelp.report.page import write_report
from gaelp.report.sources import ReportData, load_input

__all__ = ["ReportData", "load_input", "write_report"]
