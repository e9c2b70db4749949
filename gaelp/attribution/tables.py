"""Reading real logs: CSV / Parquet files, timestamps and row validation.

Two layouts are accepted (`gaelp.attribution.event_log` validates events, and
`gaelp.attribution.events` turns them into paths):

* **events**: one row per event, columns `event_id`, `timestamp`, `user_id`, `channel`,
  `event_type` (`impression`, `click` or `conversion`, case-insensitive), `cost`, `value`;
  optional `campaign` and `device_id` (carried along, not used: journeys are keyed by `user_id`).
* **paths**: the path table of the common attribution tools: `path` (channels joined by `" > "`),
  `total_conversions`, and optionally `total_conversion_value` and `total_null` (0 when absent).

Timestamps are ISO 8601 with a trailing `Z` or a UTC offset (`2024-05-01T09:30:00+02:00`) or epoch
seconds, from 1970 to 2099; a time without a zone is refused rather than guessed. Numbers (costs,
values, counts) must be finite, >= 0 and at most `VALUE_MAX` (1e12), so that no sum of them can
overflow; an empty `cost` / `value` / `total_conversion_value` / `total_null` means 0, while an empty
`total_conversions` is a bad row (a path table must say how many conversions each path had).

A CSV row with fewer (or more) fields than the header is a bad row: its missing fields are not
read as empty. A Parquet column must hold one scalar per cell (text, numbers or timestamps): a list
or struct column is refused up front, naming the column.

Bad rows are never dropped silently: each gets a reason, and the caller either fails on them
(`BadRowsError` lists row numbers and reasons) or, with `skip_bad=True`, receives them as a
rejects table. Row numbers count data rows from 1; in a CSV, row N is on line N + 1.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from gaelp.attribution.files import Table, as_pandas, short_rows
from gaelp.attribution.paths import Paths

PATH_COLUMNS = ("path", "total_conversions")
# A time of day followed by a zone: "T10:00Z", " 10:00:00.5+02:00", "T10:00:00-0500".
_ZONE = re.compile(r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
# An ISO 8601 date or date-time without a zone, which we refuse to guess.
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$", re.IGNORECASE)
# Timestamps from 1970-01-01 to 2099-12-31 (epoch seconds beyond are milliseconds or a typo).
TIME_MAX = 4_102_444_800.0
# The largest cost, value or count a row may hold: sums over 10^8 rows stay far from overflow.
VALUE_MAX = 1e12
# Characters that make a path ambiguous: `a, b` or `a | b` is not one channel named "a, b".
_AMBIGUOUS = re.compile(r"[,;|]|[-=]$")
_SHOWN_ERRORS = 10


class BadRowsError(ValueError):
    """Input rows that cannot be used; `rejects` holds them with `row` and `reason` columns."""

    def __init__(self, rejects: pd.DataFrame) -> None:
        self.rejects = rejects
        lines = [
            f"row {r}: {why}" for r, why in zip(rejects["row"], rejects["reason"], strict=True)
        ]
        more = len(lines) - _SHOWN_ERRORS
        shown = lines[:_SHOWN_ERRORS] + ([f"... and {more} more"] if more > 0 else [])
        super().__init__(f"{len(lines)} bad row(s):\n  " + "\n  ".join(shown))


class RowErrors:
    """Collects reasons per row; a row with any reason is bad.

    Args:
        n: Rows.
        table: The input, whose CSV rows with a wrong number of fields are flagged at once.
    """

    def __init__(self, n: int, table: Table | None = None) -> None:
        self.reasons: defaultdict[int, list[str]] = defaultdict(list)
        self.bad = np.zeros(n, dtype=bool)
        note = None if table is None else short_rows(table)
        if note:
            for row, fields in zip(note["rows"], note["fields"], strict=True):
                self.reasons[int(row)].append(f"the row has {fields} fields, the header {note['expected']}")
                self.bad[int(row)] = True

    def flag(self, mask: np.ndarray, values: np.ndarray | pd.Series | None, message: str) -> None:
        """Mark rows in `mask` bad; `message` may use `{v}` for the row's value (repr'd)."""
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        shown = None if values is None else np.asarray(values, dtype=object)[rows]
        for k, i in enumerate(rows):  # bad rows only: normally none or a few
            self.reasons[int(i)].append(message.format(v="" if shown is None else repr(shown[k])))
        self.bad[rows] = True

    def merge(self, other: RowErrors, mask: np.ndarray) -> None:
        """Take `other`'s reasons for the rows in `mask`."""
        for i in np.flatnonzero(other.bad & mask):
            self.reasons[int(i)].extend(other.reasons[int(i)])
        self.bad |= other.bad & mask

    def rejects(self, df: Table) -> pd.DataFrame:
        """The bad rows of `df` as written, after their `row` number and `reason`."""
        idx = np.flatnonzero(self.bad)
        if isinstance(df, pa.Table):
            out = df.take(pa.array(idx, pa.int64())).to_pandas()
        else:
            out = df.iloc[idx].reset_index(drop=True)
        out.insert(0, "reason", ["; ".join(self.reasons[int(i)]) for i in idx])
        out.insert(0, "row", idx + 1)
        return out


