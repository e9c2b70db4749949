"""A served engine on a fake clock, behind FastAPI's TestClient."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gaelp.config import Config, build_config
from gaelp.serving.app import create_app
from gaelp.serving.engine import Engine
from gaelp.serving.policy import build_bidder

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC, the start of an hour


class Clock:
    """Epoch seconds that move only when a test moves them."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    """An engine, its clock and a client of its app."""

    engine: Engine
    clock: Clock
    client: TestClient
    cfg: Config = field(repr=False)

    def bid(self, body: dict[str, Any], headers: dict[str, str] | None = None):
        return self.client.post("/v1/bid", json=body, headers=AUTH if headers is None else headers)

    def events(self, rows: list[Any]):
        return self.client.post("/v1/events", json={"events": rows}, headers=AUTH)


def serve(overrides: dict[str, Any] | None = None, max_body: int | None = None, sink: Any = None) -> Served:
    """A fresh server on a 1,000-person config with `overrides` (and a journey-store `sink`)."""
    cfg = build_config({"users": 1000, **(overrides or {})})
    clock = Clock()
    engine = Engine(cfg, build_bidder(cfg), clock=clock, sink=sink)
    app = create_app(engine, TOKEN, **({} if max_body is None else {"max_body": max_body}))
    return Served(engine, clock, TestClient(app), cfg)


@pytest.fixture
def served() -> Served:
    return serve()


def bid_request(rid: str = "r1", channel: str = "search", intent: int | str = 2, floor: float = 0.1,
                ifa: str = "device-1", **extra: Any) -> dict[str, Any]:
    """An OpenRTB bid request with one impression."""
    return {"id": rid, "imp": [{"id": "1", "bidfloor": floor, "banner": {"w": 300, "h": 250},
                                "ext": {"channel": channel, "intent": intent}}],
            "device": {"ifa": ifa, "devicetype": 4}, **extra}


def event(eid: str, kind: str, t: float = T0 + 60, device: str = "device-1", channel: str | None = "search",
          cost: float = 0.0, value: float = 0.0) -> dict[str, Any]:
    """One event row."""
    row = {"event_id": eid, "timestamp": t, "device_id": device, "event_type": kind, "cost": cost, "value": value}
    return row if channel is None else {**row, "channel": channel}
