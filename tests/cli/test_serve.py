"""`gaelp serve`: its flags and the errors it stops on before serving (the API itself: tests/serving)."""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import urllib.error
import urllib.request

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


def _wait_for_line(proc: subprocess.Popen, text: str, timeout_s: float) -> None:
    """Block until the process's stderr shows `text` (fails if it exits or stays silent for `timeout_s`)."""
    seen = []
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        while not any(text in line for line in seen):
            assert sel.select(timeout_s), f"no {text!r} within {timeout_s} s: {seen}"
            line = proc.stderr.readline()
            assert line, f"gaelp serve exited ({proc.wait()}): {''.join(seen)}"
            seen.append(line)


def _request(url: str, body: dict, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {}


def test_the_server_answers_over_http(tmp_path):
    """`gaelp serve` in its own process, on a free loopback port: health, a bid, no token; then stopped."""
    token = tmp_path / "token"
    token.write_text("smoke-token\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "from gaelp.cli import main; main()", "serve", "--port", str(port),
                             "--token-file", str(token)], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_line(proc, "Uvicorn running on", timeout_s=120)  # imports take seconds on a busy machine
        with urllib.request.urlopen(f"{base}/healthz", timeout=30) as resp:
            assert json.loads(resp.read())["bidder"] == "target_cpa"
        body = {"id": "r", "imp": [{"id": "1", "ext": {"channel": "search", "intent": 2}}], "user": {"id": "u"}}
        status, doc = _request(f"{base}/v1/bid", body, "smoke-token")
        assert status == 200 and doc["seatbid"][0]["bid"][0]["impid"] == "1"
        assert _request(f"{base}/v1/bid", body, None)[0] == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)
