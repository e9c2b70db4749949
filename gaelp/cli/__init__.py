"""The `gaelp` command line: thin wiring from flags to the library (parse, build, call).

Each domain keeps its commands in its own module here and adds them to the one app through a
`register(app)` function, so this file stays a list.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="gaelp",
    help="GAELP: simulate an ad market, train and evaluate bidders, attribute conversions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    from gaelp.cli import attribute, competitors, control, core, evaluate, journeys, montecarlo, report, serve, train

    for module in (core, train, evaluate, attribute, competitors, journeys, serve, report, montecarlo, control):
        module.register(app)


def main() -> None:
    """Entry point of the `gaelp` script."""
    _register_all()
    app()
