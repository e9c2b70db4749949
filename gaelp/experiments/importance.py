"""Importance sampling of people: oversample rare, valuable segments and weight them back.

A world with `crisis=4` draws its population with the crisis parents' share four times its size
(renormalized), and each person of segment s weighs `share_s / drawn share_s` (`world.population.
sampling_shares`): any sum over people (impressions, purchases) keeps the plain world's expected value,
while the rare segment gets about drawn share / share times more people, so its estimates vary less at
equal compute. The platform charges plain prices w times as often as a plain world's impression does,
on average, on an impression of weight w (`market.clearing.charged_impressions`), so budgets run down and end
at the plain world's pace and the people of other segments meet the same market; every opportunity
and pixel purchase carries its person's weight to the advertisers (`OpportunityBatch.weight`), whose
learners weight each observation by it and so learn as from the plain population.

The factors live in the config (`world.importance`, empty by default), so a world without them is the
same world, byte for byte, and a config file can ask for them too.
"""

from __future__ import annotations

import math

from pydantic import ValidationError

from gaelp.config import Config


def parse_importance(spec: str | None) -> dict[str, float]:
    """Parse `--importance` text such as "crisis=4" or "crisis=4,researcher=2".

    Args:
        spec: comma-separated `segment=factor` pairs (None or "": no importance sampling).

    Returns:
        segment name -> oversampling factor (the config checks the names and that factors are > 0).

    Raises:
        ValueError: naming the bad pair and what is allowed.
    """
    out: dict[str, float] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not name:
            raise ValueError(f"importance: {part.strip()!r} is not segment=factor (e.g. crisis=4)")
        try:
            factor = float(value)
        except ValueError:
            raise ValueError(f"importance: factor of {name!r} must be a number, got {value.strip()!r}") from None
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"importance: factor of {name!r} must be a positive number, got {value.strip()!r}")
        if name in out:
            raise ValueError(f"importance: segment {name!r} given twice")
        out[name] = factor
    return out


def with_importance(cfg: Config, factors: dict[str, float]) -> Config:
    """`cfg` with `world.importance` set to `factors` (a validated copy).

    Raises:
        ValueError: an unknown segment, naming the known ones.
    """
    data = cfg.model_dump()
    data["world"]["importance"] = dict(factors)
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ValueError("; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())) from None
