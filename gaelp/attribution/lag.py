"""Conversion-lag model with censoring.

After Chapelle, "Modeling delayed feedback in display advertising", KDD 2014.

A click converts with probability `p` and, if it does, after a delay `D` drawn from an
exponential or a Weibull distribution. At the observation time, `e` hours after the click, a
conversion is seen only if `D <= e`. The likelihood of a click is

* converted after `d` hours:      `p * f(d)`
* no conversion seen by `e` hours: `1 - p + p * S(e)`  (never converts, or converts later)

where `f` and `S` are the delay's density and survival function. Maximizing it (scipy's L-BFGS-B
with an analytic gradient) recovers `p` and the delay distribution, where the naive rate
"conversions seen / clicks" is biased low for recent clicks. `p` is logistic and the delay scale
log-linear in optional covariates `x`, as in Chapelle's model; without covariates one fit per
group is the usual segment model.

Delays are floored at one second (a Weibull density can be infinite at 0).

Example:
    >>> rng = np.random.default_rng(0)
    >>> log = sample_click_log(rng, 20_000, p=0.3, mean_delay_h=48.0, horizon_h=168.0)
    >>> fit = fit_lag(log.elapsed_h, log.delay_h)
    >>> round(fit.p_convert(), 2), fit.naive_rate < 0.25
    (0.3, True)

"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, gamma

DelayModel = Literal["exponential", "weibull"]
DELAY_MODELS: tuple[str, ...] = ("exponential", "weibull")
_MIN_DELAY_H = 1.0 / 3600.0
_LOG_SHAPE_BOUNDS = (np.log(0.05), np.log(20.0))


@dataclass(frozen=True, slots=True, eq=False)
class ClickLog:
    """Clicks as seen at observation time.

    Attributes:
        elapsed_h: (n,) hours from each click to the observation time (>= 0).
        delay_h: (n,) hours from click to conversion, NaN where no conversion was seen.

    """

    elapsed_h: np.ndarray
    delay_h: np.ndarray

    @property
    def converted(self) -> np.ndarray:
        return ~np.isnan(self.delay_h)


@dataclass(frozen=True, slots=True, eq=False)
class LagFit:
    """A fitted delayed-feedback model.

    Covariate rows `x` have shape (n, d) and must include the intercept column if the model was
    fitted with one; without covariates, pass nothing.

    Attributes:
        model: `"exponential"` or `"weibull"`.
        coef_p_: (d,) logistic coefficients of P(convert).
        coef_scale_: (d,) coefficients of the log delay scale (hours).
        shape_: Weibull shape k (1 for exponential).
        n_clicks: Clicks fitted.
        n_converted: Conversions seen.
        naive_rate: n_converted / n_clicks, the rate that ignores censoring.
        loglik: Log-likelihood at the optimum.
        converged: Whether the optimizer reported success.

    """

    model: str
    coef_p_: np.ndarray
    coef_scale_: np.ndarray
    shape_: float
    n_clicks: int
    n_converted: int
    naive_rate: float
    loglik: float
    converged: bool

    def _design(self, x: np.ndarray | None) -> np.ndarray:
        if x is None:
            if len(self.coef_p_) != 1:
                raise ValueError("this fit has covariates: pass x")
            return np.ones((1, 1))
        return np.atleast_2d(np.asarray(x, dtype=np.float64))

    def _squeeze(self, arr: np.ndarray, x: np.ndarray | None) -> np.ndarray | float:
        return float(arr[0]) if x is None and arr.size == 1 else arr

    def p_convert(self, x: np.ndarray | None = None) -> np.ndarray | float:
        """Probability that a click eventually converts; float without `x`, else (n,)."""
        return self._squeeze(expit(self._design(x) @ self.coef_p_), x)

    def scale_h(self, x: np.ndarray | None = None) -> np.ndarray | float:
        """Delay scale in hours (the mean for the exponential)."""
        return self._squeeze(np.exp(self._design(x) @ self.coef_scale_), x)

    def mean_delay_h(self, x: np.ndarray | None = None) -> np.ndarray | float:
        """Mean hours from click to conversion, for clicks that convert."""
        return self.scale_h(x) * gamma(1.0 + 1.0 / self.shape_)

    def survival(self, t_h: np.ndarray | float, x: np.ndarray | None = None) -> np.ndarray:
        """P(delay > t_h | the click converts)."""
        return np.exp(-((np.asarray(t_h, dtype=np.float64) / self.scale_h(x)) ** self.shape_))

    def prob_converts_later(
        self, elapsed_h: np.ndarray | float, x: np.ndarray | None = None
    ) -> np.ndarray:
        """P(a click converts later | no conversion seen `elapsed_h` hours after it)."""
        return prob_converts_later(self.p_convert(x), self.survival(elapsed_h, x))

    def expected_remaining_value(
        self, elapsed_h: np.ndarray | float, value: np.ndarray | float, x: np.ndarray | None = None
    ) -> np.ndarray:
        """Return the expected value still to come from an unconverted click.

        Args:
            elapsed_h: Hours since the click, with no conversion seen yet.
            value: Value of the conversion if it happens.
            x: Covariates, if the model has them.
        """
        return np.asarray(value, dtype=np.float64) * self.prob_converts_later(elapsed_h, x)


def prob_converts_later(p: np.ndarray | float, survival: np.ndarray | float) -> np.ndarray:
    """Posterior `p S(e) / (1 - p + p S(e))` that a still-unconverted click converts later.

    Args:
        p: Prior conversion probability of the click.
        survival: P(delay > elapsed) for converting clicks.

    """
    p, s = np.asarray(p, dtype=np.float64), np.asarray(survival, dtype=np.float64)
    num = p * s
    den = 1.0 - p + num
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def _negloglik(
    theta: np.ndarray, x: np.ndarray, t: np.ndarray, conv: np.ndarray, fit_shape: bool
) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood and its gradient in (coef_p, coef_scale[, log k])."""
    d = x.shape[1]
    a, b = theta[:d], theta[d : 2 * d]
    log_k = theta[2 * d] if fit_shape else 0.0
    k = np.exp(log_k)
    eta_p, eta_s = x @ a, x @ b
    p, one_minus_p = expit(eta_p), expit(-eta_p)
    with np.errstate(divide="ignore"):
        log_z = k * (np.log(t) - eta_s)  # t = delay (converted) or elapsed (censored)
    log_z = np.where(t > 0, log_z, -np.inf)
    z = np.exp(log_z)
    lz = np.where(t > 0, log_z, 0.0)  # z * log z -> 0 as t -> 0

    # Converted: log p + log k + (k - 1) log d - k eta_s - z.
    ll_c = (
        np.log(np.maximum(p, 1e-300))
        + log_k
        + (k - 1.0) * np.log(np.maximum(t, 1e-300))
        - k * eta_s
        - z
    )
    g_p_c, g_s_c, g_k_c = one_minus_p, k * (z - 1.0), 1.0 + lz - z * lz
    # Censored: log(1 - p + p S(e)).
    surv = np.exp(-z)
    a_cens = np.maximum(one_minus_p + p * surv, 1e-300)
    ll_0 = np.log(a_cens)
    g_p_0 = -p * one_minus_p * (1.0 - surv) / a_cens
    g_s_0 = p * surv * k * z / a_cens
    g_k_0 = -p * surv * z * lz / a_cens

    ll = np.where(conv, ll_c, ll_0)
    g_p, g_s = np.where(conv, g_p_c, g_p_0), np.where(conv, g_s_c, g_s_0)
    grad = [x.T @ g_p, x.T @ g_s]
    if fit_shape:
        grad.append([np.where(conv, g_k_c, g_k_0).sum()])
    n = len(t)
    return -ll.sum() / n, -np.concatenate(grad) / n


