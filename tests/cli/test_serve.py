"""`gaelp serve`: its flags and the errors it stops on before serving (the API itself: tests/serving)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from gaelp.cli.serve import register


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command, so that `serve` is a subcommand as in `gaelp`
    return app


def test_help_lists_the_flags(app):
    out = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    for flag in ("--config", "--policy", "--store", "--host", "--port", "--token-file"):
        assert flag in out


@pytest.mark.parametrize("setup,args,message", [
    (lambda p: p.write_text("  \n"), ["--token-file", "{p}"], "is empty"),
    (lambda p: None, ["--token-file", "{p}"], "No such file"),
    (lambda p: p.write_text("tok"), ["--token-file", "{p}", "--policy", "{p}.missing"], "no such file"),
    (lambda p: p.write_text("tok"), ["--token-file", "{p}", "--config", "{p}.toml"], "does not exist"),
])
def test_bad_setups_stop_with_exit_2_and_say_why(app, tmp_path, setup, args, message):
    path = tmp_path / "token"
    setup(path)
    result = CliRunner().invoke(app, ["serve", *(a.format(p=path) for a in args)])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())  # rich wraps long lines
