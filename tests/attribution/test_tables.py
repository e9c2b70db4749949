"""Reading logs: timestamps, row validation with row numbers, rejects, both layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gaelp.attribution.event_log import parse_events
from gaelp.attribution.files import read_table
from gaelp.attribution.tables import BadRowsError, RowErrors, parse_path_table, parse_timestamps

from .helpers import make_events

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2024-01-01T00:00:00Z", T0),
        ("2024-01-01T01:30:00+01:30", T0),
        ("2023-12-31T19:00:00-0500", T0),
        ("2024-01-01T00:00:00.250Z", T0 + 0.25),
        ("2024-01-01 02:00:00+02:00", T0),
        (str(T0), T0),
        (f"{T0}.5", T0 + 0.5),
        ("  2024-01-01T00:00:00z ", T0),
    ],
)
def test_accepted_timestamps(text: str, epoch: float) -> None:
    errors = RowErrors(1)
    secs = parse_timestamps(pd.Series([text]), errors)
    assert not errors.bad[0], errors.reasons
    assert secs[0] == pytest.approx(epoch)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2024-01-01T00:00:00", "has no time zone"),
        ("2024-01-01", "has no time zone"),
        ("2024-13-01T00:00:00Z", "is not ISO 8601 nor epoch seconds"),
        ("yesterday+01", "is not ISO 8601 nor epoch seconds"),
        ("1704067200000", "out of range for epoch seconds"),
        ("-5", "out of range"),
        ("", "missing timestamp"),
    ],
)
def test_refused_timestamps(text: str, reason: str) -> None:
    errors = RowErrors(1)
    secs = parse_timestamps(pd.Series([text]), errors)
    assert errors.bad[0] and reason in errors.reasons[0][0]
    assert np.isnan(secs[0])


def test_timezone_aware_column_and_naive_refusal() -> None:
    errors = RowErrors(2)
    col = pd.Series(pd.to_datetime(["2024-01-01T00:00:00Z", None], utc=True))
    secs = parse_timestamps(col, errors)
    assert secs[0] == T0 and errors.reasons[1] == ["missing timestamp"]
    with pytest.raises(ValueError, match="without a time zone"):
        parse_timestamps(pd.Series(pd.to_datetime(["2024-01-01"])), RowErrors(1))


def events_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": ["e1", "e2", "e3", "e4"],
            "timestamp": [
                "2024-01-01T00:00:00Z",
                "2024-01-01T01:00:00Z",
                str(T0 + 7200),
                "2024-01-02T00:00:00Z",
            ],
            "user_id": ["u1", "u1", "u2", "u1"],
            "channel": ["search", "social", "email", ""],
            "event_type": ["click", "Impression", "click", "conversion"],
            "cost": ["0.5", "", "1", ""],
            "value": ["", "", "", "220"],
        }
    )


def test_good_events_parse() -> None:
    ev = parse_events(events_frame()).events
    assert ev.channels == ("email", "search", "social")
    assert ev.t_hours.tolist() == [0.0, 1.0, 2.0, 24.0]
    assert ev.is_conversion.tolist() == [False, False, False, True]
    assert ev.channel.tolist() == [1, 2, 0, -1]
    assert ev.value.tolist() == [0, 0, 0, 220.0] and ev.cost.tolist() == [0.5, 0, 1, 0]
    assert ev.row.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("column", "row", "bad", "reason"),
    [
        ("timestamp", 1, "01/02/2024 10:00", "timestamp '01/02/2024 10:00' is not ISO 8601"),
        ("timestamp", 2, "2024-01-02T10:00", "timestamp '2024-01-02T10:00' has no time zone"),
        ("cost", 0, "-2", "negative cost '-2'"),
        ("cost", 2, "abc", "cost 'abc' is not a number"),
        ("value", 3, "inf", "value 'inf' is not finite"),
        ("event_type", 2, "purchase", "unknown event_type 'purchase'"),
        ("event_id", 1, "", "missing event_id"),
        ("event_id", 3, "e1", "duplicate event_id (first seen at row 1)"),
        ("user_id", 0, " ", "missing user_id"),
        ("channel", 2, "", "missing channel on 'click'"),
    ],
)
def test_bad_event_rows_name_row_and_reason(column: str, row: int, bad: str, reason: str) -> None:
    df = events_frame()
    df.loc[row, column] = bad
    with pytest.raises(BadRowsError) as info:
        parse_events(df)
    assert f"row {row + 1}: {reason}" in str(info.value)
    parsed = parse_events(df, skip_bad=True)
    assert parsed.rejects["row"].tolist() == [row + 1]
    assert reason in parsed.rejects["reason"].iloc[0]
    assert parsed.rejects[column].iloc[0] == bad  # the original row is kept as written
    assert len(parsed.events.row) == 3 and row + 1 not in parsed.events.row


def test_missing_columns_are_named_with_a_format_hint() -> None:
    with pytest.raises(ValueError, match=r"missing column\(s\) event_id.*path table"):
        parse_events(pd.DataFrame({"path": ["a"], "total_conversions": [1]}))
    with pytest.raises(ValueError, match=r"missing column\(s\) path.*event log"):
        parse_path_table(events_frame())


def test_error_message_lists_the_first_rows_and_counts_the_rest() -> None:
    df = make_events(np.random.default_rng(1), n_users=10)
    df["cost"] = "-1"
    with pytest.raises(BadRowsError) as info:
        parse_events(df)
    message = str(info.value)
    assert message.startswith(f"{len(df)} bad row(s)") and f"and {len(df) - 10} more" in message


def test_csv_and_parquet_read_the_same(tmp_path: Path) -> None:
    df = make_events(np.random.default_rng(2), n_users=20)
    df.to_csv(tmp_path / "e.csv", index=False)
    pq = df.copy()
    pq["timestamp"] = pd.to_datetime(parse_events(df).events.t_hours * 3600 + 0, unit="s", utc=True)
    pq["cost"] = pd.to_numeric(df["cost"]).astype(float)
    pq.to_parquet(tmp_path / "e.parquet")
    from_csv = parse_events(read_table(tmp_path / "e.csv")).events
    from_pq = parse_events(read_table(tmp_path / "e.parquet")).events
    np.testing.assert_allclose(from_csv.t_hours, from_pq.t_hours)
    np.testing.assert_array_equal(from_csv.cost, from_pq.cost)
    with pytest.raises(ValueError, match="unknown file type"):
        read_table(tmp_path / "e.xlsx")


def test_path_table_trims_names_and_defaults_optional_columns() -> None:
    p = parse_path_table(
        pd.DataFrame(
            {
                "path": ["search>social", " social >  search > email"],
                "total_conversions": ["2", "1.5"],
            }
        )
    ).paths
    assert p.channels == ("email", "search", "social")
    assert p.channel.tolist() == [1, 2, 2, 1, 0] and p.path_id.tolist() == [0, 0, 1, 1, 1]
    assert p.conversions.tolist() == [2.0, 1.5]
    assert p.value.tolist() == [0.0, 0.0] and p.nulls.tolist() == [0.0, 0.0]


def test_path_table_bad_rows() -> None:
    df = pd.DataFrame(
        {
            "path": ["a > b", "", "a >  > b", "b"],
            "total_conversions": [1, 1, 1, -1],
            "total_null": [0, 0, 0, 0],
        }
    )
    with pytest.raises(BadRowsError) as info:
        parse_path_table(df)
    text = str(info.value)
    assert "row 2: empty path" in text and "row 3: empty channel name in path 'a >  > b'" in text
    assert "row 4: negative total_conversions" in text
    parsed = parse_path_table(df, skip_bad=True)
    assert parsed.rejects["row"].tolist() == [2, 3, 4] and parsed.paths.n_paths == 1
