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

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

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
_SHORT_ROWS = "gaelp.short_rows"  # schema metadata / DataFrame.attrs key: CSV rows with wrong field counts


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


Table = pd.DataFrame | pa.Table


def read_table(path: str | Path) -> pa.Table:
    """Read a CSV (every column as text, so validation sees what was written) or Parquet file.

    Raises:
        ValueError: an unknown file type, a CSV that is not UTF-8 text, or a nested Parquet column.
        OSError: the file cannot be read.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    suffixes = "".join(path.suffixes[-2:]).lower()
    if path.suffix.lower() in (".parquet", ".pq"):
        table = pq.read_table(path)
        nested = [f"{f.name!r} ({f.type})" for f in table.schema if pa.types.is_nested(f.type)]
        if nested:
            raise ValueError(f"{path}: column(s) {', '.join(nested)} hold lists or records; every column must "
                             f"hold one text, number or timestamp per row: flatten or drop them")
        return table
    if path.suffix.lower() == ".csv" or suffixes in (".csv.gz", ".csv.zst", ".csv.bz2"):
        _check_utf8(path)
        try:
            return _read_csv(path)
        except pa.ArrowInvalid as e:
            msg = str(e).splitlines()[0]
            if "UTF8" in msg or "utf8" in msg.lower():
                raise ValueError(f"{path} is not UTF-8 text ({msg}); save it as UTF-8") from None
            raise ValueError(f"{path}: cannot read it as CSV: {msg}") from None
    raise ValueError(f"{path}: unknown file type {path.suffix!r}; use .csv or .parquet")


def _check_utf8(path: Path, chunk: int = 1 << 24) -> None:
    """Raise ValueError naming the first byte that is not UTF-8 (Arrow would fail on it mid-parse)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with pa.input_stream(str(path), compression="detect") as f:
        while True:
            block = f.read(chunk)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as e:
                bad = offset + e.start - len(decoder.getstate()[0])
                raise ValueError(f"{path} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {max(bad, 0)}"
                                 f"); save it as UTF-8") from None
            if not block:
                return
            offset += len(block)


def _read_csv(path: Path) -> pa.Table:
    """All columns as text; rows with the wrong number of fields kept, padded, and listed as short."""
    import csv

    import pyarrow.csv as pcsv

    odd: list[tuple[int, str, int]] = []  # (line number, text, fields) of rows with a wrong field count

    def keep(row) -> str:
        odd.append((row.number, row.text, row.actual_columns))
        return "skip"

    parse = pcsv.ParseOptions(invalid_row_handler=keep)
    names = pcsv.open_csv(path, parse_options=parse).schema.names
    odd.clear()
    convert = pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False,
                                  quoted_strings_can_be_null=False)
    # One thread, so that each skipped row knows its line number.
    table = pcsv.read_csv(path, read_options=pcsv.ReadOptions(use_threads=False), parse_options=parse,
                          convert_options=convert)
    if not odd:
        return table
    # Put the odd rows back where they were, with the fields they have, and list them as bad rows.
    n = table.num_rows + len(odd)
    at = np.array([(line or 2) - 2 for line, _, _ in odd], dtype=np.int64)
    at = np.clip(at, 0, n - 1)
    is_odd = np.zeros(n, dtype=bool)
    is_odd[at] = True
    at = np.flatnonzero(is_odd)  # (rows of multi-line records may land early: keep positions distinct)
    fields = [next(csv.reader([text]), []) for _, text, _ in odd]
    padded = {c: [f[i] if i < len(f) else "" for f in fields] for i, c in enumerate(names)}
    extra = pa.table({c: pa.array(v, pa.string()) for c, v in padded.items()})
    order = np.empty(n, dtype=np.int64)
    order[~is_odd] = np.arange(table.num_rows)
    order[at] = table.num_rows + np.arange(len(odd))
    merged = pa.concat_tables([table, extra]).take(pa.array(order))
    note = {"rows": at.tolist(), "fields": [c for _, _, c in odd], "expected": len(names)}
    return merged.replace_schema_metadata({_SHORT_ROWS: json.dumps(note)})


def as_arrow(df: Table) -> pa.Table:
    """An Arrow table of `df` (as is if it is one); odd object columns become text."""
    if isinstance(df, pa.Table):
        return df
    cols = {}
    for name in df.columns:
        col = df[name]
        try:
            cols[str(name)] = pa.array(col, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            cols[str(name)] = pa.array(col.astype(object).where(col.notna(), None).map(
                lambda v: v if v is None else str(v)), pa.string())
    table = pa.table(cols)
    note = df.attrs.get(_SHORT_ROWS)
    return table.replace_schema_metadata({_SHORT_ROWS: note}) if note else table


def as_pandas(df: Table) -> pd.DataFrame:
    """A DataFrame of `df` (as is if it is one), keeping the list of short CSV rows."""
    if isinstance(df, pd.DataFrame):
        return df
    out = df.to_pandas()
    note = (df.schema.metadata or {}).get(_SHORT_ROWS.encode())
    if note:
        out.attrs[_SHORT_ROWS] = note.decode()
    return out


def _short_rows(df: Table) -> dict | None:
    if isinstance(df, pa.Table):
        note = (df.schema.metadata or {}).get(_SHORT_ROWS.encode())
    else:
        note = df.attrs.get(_SHORT_ROWS)
    return json.loads(note) if note else None


class RowErrors:
    """Collects reasons per row; a row with any reason is bad.

    Args:
        n: Rows.
        table: The input, whose CSV rows with a wrong number of fields are flagged at once.
    """

    def __init__(self, n: int, table: Table | None = None) -> None:
        self.reasons: defaultdict[int, list[str]] = defaultdict(list)
        self.bad = np.zeros(n, dtype=bool)
        note = None if table is None else _short_rows(table)
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
        out.insert(0, "reason", ["; ".join(self.reasons[i]) for i in idx])
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
