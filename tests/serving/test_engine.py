"""The engine's batch decision, and the bid path deciding requests in flight together."""

from __future__ import annotations

import asyncio
import json

import numpy as np

from gaelp.bidders.protocol import BidderWrapper
from gaelp.serving.engine import RequestError
from gaelp.serving.openrtb import BidRequest
from tests.serving.conftest import TOKEN, bid_request, serve


def _requests() -> list[dict]:
    multi = bid_request(rid="multi", floor=0.0)
    multi["imp"].append({"id": "2", "bidfloor": 50.0, "ext": {"channel": "display", "intent": 0}})
    multi["imp"].append({"id": "3", "ext": {"channel": "social"}})
    bad = bid_request(rid="bad", channel="radio")
    return [bid_request(rid="a", ifa="x"), multi, bad, bid_request(rid="b", ifa="y", channel="social", intent=0),
            {**bid_request(rid="c", ifa="x"), "device": {"ifa": "x", "devicetype": 2}}]


def test_a_batch_decides_as_the_requests_one_by_one():
    reqs = [BidRequest.model_validate(r) for r in _requests()]
    one, many = serve().engine, serve().engine
    singly = []
    for req in reqs:
        try:
            singly.append(one.decide(req))
        except RequestError as e:
            singly.append(e)
    together = many.decide_many(reqs)
    assert [type(x) for x in singly] == [type(x) for x in together]
    assert [x for x in singly if not isinstance(x, RequestError)] == [
        x for x in together if not isinstance(x, RequestError)]
    assert [imp for imp, _ in together[1]] == ["1", "3"]  # impression 2's floor is above our bid
    assert isinstance(together[2], RequestError) and together[2].loc[-1] == "channel"
    for name in ("device", "channel", "intent", "bid"):
        np.testing.assert_array_equal(one.hour.opportunities.view()[name], many.hour.opportunities.view()[name])


class CountingBidder(BidderWrapper):
    """Counts the batches its inner bidder is asked about."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.sizes: list[int] = []

    def bid(self, batch):
        self.sizes.append(batch.size)
        return super().bid(batch)


async def _post(app, body: bytes) -> tuple[int, bytes]:
    """One POST /v1/bid through the ASGI app."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/bid", "raw_path": b"/v1/bid", "query_string": b"", "root_path": "",
             "headers": [(b"authorization", f"Bearer {TOKEN}".encode()), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}
    sent, out = False, []

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        out.append(message)

    await app(scope, receive, send)
    return out[0]["status"], out[1]["body"]


def test_requests_in_flight_together_go_through_the_bidder_as_one_batch():
    served = serve()
    served.engine.bidder = counting = CountingBidder(served.engine.bidder)
    app = served.client.app
    bodies = [json.dumps(r).encode() for r in _requests()]

    async def all_at_once():
        return await asyncio.gather(*(_post(app, b) for b in bodies))

    answers = asyncio.run(all_at_once())
    assert counting.sizes == [6]  # 1 + 3 + 1 + 1 impressions of the four good requests
    assert [status for status, _ in answers] == [200, 200, 422, 200, 200]
    assert json.loads(answers[1][1])["id"] == "multi"
    assert served.engine.metrics.latency.count == 5
