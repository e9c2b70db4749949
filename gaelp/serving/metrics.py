"""Prometheus text exposition of the server's counters, without a client library.

The bid path only increments integers and a histogram bucket, so a metric costs well under a
microsecond per request; the text is written only when `/metrics` is read.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable
from typing import ClassVar

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
"""Upper bounds of the bid-latency histogram, seconds (an exchange's tmax is typically 100-300 ms)."""


class Histogram:
    """A cumulative histogram with fixed upper bounds."""

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS_S) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, x: float) -> None:
        """Count one value."""
        self.counts[bisect.bisect_left(self.bounds, x)] += 1
        self.sum += x

    @property
    def count(self) -> int:
        """Values observed."""
        return sum(self.counts)

    def lines(self, name: str) -> list[str]:
        """The histogram's `_bucket`, `_sum` and `_count` lines."""
        out, total = [], 0
        for bound, c in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += c
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'{name}_bucket{{le="{le}"}} {total}')
        return [*out, f"{name}_sum {self.sum!r}", f"{name}_count {total}"]


class Metrics:
    """Counters by (name, label value), one latency histogram, and values read when rendered.

    Args:
        read: name -> (help, "counter" or "gauge", function returning the current value), read at render time.
    """

    COUNTERS: ClassVar[dict[str, tuple[str, str | None]]] = {
        "gaelp_requests_total": ("HTTP requests by endpoint", "endpoint"),
        "gaelp_bids_total": ("impressions bid on", None),
        "gaelp_no_bids_total": ("impressions not bid on, by reason", "reason"),
        "gaelp_events_total": ("events accepted, by type", "type"),
        "gaelp_events_duplicate_total": ("events already ingested (ignored: ingestion is idempotent)", None),
        "gaelp_events_rejected_total": ("event rows rejected", None),
        "gaelp_observe_errors_total": ("hours the bidder failed to learn from (logged; the hour is dropped)", None),
    }

    def __init__(self, read: dict[str, tuple[str, str, Callable[[], float]]]) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.latency = Histogram()
        self.read = read

    def inc(self, name: str, label: str = "", by: int = 1) -> None:
        """Add `by` to a counter (with its label value, if the counter has a label)."""
        self.counts[name, label] += by

    def render(self) -> str:
        """All metrics in the Prometheus text format (version 0.0.4)."""
        lines: list[str] = []
        for name, (text, label) in self.COUNTERS.items():
            lines += [f"# HELP {name} {text}", f"# TYPE {name} counter"]
            rows = sorted((lab, v) for (n, lab), v in self.counts.items() if n == name)
            if label is None:
                lines.append(f"{name} {sum(v for _, v in rows)}")
            else:
                lines += [f'{name}{{{label}="{lab}"}} {v}' for lab, v in rows]
        lines += ["# HELP gaelp_bid_latency_seconds time to answer a bid request, from the first byte in",
                  "# TYPE gaelp_bid_latency_seconds histogram", *self.latency.lines("gaelp_bid_latency_seconds")]
        for name, (text, kind, read) in self.read.items():
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {read()!r}"]
        return "\n".join(lines) + "\n"
