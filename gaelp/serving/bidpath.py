"""The bid path: one raw ASGI layer in front of FastAPI that answers `POST /v1/bid` itself.

An exchange waits on every answer, so the path is kept to what a bid needs: the bearer check, the
body (within the size limit), pydantic-core's JSON validation straight from bytes, the engine's
decision, and the answer's bytes. Going through FastAPI's router, dependencies and middleware stack
cost about 3x the decision itself (measured in-process: 530 against 130 microseconds a request on
this shared machine), so every other route goes on to FastAPI, and the FastAPI `/v1/bid` route, which
publishes the schema, calls the same `answer`.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from pydantic import ValidationError

from gaelp.serving.engine import CREATIVE_ID, Engine, RequestError
from gaelp.serving.openrtb import BidRequest

BID_PATH = "/v1/bid"
_ENDPOINTS = {BID_PATH: "bid", "/v1/events": "events", "/v1/attribution": "attribution", "/healthz": "healthz",
              "/metrics": "metrics"}
UNAUTHORIZED = "a valid bearer token is required (the server's --token-file)"
_JSON = (b"content-type", b"application/json")


def token_ok(header: bytes | str | None, secret: bytes) -> bool:
    """`Authorization: Bearer <secret>`, compared in constant time."""
    if header is None:
        return False
    if isinstance(header, str):
        header = header.encode()
    return header[:7].lower() == b"bearer " and hmac.compare_digest(header[7:].strip(), secret)


def _detail(loc: list, msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def answer(engine: Engine, secret: bytes, authorization: bytes | str | None, body: bytes) -> tuple[int, bytes]:
    """HTTP status and body of the answer to one bid request.

    200 with a BidResponse; 204 (empty) for no bid; 401 without the token; 422 naming the bad field.
    """
    if not token_ok(authorization, secret):
        return 401, json.dumps({"detail": UNAUTHORIZED}).encode()
    try:
        req = BidRequest.model_validate_json(body)
        bids = engine.decide(req)
    except ValidationError as e:
        detail = [_detail(["body", *x["loc"]], x["msg"], x["type"]) for x in e.errors(include_url=False)]
        return 422, json.dumps({"detail": detail}, default=str).encode()
    except RequestError as e:
        return 422, json.dumps({"detail": [_detail(list(e.loc), e.msg, "value_error")]}).encode()
    if not bids:
        return 204, b""
    rid = req.id
    doc = {"id": rid, "seatbid": [{"bid": [{"id": f"{rid}-{imp}", "impid": imp, "price": price, "crid": CREATIVE_ID}
                                          for imp, price in bids]}], "cur": "USD"}
    return 200, json.dumps(doc).encode()


class BidFastPath:
    """ASGI app: counts requests, answers `POST /v1/bid` and times it, passes everything else to `app`.

    Args:
        app: the FastAPI app (every other route, the schema, the errors).
        engine: the serving engine.
        secret: the bearer token, as bytes.
        max_body: largest body accepted, bytes (413 beyond, as FastAPI's own limit answers).
    """

    def __init__(self, app: Any, engine: Engine, secret: bytes, max_body: int) -> None:
        self.app, self.engine, self.secret, self.max_body = app, engine, secret, max_body
        self.metrics = engine.metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        self.metrics.inc("gaelp_requests_total", _ENDPOINTS.get(path, "other"))
        if path != BID_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        auth = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        body = await self._body(receive)
        if body is None:
            status, payload = 413, json.dumps({"detail": f"request body over {self.max_body} bytes"}).encode()
        else:
            status, payload = answer(self.engine, self.secret, auth, body)
        headers = [_JSON, (b"content-length", str(len(payload)).encode())] if payload else []
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        self.metrics.latency.observe(time.perf_counter() - start)

    async def _body(self, receive: Any) -> bytes | None:
        """The whole body, or None once it passes the limit."""
        parts, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                break
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            parts.append(chunk)
            if not msg.get("more_body", False):
                break
        return parts[0] if len(parts) == 1 else b"".join(parts)
