"""The score of a campaign: the CPA-constrained score of the auto-bidding benchmarks.

    score = conversions x min(1, (target CPA / CAC)^2)

Conversions and CAC are those of the KPI table's totals (`Kpis.table()["totals"]`): our click-through
purchases (last click of ours within the lookback window) and spend per such purchase. A campaign
within its target CPA scores its conversions; one above it loses score with the square of the
overshoot, so buying conversions at any price does not pay. A campaign without conversions scores 0
(its CAC is undefined: None in the KPI table, null in JSON). Everyone scores with this one function:
the evaluation, the hindsight search of `oracle_lp`, and the agent's training score.

Example:
    >>> campaign_score(200, 90.0, target_cpa=110.0)
    200.0
    >>> campaign_score(200, 220.0, target_cpa=110.0)
    50.0
    >>> campaign_score(0, None, target_cpa=110.0)
    0.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RATIO_TARGET = 0.8  # the agent's target: 80% of oracle_lp's score (median of the per-world ratios)
ROAS_LINE = 2.0  # the agent's per-world line, with a CAC under the target CPA: a ROAS over 2 (the issue's)


def campaign_score(conversions: float, cac: float | None, target_cpa: float) -> float:
    """`conversions x min(1, (target_cpa / cac)^2)`; 0 without conversions.

    Args:
        conversions: click-through conversions of the campaign (>= 0).
        cac: spend per conversion, None when there is none; a CAC of 0 (free clicks) keeps every conversion.
        target_cpa: the campaign's target cost per acquisition (> 0), `config.bidders.target_cpa`.

    Raises:
        ValueError: a negative count, a non-positive target or a missing CAC with conversions.
    """
    if conversions < 0:
        raise ValueError(f"conversions must be >= 0, got {conversions!r}")
    if not target_cpa > 0:
        raise ValueError(f"target_cpa must be > 0, got {target_cpa!r}")
    if conversions == 0:
        return 0.0
    if cac is None:
        raise ValueError(f"cac is None with {conversions} conversions")
    if cac <= target_cpa:
        return float(conversions)
    return float(conversions) * (target_cpa / cac) ** 2


def totals_score(totals: Mapping[str, Any], target_cpa: float) -> float:
    """The score of a KPI table's `totals` row (keys `conversions` and `cac`)."""
    return campaign_score(totals["conversions"], totals["cac"], target_cpa)
