"""`gaelp attribute` and `gaelp lag fit` (placeholder until the attribution commands land)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the attribution commands to `app`."""