def fit_lag(
    elapsed_h: np.ndarray,
    delay_h: np.ndarray,
    *,
    model: DelayModel = "exponential",
    x: np.ndarray | None = None,
    max_iter: int = 1000,
) -> LagFit:
    """Fit the delayed-feedback model by maximum likelihood.

    Args:
        elapsed_h: (n,) hours from each click to the observation time, >= 0.
        delay_h: (n,) hours from click to the conversion seen, NaN if none; a seen delay must
            not exceed the elapsed time.
        model: Delay distribution, `"exponential"` or `"weibull"`.
        x: (n, d) covariates, including an intercept column if wanted; None fits one `p` and one
            delay distribution.
        max_iter: Optimizer iteration cap.

    Returns:
        The fit. With no conversion at all, `p` is 0 and the delay scale is undefined (NaN).

    """
    if model not in DELAY_MODELS:
        raise ValueError(f"model must be one of {', '.join(DELAY_MODELS)}, got {model!r}")
    elapsed = np.asarray(elapsed_h, dtype=np.float64)
    delay = np.asarray(delay_h, dtype=np.float64)
    if elapsed.shape != delay.shape or elapsed.ndim != 1:
        raise ValueError("elapsed_h and delay_h must be 1-D arrays of the same length")
    conv = ~np.isnan(delay)
    if np.any(~np.isfinite(elapsed) | (elapsed < 0)):
        raise ValueError("elapsed_h must be finite and >= 0")
    if np.any(delay[conv] < 0) or np.any(delay[conv] > elapsed[conv] + 1e-9):
        raise ValueError("a delay_h is negative or exceeds its elapsed_h")
    n = len(elapsed)
    design = np.ones((n, 1)) if x is None else np.atleast_2d(np.asarray(x, dtype=np.float64))
    if design.shape[0] != n:
        raise ValueError(f"x must have {n} rows, got {design.shape[0]}")
    d, n_conv = design.shape[1], int(conv.sum())
    naive = n_conv / n if n else float("nan")
    if n_conv == 0:
        return LagFit(model, np.full(d, -np.inf), np.full(d, np.nan), 1.0, n, 0, naive, 0.0, True)

    t = np.where(conv, np.maximum(delay, _MIN_DELAY_H), elapsed)
    fit_shape = model == "weibull"
    theta0 = np.zeros(2 * d + fit_shape)
    # Start the intercepts (assumed first column when x is given) at the naive rate and the
    # mean seen delay; the likelihood is smooth, so L-BFGS-B gets there from any sane start.
    theta0[0] = np.log(max(naive, 1e-3) / max(1.0 - naive, 1e-3))
    theta0[d] = np.log(max(float(np.mean(t[conv])), _MIN_DELAY_H))
    bounds = [(None, None)] * (2 * d) + ([_LOG_SHAPE_BOUNDS] if fit_shape else [])
    res = minimize(
        _negloglik,
        theta0,
        args=(design, t, conv, fit_shape),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter},
    )
    theta = res.x
    return LagFit(
        model=model,
        coef_p_=theta[:d].copy(),
        coef_scale_=theta[d : 2 * d].copy(),
        shape_=float(np.exp(theta[2 * d])) if fit_shape else 1.0,
        n_clicks=n,
        n_converted=n_conv,
        naive_rate=naive,
        loglik=float(-res.fun * n),
        converged=bool(res.success),
    )


