"""The Arrow event parser against the previous pandas one: same journeys, same credits, to the bit."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaelp.attribution import MODELS, get_model
from gaelp.attribution.event_log import encode_text, parse_events
from gaelp.attribution.events import events_to_paths
from gaelp.attribution.files import read_table
from gaelp.attribution.tables import BadRowsError

from .helpers import make_events
from .reference_events import reference_parse_events


def tied_log(seed: int, n_users: int = 30) -> pd.DataFrame:
    """A random log, shuffled, with many events of one user at the same second (ties on time)."""
    rng = np.random.default_rng(seed)
    df = make_events(rng, n_users=n_users, days=3.0)
    copies = df.sample(frac=0.3, random_state=seed).copy()
    copies["event_id"] = [f"dup-time-{seed}-{i}" for i in range(len(copies))]
    df = pd.concat([df, copies], ignore_index=True)
    df["user_id"] = df["user_id"].str.pad(8, side=rng.choice(["left", "right"]))  # blanks are trimmed
    return df.sample(frac=1.0, random_state=seed + 1).reset_index(drop=True)


def assert_same_paths(a, b) -> None:
    assert a.channels == b.channels
    for field in ("path_id", "channel", "conversions", "value", "nulls", "t_hours", "conversion_t_hours",
                  "touch_index"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


@pytest.mark.parametrize("seed", range(4))
def test_same_journeys_and_credits_as_the_reference_parser(seed: int) -> None:
    df = tied_log(seed)
    new = events_to_paths(parse_events(df).events, window_days=7)
    old = events_to_paths(reference_parse_events(df).events, window_days=7)
    assert_same_paths(new.paths, old.paths)
    assert new.summary == old.summary
    for name in MODELS:
        a, b = get_model(name).channel_credit(new.paths), get_model(name).channel_credit(old.paths)
        np.testing.assert_array_equal(a.conversions, b.conversions, err_msg=name)
        np.testing.assert_array_equal(a.value, b.value, err_msg=name)


def test_arrow_table_and_dataframe_give_the_same_events(tmp_path: Path) -> None:
    df = tied_log(7)
    df.to_csv(tmp_path / "e.csv", index=False)
    from_csv = parse_events(read_table(tmp_path / "e.csv")).events
    from_frame = parse_events(df).events
    for field in ("user", "t_hours", "channel", "value", "cost", "event_key", "row"):
        np.testing.assert_array_equal(getattr(from_csv, field), getattr(from_frame, field), err_msg=field)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=" ab\tc", max_size=4), min_size=1, max_size=30))
def test_codes_follow_the_sorted_trimmed_values(values: list[str]) -> None:
    codes, distinct = encode_text(pa.array(values), "x")
    expected = sorted({v.strip() for v in values})
    assert distinct.to_pylist() == expected
    assert [expected[c] for c in codes] == [v.strip() for v in values]


def test_dictionary_and_numeric_columns_are_read_as_text() -> None:
    table = pa.table({
        "event_id": pa.array(["1", "2", "3"]).dictionary_encode(),
        "timestamp": pa.array([1_704_067_200, 1_704_067_260, 1_704_070_000], pa.int64()).cast(
            pa.timestamp("s", tz="UTC")),
        "user_id": pa.array([7, 7, 8], pa.int64()),
        "channel": pa.array(["search", None, "social"]),
        "event_type": ["click", "conversion", "CLICK"],
        "cost": pa.array([1.0, None, 2.0]),
        "value": pa.array([None, 220.0, None]),
    })
    ev = parse_events(table).events
    assert ev.channels == ("search", "social") and ev.user.tolist() == [0, 0, 1]
    assert ev.t_hours.tolist() == [0.0, 1 / 60, 2800 / 3600] and ev.value.tolist() == [0.0, 220.0, 0.0]


@pytest.mark.parametrize(("column", "cell", "reason"), [
    ("value", float("nan"), "value nan is not a number"),
    ("cost", 2e12, "cost 2000000000000.0 is above 1e+12"),
    ("timestamp", "year-9999", "timestamp '9999-01-01 00:00:00.000000Z' is outside 1970-2099"),
])
def test_parquet_cells_out_of_range_are_bad_rows(column: str, cell, reason: str) -> None:
    cols = {
        "event_id": ["a", "b"], "user_id": ["u", "u"], "channel": ["search", ""],
        "event_type": ["click", "conversion"], "cost": [1.0, 0.0], "value": [0.0, 10.0],
        "timestamp": pa.array([1_704_067_200_000_000, 1_704_070_800_000_000], pa.int64()).cast(
            pa.timestamp("us", tz="UTC")),
    }
    if cell == "year-9999":
        cols["timestamp"] = pa.array([1_704_067_200_000_000, 253_370_764_800_000_000], pa.int64()).cast(
            pa.timestamp("us", tz="UTC"))
    else:
        cols[column] = [cols[column][0], cell]
    with pytest.raises(BadRowsError, match=re.escape("row 2: " + reason)):
        parse_events(pa.table(cols))
    parsed = parse_events(pa.table(cols), skip_bad=True)
    assert parsed.rejects["row"].tolist() == [2] and parsed.events.row.tolist() == [1]
