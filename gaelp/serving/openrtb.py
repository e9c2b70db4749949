"""The OpenRTB 2.6 subset a search, social or display exchange sends us, and our answer.

Unknown fields are ignored, as the specification asks of bidders. Our fields live in `ext` (of the
request or of one impression, the impression's winning): `channel`, one of the config's channel names,
and `intent`, the query intent as 0/1/2 or `informational` / `category` / `purchase` (1 when absent:
no query). Prices are per click in USD, like the simulator's bids; `bidfloor` is the reserve per click.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

INTENT_NAMES = ("informational", "category", "purchase")
# OpenRTB / AdCOM device types: 2 personal computer, 3 connected TV, 7 set-top box are large
# screens (our device type 1, desktop); phones, tablets and the rest are mobile (0).
LARGE_SCREEN_TYPES = frozenset({2, 3, 7})


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Ext(_In):
    """Our extension: the channel of the placement and the query intent."""

    channel: str | None = Field(default=None, description="channel name from the config, e.g. search")
    intent: Literal[0, 1, 2, "informational", "category", "purchase"] | None = Field(
        default=None, description="query intent: 0 informational, 1 category / no query, 2 purchase")


class Imp(_In):
    """One impression on offer."""

    id: str = Field(min_length=1, max_length=64)
    bidfloor: float = Field(default=0.0, ge=0.0, le=1e6, allow_inf_nan=False, description="reserve, USD per click")
    bidfloorcur: Literal["USD"] = "USD"
    banner: dict[str, Any] | None = None
    native: dict[str, Any] | None = None
    video: dict[str, Any] | None = None
    ext: Ext | None = None


class Device(_In):
    """The device as the exchange describes it."""

    devicetype: int | None = Field(default=None, ge=1, le=99)
    ifa: str | None = Field(default=None, max_length=256)
    ip: str | None = Field(default=None, max_length=64)
    ua: str | None = Field(default=None, max_length=2048)


class User(_In):
    """The exchange's user id (a cookie or a hashed id)."""

    id: str | None = Field(default=None, max_length=256)


class Site(_In):
    """A website placement."""

    id: str | None = None
    domain: str | None = None
    page: str | None = None


class App(_In):
    """An app placement."""

    id: str | None = None
    bundle: str | None = None


class BidRequest(_In):
    """An OpenRTB 2.6 bid request (the subset we read)."""

    id: str = Field(min_length=1, max_length=128)
    imp: list[Imp] = Field(min_length=1, max_length=64)
    site: Site | None = None
    app: App | None = None
    device: Device | None = None
    user: User | None = None
    cur: list[str] | None = Field(default=None, description="allowed currencies; must include USD if given")
    tmax: int | None = Field(default=None, ge=0)
    ext: Ext | None = None


class Bid(BaseModel):
    """Our bid on one impression."""

    id: str
    impid: str
    price: float = Field(description="USD per click")
    crid: str


class SeatBid(BaseModel):
    """Our seat's bids."""

    bid: list[Bid]


class BidResponse(BaseModel):
    """An OpenRTB bid response; HTTP 204 with no body means no bid."""

    id: str
    seatbid: list[SeatBid]
    cur: Literal["USD"] = "USD"


def device_key(req: BidRequest) -> str:
    """The identifier a request's device is known by: the advertising id, else the user id, else ip + ua.

    Events name devices the same way (`device_id` is an advertising id, `user_id` the exchange's user
    id), so a click reported later meets the device it was bid on. '' when the request has none.
    """
    d, u = req.device, req.user
    if d is not None and d.ifa:
        return "d:" + d.ifa
    if u is not None and u.id:
        return "u:" + u.id
    if d is not None and (d.ip or d.ua):
        return f"h:{d.ip or ''}|{d.ua or ''}"
    return ""


def intent_code(value: int | str | None) -> int:
    """0/1/2 from an `ext.intent` value (1, category, when absent)."""
    if value is None:
        return 1
    return value if isinstance(value, int) else INTENT_NAMES.index(value)
