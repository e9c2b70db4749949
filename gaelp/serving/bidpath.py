"""The bid path: one raw ASGI layer in front of FastAPI that answers `POST /v1/bid` itself.

An exchange waits on every answer, so the path is kept to what a bid needs: the bearer check, the
body (within the size limit), pydantic-core's JSON validation straight from bytes, the engine's
decision, and the answer's bytes. Requests that reach the decision in the same turn of the event loop
are decided together, as one `OpportunityBatch` (the numpy calls of a decision cost the same for one
row or for a dozen). Going through FastAPI's router, dependencies and middleware stack
cost about 3x the decision itself (measured in-process: 530 against 130 microseconds a request on
this shared machine), so every other route goes on to FastAPI, and the FastAPI `/v1/bid` route, which
publishes the schema, calls the same `answer`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Sequence
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


def answer_many(engine: Engine, secret: bytes, requests: list[tuple[bytes | str | None, bytes]]
                ) -> list[tuple[int, bytes]]:
    """HTTP status and body of the answer to each `(authorization header, body)`, decided as one batch.

    200 with a BidResponse; 204 (empty) for no bid; 401 without the token; 422 naming the bad field.
    """
    out: list[tuple[int, bytes]] = [(500, b"")] * len(requests)  # every entry is set below
    parsed: list[tuple[int, BidRequest]] = []
    for i, (authorization, body) in enumerate(requests):
        if not token_ok(authorization, secret):
            out[i] = 401, json.dumps({"detail": UNAUTHORIZED}).encode()
            continue
        try:
            parsed.append((i, BidRequest.model_validate_json(body)))
        except ValidationError as e:
            detail = [_detail(["body", *x["loc"]], x["msg"], x["type"]) for x in e.errors(include_url=False)]
            out[i] = 422, json.dumps({"detail": detail}, default=str).encode()
    decided = engine.decide_many([req for _, req in parsed]) if parsed else []
    for (i, req), bids in zip(parsed, decided, strict=True):
        out[i] = _response(req, bids)
    return out


def answer(engine: Engine, secret: bytes, authorization: bytes | str | None, body: bytes) -> tuple[int, bytes]:
    """`answer_many` for one request."""
    return answer_many(engine, secret, [(authorization, body)])[0]


def _response(req: BidRequest, bids: list[tuple[str, float]] | RequestError) -> tuple[int, bytes]:
    if isinstance(bids, RequestError):
        return 422, json.dumps({"detail": [_detail(list(bids.loc), bids.msg, "value_error")]}).encode()
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
        self._waiting: list[tuple[bytes | None, bytes, asyncio.Future]] = []

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
            status, payload = await self._decide(auth, body)
        headers = [_JSON, (b"content-length", str(len(payload)).encode())] if payload else []
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        self.metrics.latency.observe(time.perf_counter() - start)

    async def _decide(self, auth: bytes | None, body: bytes) -> tuple[int, bytes]:
        """The answer, decided together with the other requests that reached this point in the same
        turn of the event loop: one `OpportunityBatch` through the bidder instead of one each."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((auth, body, future))
        if len(self._waiting) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, []
        answers: Sequence[tuple[int, bytes] | Exception]
        try:
            answers = answer_many(self.engine, self.secret, [(auth, body) for auth, body, _ in waiting])
        except Exception as e:  # noqa: BLE001 - each waiting request fails, as its own call would have
            answers = [e] * len(waiting)
        for (_, _, future), a in zip(waiting, answers, strict=True):
            if future.done():  # the client went away
                continue
            if isinstance(a, Exception):
                future.set_exception(a)
            else:
                future.set_result(a)

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
