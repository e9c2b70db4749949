"""The HTTP API: routes, bearer-token auth, the request-body limit (413) and the latency histogram.

Routes: `POST /v1/bid` (OpenRTB bid request -> bid response, or 204 for no bid), `POST /v1/events`,
`GET /v1/attribution`, `GET /healthz` (open) and `GET /metrics` (Prometheus text). Everything but
`/healthz` and the schema needs `Authorization: Bearer <token>`. Handlers are `async`: the bid path is
a few tens of microseconds of numpy, cheaper than a hop to a thread pool, and one event loop owns the
engine's state, so it needs no lock.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gaelp.serving.engine import CREATIVE_ID, Engine, RequestError
from gaelp.serving.ingest import EventBatch
from gaelp.serving.metrics import Metrics
from gaelp.serving.openrtb import BidRequest, BidResponse

MAX_BODY_BYTES = 8 * 2**20
"""Largest request body accepted (HTTP 413 beyond): a full batch of events fits, a runaway upload does not."""
_ENDPOINTS = {"/v1/bid": "bid", "/v1/events": "events", "/v1/attribution": "attribution", "/healthz": "healthz",
              "/metrics": "metrics"}
_BEARER = HTTPBearer(auto_error=False, description="the token in the server's --token-file")


class Timing:
    """ASGI middleware: counts requests by endpoint and times bid requests from their first byte in."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope["path"]
        self.metrics.inc("gaelp_requests_total", _ENDPOINTS.get(path, "other"))
        await self.app(scope, receive, send)
        if path == "/v1/bid":
            self.metrics.latency.observe(time.perf_counter() - start)


def create_app(engine: Engine, token: str, max_body: int = MAX_BODY_BYTES) -> FastAPI:
    """The FastAPI app serving `engine`; requests must carry `token` as a bearer token."""
    if not token:
        raise ValueError("the bearer token is empty")
    app = FastAPI(title="GAELP bidder", version="1", openapi_url="/openapi.json", max_body_size=max_body,
                  description="OpenRTB 2.6 bidding, event ingestion and attribution for GAELP's bidder.")
    app.add_middleware(Timing, metrics=engine.metrics)
    secret = token.encode()

    def authorized(cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> None:
        if cred is None or not hmac.compare_digest(cred.credentials.encode(), secret):
            raise HTTPException(401, "a valid bearer token is required (the server's --token-file)",
                                headers={"WWW-Authenticate": "Bearer"})

    auth = [Depends(authorized)]

    @app.exception_handler(RequestError)
    async def bad_request(_: Any, e: RequestError) -> JSONResponse:
        return JSONResponse({"detail": [{"loc": list(e.loc), "msg": e.msg, "type": "value_error"}]}, 422)

    @app.post("/v1/bid", dependencies=auth, response_model=BidResponse,
              responses={204: {"description": "no bid"}, 422: {"description": "a malformed request; names the field"}})
    async def bid(request: BidRequest) -> Response:
        """Answer an OpenRTB bid request: a bid per impression worth bidding on, or 204 for none."""
        bids = engine.decide(request)
        if not bids:
            return Response(status_code=204)
        rid = request.id
        doc = {"id": rid, "seatbid": [{"bid": [{"id": f"{rid}-{imp}", "impid": imp, "price": price, "crid": CREATIVE_ID}
                                              for imp, price in bids]}], "cur": "USD"}
        return Response(json.dumps(doc), media_type="application/json")

    @app.post("/v1/events", dependencies=auth)
    async def events(batch: EventBatch) -> dict[str, Any]:
        """Ingest impressions, clicks and conversions; idempotent by event_id; bad rows come back with reasons."""
        return engine.ingest(batch.events)

    @app.get("/v1/attribution", dependencies=auth)
    async def attribution(
        model: Annotated[str, Query(description="a registered attribution model, or 'all'")] = "last_click",
        window: Annotated[float | None, Query(gt=0, le=365, description="lookback window in days")] = None,
    ) -> dict[str, Any]:
        """Conversions and value credited to each channel over the events ingested so far."""
        try:
            return engine.events.attribution(model, window or float(engine.cfg.campaign.lookback_days))
        except ValueError as e:
            raise HTTPException(422, [{"loc": ["query", "model"], "msg": str(e), "type": "value_error"}]) from None

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Liveness, open to all: the bidder served and whether the kill switch is on."""
        return {"status": "ok", "bidder": engine.bidder.name, "killed": engine.safety.killed}

    @app.get("/metrics", dependencies=auth, response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        """Prometheus text: requests, bids and no-bids, bid latency, spend today, safety events."""
        return PlainTextResponse(engine.metrics.render(), media_type="text/plain; version=0.0.4")

    return app
