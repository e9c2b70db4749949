"""Reading a click log for the conversion-lag model (`gaelp lag fit`).

One row per click. Columns (names are exact; timestamps as in `gaelp.attribution.tables`: ISO 8601
with `Z` or an offset, or epoch seconds):

* `click_time` (required): when the click happened.
* when the log was observed, one of:
  - `observation_time`: a timestamp per row, or
  - `elapsed_h`: hours from the click to the observation, or
  - none of them, with `observed_at` given (one export time for the whole log).
* the conversion, where one was seen (empty otherwise), one of:
  - `conversion_time`: a timestamp, or
  - `delay_h`: hours from the click to the conversion.
* optionally a group column (e.g. `segment`, `channel`), chosen by the caller.

A conversion before its click or after the observation time, a negative elapsed time and an
unparseable value are bad rows, reported with their row numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from gaelp.attribution.files import as_pandas
from gaelp.attribution.lag import ClickLog
from gaelp.attribution.tables import BadRowsError, RowErrors, parse_numbers, parse_timestamps, text_column

OBSERVATION_COLUMNS = ("observation_time", "elapsed_h")
CONVERSION_COLUMNS = ("conversion_time", "delay_h")


@dataclass(frozen=True, slots=True, eq=False)
class ParsedClicks:
    """A validated click log; `groups` is (n,) labels or None."""

    log: ClickLog
    groups: np.ndarray | None
    rejects: pd.DataFrame


def _present(col: pd.Series) -> np.ndarray:
    """(n,) bool: the cell holds something (not NaN / None / blank)."""
    return col.notna().to_numpy() & (text_column(col) != "")


def _one_of(df: pd.DataFrame, names: tuple[str, ...], what: str, required: bool) -> str | None:
    present = [c for c in names if c in df.columns]
    if len(present) > 1:
        raise ValueError(f"give only one {what.split()[-1]} column, not {' and '.join(present)}")
    if not present and required:
        raise ValueError(
            f"click log needs {what} column: one of {', '.join(names)}; it has "
            f"{', '.join(map(str, df.columns))}"
        )
    return present[0] if present else None


def parse_click_log(
    df: pd.DataFrame | pa.Table,
    *,
    group: str | None = None,
    observed_at: str | None = None,
    skip_bad: bool = False,
) -> ParsedClicks:
    """Validate a click log and compute elapsed and delay hours.

    Args:
        df: The log (see module docstring for columns).
        group: Name of the grouping column, or None for one group.
        observed_at: Observation time of the whole log (timestamp), used when the log has no
            `observation_time` / `elapsed_h` column.
        skip_bad: Return bad rows in `rejects` instead of raising.

    Raises:
        ValueError: Missing or conflicting columns, or a bad `observed_at`.
        BadRowsError: Bad rows and `skip_bad` is False.

    """
    df = as_pandas(df)
    if "click_time" not in df.columns:
        raise ValueError(
            f"click log needs a click_time column; it has {', '.join(map(str, df.columns))}"
        )
    if group is not None and group not in df.columns:
        raise ValueError(f"group column {group!r} not in the click log")
    obs_col = _one_of(df, OBSERVATION_COLUMNS, "an observation", required=observed_at is None)
    conv_col = _one_of(df, CONVERSION_COLUMNS, "a conversion", required=True)
    n = len(df)
    errors = RowErrors(n, df)
    click = parse_timestamps(df["click_time"], errors, "click_time")

    if obs_col == "elapsed_h":
        elapsed = parse_numbers(df["elapsed_h"], n, errors, "elapsed_h")
        errors.flag(~_present(df["elapsed_h"]), None, "missing elapsed_h")
    else:
        if obs_col == "observation_time":
            obs = parse_timestamps(df["observation_time"], errors, "observation_time")
        else:
            probe = RowErrors(1)
            at = parse_timestamps(pd.Series([observed_at]), probe, "observed_at")
            if probe.bad[0]:
                raise ValueError(probe.reasons[0][0])
            obs = np.full(n, at[0])
        elapsed = (obs - click) / 3600.0
        errors.flag(elapsed < 0, None, "observation time is before the click")

    seen = _present(df[conv_col])  # an empty cell means "no conversion seen"
    if conv_col == "delay_h":
        delay = np.where(seen, parse_numbers(df["delay_h"], n, errors, "delay_h"), np.nan)
    else:
        conv_errors = RowErrors(n)
        conv_t = parse_timestamps(df["conversion_time"], conv_errors, "conversion_time")
        errors.merge(conv_errors, seen)
        delay = np.where(seen, (conv_t - click) / 3600.0, np.nan)
        errors.flag(seen & (delay < 0), None, "conversion_time is before click_time")
    errors.flag(seen & (delay > elapsed + 1e-9), None, "conversion seen after the observation time")

    labels = None
    if group is not None:
        labels = text_column(df[group])
        errors.flag(labels == "", None, f"missing {group}")

    rejects = errors.rejects(df)
    if rejects.shape[0] and not skip_bad:
        raise BadRowsError(rejects)
    good = ~errors.bad
    log = ClickLog(elapsed_h=elapsed[good], delay_h=delay[good])
    return ParsedClicks(log, None if labels is None else labels[good], rejects)