def fit_lag_groups(
    log: ClickLog, groups: np.ndarray | None = None, *, model: DelayModel = "exponential"
) -> dict[str, LagFit]:
    """One fit per group (sorted by group name); the single group `"all"` when `groups` is None.

    Args:
        log: The clicks.
        groups: (n,) group label of each click, or None.
        model: Delay distribution.

    """
    if groups is None:
        return {"all": fit_lag(log.elapsed_h, log.delay_h, model=model)}
    labels, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    return {
        str(label): fit_lag(log.elapsed_h[inverse == g], log.delay_h[inverse == g], model=model)
        for g, label in enumerate(labels)  # a few segments, not a hot path
    }


def sample_click_log(
    rng: np.random.Generator,
    n: int,
    *,
    p: float,
    mean_delay_h: float,
    horizon_h: float,
    shape: float = 1.0,
) -> ClickLog:
    """Synthetic clicks arriving uniformly over `horizon_h` hours, observed at its end.

    Args:
        rng: Random stream.
        n: Clicks.
        p: True conversion probability.
        mean_delay_h: True mean delay of converting clicks (hours).
        horizon_h: Length of the log; clicks near its end are heavily censored.
        shape: Weibull shape of the delay (1 = exponential).

    """
    elapsed = rng.uniform(0.0, horizon_h, n)
    scale = mean_delay_h / gamma(1.0 + 1.0 / shape)
    delay = scale * rng.weibull(shape, n)
    converts = rng.random(n) < p
    seen = converts & (delay <= elapsed)
    return ClickLog(elapsed_h=elapsed, delay_h=np.where(seen, delay, np.nan))
