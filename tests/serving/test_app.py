"""The HTTP API: schema, auth, bids, bad requests, safety, idempotent events, attribution, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from tests.serving.conftest import AUTH, T0, bid_request, event, serve


def _price(resp) -> float:
    assert resp.status_code == 200, resp.text
    return resp.json()["seatbid"][0]["bid"][0]["price"]


def _metric(served, name: str) -> float:
    text = served.client.get("/metrics", headers=AUTH).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith((name + " ", name + "{")))


def test_openapi_schema_is_published_and_describes_the_bid_request(served):
    doc = served.client.get("/openapi.json").json()
    assert {"/v1/bid", "/v1/events", "/v1/attribution", "/healthz", "/metrics"} <= set(doc["paths"])
    schemas = doc["components"]["schemas"]
    assert {"imp", "device", "user", "ext"} <= set(schemas["BidRequest"]["properties"])
    assert {"impid", "price", "crid"} <= set(schemas["Bid"]["properties"])
    assert {"event_id", "timestamp", "device_id", "user_id", "event_type"} <= set(schemas["Event"]["properties"])
    rows = schemas["EventBatch"]["properties"]["events"]["items"]
    assert rows == {"$ref": "#/components/schemas/Event"}
    assert "204" in doc["paths"]["/v1/bid"]["post"]["responses"]


def test_healthz_is_open(served):
    resp = served.client.get("/healthz")
    assert resp.status_code == 200 and resp.json() == {"status": "ok", "bidder": "target_cpa", "killed": False}


@pytest.mark.parametrize("method,path", [("post", "/v1/bid"), ("post", "/v1/events"), ("get", "/v1/attribution"),
                                         ("get", "/metrics")])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-token"}])
def test_writes_attribution_and_metrics_need_the_token(served, method, path, headers):
    body = {"json": bid_request() if path == "/v1/bid" else {"events": []}} if method == "post" else {}
    resp = getattr(served.client, method)(path, headers=headers, **body)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"


def test_a_bid_answers_each_impression_through_the_bidder(served):
    resp = served.bid(bid_request(rid="abc"))
    doc = resp.json()
    assert doc["id"] == "abc" and doc["cur"] == "USD"
    (bid,) = doc["seatbid"][0]["bid"]
    assert bid["impid"] == "1" and bid["crid"]
    cvr = served.engine.bidder.cvr_estimate()
    assert bid["price"] == pytest.approx(served.cfg.bidders.target_cpa * cvr.max())


def test_unknown_fields_are_ignored(served):
    plain = _price(served.bid(bid_request()))
    noisy = bid_request()
    noisy["regs"] = {"coppa": 0}
    noisy["imp"][0]["secure"] = 1
    noisy["device"]["geo"] = {"country": "USA"}
    assert _price(served.bid(noisy)) == plain


@pytest.mark.parametrize("change,loc", [
    (lambda r: r.pop("imp"), ["body", "imp"]),
    (lambda r: r["imp"].clear(), ["body", "imp"]),
    (lambda r: r["imp"][0].update(bidfloor=-1), ["body", "imp", 0, "bidfloor"]),
    (lambda r: r["imp"][0].update(bidfloorcur="EUR"), ["body", "imp", 0, "bidfloorcur"]),
    (lambda r: r["imp"][0]["ext"].update(intent=7), ["body", "imp", 0, "ext", "intent"]),
    (lambda r: r["imp"][0]["ext"].update(channel="radio"), ["body", "imp", 0, "ext", "channel"]),
    (lambda r: r.update(cur=["EUR"]), ["body", "cur"]),
    (lambda r: r.update(id=""), ["body", "id"]),
])
def test_a_malformed_request_gets_422_naming_the_field(served, change, loc):
    req = bid_request()
    change(req)
    resp = served.bid(req)
    assert resp.status_code == 422
    assert loc in [d["loc"][: len(loc)] for d in resp.json()["detail"]]


def test_broken_json_and_a_missing_channel_are_refused(served):
    resp = served.client.post("/v1/bid", content=b'{"id": "x", "imp": [', headers=AUTH)
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"][0] == "body"
    req = bid_request()
    del req["imp"][0]["ext"]
    resp = served.bid(req)
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "ext", "channel"]


def test_the_request_ext_gives_the_channel_of_impressions_without_their_own(served):
    req = bid_request()
    del req["imp"][0]["ext"]
    req["ext"] = {"channel": "search", "intent": "purchase"}
    assert _price(served.bid(req)) == _price(served.bid(bid_request()))


def test_a_floor_above_our_bid_is_no_bid(served):
    price = _price(served.bid(bid_request()))
    resp = served.bid(bid_request(floor=price * 1.01))
    assert resp.status_code == 204 and resp.content == b""
    assert _metric(served, "gaelp_no_bids_total") == 1


def test_safety_caps_the_bid_at_max_bid():
    served = serve({"safety": {"max_bid": 0.5}})
    assert _price(served.bid(bid_request())) == 0.5
    assert _metric(served, "gaelp_safety_capped_total") == 1


def test_the_kill_switch_holds_every_bid(served):
    served.engine.safety.kill("test")
    assert served.bid(bid_request()).status_code == 204
    assert served.client.get("/healthz").json()["killed"] is True
    assert _metric(served, "gaelp_safety_events_total") == 1


def test_no_bid_once_todays_spend_reaches_the_budget_and_again_the_next_day(served):
    budget = served.engine.daily_budget
    assert served.events([event("c1", "click", cost=budget)]).json()["accepted"] == 1
    assert served.bid(bid_request()).status_code == 204
    assert _metric(served, "gaelp_spend_today_usd") == budget
    served.clock.now = T0 + 24 * 3600
    assert served.bid(bid_request()).status_code == 200


def test_events_keep_good_rows_and_reject_bad_ones_with_reasons(served):
    rows = [event("e1", "impression"), event("e2", "click", cost=1.2),
            event("e3", "click", channel="radio"),
            {**event("e4", "click"), "timestamp": "2027-01-15 08:00:00"},
            {**event("e5", "click"), "device_id": None},
            event("e6", "conversion", channel=None, value=90.0),
            {**event("e7", "click"), "cost": -1},
            event("e2", "click"),
            17]
    doc = served.events(rows).json()
    assert doc["accepted"] == 3 and doc["duplicates"] == 0
    reasons = {r["row"]: r["reason"] for r in doc["rejected"]}
    assert sorted(reasons) == [3, 4, 5, 7, 8, 9]
    assert "unknown channel 'radio'" in reasons[3]
    assert "no time zone" in reasons[4]
    assert "device_id and user_id" in reasons[5]
    assert "cost" in reasons[7]
    assert "duplicate event_id" in reasons[8]
    assert "not an object" in reasons[9]


def test_posting_a_batch_twice_changes_nothing(served):
    rows = [event("e1", "click", cost=2.0), event("e2", "conversion", t=T0 + 7200, channel=None, value=80.0)]
    first = served.events(rows).json()
    attribution = served.client.get("/v1/attribution", headers=AUTH).json()
    second = served.events(rows).json()
    assert (first["accepted"], first["duplicates"]) == (2, 0)
    assert (second["accepted"], second["duplicates"]) == (0, 2)
    assert served.client.get("/v1/attribution", headers=AUTH).json() == attribution
    assert _metric(served, "gaelp_spend_today_usd") == 2.0


def test_events_teach_the_bidder_at_the_end_of_the_hour(served):
    before = _price(served.bid(bid_request(ifa="a")))
    for i in range(20):
        served.bid(bid_request(ifa=f"d{i}"))  # the clicks below match these opportunities (same context)
    rows = [event(f"c{i}", "click", device=f"d{i}", cost=0.25) for i in range(20)]
    rows += [event(f"p{i}", "conversion", device=f"d{i}", channel=None, value=100.0) for i in range(10)]
    served.events(rows)
    assert served.engine.bidder.state_dict()["clicks"].sum() == 0  # the hour is still open
    served.clock.now = T0 + 3600
    after = _price(served.bid(bid_request(ifa="a")))
    state = served.engine.bidder.state_dict()
    assert state["clicks"].sum() == 20 and state["conversions"].sum() == 10
    assert state["pacer"]["spent_today"] == pytest.approx(5.0)
    assert after > before  # half the clicks bought: the search CVR estimate rose


def test_a_device_that_converted_gets_no_more_bids(served):
    served.bid(bid_request(ifa="buyer"))
    served.events([event("c", "click", device="buyer"),
                   event("p", "conversion", device="buyer", channel=None, value=100.0)])
    served.clock.now = T0 + 3600
    assert served.bid(bid_request(ifa="buyer")).status_code == 204
    assert served.bid(bid_request(ifa="someone else")).status_code == 200


def test_attribution_credits_the_channels_of_the_ingested_journeys(served):
    rows = [event("a1", "click", device="a", channel="social"), event("a2", "click", t=T0 + 600, device="a"),
            event("a3", "conversion", t=T0 + 1200, device="a", channel=None, value=100.0),
            event("b1", "click", device="b", channel="social"),
            event("b2", "conversion", t=T0 + 900, device="b", channel=None, value=50.0)]
    served.events(rows)
    last = served.client.get("/v1/attribution?model=last_click", headers=AUTH).json()
    assert last["models"]["last_click"]["conversions"] == {"search": 1.0, "social": 1.0}
    assert last["models"]["last_click"]["value"] == {"search": 100.0, "social": 50.0}
    linear = served.client.get("/v1/attribution?model=linear", headers=AUTH).json()["models"]["linear"]
    assert linear["conversions"] == {"search": 0.5, "social": 1.5}
    every = served.client.get("/v1/attribution?model=all&window=7", headers=AUTH).json()
    assert every["window_days"] == 7 and {"markov", "shapley", "time_decay"} <= set(every["models"])
    bad = served.client.get("/v1/attribution?model=astrology", headers=AUTH)
    assert bad.status_code == 422 and "unknown attribution model" in bad.json()["detail"][0]["msg"]
    assert served.client.get("/v1/attribution?window=0", headers=AUTH).status_code == 422


def test_bodies_over_the_limit_get_413():
    served = serve(max_body=2_000)
    big = bid_request()
    big["site"] = {"page": "x" * 3_000}
    assert served.bid(big).status_code == 413
    assert served.events([event(f"e{i}", "click") for i in range(40)]).status_code == 413
    assert served.bid(bid_request()).status_code == 200


def test_metrics_count_requests_bids_and_latency(served):
    for i in range(3):
        served.bid(bid_request(rid=f"r{i}"))
    text = served.client.get("/metrics", headers=AUTH).text
    assert 'gaelp_requests_total{endpoint="bid"} 3' in text
    assert "gaelp_bids_total 3" in text
    assert "gaelp_bid_latency_seconds_count 3" in text
    buckets = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("gaelp_bid_latency_seconds_bucket")]
    assert np.all(np.diff(buckets) >= 0) and buckets[-1] == 3
    assert "# TYPE gaelp_spend_today_usd gauge" in text


def test_a_bidder_that_fails_to_learn_keeps_bidding_and_the_failure_is_counted(served, caplog):
    def broken(outcome):
        raise RuntimeError("observe broke")

    served.engine.bidder.observe = broken
    served.bid(bid_request())
    served.clock.now = T0 + 3600
    assert served.bid(bid_request()).status_code == 200
    assert _metric(served, "gaelp_observe_errors_total") == 1
    assert "observe broke" in caplog.text
    served.clock.now = T0 + 7200
    assert served.bid(bid_request()).status_code == 200
    assert _metric(served, "gaelp_observe_errors_total") == 2
