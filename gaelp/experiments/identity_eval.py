"""Identity resolution against the truth: link quality, and what it does to attribution.

The campaign runs once; our own events (impressions, clicks, purchases) get the world's identity
signals (`world/identity.py`: network address, logins), the resolver (`control/identity.py`) links
their devices, and the links are scored against the devices' true owners. Attribution is then run
three ways on the same logs -- paths cut by device (no resolution), by resolved person, and by true
person -- and each is scored against the replayed truth of `experiments/truth.py` (the conversions
each channel really caused, by running the campaign without it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gaelp.config import Config
from gaelp.control.identity import MIN_PROB, Resolution, pair_scores, resolve
from gaelp.experiments.campaign import run_campaign
from gaelp.experiments.truth import PURCHASE_FIELDS, TOUCH_FIELDS, CampaignLog, attribution_error, model_credit
from gaelp.experiments.truth import truth_report as replay_truth
from gaelp.records import DayLog
from gaelp.world.identity import IdentitySignals

_IMP = (*TOUCH_FIELDS, "device", "key")
_BUY = (*PURCHASE_FIELDS, "device")
MODELS = ("last_click", "linear", "time_decay", "position")


def our_identity_log(cfg: Config, bidder: str | None = None, on_day: Callable[[DayLog], None] | None = None,
                     min_prob: float = MIN_PROB) -> tuple[dict, dict, Resolution, np.ndarray]:
    """Run the campaign; our impressions and purchases, the resolution of their devices, and the truth.

    The resolver sees only our logs' device ids, network addresses and logins (`min_prob`: see
    `control.identity.resolve`); the true owners are read afterwards, to score it.

    Returns:
        impressions (`_IMP` fields), purchases (`_BUY` fields), the resolution, and the (k,) true
        owner of each resolved device.
    """
    res = run_campaign(cfg, bidder, keep_logs=True, on_day=on_day, fields=(_IMP, _BUY))
    imp, buy = res.ours_impressions, res.ours_conversions
    sig = IdentitySignals(cfg.world.devices, res.sim.pop, res.sim.crng)
    device = np.r_[imp["device"], buy["device"]].astype(np.int64)
    t = np.r_[imp["t"], buy["t"]].astype(np.int64)
    is_buy = np.r_[np.zeros(imp["t"].size, bool), np.ones(buy["t"].size, bool)]
    key = np.r_[imp["key"], -1 - np.arange(buy["t"].size)].astype(np.int64)
    clicked_or_bought = np.r_[imp["clicked"].astype(bool), np.ones(buy["t"].size, bool)]
    account = np.where(clicked_or_bought, sig.login(device, key, is_buy), -1)
    resolution = resolve(device, sig.address(device, t), account, min_prob=min_prob)
    return imp, buy, resolution, res.sim.pop.device_owner[resolution.device]


def _log_by(imp: dict, buy: dict, touch_id: np.ndarray, buy_id: np.ndarray) -> CampaignLog:
    touches = {f: imp[f] for f in TOUCH_FIELDS} | {"person": touch_id}
    purchases = {f: buy[f] for f in PURCHASE_FIELDS} | {"person": buy_id}
    return CampaignLog(touches, purchases, np.zeros(0), 0.0)


def _score(x: float) -> float | None:
    return None if np.isnan(x) else round(x, 4)  # JSON has no NaN


def identity_eval(cfg: Config, bidder: str | None = None, attribution: bool = True,
                  on_day: Callable[[DayLog], None] | None = None, min_prob: float | None = None) -> dict[str, Any]:
    """Precision and recall of the links; attribution error by device, resolved and true person.

    Returns:
        `{"precision", "recall", "pairs", "expected_precision", "devices", "people", "attribution":
        {MODEL: {"device", "resolved", "person"}}}` (attribution only when asked: it replays the
        campaign per channel). `expected_precision` is the resolver's own estimate, without truth.
    """
    imp, buy, r, owner = our_identity_log(cfg, bidder, on_day, MIN_PROB if min_prob is None else min_prob)
    scores = {k: _score(v) if isinstance(v, float) else v for k, v in pair_scores(r.person, owner).items()}
    out: dict[str, Any] = {**scores, "expected_precision": _score(r.expected_precision), "devices": int(r.device.size),
                           "people": int(np.unique(owner).size),
                           "resolved_people": int(np.unique(r.person).size)}
    if not attribution:
        return out
    truth = replay_truth(cfg, bidder or cfg.bidder, models=[], on_day=on_day)
    window = cfg.campaign.lookback_days
    ways = {"device": (imp["device"], buy["device"]),
            "resolved": (r.of(imp["device"]), r.of(buy["device"])),
            "person": (imp["person"], buy["person"])}
    credit = {w: model_credit(_log_by(imp, buy, *ids), cfg.channel_names, window, list(MODELS))
              for w, ids in ways.items()}
    out["attribution"] = {m: {w: _score(attribution_error(credit[w][m], truth.caused)) for w in ways}
                          for m in MODELS}
    out["caused"] = {c: float(x) for c, x in zip(cfg.channel_names, truth.caused, strict=True)}
    return out
