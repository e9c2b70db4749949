"""Session-wide hooks (loaded by the main process of a parallel run too)."""

from __future__ import annotations

import os

from hypothesis import settings

PG_ENV = "GAELP_TEST_PG_URL"

# Property tests draw their examples from a fixed seed (derandomize) and keep no example database, so every
# run, here or in CI, tries the same examples: seeded randomness only.
settings.register_profile("gaelp", derandomize=True, database=None)
settings.load_profile("gaelp")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """A last, red line when PostgreSQL tests were skipped for want of a server."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not os.environ.get(PG_ENV) and any(PG_ENV in str(getattr(r, "longrepr", "")) for r in skipped):
        terminalreporter.write_line(
            f"WARNING: {PG_ENV} is unset: the journey-store tests against PostgreSQL were SKIPPED; run "
            "`make test` (or eval \"$(scripts/pg.sh start)\" first) to run them against a throwaway server",
            red=True, bold=True)
