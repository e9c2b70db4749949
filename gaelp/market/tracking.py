"""The ad platform's conversion tracking: which of our purchases a click or an impression of ours led to.

Ad platforms report a conversion to the channel of the person's last click of the advertiser within
the lookback window (click-through), or of its last impression (view-through). The platform knows
its signed-in users across devices, so this runs by person: it is ground truth for the KPI tables,
never something a bidder sees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gaelp.stacked import Stacked


class TouchTracker:
    """Ground-truth record of our touches per person, to classify and describe our conversions.

    Attributes (all (n_people,)): last_click_t / last_click_ch, last_imp_t / last_imp_ch (-1 none).
    """

    FIELDS = ("last_click_t", "last_click_ch", "last_imp_t", "last_imp_ch")

    def __init__(self, n_people: int) -> None:
        self.last_click_t, self.last_click_ch, self.last_imp_t, self.last_imp_ch = (
            np.full(n_people, -1, np.int32) for _ in self.FIELDS)

    def touch(self, t: int, person: np.ndarray, channel: np.ndarray, clicked: np.ndarray) -> None:
        """Record impressions of ours (rows in time order, so later rows win on repeats)."""
        self.last_imp_t[person] = t
        self.last_imp_ch[person] = channel
        click = np.flatnonzero(clicked)
        if click.size:  # most hours of a small world have no click of ours
            who = person[click]
            self.last_click_t[who] = t
            self.last_click_ch[who] = channel[click]

    def classify(self, t: int, person: np.ndarray, window_h: int) -> tuple[np.ndarray, np.ndarray]:
        """For purchases of ours at hour t: the credited channel (-1 none) and whether by a click."""
        click_t, imp_t = self.last_click_t[person], self.last_imp_t[person]
        click_ok = (click_t >= 0) & (t - click_t <= window_h)
        imp_ok = (imp_t >= 0) & (t - imp_t <= window_h)
        ch = np.where(click_ok, self.last_click_ch[person], np.where(imp_ok, self.last_imp_ch[person], -1))
        return ch, click_ok

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the arrays."""
        return {f"touch_{f}": getattr(self, f).copy() for f in self.FIELDS}

    def load_state_dict(self, s: dict[str, np.ndarray]) -> None:
        """Restore `state_dict` output."""
        for f in self.FIELDS:
            setattr(self, f, np.array(s[f"touch_{f}"], np.int32))


class WorldsTouches(TouchTracker):
    """The touch trackers of a batch of worlds (the same number of people each) as one tracker of W * n people:
    person `w * n + i` is world w's person i, and the arrays are rows of (W, n) arrays that the worlds' trackers
    view (`Stacked`), so one `touch` records every world's touches in each world's own tracker.

    Args:
        trackers: each world's tracker, in world order.
    """

    def __init__(self, trackers: Sequence[TouchTracker]) -> None:  # the arrays are the worlds', set at each touch
        self._stacked = [Stacked(trackers, f) for f in self.FIELDS]

    def _view(self) -> None:
        """Take the worlds' current arrays (a world may have rebound its own: a restored checkpoint)."""
        for f, stacked in zip(self.FIELDS, self._stacked, strict=True):
            setattr(self, f, stacked.get().reshape(-1))

    def touch(self, t: int, person: np.ndarray, channel: np.ndarray, clicked: np.ndarray) -> None:
        """`TouchTracker.touch` of every world's impressions of ours (`person`: w * n + i, world-major)."""
        self._view()
        super().touch(t, person, channel, clicked)

    def classify(self, t: int, person: np.ndarray, window_h: int) -> tuple[np.ndarray, np.ndarray]:
        """`TouchTracker.classify` of every world's purchases of ours (`person`: w * n + i)."""
        self._view()
        return super().classify(t, person, window_h)