def text_column(col: pd.Series) -> np.ndarray:
    """Column as stripped strings, missing values as ''."""
    return col.astype(object).where(col.notna(), "").astype(str).str.strip().to_numpy()


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[idx] = True
    return out


def _epoch_seconds(col: pd.Series) -> np.ndarray:
    """Seconds since 1970 of a time-zone-aware datetime column, whatever its unit (NaN if NaT).

    Through integer microseconds: a difference of timestamps in nanoseconds overflows before 1677.
    """
    naive = col.dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("us")
    ticks = naive.to_numpy(dtype="datetime64[us]").view(np.int64)
    return np.where(naive.isna().to_numpy(), np.nan, ticks / 1e6)


def parse_timestamps(col: pd.Series, errors: RowErrors, name: str = "timestamp") -> np.ndarray:
    """Parse a timestamp column to epoch seconds, flagging bad rows in `errors`.

    Accepts ISO 8601 with a zone, epoch seconds, or a time-zone-aware datetime column.

    Returns:
        (n,) float64 epoch seconds, NaN where bad.
    """
    n = len(col)
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        errors.flag(col.isna().to_numpy(), None, f"missing {name}")
        return check_time_range(_epoch_seconds(col), errors, name, col.astype(str).to_numpy())
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        raise ValueError(f"column {name!r} holds times without a time zone; store UTC times")
    text = text_column(col)
    secs = np.full(n, np.nan)
    empty = text == ""
    errors.flag(empty, None, f"missing {name}")
    numeric = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
    is_num = ~np.isnan(numeric) & ~empty
    in_range = is_num & (numeric >= 0) & (numeric < TIME_MAX)
    errors.flag(is_num & ~in_range, text, f"{name} {{v}} is out of range for epoch seconds (1970 to 2099)")
    secs[in_range] = numeric[in_range]
    rest = np.flatnonzero(~empty & ~is_num)
    if rest.size:
        candidate = pd.Series(text[rest])
        has_zone = candidate.str.contains(_ZONE).to_numpy(dtype=bool)
        naive = ~has_zone & candidate.str.match(_NAIVE).to_numpy(dtype=bool)
        errors.flag(_mask(n, rest[naive]), text, f"{name} {{v}} has no time zone (add Z or +hh:mm)")
        zoned = rest[has_zone]
        upper = candidate[has_zone].str.upper()  # pandas wants "T" and "Z"
        parsed = pd.to_datetime(upper, format="ISO8601", utc=True, errors="coerce")
        ok = parsed.notna().to_numpy()
        secs[zoned[ok]] = _epoch_seconds(parsed[ok])
        unparsed = _mask(n, np.concatenate([zoned[~ok], rest[~has_zone & ~naive]]))
        errors.flag(unparsed, text, f"{name} {{v}} is not ISO 8601 nor epoch seconds")
        iso = np.zeros(n, dtype=bool)
        iso[zoned[ok]] = True
        outside = iso & ~((secs >= 0) & (secs < TIME_MAX))
        errors.flag(outside, text, f"{name} {{v}} is outside 1970-2099")
        secs[outside] = np.nan
    return secs


def check_time_range(secs: np.ndarray, errors: RowErrors, name: str, shown: np.ndarray) -> np.ndarray:
    """Flag epoch seconds outside 1970-2099 (NaN stays NaN: already flagged as missing)."""
    outside = ~np.isnan(secs) & ~((secs >= 0) & (secs < TIME_MAX))
    errors.flag(outside, shown, f"{name} {{v}} is outside 1970-2099")
    return np.where(outside, np.nan, secs)


def parse_numbers(
    col: pd.Series | None, n: int, errors: RowErrors, name: str, required: bool = False
) -> np.ndarray:
    """Finite float64 column in [0, VALUE_MAX]; bad rows are flagged in `errors`.

    An empty cell (or a null) means 0, or is a bad row ("missing NAME") when `required`; a NaN or
    an infinity is a bad row.
    """
    if col is None:
        return np.zeros(n)
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        empty = col.isna().to_numpy()
        vals = col.to_numpy(dtype=np.float64, na_value=0.0)
        text = vals
    else:
        text = text_column(col)
        empty = text == ""
        vals = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
        errors.flag(np.isnan(vals) & ~empty & (np.char.lower(text.astype(str)) != "nan"), text,
                    f"{name} {{v}} is not a number")
        vals = np.where(empty, 0.0, vals)
    return check_numbers(vals, empty, errors, name, text, required)


