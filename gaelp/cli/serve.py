"""`gaelp serve`: our bidder behind the HTTP API (gaelp/serving), under uvicorn.

Thin wiring: load the config, build the bidder (the agent from `--policy`, else `target_cpa`), the
engine and the app, read the token, run. Exit codes: 0 after a clean stop, 2 bad usage.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from gaelp.cli.core import ConfigOpt, _config
from gaelp.cli.render import err


def _error(message: str) -> None:
    err.print(f"error: {message}", markup=False, highlight=False)  # paths may hold [brackets]


def _token(path: Path | None) -> str:
    if path is None:
        folder = Path(tempfile.mkdtemp(prefix="gaelp-serve-"))
        path = folder / "token"
        token = secrets.token_urlsafe(32)
        path.write_text(token + "\n")
        path.chmod(0o600)
        err.print(f"no --token-file: clients must send 'Authorization: Bearer <the token in {path}>'",
                  markup=False, highlight=False)
        return token
    try:
        token = path.read_text().strip()
    except OSError as e:
        _error(f"--token-file {path}: {e.strerror}")
        raise typer.Exit(2) from None
    if not token:
        _error(f"--token-file {path} is empty: write a long random token in it")
        raise typer.Exit(2)
    return token


def serve(
    config: ConfigOpt = None,
    policy: Annotated[Path | None, typer.Option("--policy", help="trained agent checkpoint (default: "
                                                "the target_cpa baseline)")] = None,
    store: Annotated[str | None, typer.Option("--store", help="journey store URL that receives the events")] = None,
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port", min=0, max=65535)] = 8000,
    token_file: Annotated[Path | None, typer.Option("--token-file", help="file holding the bearer token "
                                                    "(default: a new random token, its file printed)")] = None,
    guard_aim: Annotated[str, typer.Option("--guard-aim", help="what the agent's CAC guard holds under the target: "
                                           "the CAC so far (spent) or the whole campaign's, through what the rest "
                                           "of its days may cost (rest)")] = "spent",
    horizon: Annotated[bool, typer.Option("--horizon", help="the agent's campaign ends --config's days after the "
                                          "server's start, and it bids for the purchases that land before then "
                                          "(docs/agent.md)")] = False,
) -> None:
    """Serve bids (OpenRTB 2.6), take events back, answer attribution queries.

    POST /v1/bid, POST /v1/events, GET /v1/attribution, GET /metrics need
    'Authorization: Bearer TOKEN'; GET /healthz and /openapi.json are open.
    The bidder, pacing and safety limits are those of `gaelp simulate`
    with the same --config.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one torch / BLAS thread: a serving process shares its cores
    import uvicorn

    from gaelp.serving.app import create_app
    from gaelp.serving.engine import Engine
    from gaelp.serving.policy import ServeError, build_bidder, store_sink

    cfg = _config(config)
    token = _token(token_file)
    try:
        bidder = build_bidder(cfg, policy, guard_aim, horizon=horizon)
        sink = store_sink(store) if store else None
    except ServeError as e:
        _error(str(e))
        raise typer.Exit(2) from None
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    app = create_app(Engine(cfg, bidder, sink=sink), token)
    err.print(f"serving {bidder.name} on http://{host}:{port} (schema at /openapi.json)", highlight=False)
    # uvicorn's info level says when it listens ("Uvicorn running on ..."); no access log on the bid path
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, http="httptools", server_header=False,
                loop="uvloop" if sys.platform != "win32" else "asyncio")


def register(app: typer.Typer) -> None:
    """Add `serve` to `app`."""
    app.command()(serve)
