"""Reading log files: CSV (every column as text) and Parquet, as Arrow tables.

A CSV is read by Arrow with every column as text, so validation sees what was written. A row with
fewer or more fields than the header is kept in its place, with the fields it has, and listed in the
table's schema metadata (`short_rows`), so that validation makes it a bad row instead of reading its
missing fields as empty. A file that is not UTF-8 is refused naming the first bad byte; a Parquet
column of lists or records is refused naming the column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

_SHORT_ROWS = "gaelp.short_rows"  # schema metadata / DataFrame.attrs key: CSV rows with wrong field counts


Table: TypeAlias = pd.DataFrame | pa.Table


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
    n, k = table.num_rows + len(odd), len(odd)
    # Data row = line - 2; a record spanning lines (a quoted newline) shifts later lines, so keep the
    # positions strictly increasing and inside the table.
    step = np.arange(k)
    at = np.array([(line or 2) - 2 for line, _, _ in odd], dtype=np.int64)
    at = np.maximum.accumulate(np.maximum(at, 0) - step) + step
    at = np.minimum(at, n - k + step)
    is_odd = np.zeros(n, dtype=bool)
    is_odd[at] = True
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


def short_rows(df: Table) -> dict | None:
    """The CSV rows of `df` with a wrong field count: {"rows", "fields", "expected"}, or None."""
    if isinstance(df, pa.Table):
        note = (df.schema.metadata or {}).get(_SHORT_ROWS.encode())
    else:
        note = df.attrs.get(_SHORT_ROWS)
    return json.loads(note) if note else None
