"""Click logs for the lag model: accepted column layouts and bad rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gaelp.attribution.lag_table import parse_click_log
from gaelp.attribution.tables import BadRowsError

T0 = 1_704_067_200


def test_timestamps_layout() -> None:
    df = pd.DataFrame(
        {
            "click_time": ["2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z", str(T0)],
            "observation_time": ["2024-01-03T00:00:00Z"] * 3,
            "conversion_time": ["2024-01-01T05:00:00+01:00", "", ""],
            "segment": ["crisis", "researcher", "crisis"],
        }
    )
    parsed = parse_click_log(df, group="segment")
    np.testing.assert_allclose(parsed.log.elapsed_h, [48.0, 42.0, 48.0])
    np.testing.assert_allclose(parsed.log.delay_h, [4.0, np.nan, np.nan])
    assert parsed.groups.tolist() == ["crisis", "researcher", "crisis"]


def test_hours_layout_and_global_observation_time() -> None:
    hours = pd.DataFrame(
        {"click_time": [str(T0)] * 2, "elapsed_h": [10, 20.5], "delay_h": [np.nan, 3.0]}
    )
    parsed = parse_click_log(hours)
    np.testing.assert_allclose(parsed.log.elapsed_h, [10.0, 20.5])
    np.testing.assert_allclose(parsed.log.delay_h, [np.nan, 3.0])
    export = pd.DataFrame({"click_time": ["2024-01-01T00:00:00Z"], "delay_h": [""]})
    at = parse_click_log(export, observed_at="2024-01-02T00:00:00Z")
    np.testing.assert_allclose(at.log.elapsed_h, [24.0])


@pytest.mark.parametrize(
    ("columns", "kwargs", "message"),
    [
        ({"click_time": [str(T0)], "delay_h": [""]}, {}, "needs an observation column"),
        ({"click_time": [str(T0)], "elapsed_h": [1]}, {}, "needs a conversion column"),
        (
            {
                "click_time": [str(T0)],
                "elapsed_h": [1],
                "observation_time": [str(T0)],
                "delay_h": [""],
            },
            {},
            "not observation_time and elapsed_h",
        ),
        ({"click_time": [str(T0)], "delay_h": [""]}, {"observed_at": "tomorrow"}, "observed_at"),
        (
            {"click_time": [str(T0)], "elapsed_h": [1], "delay_h": [""]},
            {"group": "seg"},
            "group column 'seg'",
        ),
    ],
)
def test_column_errors(columns: dict, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_click_log(pd.DataFrame(columns), **kwargs)


def test_bad_rows_are_named() -> None:
    df = pd.DataFrame(
        {
            "click_time": [
                "2024-01-01T10:00:00Z",
                "2024-01-01T10:00:00",
                str(T0),
                str(T0),
                str(T0),
            ],
            "observation_time": [str(T0)] * 2 + ["2024-01-02T00:00:00Z"] * 3,
            "conversion_time": ["", "", "2023-12-31T00:00:00Z", "2024-01-05T00:00:00Z", "soon"],
        }
    )
    with pytest.raises(BadRowsError) as info:
        parse_click_log(df)
    text = str(info.value)
    assert "row 1: observation time is before the click" in text
    assert "row 2: click_time '2024-01-01T10:00:00' has no time zone" in text
    assert "row 3: conversion_time is before click_time" in text
    assert "row 4: conversion seen after the observation time" in text
    assert "row 5: conversion_time 'soon' is not ISO 8601" in text
    assert parse_click_log(df, skip_bad=True).rejects["row"].tolist() == [1, 2, 3, 4, 5]
