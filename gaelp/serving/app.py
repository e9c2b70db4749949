"""The HTTP API: routes, bearer-token auth, the request-body limit (413) and the latency histogram.

Routes: `POST /v1/bid` (OpenRTB bid request -> bid response, or 204 for no bid), `POST /v1/events`,
`GET /v1/attribution`, `GET /healthz` (open) and `GET /metrics` (Prometheus text). Everything but
`/healthz` and the schema needs `Authorization: Bearer <token>`. Bids are answered by the raw ASGI
layer of `bidpath` in front of FastAPI. Handlers are `async`: their work is short numpy, cheaper than a
hop to a thread pool, and one event loop owns the engine's state, so it needs no lock.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gaelp.serving.bidpath import BID_PATH, UNAUTHORIZED, BidFastPath, answer, token_ok
from gaelp.serving.engine import Engine
from gaelp.serving.ingest import Event, EventBatch
from gaelp.serving.openrtb import BidRequest, BidResponse

MAX_BODY_BYTES = 8 * 2**20
"""Largest request body accepted (HTTP 413 beyond): a full batch of events fits, a runaway upload does not."""
_BEARER = HTTPBearer(auto_error=False, description="the token in the server's --token-file")
_BODY_OF_BID = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/BidRequest"}}}}, "security": [{"HTTPBearer": []}]}
_BID_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "no bid"}, 401: {"description": "no or a wrong bearer token"},
    422: {"description": "a malformed request; `detail[].loc` names the field"}}


def _with_request_schemas(app: FastAPI) -> None:
    """Publish `BidRequest` and `Event` in the OpenAPI components (their routes read rows themselves)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = plain()
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for model in (BidRequest, Event):
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update({**schema.pop("$defs", {}), model.__name__: schema})
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema


def create_app(engine: Engine, token: str, max_body: int = MAX_BODY_BYTES) -> BidFastPath:
    """The ASGI app serving `engine` (FastAPI behind the bid path); requests must carry `token` as a bearer token."""
    if not token:
        raise ValueError("the bearer token is empty")
    # telemetry off: FastAPI's OpenTelemetry hook checks its providers on every request (no exporter here)
    app = FastAPI(title="GAELP bidder", version="1", openapi_url="/openapi.json", max_body_size=max_body,
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  description="OpenRTB 2.6 bidding, event ingestion and attribution for GAELP's bidder.")
    secret = token.encode()

    async def authorized(cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> None:
        if cred is None or not token_ok(f"Bearer {cred.credentials}", secret):
            raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})

    auth = [Depends(authorized)]

    @app.post(BID_PATH, response_model=BidResponse, openapi_extra=_BODY_OF_BID, responses=_BID_RESPONSES)
    async def bid(request: Request) -> Response:
        """Answer an OpenRTB bid request: a bid per impression worth bidding on, or 204 for none."""
        # served by BidFastPath in front of the app; this route publishes the schema and answers alike
        status, payload = answer(engine, secret, request.headers.get("authorization"), await request.body())
        return Response(payload or None, status_code=status, media_type="application/json" if payload else None)

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

    _with_request_schemas(app)
    return BidFastPath(app, engine, secret, max_body)
