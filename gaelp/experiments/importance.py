"""Importance sampling of people: oversample rare, valuable segments and weight them back.

A world with `crisis=4` draws its population from segment shares q in which crisis parents weigh
four times their share p (renormalized), and each person of segment s counts `p_s / q_s` in the KPIs:
any sum over people (impressions, spend, purchases) then has the expected value of the plain world's,
while the rare segment gets about q / p times more people, so its estimates vary less at equal compute.

The oversampling is a change of the config's segment shares, so `world/` draws people as it always
does and a world without `--importance` is the same world, byte for byte. What a sum over people
cannot capture stays biased: the market couples people through budgets and auctions, so a world with
more crisis parents also clears its auctions differently for everyone else (docs/notes-montecarlo.md
measures how far).
"""

from __future__ import annotations

import numpy as np

from gaelp.config import Config


def parse_importance(spec: str | None, segments: tuple[str, ...]) -> dict[str, float]:
    """Parse `--importance` text such as "crisis=4" or "crisis=4,researcher=2".

    Args:
        spec: comma-separated `segment=factor` pairs (None or "": no importance sampling).
        segments: the config's segment names.

    Returns:
        segment name -> oversampling factor (> 0).

    Raises:
        ValueError: naming the bad pair and what is allowed.
    """
    out: dict[str, float] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq:
            raise ValueError(f"importance: {part.strip()!r} is not segment=factor (e.g. crisis=4)")
        if name not in segments:
            raise ValueError(f"importance: unknown segment {name!r}; known: {', '.join(segments)}")
        try:
            factor = float(value)
        except ValueError:
            raise ValueError(f"importance: factor of {name!r} must be a number, got {value.strip()!r}") from None
        if not np.isfinite(factor) or factor <= 0:
            raise ValueError(f"importance: factor of {name!r} must be a positive number, got {value.strip()!r}")
        if name in out:
            raise ValueError(f"importance: segment {name!r} given twice")
        out[name] = factor
    return out


def importance_config(cfg: Config, factors: dict[str, float]) -> tuple[Config, np.ndarray]:
    """The config that oversamples `factors`' segments, and each segment's weight.

    Args:
        cfg: the plain world's config.
        factors: segment name -> oversampling factor (from `parse_importance`).

    Returns:
        (config with shares q, (n_segments,) float64 weights p / q). No factor other than 1 returns
        `cfg` itself and weights of exactly 1.
    """
    segs = cfg.world.segments
    p = np.array([s.share for s in segs], dtype=np.float64)
    p = p / p.sum()
    f = np.array([factors.get(s.name, 1.0) for s in segs], dtype=np.float64)
    if np.all(f == 1.0):
        return cfg, np.ones(len(segs))
    q = p * f / (p * f).sum()
    data = cfg.model_dump()
    for seg, share in zip(data["world"]["segments"], q, strict=True):
        seg["share"] = float(share)
    return Config.model_validate(data), p / q
