"""Event ingestion: validate a batch row by row, keep the good rows once, answer attribution queries.

Rows are checked by the same validation as `gaelp attribute` (`gaelp.attribution.tables.parse_events`:
timestamps with a zone or epoch seconds, non-negative cost and value, a known event type, duplicates
within the batch), plus what the server needs: a `device_id` or `user_id`, and a channel of the config
on impressions and clicks. A bad row is rejected with its reasons; the others are kept. An `event_id`
already ingested is skipped, so posting a batch twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from gaelp.attribution import events_to_paths, get_model, model_names, parse_events

EVENT_COLUMNS = ("event_id", "timestamp", "user_id", "channel", "event_type", "cost", "value")
"""The columns of an event log, as `gaelp attribute` reads it."""
ROW_FIELDS = ("event_id", "timestamp", "device_id", "user_id", "channel", "event_type", "cost", "value", "creative")
MAX_EVENTS_PER_BATCH = 50_000
_PLACEHOLDER_USER = "?"  # stands in for a missing id while parse_events checks the rest of the row


class Event(BaseModel):
    """One event row (the schema of a row of `EventBatch.events`; rows are validated one by one)."""

    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(description="unique id; an id already ingested is skipped")
    timestamp: str | float = Field(description="ISO 8601 with Z or an offset, or epoch seconds")
    device_id: str | None = Field(default=None, description="advertising id (the request's device.ifa)")
    user_id: str | None = Field(default=None, description="the exchange's user id (the request's user.id)")
    channel: str | None = Field(default=None, description="channel name; required on impressions and clicks")
    event_type: str = Field(description="impression, click or conversion")
    cost: float = Field(default=0.0, ge=0.0, description="USD paid")
    value: float = Field(default=0.0, ge=0.0, description="revenue of a conversion, USD")
    creative: str | None = None


class EventBatch(BaseModel):
    """A batch of events (see `Event` for a row)."""

    # rows stay plain JSON values here, so that one bad row is rejected alone instead of failing the batch
    events: list[Any] = Field(max_length=MAX_EVENTS_PER_BATCH, description="rows shaped as `Event`",
                              json_schema_extra={"items": {"$ref": "#/components/schemas/Event"}})


@dataclass(frozen=True, slots=True, eq=False)
class CheckedEvents:
    """A validated batch.

    Attributes:
        good: the kept rows: `event_id`, `timestamp` (epoch seconds), `user_id` (the device key:
            `d:<device_id>` or `u:<user_id>`), `channel`, `event_type` (lower case), `cost`, `value`,
            `creative`, `row` (1-based in the batch).
        rejects: `{"row", "event_id", "reason"}` per bad row.
    """

    good: pd.DataFrame
    rejects: list[dict[str, Any]]


def _text(rows: list[Any], name: str) -> list[str]:
    out = []
    for r in rows:
        v = r.get(name) if isinstance(r, dict) else None
        out.append("" if v is None else str(v).strip())
    return out


def check_events(rows: list[Any], channel_names: tuple[str, ...]) -> CheckedEvents:
    """Validate event rows (dicts from JSON); see the module docstring for the rules."""
    n = len(rows)
    # every column as text, as a CSV log reaches parse_events: numbers in text are read as numbers
    cols: dict[str, list[Any]] = {name: _text(rows, name) for name in ROW_FIELDS}
    device, user = np.array(cols["device_id"], object), np.array(cols["user_id"], object)
    key = np.where(device != "", "d:" + device, np.where(user != "", "u:" + user, _PLACEHOLDER_USER))
    df = pd.DataFrame({**{c: cols[c] for c in EVENT_COLUMNS if c != "user_id"}, "user_id": key})
    reasons: list[list[str]] = [[] for _ in range(n)]
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            reasons[i].append(f"not an object: {str(r)[:40]!r}")
        elif key[i] == _PLACEHOLDER_USER:
            reasons[i].append("missing device_id and user_id (give one)")
    kind = np.char.lower(np.array(cols["event_type"], str))
    ch = np.array(cols["channel"], object)
    unknown = np.isin(kind, ("impression", "click")) & (ch != "") & ~np.isin(ch, channel_names)
    for j in np.flatnonzero(unknown):
        reasons[j].append(f"unknown channel {ch[j]!r} (allowed: {', '.join(channel_names)})")
    parsed = parse_events(df, skip_bad=True)
    for r, why in zip(parsed.rejects["row"], parsed.rejects["reason"], strict=True):
        reasons[int(r) - 1].append(str(why))
    bad = np.array([bool(x) for x in reasons], bool)
    good = df.assign(row=np.arange(1, n + 1), event_type=kind, creative=cols["creative"])[~bad]
    ev = parsed.events
    secs = pd.Series(np.round(ev.t0_seconds + ev.t_hours * 3600.0, 3), index=ev.row - 1)
    good = good.assign(timestamp=secs.reindex(good.index).to_numpy(), cost=pd.Series(ev.cost, index=ev.row - 1)
                       .reindex(good.index).to_numpy(), value=pd.Series(ev.value, index=ev.row - 1)
                       .reindex(good.index).to_numpy())
    rejects = [{"row": int(i) + 1, "event_id": cols["event_id"][i], "reason": "; ".join(reasons[i])}
               for i in np.flatnonzero(bad)]
    return CheckedEvents(good.reset_index(drop=True), rejects)


class EventLog:
    """The events ingested so far, once each (in memory; `--store` also sends them to the journey store)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._chunks: list[pd.DataFrame] = []

    def __len__(self) -> int:
        return len(self.seen)

    def add(self, good: pd.DataFrame) -> pd.DataFrame:
        """Keep the rows whose `event_id` is new; returns them."""
        fresh = good[~good["event_id"].isin(self.seen)]
        if len(fresh):
            self.seen.update(fresh["event_id"])
            self._chunks.append(fresh)
        return fresh

    def frame(self) -> pd.DataFrame:
        """Every event kept, in arrival order."""
        return pd.concat(self._chunks, ignore_index=True) if self._chunks else pd.DataFrame(columns=EVENT_COLUMNS)

    def attribution(self, model: str, window_days: float, params: dict[str, dict[str, float]] | None = None
                    ) -> dict[str, Any]:
        """Credit by channel under `model` (a registered name or `all`) on every event kept.

        Raises:
            ValueError: an unknown model or a window that is not > 0.
        """
        names = model_names() if model == "all" else [model]
        models = {name: get_model(name, **(params or {}).get(name, {})) for name in names}
        if not window_days > 0:
            raise ValueError(f"window must be > 0 days, got {window_days}")
        doc: dict[str, Any] = {"window_days": window_days, "events": len(self), "models": {}}
        if not len(self):
            doc["models"] = {name: {"conversions": {}, "value": {}} for name in names}
            return doc
        built = events_to_paths(parse_events(self.frame()[list(EVENT_COLUMNS)]).events, window_days)
        for name, m in models.items():
            conv, value = m.channel_credit(built.paths).as_dicts()
            doc["models"][name] = {"conversions": conv, "value": value}
        s = built.summary
        doc.update(conversions=s.conversions, converting_paths=s.converting_paths,
                   direct_conversions=s.direct_conversions)
        return doc
