"""The value model's prior, fitted offline on our pixel logs of many past campaigns (training worlds only).

One campaign gives the online value model a few hundred purchases at best: too few to rank clicks well
with more than a handful of weights. An advertiser has its past campaigns' logs; this module pools them
and fits the value model's weights once, offline, as the prior (`prior_w`) the agent starts from and is
anchored to.

* `collect_world` plays one training world (seed `PRIOR_SEED_BASE + k`, never a validation or held-out
  seed; the market randomised as in training) with an untrained agent (the flat prior, the value model
  learning online) that bids `bid_scale` x target CPA x p_hat on `budget_scale` x our daily budget (by
  default 1 and 1: the all-zero action on the campaign's budget). Higher settings buy more clicks and
  labels per simulated person (4 and 100: about 2x the clicks and labels per world for about the same CPU
  time), but a prior fitted on them neither ranked better per label nor bid better on validation worlds
  (docs/agent.md, "More labels for the prior"). It keeps what its value model logged: the encoder's feature row of each click
  of ours, and the hour our pixel reported a purchase that labels it (by resolved person, as the agent
  labels). Nothing else: the bidder never sees the truth.
* A click's label is a purchase within `LABEL_WINDOW_H` of it: the lookback window's later purchases are
  mostly ones the click did not cause (a clicker also buys organically, at a flat rate over the weeks
  after the click; docs/agent.md). Labels are censored at the campaign's end: a click younger than the
  window may still convert. `fit_prior` fits by EM as the online model does (`gaelp.agent.value`): an
  exponential lag fitted on the pooled log, each unconverted click's soft label
  `prob_converts_later(p, S(elapsed))`, then an L2-anchored logistic fit on the model's terms
  (`value_terms` with interactions, or the encoder's row).
* `build_prior` does both over `worlds` worlds. `gaelp train` calls it before training (`--prior-worlds`)
  and ships the weights in its checkpoints; `python -m gaelp.agent.prior_fit --out FILE` writes them
  alone (an `.npz`, key `prior_w`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit

from gaelp.agent.bidder import AgentBidder, pacing_action
from gaelp.agent.ceiling_fit import Layout, fit_loglinear
from gaelp.agent.env import randomized
from gaelp.agent.threads import one_thread
from gaelp.agent.value import (
    PRIOR_CVR,
    PRIOR_MEAN_DELAY_H,
    ValueModel,
    fit_logistic,
    flat_prior,
    lag_survival,
    value_terms,
)
from gaelp.attribution.lag import prob_converts_later
from gaelp.config import Config
from gaelp.experiments.evaluate import TRAINING_SEEDS_FROM
from gaelp.simulation import Simulation

PRIOR_SEED_BASE = 501_000  # the prior's worlds: training seeds (>= 1000), apart from PPO's (1000 + seed x 1e6 + k)
PRIOR_WORLDS = 30
PRIOR_USERS = 20_000
COLLECT_BID_SCALE = 1.0  # the collecting agent's bids x this (its pacing, `bidder.pacing_action`: within [1/4, 4])
COLLECT_BUDGET_SCALE = 1.0  # its daily budget x this (100: in effect unlimited, the bids alone set what it buys)
# A click's label: a purchase within 3 days of it. Many purchases a click causes come later (lag medians of
# 18-200 hours by segment), yet of the windows measured (6-168 hours) the shorter ranked the clicks better:
# docs/agent.md, "More prior worlds, and a shorter label window" and the sections after it.
LABEL_WINDOW_H = 72
HORIZON_H = 480  # the horizon table's reach: a click 20 days or more before its campaign's end counts in full
PRIOR_L2 = 30.0  # pull of the weights towards the flat prior, in the logistic loss's units (summed over clicks)


@dataclass(frozen=True)
class ClickLog:
    """Our clicks of one or more campaigns, as our value model logged them.

    Attributes:
        x: (n, n_features) the encoder's row of each click at the time of the click.
        elapsed: (n,) hours from the click to the end of its campaign, at most the window it was labelled in.
        delay: (n,) hours from the click to the purchase that labelled it; NaN if none was seen.
        weight: (n,) sampling weight of each click.
        requests: (n, k) the device's bid-request history at each click (`AgentBidder(requests=True)`), or None
            if not collected.
    """

    x: np.ndarray
    elapsed: np.ndarray
    delay: np.ndarray
    weight: np.ndarray
    requests: np.ndarray | None = None

    @property
    def converted(self) -> np.ndarray:
        """(n,) bool: a purchase labelled the click."""
        return np.isfinite(self.delay)

    @staticmethod
    def concat(logs: list[ClickLog]) -> ClickLog:
        """One log of many campaigns (with their request rows if every one has them)."""
        requests = None if any(g.requests is None for g in logs) else np.concatenate([g.requests for g in logs])
        x, elapsed, delay, weight = (np.concatenate([getattr(g, f) for g in logs])
                                     for f in ("x", "elapsed", "delay", "weight"))
        return ClickLog(x, elapsed, delay, weight, requests)


def collect_world(cfg: Config, seed: int, users: int, days: int | None = None, bid_scale: float = COLLECT_BID_SCALE,
                  budget_scale: float = COLLECT_BUDGET_SCALE, requests: bool = False) -> ClickLog:
    """Play the training world `seed` (market randomised as in training) with an untrained agent that bids
    `bid_scale` x its estimated value on `budget_scale` x its daily budget; the click log of its value model
    (with `requests`, each click's bid-request history too: the agent keeps it and bids as without).

    Raises:
        ValueError: `seed` is not a training seed (>= 1000), or `bid_scale` lies outside the pacing's range
            [1/4, 4], or `budget_scale` is not positive.
    """
    if seed < TRAINING_SEEDS_FROM:
        raise ValueError(f"the prior is fitted on training worlds only (seeds >= {TRAINING_SEEDS_FROM}), got seed {seed}")
    action = pacing_action(len(cfg.world.channels), bid_scale)
    if not budget_scale > 0:
        raise ValueError(f"budget_scale must be positive, got {budget_scale}")
    c = cfg.replace(seed=seed, users=users, days=days)
    c = randomized(c, np.random.default_rng(np.random.SeedSequence([seed, 0x5EED])))
    c = c.model_copy(update={"campaign": c.campaign.model_copy(
        update={"budget_per_user": c.campaign.budget_per_user * budget_scale})})
    agent = AgentBidder(c, requests=requests)  # the flat prior, identity crediting as the agent plays
    agent.set_action(action)
    sim = Simulation(c, bidder=agent)
    agent.attach_world(sim)
    sim.run(c.days)
    return click_log(agent.value, 24 * c.days, agent.request_rows if requests else None)


def click_log(value: ValueModel, end: int, requests: np.ndarray | None = None) -> ClickLog:
    """The clicks `value` logged in a campaign that ended at hour `end`, their labels censored there (`requests`:
    their request rows, in the log's order)."""
    converted = value.conv_t >= 0
    return ClickLog(x=value.x.copy(), elapsed=np.minimum(end - value.click_t, value.window_h).astype(np.float64),
                    delay=np.where(converted, (value.conv_t - value.click_t).astype(np.float64), np.nan),
                    weight=value.weight.copy(), requests=requests)


def fit_prior(log: ClickLog, window_h: int, n_channels: int, interactions: bool = True, l2: float = PRIOR_L2,
              em_steps: int = 4) -> tuple[np.ndarray, float]:
    """EM fit of the value model's weights on a pooled click log with censored labels.

    Args:
        log: the pooled clicks.
        window_h: the label window (hours): a click is labelled by a purchase within this many hours of it
            (at most the window its log was labelled with).
        n_channels: channels of the market (the terms' layout).
        interactions: fit on `value_terms` (else on the encoder's row).
        l2: pull towards the flat prior (bias at `PRIOR_CVR`, every other weight 0).
        em_steps: EM rounds.

    Returns:
        The weights ((n_terms,) or (n_features,)) and the fitted mean delay (hours).
    """
    conv = log.converted & (log.delay <= window_h)  # a purchase after the label window is not the click's
    elapsed = np.minimum(log.elapsed, window_h)
    if not conv.any():
        raise ValueError(f"none of the click log's {conv.size} clicks is labelled; the prior needs more campaigns")
    mean_delay, surv = lag_survival(elapsed, np.where(conv, log.delay, np.nan), window_h, PRIOR_MEAN_DELAY_H)
    x = value_terms(log.x, n_channels) if interactions else log.x.astype(np.float64)
    w0 = flat_prior(x.shape[1], PRIOR_CVR)
    w = w0.copy()
    for _ in range(em_steps):
        y = np.where(conv, 1.0, prob_converts_later(expit(x @ w), surv))
        w = fit_logistic(x, y, w, w0, l2, steps=25, sample_weight=log.weight, damped=True, tol=1e-7)
    return w, mean_delay


def build_prior(cfg: Config, worlds: int = PRIOR_WORLDS, users: int = PRIOR_USERS, days: int | None = None,
                seed_base: int = PRIOR_SEED_BASE, window_h: int = LABEL_WINDOW_H, interactions: bool = True,
                l2: float = PRIOR_L2, on_world: Callable[[int], None] | None = None,
                bid_scale: float = COLLECT_BID_SCALE, budget_scale: float = COLLECT_BUDGET_SCALE,
                requests: bool = False) -> tuple[np.ndarray, ClickLog]:
    """Collect `worlds` campaigns' click logs (`collect_world`; with `requests`, the clicks' bid-request history
    too) and fit the prior on them; the weights and the pooled log. On one thread (`gaelp.agent.threads`): the
    same weights on any number of cores."""
    logs = []
    with one_thread():
        for k in range(worlds):
            logs.append(collect_world(cfg, seed_base + k, users, days, bid_scale, budget_scale, requests))
            if on_world is not None:
                on_world(k)
        log = ClickLog.concat(logs)
        w, _ = fit_prior(log, window_h, len(cfg.world.channels), interactions, l2)
    return w, log


def loglink_rows(log: ClickLog, window_h: int = LABEL_WINDOW_H,
                 requests: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The log-link prior's data from a click log: (k, n_features + 1) rows (the encoder's, then `converted`, 0:
    our agent never bids on a converted device; with `requests`, then the click's request history) and (k,)
    labels (a purchase within `window_h` hours), of the clicks whose label window is complete (labelled, or
    older than the window at the campaign's end).

    Raises:
        ValueError: no click of the log has a complete label window, or `requests` and the log has none.
    """
    if requests and log.requests is None:
        raise ValueError("the click log has no bid-request history: collect it with requests=True")
    labelled = log.converted & (log.delay <= window_h)
    keep = labelled | (log.elapsed >= window_h)
    if not keep.any():
        raise ValueError(f"fit_loglink: no click has a complete {window_h}-hour label window")
    parts = [log.x[keep], np.zeros((int(keep.sum()), 1), log.x.dtype)]
    if requests and log.requests is not None:
        parts.append(log.requests[keep].astype(log.x.dtype))
    return np.concatenate(parts, axis=1), labelled[keep].astype(np.float64)


def horizon_table(log: ClickLog, hours: int = HORIZON_H) -> np.ndarray:
    """(hours + 1,) float64: entry h is the share of a click's purchases, of those our pixel sees within `hours`
    of it, that come within h hours; the empirical distribution of the delay from click to purchase in our own
    log, over the clicks that had at least `hours` left in their campaign (so none of their purchases within
    `hours` is cut off). It rises from 0 to 1.

    `AgentBidder(horizon=...)` scales a bid by the entry of the hours the campaign has left: a click h hours
    before the end is worth that share of an early one to a score that counts purchases until the end.

    Raises:
        ValueError: no click with `hours` left in its campaign was followed by a purchase within them (a log
            too short, or a value-model window under `hours`).
    """
    seen = (log.elapsed >= hours) & log.converted & (log.delay <= hours)
    if not seen.any():
        raise ValueError(f"horizon_table: no click with {hours} hours left in its campaign was followed by a "
                         "purchase within them (collect longer campaigns, or a value-model window of at least "
                         f"{hours} hours)")
    delays = np.sort(log.delay[seen])
    return np.searchsorted(delays, np.arange(hours + 1), side="right") / delays.size


def fit_loglink(log: ClickLog, n_channels: int, window_h: int = LABEL_WINDOW_H, requests: bool = False) -> np.ndarray:
    """The log-link form of the prior (`AgentBidder`'s `loglink_w`): a Poisson fit of `loglink_rows(log,
    window_h, requests)` on the ceiling's design over the encoder's cells (`ceiling_fit.fit_loglinear`; with
    `requests`, the request history's terms and cells too, `Layout(requests=True)`). Its weights.

    On the same pooled log it bid better than the logistic prior on validation worlds (docs/agent.md, "Where
    `oracle_lp`'s lead comes from"): a multiplicative model of context x journey cells.

    Raises:
        ValueError: no click of the log has a complete label window.
    """
    x, y = loglink_rows(log, window_h, requests)
    with one_thread():
        return fit_loglinear(Layout(n_channels, requests), x, y).w


def main(argv: list[str] | None = None) -> None:
    """`python -m gaelp.agent.prior_fit --out FILE`: build the prior and save it (`np.savez`: `prior_w`)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="output .npz (key prior_w)")
    ap.add_argument("--window", type=int, default=LABEL_WINDOW_H, help="label window, hours")
    ap.add_argument("--worlds", type=int, default=PRIOR_WORLDS)
    ap.add_argument("--users", type=int, default=PRIOR_USERS)
    ap.add_argument("--l2", type=float, default=PRIOR_L2)
    ap.add_argument("--bid-scale", type=float, default=COLLECT_BID_SCALE, help="the collecting agent's bids x this")
    ap.add_argument("--budget-scale", type=float, default=COLLECT_BUDGET_SCALE,
                    help="the collecting agent's daily budget x this")
    ap.add_argument("--no-interactions", action="store_true", help="fit on the encoder's row only")
    a = ap.parse_args(argv)
    from rich.progress import Progress

    start = time.perf_counter()
    cfg = Config()
    with Progress() as bar:
        task = bar.add_task("prior: training worlds", total=a.worlds)
        w, log = build_prior(cfg, a.worlds, a.users, window_h=a.window, interactions=not a.no_interactions,
                             l2=a.l2, on_world=lambda _: bar.advance(task), bid_scale=a.bid_scale,
                             budget_scale=a.budget_scale)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(a.out, prior_w=w)
    labelled = int((log.converted & (log.delay <= a.window)).sum())
    print(f"prior: {w.size} weights from {log.x.shape[0]} clicks ({labelled} labelled within {a.window} h), "
          f"{a.worlds} worlds of {a.users} people, {time.perf_counter() - start:.0f} s -> {a.out}")


if __name__ == "__main__":
    main()
