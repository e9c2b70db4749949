"""Hypothesis strategies for malformed inputs: event logs, path tables, click logs and config files.

Each strategy draws a `Case`: the bytes of one file (CSV, Parquet or TOML), its suffix, and the
number of data rows written, so that a driver can check that good + rejected rows = rows written.
Inputs start from a well-formed file and are damaged the way real exports are: junk in a cell
(empty, NaN, infinities, huge numbers, negative values, markup, control characters, a year 9999,
a time without a zone, milliseconds for seconds), rows with missing or extra fields, duplicate ids,
a byte-order mark, CRLF line ends, bytes that are not UTF-8, missing columns, and Parquet columns of
the wrong type (lists, records, naive timestamps, NaN floats).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
CHANNELS = ("search", "social", "display", "[/]", "e-mail", "vidéo")
JUNK = ("", " ", "nan", "NaN", "inf", "-inf", "1e308", "-1", "0", "1e12", "1e13", "abc", "[bold]x[/]", "[/]",
        "9999-12-31T00:00:00Z", "2024-05-01T10:00:00", "1704067200000", "0001-01-01T00:00:00Z", "\x00",
        "a, b", "a > > b", "2024-02-30T00:00:00Z", "💥", "x" * 300, "1_000", "0x10", "True")
EVENT_COLUMNS = ("event_id", "timestamp", "user_id", "channel", "event_type", "cost", "value")


@dataclass(frozen=True)
class Case:
    """One generated input file."""

    data: bytes
    suffix: str
    rows: int  # data rows written (-1 where the count is not defined, e.g. a config file)


def _csv(header: list[str], rows: list[list[str]], bom: bool, crlf: bool) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(header)
    w.writerows(rows)
    return ("\ufeff" if bom else "").encode() + buf.getvalue().encode("utf-8", errors="surrogatepass")


@st.composite
def _damage(draw, header: list[str], rows: list[list[str]]) -> Case:
    """Damage a well-formed table and write it as CSV (mostly) or Parquet."""
    rows = [list(r) for r in rows]
    for _ in range(draw(st.integers(0, 4))):
        if not rows:
            break
        r, c = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(header) - 1))
        rows[r][c] = draw(st.sampled_from(JUNK))
    if rows and draw(st.booleans()):
        r = draw(st.integers(0, len(rows) - 1))
        keep = draw(st.integers(1, len(header) + 2))  # (no field at all is a blank line: not a record)
        rows[r] = (rows[r] + ["extra"] * 3)[:keep]  # too few or too many fields
    if rows and draw(st.integers(0, 9)) == 0:
        rows.append(list(rows[0]))  # a duplicated row (same id)
    if draw(st.integers(0, 19)) == 0:
        header = header[:-1]  # a missing column
    if draw(st.integers(0, 4)) == 0:
        return _parquet(draw, header, rows)
    data = _csv(header, rows, draw(st.booleans()), draw(st.booleans()))
    if draw(st.integers(0, 14)) == 0:
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        data = data[:at] + b"\xff\xfe" + data[at:]  # not UTF-8
    # A row with too few fields (or none) still counts as a written row.
    return Case(data, ".csv", len(rows))


def _parquet(draw, header: list[str], rows: list[list[str]]) -> Case:
    cols: dict[str, pa.Array] = {}
    for i, name in enumerate(header):
        values = [r[i] if i < len(r) else None for r in rows]
        kind = draw(st.sampled_from(["text", "text", "number", "list", "struct", "naive_time", "zoned_time"]))
        if kind == "number":
            cols[name] = pa.array([_float(v) for v in values], pa.float64())
        elif kind == "list":
            cols[name] = pa.array([[v] for v in values], pa.list_(pa.string()))
        elif kind == "struct":
            cols[name] = pa.array([{"v": v} for v in values], pa.struct([("v", pa.string())]))
        elif kind in ("naive_time", "zoned_time"):
            secs = [T0 + 3600 * k for k in range(len(values))]
            cols[name] = pa.array(secs, pa.int64()).cast(pa.timestamp("s", tz=None if kind == "naive_time" else "UTC"))
        else:
            cols[name] = pa.array(values, pa.string())
    if not cols:
        cols = {"empty": pa.array([None] * len(rows), pa.string())}
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf)
    return Case(buf.getvalue(), ".parquet", len(rows))


def _float(v: str | None) -> float | None:
    try:
        return None if v is None or v == "" else float(v)
    except ValueError:
        return None


@st.composite
def event_logs(draw) -> Case:
    """A malformed event log (CSV or Parquet)."""
    n = draw(st.integers(0, 12))
    rows = []
    for i in range(n):
        kind = draw(st.sampled_from(["impression", "click", "conversion", "Click"]))
        conv = kind == "conversion"
        stamp = T0 + draw(st.integers(0, 60 * 86400))
        rows.append([f"e{i}", draw(st.sampled_from([str(stamp), f"{stamp}.5"])),
                     f"u{draw(st.integers(0, 3))}", "" if conv else draw(st.sampled_from(CHANNELS)), kind,
                     "" if conv else str(draw(st.floats(0, 5, allow_nan=False))),
                     str(draw(st.sampled_from([0, 120, 220]))) if conv else ""])
    return draw(_damage(list(EVENT_COLUMNS), rows))


@st.composite
def path_tables(draw) -> Case:
    """A malformed path table."""
    n = draw(st.integers(0, 10))
    rows = []
    for _ in range(n):
        path = " > ".join(draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=4)))
        rows.append([path, str(draw(st.integers(0, 5))), str(draw(st.floats(0, 1e4, allow_nan=False))),
                     str(draw(st.integers(0, 9)))])
    return draw(_damage(["path", "total_conversions", "total_conversion_value", "total_null"], rows))


@st.composite
def click_logs(draw) -> Case:
    """A malformed click log (click_time, elapsed_h, delay_h, channel)."""
    n = draw(st.integers(0, 12))
    rows = []
    for _ in range(n):
        elapsed = draw(st.floats(0, 2000, allow_nan=False))
        seen = draw(st.booleans())
        rows.append([str(T0 + draw(st.integers(0, 86400 * 30))), str(elapsed),
                     str(draw(st.floats(0, elapsed, allow_nan=False))) if seen else "",
                     draw(st.sampled_from(CHANNELS))])
    return draw(_damage(["click_time", "elapsed_h", "delay_h", "channel"], rows))


KEYS = ("users", "days", "seed", "bidder", "store_url", "world", "campaign", "market", "bidders", "safety",
        "campaign.lookback_days", "campaign.budget_per_user", "users.x", "[world]")
VALUES = ("10", "-3", "0", "1e308", "nan", "inf", '"fixed"', '"[/]"', "true", "[1, 2]", "{a = 1}", '"x"',
          "100000000", "2.5", '""', "'''\n'''")


@st.composite
def config_files(draw) -> Case:
    """A malformed TOML config file (keys and values of the right and wrong kinds, bad bytes)."""
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        key = draw(st.sampled_from(KEYS))
        if key.startswith("["):
            lines.append(key)
        else:
            lines.append(f"{key} = {draw(st.sampled_from(VALUES))}")
    data = "\n".join(lines).encode()
    if draw(st.integers(0, 5)) == 0:
        data += b"\n# caf\xe9\n"
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(max_size=40))
    return Case(data, ".toml", -1)
