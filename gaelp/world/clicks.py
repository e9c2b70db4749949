"""Who clicks on an hour's impressions: the world's click model, for one world or a batch of worlds.

The platform asks it about the impressions it filled (`gaelp.market.clearing.Respond`), maybe several
times an hour as budgets cut advertisers off, so it is a pure function of (opportunity row, slot,
advertiser) and the world's state at the hour's start. `click_response` is that function once; a world
alone calls it through its own counter draws and memory arrays, a batch of worlds through draws and
gathers that take a world per row (`gaelp.experiments.batched`), so both compute the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from gaelp.rng import Purpose
from gaelp.world.response import ResponseModel

SLOT_KEYS = 8  # counter key of an impression = opportunity key * SLOT_KEYS + slot
ADV_KEYS = 64  # counter key of a rival's creative draw = opportunity key * ADV_KEYS + advertiser


class ClickInputs(NamedTuple):
    """One world's open hour as its click model sees it, per opportunity row (all (n,) arrays).

    key: int64 opportunity counter keys.  person, segment, stage: who stands behind the row.
    row_ctr: float64 the person-and-query part of the CTR (`ResponseModel.person_ctr`).
    slot_base: int64 channel * max_slots.  ours_creative: int64 the creative we would show.
    """

    key: np.ndarray
    person: np.ndarray
    segment: np.ndarray
    stage: np.ndarray
    row_ctr: np.ndarray
    slot_base: np.ndarray
    ours_creative: np.ndarray


Draw = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
"""draw(rows, keys, purpose) -> uniforms of the hour's day for keys of opportunity rows (k,)."""
Gather = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""gather(rows, index) -> values at `index` of the memory array of each row's world (k,)."""
Keep = Callable[[np.ndarray, np.ndarray, np.ndarray], None]
"""keep(rows, slots, creatives): note the creative shown at each impression (k,) in its world's table."""


def creatives_shown(key: np.ndarray, row: np.ndarray, adv: np.ndarray, ours: np.ndarray, n_creatives: int,
                    draw: Draw, ours_index: int = 0) -> np.ndarray:
    """(k,) int64 creative of impressions (opportunity row, advertiser): ours as chosen, a rival's from
    a uniform rotation drawn per opportunity and advertiser."""
    u = draw(row, key[row] * ADV_KEYS + adv, Purpose.CREATIVE)
    return np.where(adv == ours_index, ours[row], (u * n_creatives).astype(np.int64))


def click_response(response: ResponseModel, inputs: ClickInputs, n_adv: int, quality: Gather, seen: Gather,
                   seen_creative: Gather, draw: Draw, keep: Keep, r: np.ndarray, s: np.ndarray,
                   a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clicks and click probabilities of impressions (row r, slot s, advertiser a), each (k,).

    Args:
        response: the response model (the same config for every world of a batch).
        inputs: the hour's rows (a batch's: every world's, world-major).
        n_adv: advertisers per world.
        quality: creative quality as people see it, per (row's world, advertiser index).
        seen, seen_creative: decayed impression counts per (person * n_adv + advertiser) and per
            (that cell * n_creatives + creative), from each row's world.
        draw: each row's world's counter draws.
        keep: where the impressions' creatives are noted (the world keeps them for the hour's close).
    """
    n_cr = response.n_creatives
    c = creatives_shown(inputs.key, r, a, inputs.ours_creative, n_cr, draw)
    keep(r, s, c)
    cell = inputs.person[r] * n_adv + a
    p = response.creative_ctr(inputs.row_ctr[r], inputs.slot_base[r] + s, quality(r, a), c, inputs.segment[r],
                              inputs.stage[r], seen(r, cell), seen_creative(r, cell * n_cr + c))
    return draw(r, inputs.key[r] * SLOT_KEYS + s, Purpose.CLICK) < p, p
