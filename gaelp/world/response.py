"""How people respond to an ad: click-through, post-click purchase and its lag.

All functions are vectorised over impressions; the advertiser-specific factors (creative quality,
product appeal) come in as per-impression arrays.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from gaelp.config import WorldConfig


class ResponseModel:
    """Click and purchase probabilities, and post-click lags, from the world config."""

    def __init__(self, cfg: WorldConfig) -> None:
        j = cfg.journey
        n_slots = max(c.slots for c in cfg.channels)
        self.pos_ctr = np.zeros((len(cfg.channels), n_slots))
        for i, c in enumerate(cfg.channels):
            self.pos_ctr[i, : c.slots] = np.asarray(c.position_ctr) * c.ctr
        self._pos_ctr_flat = self.pos_ctr.reshape(-1)  # a view: indexed by channel * max_slots + slot
        self.ctr_stage = np.asarray(j.ctr_stage)
        self.ctr_seg = np.array([s.ctr_mult for s in cfg.segments])
        self.intent_ctr = np.asarray(j.intent_ctr)
        self.fatigue = j.fatigue
        cr = cfg.creatives
        self.n_creatives = len(cr.names)
        ones = (1.0,) * self.n_creatives
        self.appeal_segment = np.array([cr.appeal_segment.get(s.name, ones) for s in cfg.segments],
                                       dtype=np.float64).T  # (n_creatives, n_segments)
        self.appeal_stage = np.asarray(cr.appeal_stage, dtype=np.float64)  # (n_creatives, n_stages)
        # (n_creatives * n_segments * n_stages,) their product, flat: one lookup per impression, not two
        self._appeal_flat = (self.appeal_segment[:, :, None] * self.appeal_stage[:, None, :]).reshape(-1)
        self._n_segments, self._n_stages = self.appeal_segment.shape[1], self.appeal_stage.shape[1]
        # fatigue of the brand and of the one creative seen again; in a uniform rotation of all creatives
        # they add up to `fatigue` per impression of the advertiser
        self.fatigue_brand = j.fatigue * (1.0 - cr.same_share)
        self.fatigue_same = j.fatigue * cr.same_share * self.n_creatives
        self.cvr_seg = np.array([s.cvr for s in cfg.segments])
        self.cvr_stage = np.asarray(j.cvr_stage)
        self.cvr_channel = np.array([c.cvr_mult for c in cfg.channels])
        self.cvr_device = np.array([cfg.devices.cvr_mobile, cfg.devices.cvr_desktop])
        self.intent_cvr = np.asarray(j.intent_cvr)
        self.lag_log_median = np.log([s.lag_median_h for s in cfg.segments])
        self.lag_sigma = np.array([s.lag_sigma for s in cfg.segments])
        self.fast_share = j.fast_share
        self.fast_mean_h = j.fast_mean_h
        self.value = np.array([s.value for s in cfg.segments])

    def ctr(self, channel, slot, segment, stage, intent, quality, seen) -> np.ndarray:
        """Click probability of impressions.

        Args:
            channel, slot, segment, stage, intent: (k,) integer arrays.
            quality: (k,) creative quality of the advertiser shown.
            seen: (k,) decayed count of that advertiser's earlier impressions (creative fatigue).
        """
        return self.ctr_of(self.person_ctr(segment, stage, intent), channel * self.pos_ctr.shape[1] + slot,
                           quality, seen)

    def person_ctr(self, segment, stage, intent) -> np.ndarray:
        """(n,) the person-and-query part of the CTR of each opportunity (computed once per hour)."""
        return self.ctr_stage[stage] * self.ctr_seg[segment] * self.intent_ctr[intent]

    def ctr_of(self, person_ctr, channel_slot, quality, seen) -> np.ndarray:
        """CTR of impressions from `person_ctr` of their opportunity, channel * max_slots + slot,
        the advertiser's creative quality and the fatigue count."""
        p = self._pos_ctr_flat[channel_slot] * person_ctr * quality / (1.0 + self.fatigue * seen)
        return np.minimum(p, 0.95)

    def creative_ctr(self, person_ctr, channel_slot, quality, creative, segment, stage, seen_brand,
                     seen_creative) -> np.ndarray:
        """CTR of impressions that show a given creative.

        Args:
            person_ctr: (k,) the person-and-query part (`person_ctr`).
            channel_slot: (k,) channel * max_slots + slot.
            quality: (k,) the advertiser's quality.
            creative: (k,) int64.  segment, stage: (k,) integer arrays.
            seen_brand: (k,) decayed count of the advertiser's earlier impressions to the person.
            seen_creative: (k,) the same for this creative alone.
        """
        # creative (int64) first, so the small integer types of segment and stage cannot overflow
        appeal = self._appeal_flat.take((creative * self._n_segments + segment) * self._n_stages + stage)
        p = (self._pos_ctr_flat[channel_slot] * person_ctr * quality * appeal
             / (1.0 + self.fatigue_brand * seen_brand + self.fatigue_same * seen_creative))
        return np.minimum(p, 0.95)

    def best_creative(self, segment: np.ndarray, stage: np.ndarray) -> np.ndarray:
        """(k,) the creative with the highest appeal for each (segment, stage), fatigue aside (the truth)."""
        return np.argmax(self.appeal_segment[:, segment] * self.appeal_stage[:, stage], axis=0)

    def cvr(self, channel, segment, stage, intent, device_type, hour_cvr, appeal) -> np.ndarray:
        """Probability that a click leads to a purchase of the clicked advertiser (eventually).

        Args:
            channel, segment, stage, intent, device_type: (k,) integer arrays.
            hour_cvr: scalar hour-of-day multiplier.
            appeal: (k,) or scalar product appeal of the advertiser clicked.
        """
        p = (self.cvr_seg[segment] * self.cvr_stage[stage] * self.cvr_channel[channel]
             * self.cvr_device[device_type] * self.intent_cvr[intent] * hour_cvr * appeal)
        return np.minimum(p, 0.95)

    def lag_hours(self, segment: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Post-click purchase lag in hours from one uniform per purchase.

        A fast mode (exponential, mean `fast_mean_h`) with probability `fast_share`, else a
        log-normal with the segment's median and sigma: a long tail past 30 days.
        """
        fast = u < self.fast_share
        lag = np.empty_like(u)
        lag[fast] = -self.fast_mean_h * np.log1p(-u[fast] / self.fast_share)
        z = ndtri(np.clip((u[~fast] - self.fast_share) / (1.0 - self.fast_share), 1e-12, 1 - 1e-12))
        s = segment[~fast]
        lag[~fast] = np.exp(self.lag_log_median[s] + self.lag_sigma[s] * z)
        return lag

    def lag_survival(self, segment: np.ndarray, hours: float | np.ndarray) -> np.ndarray:
        """P(lag > hours) for each segment's lag distribution (used by tests and oracles)."""
        h = np.maximum(np.asarray(hours, dtype=np.float64), 1e-12)
        fast = self.fast_share * np.exp(-h / self.fast_mean_h)
        slow = (1 - self.fast_share) * (1 - ndtr((np.log(h) - self.lag_log_median[segment]) / self.lag_sigma[segment]))
        return fast + slow
