"""The CAC guard's margin, chosen for a checkpoint on validation worlds (`gaelp train`, with a horizon table).

With the campaign's horizon (`gaelp.agent.bidder`, `horizon_factor`) the guard's margin is what sets the CAC a
campaign ends at, and a margin that fits one policy does not fit another: 1.2 ends the shipped policy's campaigns
near $104 of a $110 target, a policy trained from scratch near $97, spending 9% less (docs/agent.md, "The
campaign's horizon ships"). So training chooses the margin of the checkpoint it keeps:

1. The checkpoint plays `worlds` validation worlds (seeds `VALIDATION_SEED_BASE + first ...`, after those its
   choice was made on) at the start margin (`HORIZON_GUARD_MARGIN`), then at steps of `MARGIN_STEP`: upwards while
   a margin stays within the risk below, or downwards until one does, within `MARGIN_RANGE`.
2. A margin's risk is the share of campaigns that end over the target CPA, from a log-normal fitted to the worlds'
   CACs (`over_target_share`): smoother than a count, where one campaign of twelve is eight points.
3. The chosen margin scores the highest mean among those within `risk` (`MARGIN_RISK`, 5%: half the one campaign
   in ten the agent's target allows, for the estimate's own noise on a dozen worlds); if none is, the one of the
   lowest risk, with a warning.

The checkpoint's `horizon_guard_margin` is rewritten with the choice, and `margin_choice` records every margin
played (its worlds' scores and CACs, its mean and its risk). Held-out worlds (seeds 0-899) are never played here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import norm

from gaelp.agent import MARGIN_RISK
from gaelp.agent.bidder import HORIZON_GUARD_MARGIN

MARGIN_STEP = 0.1
"""The step between the margins played (a multiple of the target CPA)."""

MARGIN_RANGE = (0.9, 1.8)
"""The margins the search may reach: from about the guard's margin without a horizon (0.97) to 1.5x the start."""


def over_target_share(cacs: Sequence[float], target: float) -> float:
    """The share of campaigns whose CAC ends over `target`: a log-normal fitted to the finite `cacs` (a campaign
    without a purchase, CAC infinite or undefined, counts as over). With fewer than two finite CACs, or all equal,
    the plain share.

    Example:
        >>> round(over_target_share([90.0, 100.0, 110.0], 110.0), 3)
        0.163
    """
    c = np.asarray(cacs, dtype=np.float64)
    if c.size == 0:
        raise ValueError("over_target_share: no campaign")
    finite = c[np.isfinite(c) & (c > 0)]
    lost = c.size - finite.size
    logs = np.log(finite)
    if finite.size < 2 or np.ptp(logs) == 0:
        return float((lost + np.sum(finite > target)) / c.size)
    fitted = float(norm.sf((math.log(target) - logs.mean()) / logs.std(ddof=1)))
    return (lost + finite.size * fitted) / c.size


@dataclass(frozen=True)
class MarginTrial:
    """One margin played on the margin's worlds: each world's score and CAC, and the margin's risk."""

    margin: float
    scores: tuple[float, ...]
    cacs: tuple[float, ...]
    risk: float

    @property
    def mean_score(self) -> float:
        """The mean of its worlds' scores: what the choice ranks margins by."""
        return float(np.mean(self.scores))

    def to_json(self) -> dict[str, Any]:
        """Its JSON record (a campaign without a purchase: CAC null)."""
        return {"margin": self.margin, "mean_score": self.mean_score, "over_target_share": self.risk,
                "scores": list(self.scores), "cacs": [c if math.isfinite(c) else None for c in self.cacs]}


@dataclass(frozen=True)
class MarginChoice:
    """What `search_margin` found: the chosen margin and every margin played, in the order played."""

    margin: float
    trials: tuple[MarginTrial, ...]
    worlds: tuple[int, ...]
    risk: float

    def to_json(self) -> dict[str, Any]:
        """`margin_choice` of the checkpoint, and `guard_margin` of `gaelp train --json`."""
        return {"chosen": self.margin, "risk": self.risk, "worlds": list(self.worlds),
                "trials": [t.to_json() for t in self.trials]}


def search_margin(play: Callable[[float], list[dict[str, float]]], target_cpa: float,
                  start: float = HORIZON_GUARD_MARGIN, step: float = MARGIN_STEP,
                  bounds: tuple[float, float] = MARGIN_RANGE, risk: float = MARGIN_RISK,
                  worlds: Sequence[int] = ()) -> MarginChoice:
    """The margin of the highest mean score among those whose risk is at most `risk` (see the module's docstring).

    Args:
        play: a margin -> each margin world's KPIs (at least `score` and `cac`), the same worlds for every margin.
        target_cpa: the campaign's target CPA.  start: the first margin played.  step: between margins.
        bounds: the lowest and highest margin played.  risk: the largest share over the target a choice may have.
        worlds: the worlds' seeds, for the record.

    Raises:
        ValueError: `start` outside `bounds`, `step` not positive, or `risk` outside [0, 1).
    """
    lo, hi = bounds
    if not (step > 0 and 0 < lo <= start <= hi):
        raise ValueError(f"search_margin: need step > 0 and 0 < {lo} <= start <= {hi}, got start {start}, step {step}")
    if not 0 <= risk < 1:
        raise ValueError(f"search_margin: risk must be in [0, 1), got {risk}")
    trials: list[MarginTrial] = []

    def trial(m: float) -> MarginTrial:
        rows = play(m)
        cacs = tuple(float(r["cac"]) for r in rows)
        trials.append(MarginTrial(m, tuple(float(r["score"]) for r in rows), cacs, over_target_share(cacs, target_cpa)))
        return trials[-1]

    # margins on a grid from the start (rounded, so that 1.2 + 0.1 is 1.3 in the record)
    up = trial(start).risk <= risk
    k = 1
    while True:
        m = round(start + (k if up else -k) * step, 6)
        if not lo - 1e-9 <= m <= hi + 1e-9:
            break
        within = trial(m).risk <= risk
        if within != up:  # upwards: the first margin over the risk; downwards: the first within it
            break
        k += 1
    ok = [t for t in trials if t.risk <= risk]
    if ok:
        best = max(ok, key=lambda t: (t.mean_score, -t.margin))  # the lower margin of equal means
    else:
        best = min(trials, key=lambda t: (t.risk, t.margin))
        warnings.warn(f"no guard margin within {lo}-{hi} kept the share of campaigns over the target CPA at or below "
                      f"{risk:.0%} on the validation worlds; chose {best.margin} (share {best.risk:.1%})",
                      stacklevel=2)
    return MarginChoice(best.margin, tuple(trials), tuple(worlds), risk)


def write_margin(path: Path, choice: MarginChoice) -> None:
    """Rewrite checkpoint `path` with the chosen `horizon_guard_margin` and its record (`margin_choice`), atomically."""
    from gaelp.agent.network import load_checkpoint, write_checkpoint

    ckpt = load_checkpoint(path)
    if ckpt.get("horizon") is None:
        raise ValueError(f"{path} has no horizon table: its guard plays at the margin without one, not a chosen one")
    ckpt["horizon_guard_margin"] = choice.margin
    ckpt["margin_choice"] = choice.to_json()
    write_checkpoint(path, ckpt)
