"""Creative selection against the truth: does our selector find each segment's best message?

The same world runs twice, once with our creatives chosen by Thompson sampling and once in a uniform
rotation. Measured on our impressions:

* the share that showed the person's best creative (the highest appeal for their segment and stage,
  fatigue aside: `ResponseModel.best_creative`), per segment, over the last `tail_days` days;
* the CTR of each run, overall and over the last `tail_days` days, and the gain of the selector
  over the rotation.

The selector never sees segments or stages: it learns per context it can see (channel, query intent,
device type) and from each device's own history, so it can only find what these reveal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gaelp.bidders.protocol import OURS
from gaelp.config import Config
from gaelp.records import DayLog, HourRecord
from gaelp.simulation import Simulation


def _tally(cfg: Config, mode: str, tail_days: int, on_day: Callable[[DayLog], None] | None) -> dict[str, Any]:
    n_seg = len(cfg.world.segments)
    k = len(cfg.world.creatives.names)
    start = 24 * max(cfg.days - tail_days, 0)
    shown = np.zeros((n_seg, k))  # tail impressions by (segment, creative)
    best_hits = np.zeros(n_seg)
    tail = np.zeros(2)  # impressions, clicks

    def tally(record: HourRecord) -> None:
        if record.t < start:
            return
        cl = record.impressions
        ours = np.flatnonzero(cl.advertiser == OURS)
        row, c = cl.row[ours], record.creative[ours]
        seg, stage = record.truth.segment[row].astype(np.int64), record.truth.stage[row]
        np.add.at(shown, (seg, c), 1.0)
        np.add.at(best_hits, seg, (c == sim.response.best_creative(seg, stage)).astype(np.float64))
        tail[:] += np.array([ours.size, np.count_nonzero(cl.clicked[ours])], np.float64)

    sim = Simulation(cfg.model_copy(update={"campaign": cfg.campaign.model_copy(update={"creatives": mode})}),
                     observers=[tally])
    sim.run(cfg.days, on_day=on_day)
    c = sim.kpis.creative
    n = shown.sum(axis=1)
    return {"ctr": float(c["clicks"].sum() / max(c["impressions"].sum(), 1.0)),
            "ctr_tail": float(tail[1] / max(tail[0], 1.0)),
            "best_share": {s.name: (float(best_hits[i] / n[i]) if n[i] else None)
                           for i, s in enumerate(cfg.world.segments)},
            "best_share_all": float(best_hits.sum() / max(n.sum(), 1.0)),
            "mix": {s.name: dict(zip(cfg.world.creatives.names, (shown[i] / max(n[i], 1.0)).round(3).tolist(),
                                     strict=True)) for i, s in enumerate(cfg.world.segments)}}


def creatives_eval(cfg: Config, tail_days: int = 7,
                   on_day: Callable[[DayLog], None] | None = None) -> dict[str, Any]:
    """Thompson sampling against a uniform rotation in the same world.

    Returns:
        `{"thompson": {...}, "rotate": {...}, "ctr_gain", "ctr_gain_tail"}`, each run with `ctr`,
        `ctr_tail`, `best_share` by segment, `best_share_all` and the creative `mix` by segment.
    """
    ts = _tally(cfg, "thompson", tail_days, on_day)
    rot = _tally(cfg, "rotate", tail_days, on_day)
    return {"tail_days": tail_days, "thompson": ts, "rotate": rot,
            "ctr_gain": ts["ctr"] / rot["ctr"] - 1.0 if rot["ctr"] else None,
            "ctr_gain_tail": ts["ctr_tail"] / rot["ctr_tail"] - 1.0 if rot["ctr_tail"] else None}
