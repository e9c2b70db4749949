"""Classes of bad input that used to give silently wrong numbers: each is now a bad row or an error."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gaelp.attribution import get_model
from gaelp.attribution.event_log import parse_events
from gaelp.attribution.files import read_table
from gaelp.attribution.tables import BadRowsError, parse_path_table
from gaelp.jsonout import NonFiniteOutputError, dumps

HEADER = "event_id,timestamp,user_id,channel,event_type,cost,value\n"


def test_a_short_csv_row_is_a_bad_row_kept_in_the_rejects(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(HEADER + "e1,2024-05-01T10:00:00Z,u1,search,click,1,\n"
                    "e2,2024-05-02T10:00:00Z,u1,,conversion\n"  # 5 of 7 fields
                    "e3,2024-05-02T11:00:00Z,u1,,conversion,,120,extra\n"  # 8 of 7
                    "e4,2024-05-02T12:00:00Z,u1,,conversion,,80\n")
    parsed = parse_events(read_table(path), skip_bad=True)
    assert parsed.rejects["row"].tolist() == [2, 3]
    assert parsed.rejects["reason"].tolist() == ["the row has 5 fields, the header 7",
                                                 "the row has 8 fields, the header 7"]
    assert parsed.rejects["event_id"].tolist() == ["e2", "e3"]  # the fields it had, as written
    assert parsed.events.row.tolist() == [1, 4] and parsed.events.value.tolist() == [0.0, 80.0]


@pytest.mark.parametrize("cell", ["1e308", "1e13", "inf", "nan", "-0.5"])
def test_values_must_be_finite_and_in_range(cell: str) -> None:
    df = pd.DataFrame({"event_id": ["a", "b", "c"], "timestamp": ["1704067200", "1704070800", "1704074400"],
                       "user_id": "u", "channel": ["search", "", ""], "event_type": ["click", "conversion",
                                                                                    "conversion"],
                       "cost": ["1", "", ""], "value": ["", cell, cell]})
    with pytest.raises(BadRowsError, match="row 2: .*value"):
        parse_events(df)


def test_overflowing_path_counts_are_bad_rows_and_credit_adds_up() -> None:
    df = pd.DataFrame({"path": ["a > b", "b", "a"], "total_conversions": ["1", "2", "1"],
                       "total_null": ["1e308", "1e308", "3"]})
    parsed = parse_path_table(df, skip_bad=True)
    assert parsed.rejects["row"].tolist() == [1, 2]
    credit = get_model("markov").channel_credit(parsed.paths)
    assert credit.conversions.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(("cell", "reason"), [("", "missing total_conversions"),
                                              ("nan", "total_conversions 'nan' is not a number")])
def test_an_empty_or_nan_total_conversions_is_a_bad_row(cell: str, reason: str) -> None:
    df = pd.DataFrame({"path": ["a", "b"], "total_conversions": ["1", cell]})
    with pytest.raises(BadRowsError, match=f"row 2: {reason}"):
        parse_path_table(df)


def test_a_nan_total_conversions_in_parquet_is_a_bad_row_and_null_counts_are_missing(tmp_path: Path) -> None:
    pq.write_table(pa.table({"path": ["a", "b", "c"], "total_conversions": pa.array([1.0, None, math.nan])}),
                   tmp_path / "p.parquet")
    parsed = parse_path_table(read_table(tmp_path / "p.parquet"), skip_bad=True)
    assert parsed.rejects["row"].tolist() == [2, 3]


@pytest.mark.parametrize("path", ["a, b", "a; b", "a | b", "a -> b", "a => b"])
def test_an_ambiguous_path_is_refused(path: str) -> None:
    with pytest.raises(BadRowsError, match="is ambiguous"):
        parse_path_table(pd.DataFrame({"path": [path], "total_conversions": ["1"]}))


def test_nested_parquet_columns_are_named(tmp_path: Path) -> None:
    pq.write_table(pa.table({"channel": pa.array([["a"]], pa.list_(pa.string())),
                             "cost": pa.array([{"v": 1.0}], pa.struct([("v", pa.float64())]))}),
                   tmp_path / "n.parquet")
    with pytest.raises(ValueError, match=r"'channel' \(list<element: string>\), 'cost' \(struct<v: double>\)"):
        read_table(tmp_path / "n.parquet")


def test_json_output_refuses_non_finite_numbers_and_says_where() -> None:
    assert dumps({"a": np.float64(1.5), "b": [np.int64(2)]}) == '{"a": 1.5, "b": [2]}'
    with pytest.raises(NonFiniteOutputError, match=r"inf at \$.models.search"):
        dumps({"models": {"search": float("inf")}})
    with pytest.raises(NonFiniteOutputError, match=r"nan at \$.x\[1\]"):
        dumps({"x": np.array([1.0, np.nan])})
