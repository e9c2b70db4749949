"""The `gaelp` command line: thin wiring from flags to the library (parse, build, call).

Each domain keeps its commands in its own module here and adds them to the one app through a
`register(app)` function, so this file stays a list. Errors are turned into one line each by
`gaelp.cli.errors.run`; `gaelp --debug COMMAND` shows their traceback too.
"""

from __future__ import annotations

from typing import Annotated

import typer


class _App(typer.Typer):
    """The `gaelp` app; `registered` once every command module has added its commands."""

    registered: bool = False


app = _App(
    name="gaelp",
    help="GAELP: simulate an ad market, train and evaluate bidders, attribute conversions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an error (for a bug report)")] = False,
) -> None:
    """GAELP: simulate an ad market, train and evaluate bidders, attribute conversions."""
    # `--debug` is read from the command line by gaelp.cli.errors.run, which catches errors outside click.


def _register_all() -> None:
    from gaelp.cli import (
        attribute,
        competitors,
        control,
        core,
        evaluate,
        ingest,
        journeys,
        montecarlo,
        report,
        serve,
        train,
    )

    if app.registered:
        return
    for module in (core, train, evaluate, attribute, ingest, competitors, journeys, serve, report, montecarlo,
                   control):
        module.register(app)
    app.registered = True  # run() may be called many times in one process (the fuzz driver)


def run(args: list[str] | None = None) -> int:
    """Run `gaelp` on `args` (default: the command line) in this process; returns the exit code."""
    from gaelp.cli.errors import run as run_app

    _register_all()
    return run_app(app, args)


def main() -> None:
    """Entry point of the `gaelp` script."""
    raise SystemExit(run())
