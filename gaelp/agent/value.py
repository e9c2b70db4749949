"""Purchase-probability model of a click, learned online from our own pixel with delayed feedback.

Each click of ours is logged with the journey encoder's feature row at the time of the click. Our pixel
reports purchases by device; a purchase on a device labels that device's clicks of the last
`window_h` hours as converted (delay = purchase hour - click hour). A click with no purchase yet is
*not* a negative: its purchase may still come. Every `refit_hours` the model is refitted by
expectation-maximisation in the manner of Chapelle (KDD 2014), with `gaelp.attribution.lag`:

1. fit the conversion-lag distribution on our click log (`fit_lag`, exponential delay, censored at
   each click's elapsed time, at most the window);
2. give each unconverted click the soft label `prob_converts_later(p_i, S(e_i))`: the chance it still
   converts, given its current estimate `p_i` and the `e_i` hours it has waited (0 once its window
   has closed);
3. refit a logistic regression on the hard and soft labels by Newton steps, with an L2 pull towards
   the prior weights `w0` (the shipped policy's weights from training worlds, or a flat prior CVR).
   Steps 2-3 repeat `em_steps` times.

Each click carries the sampling weight of its opportunity (`OpportunityBatch.weight`; 1.0 in a plain
world) and counts by it in the regression and the summary, so an importance-sampled world teaches the
model what the plain population would. The lag fit is unweighted (an assumption: the shape of the
delay, not how often each delay occurs in the population).

With fewer than `MIN_LAG_CONVERSIONS` conversions the lag distribution is too thin to fit, so the
assumed `PRIOR_MEAN_DELAY_H` (exponential) stands in; it is a prior, replaced as soon as data allow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, logit

from gaelp.attribution.lag import fit_lag, prob_converts_later
from gaelp.bidders.protocol import N_INTENTS

PRIOR_MEAN_DELAY_H = 72.0  # assumption: a few days from click to purchase, before our own lag fit exists
MIN_LAG_CONVERSIONS = 5
DEFAULT_L2 = 3.0  # the online refit's pull towards the prior (a checkpoint may carry its own: `value_l2`)
PRIOR_CVR = 0.03  # assumption: the flat prior's purchase rate per click (target_cpa's prior too)
_NO_CONV = -1


JOURNEY_TERMS = 7  # per context: 1, touched in 24 h / 7 d, clicked in 24 h / 7 d, log hours since click, log1p touches


def n_terms(n_channels: int) -> int:
    """Width of `value_terms`' rows for `n_channels` channels: the encoder's row, then the interactions."""
    n_features = 1 + n_channels + N_INTENTS + 1 + 2 * n_channels + 6 + 2
    return n_features + n_channels * N_INTENTS * 2 * JOURNEY_TERMS


def value_terms(x: np.ndarray, n_channels: int) -> np.ndarray:
    """(n, n_terms) the interaction model's terms of encoder rows `x` (n, n_features).

    The encoder's row, then per context (channel x query intent x device type: 2 x 3 x n_channels of them)
    its one-hot times the journey `[1, touched in 24 h, touched in 7 d, clicked in 24 h, clicked in 7 d,
    log hours since the last click, log1p touches]`: how much a journey's history says depends on where
    the opportunity comes from (the world's purchase probability is a product of context and stage
    factors, so their effects on its logit are not additive in the row alone).
    """
    n = x.shape[0]
    c_int = 1 + n_channels
    c_desk = c_int + N_INTENTS
    c_touch = c_desk + 1
    c_hist = c_touch + 2 * n_channels
    ctx = ((np.argmax(x[:, 1:c_int], axis=1) * N_INTENTS + np.argmax(x[:, c_int:c_desk], axis=1)) * 2
           + (x[:, c_desk] > 0.5))
    journey = np.empty((n, JOURNEY_TERMS))
    journey[:, 0] = 1.0
    journey[:, 1:6] = x[:, c_hist:c_hist + 5]
    journey[:, 6] = np.log1p(np.expm1(x[:, c_touch:c_touch + n_channels].astype(np.float64)).sum(axis=1))
    inter = np.zeros((n, n_channels * N_INTENTS * 2, JOURNEY_TERMS))
    inter[np.arange(n), ctx] = journey
    return np.concatenate([x.astype(np.float64), inter.reshape(n, inter.shape[1] * JOURNEY_TERMS)], axis=1)


def flat_prior(n_features: int, prior_cvr: float) -> np.ndarray:
    """Weights that predict `prior_cvr` for every click (bias only; column 0 is the bias)."""
    w = np.zeros(n_features)
    w[0] = logit(prior_cvr)
    return w


def logistic_loss(x: np.ndarray, y: np.ndarray, s: np.ndarray | float, w: np.ndarray, w0: np.ndarray,
                  l2: float) -> float:
    """The L2-anchored logistic loss `sum s CE(y, sigmoid(x w)) + l2/2 |w - w0|^2`."""
    eta = x @ w
    return float((s * (np.logaddexp(0.0, eta) - y * eta)).sum() + 0.5 * l2 * ((w - w0) ** 2).sum())


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, w0: np.ndarray, l2: float,
                 steps: int = 6, sample_weight: np.ndarray | None = None, damped: bool = False,
                 tol: float = 0.0) -> np.ndarray:
    """Newton steps on the L2-anchored logistic loss (`logistic_loss`).

    Args:
        x: (m, d) features.  y: (m,) labels in [0, 1] (soft labels allowed).
        w: (d,) start.  w0: (d,) anchor.  l2: strength of the anchor.
        sample_weight: (m,) weight s of each row; None: 1 each (no product by them: the same numbers).
        damped: halve each step until the loss falls (plain Newton overshoots on rare interaction terms:
            the offline prior's fit).
        tol: stop once no weight moves by more than this (0: run all `steps`).
    """
    eye = l2 * np.eye(w.size)
    s = 1.0 if sample_weight is None else sample_weight
    loss = logistic_loss(x, y, s, w, w0, l2) if damped else 0.0
    for _ in range(steps):
        p = expit(x @ w)
        r, v = p - y, p * (1 - p)
        if sample_weight is not None:
            r, v = r * s, v * s
        grad = x.T @ r + l2 * (w - w0)
        hess = (x.T * v) @ x + eye
        step = np.linalg.solve(hess, grad)
        if damped:
            for _ in range(30):
                new = logistic_loss(x, y, s, w - step, w0, l2)
                if new <= loss:
                    break
                step = step / 2
            loss = min(new, loss)
        w = w - step
        if tol and np.abs(step).max() < tol:
            break
    return w


def lag_survival(elapsed: np.ndarray, delay: np.ndarray, window_h: int,
                 mean_delay_h: float) -> tuple[float, np.ndarray]:
    """The delayed-feedback correction's parts for a click log.

    Args:
        elapsed: (m,) hours each click has waited, at most `window_h`.
        delay: (m,) hours to the purchase that labelled it (NaN: none yet).
        window_h: the label window.  mean_delay_h: the mean delay kept with fewer than
            `MIN_LAG_CONVERSIONS` labels.

    Returns:
        The mean delay (an exponential lag fitted on the log, censored at each click's elapsed time) and
        (m,) P(delay > elapsed | converts within the window), the exponential truncated at the window.
    """
    if np.isfinite(delay).sum() >= MIN_LAG_CONVERSIONS:
        lag = fit_lag(elapsed, np.minimum(delay, elapsed), model="exponential")
        mean_delay_h = float(np.clip(lag.mean_delay_h(), 1.0, 10 * window_h))
    s_window = np.exp(-window_h / mean_delay_h)
    return mean_delay_h, np.clip((np.exp(-elapsed / mean_delay_h) - s_window) / (1 - s_window), 0.0, 1.0)


class ValueModel:
    """P(purchase within the window | a click, its journey features), learned online.

    The model's terms are the encoder's row, or with `n_channels` given, `value_terms` (the row and its
    context x journey interactions); `prior_w`'s length must match them. The wide model's weights come
    from an offline prior fitted on many campaigns (`gaelp.agent.prior_fit`): online, a campaign's few
    hundred labels refit only its level (the bias, by the same EM), so they recalibrate the prior's
    ranking rather than replace it, at the cost of one weight.

    Args:
        n_features: width of the encoder's rows.
        window_h: label window (hours): a purchase within it labels a click; older clicks are settled.
        prior_w: (n_features,) or (n_terms,) anchor weights; None: `flat_prior(prior_cvr)`.
        prior_cvr: the flat prior's conversion rate per click.
        l2: strength of the pull towards the anchor.
        refit_hours: hours between refits.
        em_steps: EM rounds per refit.
        n_channels: channels of the market: the model runs on `value_terms` (None: on the encoder's row).
    """

    def __init__(self, n_features: int, window_h: int, prior_w: np.ndarray | None = None,
                 prior_cvr: float = PRIOR_CVR, l2: float = DEFAULT_L2, refit_hours: int = 6, em_steps: int = 2,
                 n_channels: int | None = None) -> None:
        self.n_features = n_features
        self.n_channels = n_channels
        width = n_features if n_channels is None else n_terms(n_channels)
        self.window_h = int(window_h)
        self.w0 = flat_prior(width, prior_cvr) if prior_w is None else np.asarray(prior_w, np.float64).copy()
        if self.w0.shape != (width,):
            raise ValueError(f"prior_w must have {width} weights (the value model's terms), got {self.w0.shape}")
        self.w = self.w0.copy()
        self.l2, self.refit_hours, self.em_steps = float(l2), int(refit_hours), int(em_steps)
        self.mean_delay_h = PRIOR_MEAN_DELAY_H
        self.x = np.zeros((0, n_features), np.float32)
        self.click_t = np.zeros(0, np.int64)
        self.device = np.zeros(0, np.int64)
        self.conv_t = np.zeros(0, np.int64)
        self.weight = np.zeros(0)  # sampling weight of each click
        self.bias_only = n_channels is not None
        self.eta_rest = np.zeros(0)  # bias-only refits: each click's logit without the bias (fixed weights)
        self.last_fit_t = -(10**9)
        self._room: dict[str, np.ndarray] = {}  # the click log's columns view these (room to grow into)
        self._summary: np.ndarray | None = None  # `summary()`, kept until the log or the weights change

    @property
    def n_clicks(self) -> int:
        """Clicks logged."""
        return int(self.click_t.size)

    def terms(self, x: np.ndarray) -> np.ndarray:
        """(n, len(w)) float64 the model's terms of encoder rows `x` (n, n_features)."""
        return x.astype(np.float64) if self.n_channels is None else value_terms(x, self.n_channels)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n,) P(purchase within the window | click) for feature rows `x` (n, n_features)."""
        return expit(self.terms(x) @ self.w)

    def record_clicks(self, t: int, x: np.ndarray, device: np.ndarray, weight: np.ndarray | None = None) -> None:
        """Log this hour's clicks: their feature rows (k, n_features), devices (k,) and sampling weights
        (k,; None: 1.0 each)."""
        if device.size:
            k = device.size
            self._append("weight", 1.0 if weight is None else weight, k)
            if self.bias_only:
                self._append("eta_rest", self._logit_rest(x), k)
            self._append("x", x, k)
            self._append("click_t", t, k)
            self._append("device", device, k)
            self._append("conv_t", _NO_CONV, k)
            self._summary = None

    def _append(self, name: str, rows: np.ndarray | float, k: int) -> None:
        """Append `k` rows to the log's column `name`: `rows`, one per new click (or one value for all).

        The columns view arrays with room to grow (doubling), so an hour's clicks cost no copy of the log;
        the values are those of concatenating, cast to the column's dtype.
        """
        col = getattr(self, name)
        n = col.shape[0]
        room = self._room.get(name)
        if room is None or col.base is not room or room.shape[0] < n + k:  # new, restored or full
            room = np.empty((max(2 * (n + k), 64), *col.shape[1:]), col.dtype)
            room[:n] = col
            self._room[name] = room
        room[n:n + k] = rows
        setattr(self, name, room[:n + k])

    def record_conversions(self, conv_t: np.ndarray, conv_device: np.ndarray) -> np.ndarray:
        """Label the clicks of converting devices within the window before each purchase.

        Returns:
            (k,) bool: the purchases that labelled at least one click (click-through purchases).
        """
        labelled = np.zeros(conv_device.size, bool)
        if conv_device.size == 0 or self.n_clicks == 0:
            return labelled
        order = np.argsort(conv_device, kind="stable")
        dev_sorted = conv_device[order]
        pos = np.searchsorted(dev_sorted, self.device)
        hit = (pos < dev_sorted.size) & (dev_sorted[np.minimum(pos, dev_sorted.size - 1)] == self.device)
        when = np.where(hit, conv_t[order][np.minimum(pos, dev_sorted.size - 1)], _NO_CONV)
        ok = hit & (self.conv_t == _NO_CONV) & (when >= self.click_t) & (when - self.click_t <= self.window_h)
        self.conv_t[ok] = when[ok]
        labelled[order[np.minimum(pos, dev_sorted.size - 1)[ok]]] = True
        if ok.any():
            self._summary = None
        return labelled

    def maybe_refit(self, t: int) -> bool:
        """Refit if `refit_hours` have passed since the last fit; True if it did."""
        if t - self.last_fit_t < self.refit_hours:
            return False
        self.refit(t)
        return True

    def refit(self, t: int) -> None:
        """EM refit of the lag distribution and the weights on the clicks logged by hour `t`."""
        self.last_fit_t = t
        self._summary = None
        if self.n_clicks == 0:
            return
        elapsed = np.minimum(t - self.click_t, self.window_h).astype(np.float64)
        converted = self.conv_t != _NO_CONV
        delay = np.where(converted, (self.conv_t - self.click_t).astype(np.float64), np.nan)
        self.mean_delay_h, surv = lag_survival(elapsed, delay, self.window_h, self.mean_delay_h)
        if self.bias_only:
            self.w = self._refit_bias(converted, surv)
            return
        x = self.terms(self.x)
        w = self.w
        weight = None if (self.weight == 1.0).all() else self.weight  # a plain world's: 1 each
        for _ in range(self.em_steps):
            y = np.where(converted, 1.0, prob_converts_later(expit(x @ w), surv))
            w = fit_logistic(x, y, w, self.w0, self.l2, sample_weight=weight)
        self.w = w

    def _logit_rest(self, x: np.ndarray) -> np.ndarray:
        """(n,) the logit of rows `x` without the bias."""
        return self.terms(x)[:, 1:] @ self.w[1:]

    def _refit_bias(self, converted: np.ndarray, surv: np.ndarray) -> np.ndarray:
        """EM over the bias alone (Newton steps on one weight, anchored at the prior's bias)."""
        w = self.w.copy()
        s = self.weight
        for _ in range(self.em_steps):
            y = np.where(converted, 1.0, prob_converts_later(expit(self.eta_rest + w[0]), surv))
            for _ in range(6):
                p = expit(self.eta_rest + w[0])
                grad = float(((p - y) * s).sum()) + self.l2 * (w[0] - self.w0[0])
                w[0] -= grad / (float((p * (1 - p) * s).sum()) + self.l2)
        return w

    def summary(self) -> np.ndarray:
        """(4,) what the advertiser knows of its model: log1p clicks, log1p conversions seen,
        mean delay / window, and the model's mean estimate over its clicks (kept until clicks, labels or
        weights change: most hours bring none)."""
        if self._summary is None:
            self._summary = self._summarize()
        return self._summary.copy()

    def _summarize(self) -> np.ndarray:
        """`summary()`, computed."""
        s = self.weight  # weighted sums and mean: the plain counts and mean where every weight is 1
        if not self.n_clicks:
            p = float(expit(self.w[0]))
        else:
            p_clicks = expit(self.eta_rest + self.w[0]) if self.bias_only else self.predict(self.x)
            p = float((p_clicks * s).sum() / s.sum())
        return np.array([np.log1p(s.sum()), np.log1p(s[self.conv_t != _NO_CONV].sum()),
                         self.mean_delay_h / self.window_h, p], np.float32)

    def state_dict(self) -> dict[str, Any]:
        """Weights, anchor and the click log."""
        return {"w": self.w.copy(), "w0": self.w0.copy(), "x": self.x.copy(), "click_t": self.click_t.copy(),
                "device": self.device.copy(), "conv_t": self.conv_t.copy(), "weight": self.weight.copy(),
                "last_fit_t": self.last_fit_t,
                "mean_delay_h": self.mean_delay_h}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.w, self.w0 = np.array(s["w"], np.float64), np.array(s["w0"], np.float64)
        self.x = np.array(s["x"], np.float32)
        for name in ("click_t", "device", "conv_t"):
            setattr(self, name, np.array(s[name], np.int64))
        # a checkpoint from before sampling weights comes from plain worlds: every click weighs 1
        self.weight = np.array(s["weight"], np.float64) if "weight" in s else np.ones(self.click_t.size)
        self.last_fit_t, self.mean_delay_h = int(s["last_fit_t"]), float(s["mean_delay_h"])
        self.eta_rest = self._logit_rest(self.x) if self.bias_only else np.zeros(0)
        self._summary = None
