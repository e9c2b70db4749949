"""Serving: the bidder of the simulator behind an HTTP API (FastAPI under uvicorn).

`openrtb` holds the request and response shapes, `devices` turns identifiers into the int64 device
ids a bidder sees, `hourlog` gathers an hour's opportunities and events into the `BidderOutcome`
the bidder learns from, `engine` decides bids through the same safety limits and pacing as the
simulator, `ingest` validates and keeps events (idempotent by `event_id`), `metrics` writes the
Prometheus text and `app` wires the routes. `gaelp serve` (gaelp/cli/serve.py) starts it.
"""