def check_numbers(
    vals: np.ndarray, empty: np.ndarray, errors: RowErrors, name: str, shown: np.ndarray, required: bool
) -> np.ndarray:
    """Flag missing (if `required`), non-finite, negative and too large values; bad ones become 0."""
    if required:
        errors.flag(empty, None, f"missing {name}")
    errors.flag(np.isnan(vals), shown, f"{name} {{v}} is not a number")
    errors.flag(np.isinf(vals), shown, f"{name} {{v}} is not finite")
    errors.flag(vals < 0, shown, f"negative {name} {{v}}")
    errors.flag(np.isfinite(vals) & (vals > VALUE_MAX), shown, f"{name} {{v}} is above {VALUE_MAX:g}")
    return np.where(np.isfinite(vals) & (vals >= 0) & (vals <= VALUE_MAX), vals, 0.0)


def _require(names: list[str], columns: tuple[str, ...], kind: str, hint: str = "") -> None:
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(
            f"{kind} input is missing column(s) {', '.join(missing)}; it has "
            f"{', '.join(map(str, names)) or 'none'}{hint}"
        )


@dataclass(frozen=True, slots=True, eq=False)
class ParsedPathTable:
    """Paths from the good rows and the rejected rows (`row`, `reason`, then the input columns)."""

    paths: Paths
    rejects: pd.DataFrame


def parse_path_table(df: Table, skip_bad: bool = False) -> ParsedPathTable:
    """Validate a path table and build `Paths` (one path per good row, in row order).

    Channel names are trimmed, so `"a>b"` and `"a > b"` are the same path; channel codes follow
    the sorted channel names. A name holding `,`, `;` or `|`, or ending in `-` or `=` (as in
    `a -> b`), makes the path ambiguous: the row is bad (channels are joined by `>` only).

    Raises:
        ValueError: A required column is missing.
        BadRowsError: Bad rows (empty path or channel name, bad or negative counts) and
            `skip_bad` is False.

    """
    import pyarrow.compute as pc

    df = as_pandas(df)
    hint = "; is this an event log? (use the events format)" if "event_type" in df.columns else ""
    _require(list(df.columns), PATH_COLUMNS, "paths", hint)
    n = len(df)
    errors = RowErrors(n, df)
    conversions = parse_numbers(df["total_conversions"], n, errors, "total_conversions", required=True)
    value = parse_numbers(df.get("total_conversion_value"), n, errors, "total_conversion_value")
    nulls = parse_numbers(df.get("total_null"), n, errors, "total_null")
    # Split, trim and encode every path at once in Arrow: no Python string per touch.
    raw = pa.array(df["path"].astype(object), from_pandas=True)
    raw = raw if pa.types.is_string(raw.type) else pc.cast(raw, pa.string())
    path_text = pc.fill_null(pc.utf8_trim_whitespace(raw), "")
    parts = pc.split_pattern(path_text, ">")
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False).astype(np.int64)
    names = pc.utf8_trim_whitespace(pc.list_flatten(parts)).dictionary_encode()
    row_of = np.repeat(np.arange(n), lengths)
    empty_path = pc.equal(path_text, "").to_numpy(zero_copy_only=False)
    errors.flag(empty_path, None, "empty path")
    empty_name = np.zeros(n, dtype=bool)
    empty_name[row_of[pc.equal(names, "").to_numpy(zero_copy_only=False)]] = True
    errors.flag(
        empty_name & ~empty_path,
        path_text.to_numpy(zero_copy_only=False) if empty_name.any() else None,
        "empty channel name in path {v}",
    )
    odd_name = np.zeros(n, dtype=bool)
    odd_value = pc.match_substring_regex(names.dictionary, _AMBIGUOUS.pattern).to_numpy(zero_copy_only=False)
    odd_name[row_of[odd_value[names.indices.to_numpy(zero_copy_only=False)]]] = True
    errors.flag(odd_name & ~empty_path, path_text.to_numpy(zero_copy_only=False) if odd_name.any() else None,
                "path {v} is ambiguous: join channels with '>' only (no ',', ';' or '|' in a name)")

    rejects = errors.rejects(df)
    if rejects.shape[0] and not skip_bad:
        raise BadRowsError(rejects)
    good = ~errors.bad
    keep = good[row_of]
    # Codes follow sorted channel names among the good rows, as np.unique would give.
    dictionary = np.asarray(names.dictionary.to_pylist(), dtype=object)
    index = names.indices.to_numpy(zero_copy_only=False)[keep]
    used = np.flatnonzero(np.bincount(index, minlength=len(dictionary)))
    used = used[np.argsort(dictionary[used].astype(str), kind="stable")]
    rank = np.full(len(dictionary), -1, dtype=np.int64)
    rank[used] = np.arange(len(used))
    new_id = np.cumsum(good) - 1
    paths = Paths(
        channels=tuple(str(c) for c in dictionary[used]),
        path_id=new_id[row_of[keep]].astype(np.int64),
        channel=rank[index],
        conversions=conversions[good],
        value=value[good],
        nulls=nulls[good],
    )
    return ParsedPathTable(paths, rejects)
