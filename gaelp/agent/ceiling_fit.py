"""Models of P(purchase | click) over what the advertiser observes: the ceiling's bounds and the log-link prior.

These models answer a research question (how well can any advertiser-side value model rank the
true purchase probability?), so for the ceiling they are fitted on the world's truth from training
worlds: a privileged-information bound, never a product. One of them is also a product: `LinearModel`
with a log link fitted on our own pixel labels (`gaelp.agent.prior_fit.fit_loglink`, no truth) is the
agent's log-link prior (`gaelp train --prior-form loglink`). Both read an observable row per opportunity: the
journey encoder's features (`gaelp.agent.encoder.FEATURES`, our own logs per device) with one more
column, `converted` (our pixel, or a purchase of the device's resolved person, reported a purchase),
optionally the device's history of bid requests (every opportunity offered to us, won or not: an
advertiser sees them all; `Layout`), and the hour of day.

* `CellTable`: the mean of the truth in cells of the observables, shrunk to a coarser cell where a
  cell has little data. Fine cell: channel x intent x device type x converted x touches so far
  (0, 1, 2-3, 4+) x clicked before x last touch (within 24 h, within 7 d, earlier or never) [x, with
  requests, purchase-intent requests before (0, 1, 2+) x requests per day (< 1, 1-3, 3+)]; coarse
  cell: channel x intent x device type x converted. The hour of day enters as a multiplicative factor
  (the mean truth by hour over the overall mean), as it does in the world's response. With
  `by_segment`, every cell is split by the person's segment class too (the bound of a model that
  knows the segment but not the journey stage).
* `LinearModel`: ridge least squares of the truth on the encoder's features, `converted`, and the
  context (channel x intent x device type) one-hot times a few journey features (its interactions).
  With a log link, the same terms in a Poisson regression (`fit_loglinear`): factors multiply.

`ranking` measures how well predictions rank the truth: R^2, the variance share they explain, and
the mean truth by predicted quantile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gaelp.bidders.protocol import N_INTENTS

TOUCH_EDGES = (1, 2, 4)  # touches so far: 0 | 1 | 2-3 | 4+
N_TOUCH, N_CLICKED, N_RECENCY, N_DEVICE_TYPES, N_REQUEST = len(TOUCH_EDGES) + 1, 2, 3, 2, 9


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the observable row's columns are: the encoder's features, `converted`, then with `requests` the
    device's bid-request history before the hour: log1p requests by channel (n_ch), log1p requests by
    query intent (3), log1p days since its first request, log1p requests per day since then."""

    n_channels: int
    requests: bool = False

    @property
    def n_base(self) -> int:
        """Columns up to `converted`: the encoder's 1 + 3 n_ch + 3 + 1 + 8, then `converted`."""
        return 1 + 3 * self.n_channels + N_INTENTS + 1 + 8 + 1

    @property
    def n_features(self) -> int:
        """Columns of an observable row."""
        return self.n_base + (self.n_channels + N_INTENTS + 2 if self.requests else 0)

    def channel(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(x[:, 1:1 + self.n_channels], axis=1)

    def intent(self, x: np.ndarray) -> np.ndarray:
        c = 1 + self.n_channels
        return np.argmax(x[:, c:c + N_INTENTS], axis=1)

    def desktop(self, x: np.ndarray) -> np.ndarray:
        return x[:, 1 + self.n_channels + N_INTENTS].astype(np.int64)

    def touches(self, x: np.ndarray) -> np.ndarray:
        c = 2 + self.n_channels + N_INTENTS
        return np.rint(np.expm1(x[:, c:c + self.n_channels].astype(np.float64)).sum(axis=1)).astype(np.int64)

    def clicks(self, x: np.ndarray) -> np.ndarray:
        c = 2 + 2 * self.n_channels + N_INTENTS
        return np.rint(np.expm1(x[:, c:c + self.n_channels].astype(np.float64)).sum(axis=1)).astype(np.int64)

    def history(self, x: np.ndarray) -> np.ndarray:
        """(n, 6): touched in 24 h, in 7 d, clicked in 24 h, in 7 d, log hours since click, log days since first."""
        c = 2 + 3 * self.n_channels + N_INTENTS
        return x[:, c:c + 6]

    def converted(self, x: np.ndarray) -> np.ndarray:
        return x[:, self.n_base - 1].astype(np.int64)

    def request_buckets(self, x: np.ndarray) -> np.ndarray:
        """(n,) purchase-intent requests seen before (0, 1, 2+) x requests per day (< 1, 1-3, 3+): 9 buckets."""
        c = self.n_base + self.n_channels
        buy = np.minimum(np.rint(np.expm1(x[:, c + N_INTENTS - 1].astype(np.float64))), 2).astype(np.int64)
        rate = np.expm1(x[:, c + N_INTENTS + 1].astype(np.float64))
        return buy * 3 + np.searchsorted(np.array([1.0, 3.0]), rate, side="right")

    def context(self, x: np.ndarray) -> np.ndarray:
        """(n,) channel x intent x device type x converted: the coarse cell."""
        ctx = (self.channel(x) * N_INTENTS + self.intent(x)) * N_DEVICE_TYPES + self.desktop(x)
        return ctx * 2 + self.converted(x)

    @property
    def n_context(self) -> int:
        return self.n_channels * N_INTENTS * N_DEVICE_TYPES * 2

    def cell(self, x: np.ndarray) -> np.ndarray:
        """(n,) the fine cell: the coarse one x touches x clicked before x recency of the last touch."""
        touch = np.searchsorted(np.array(TOUCH_EDGES), self.touches(x), side="right")
        clicked = (self.clicks(x) > 0).astype(np.int64)
        h = self.history(x)
        recency = np.where(h[:, 0] > 0, 0, np.where(h[:, 1] > 0, 1, 2))
        fine = ((self.context(x) * N_TOUCH + touch) * N_CLICKED + clicked) * N_RECENCY + recency
        return fine * N_REQUEST + self.request_buckets(x) if self.requests else fine

    @property
    def n_within(self) -> int:
        """Fine cells per coarse cell."""
        return N_TOUCH * N_CLICKED * N_RECENCY * (N_REQUEST if self.requests else 1)

    @property
    def n_cells(self) -> int:
        return self.n_context * self.n_within


def hour_factor(hour: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(24,) mean truth by hour of day over the overall mean (1 where an hour has no data)."""
    n = np.bincount(hour, minlength=24).astype(np.float64)
    s = np.bincount(hour, weights=p, minlength=24)
    mean = p.mean() if p.size else 1.0
    return np.where(n > 0, s / np.maximum(n, 1) / max(mean, 1e-12), 1.0)


def shrunk_means(key: np.ndarray, parent_of_key: np.ndarray, y: np.ndarray, n_keys: int,
                 parent_mean: np.ndarray, prior: float) -> np.ndarray:
    """(n_keys,) per-key means of `y`, each shrunk to its parent's mean by `prior` pseudo-observations.

    Args:
        key: (n,) key of each observation, in [0, n_keys).
        parent_of_key: (n_keys,) the parent of each key.
        y: (n,) observations.
        parent_mean: (n_parents,) the parents' means.
        prior: weight of the parent's mean, in observations.
    """
    n = np.bincount(key, minlength=n_keys).astype(np.float64)
    s = np.bincount(key, weights=y, minlength=n_keys)
    return (s + prior * parent_mean[parent_of_key]) / (n + prior)


@dataclass(frozen=True, slots=True)
class CellTable:
    """Mean truth per cell of the observables (see the module docstring); `predict` reads rows only.

    Attributes:
        layout: the row's columns.
        means: (n_classes x n_cells,) shrunk mean of truth / hour factor per (segment class, cell).
        hours: (24,) the hour-of-day factor.
        by_segment: cells split by segment class (then `predict` needs the class of each row).
    """

    layout: Layout
    means: np.ndarray
    hours: np.ndarray
    by_segment: bool = False

    def predict(self, x: np.ndarray, hour: np.ndarray, seg: np.ndarray | None = None) -> np.ndarray:
        """(n,) estimated P(purchase | click) of rows `x` (n, n_features) at `hour` (n,) [and class `seg`]."""
        cell = self.layout.cell(x[:, :self.layout.n_features])
        if self.by_segment:
            if seg is None:
                raise ValueError("a by_segment CellTable needs each row's segment class")
            cell = seg.astype(np.int64) * self.layout.n_cells + cell
        return self.means[cell] * self.hours[hour]


def fit_table(layout: Layout, x: np.ndarray, hour: np.ndarray, p: np.ndarray, *, seg: np.ndarray | None = None,
              n_classes: int = 1, prior: float = 50.0) -> CellTable:
    """Fit a `CellTable`: global mean -> coarse cells -> fine cells, each shrunk to the level above.

    Args:
        layout: the row's columns.
        x: (n, >= n_features) observable rows; hour: (n,) hour of day; p: (n,) true probabilities.
        seg: (n,) segment class in [0, n_classes) to split every cell by (None: not split).
        prior: pseudo-observations of the coarser level's mean in each cell.
    """
    if x.shape[0] == 0:
        raise ValueError("fit_table: no rows to fit")
    x = x[:, :layout.n_features]  # rows with more columns (the request history) fit a layout without them
    hours = hour_factor(hour, p)
    y = p / hours[hour]
    cls = np.zeros(x.shape[0], np.int64) if seg is None else seg.astype(np.int64)
    n_ctx, n_cells = layout.n_context, layout.n_cells
    ctx, cell = cls * n_ctx + layout.context(x), cls * n_cells + layout.cell(x)
    k = max(int(n_classes), int(cls.max()) + 1)
    # the class means, then the coarse cells within a class, then the fine cells within a coarse cell
    top = shrunk_means(cls, np.zeros(k, np.int64), y, k, np.array([y.mean()]), prior)
    coarse = shrunk_means(ctx, np.arange(k * n_ctx) // n_ctx, y, k * n_ctx, top, prior)
    fine_parent = (np.arange(k * n_cells) // n_cells) * n_ctx + (np.arange(k * n_cells) % n_cells) // layout.n_within
    fine = shrunk_means(cell, fine_parent, y, k * n_cells, coarse, prior)
    return CellTable(layout, fine, hours, by_segment=seg is not None)


_HIST = 6  # journey features that interact with the context in LinearModel


@dataclass(frozen=True, slots=True)
class LinearModel:
    """A model on `design`'s columns: ridge least squares (`design(x) @ w`, clipped at 0) or, with
    `log_link`, Poisson regression (`exp(design(x) @ w)`: the context's factors multiply, as in the
    world's response).

    Attributes:
        layout: the row's columns.
        w: (n_terms,) weights of `design`'s columns.
        log_link: the Poisson regression's log link.
    """

    layout: Layout
    w: np.ndarray
    log_link: bool = False

    def predict(self, x: np.ndarray, hour: np.ndarray, seg: np.ndarray | None = None) -> np.ndarray:
        """(n,) estimated P(purchase | click) (hour and seg unused: the row has the hour)."""
        eta = design(self.layout, x[:, :self.layout.n_features]) @ self.w
        return np.exp(np.clip(eta, -30.0, 0.0)) if self.log_link else np.maximum(eta, 0.0)


def design(layout: Layout, x: np.ndarray) -> np.ndarray:
    """(n, n_features + n_context / 2 x m) float64 design matrix of rows `x`: the row, then per context
    (channel x intent x device type) its one-hot times [1, touched in 24 h, in 7 d, clicked in 24 h, in 7 d,
    log hours since click, log1p touches] (m = 7), and with `requests` [log1p purchase-intent requests,
    log1p requests per day] (m = 9)."""
    n = x.shape[0]
    parts = [np.ones((n, 1)), layout.history(x)[:, :_HIST - 1].astype(np.float64),
             np.log1p(layout.touches(x))[:, None].astype(np.float64)]
    if layout.requests:
        c = layout.n_base + layout.n_channels
        parts.append(x[:, [c + N_INTENTS - 1, c + N_INTENTS + 1]].astype(np.float64))
    j = np.concatenate(parts, axis=1)
    n_ctx = layout.n_context // 2
    inter = np.zeros((n, n_ctx, j.shape[1]))
    inter[np.arange(n), layout.context(x) // 2] = j
    return np.concatenate([x.astype(np.float64), inter.reshape(n, n_ctx * j.shape[1])], axis=1)  # n may be 0


def fit_linear(layout: Layout, x: np.ndarray, p: np.ndarray, ridge: float = 1.0, chunk: int = 20_000) -> LinearModel:
    """Fit a `LinearModel` by the normal equations, accumulated over chunks of rows.

    Args:
        layout: the row's columns.
        x: (n, >= n_features) observable rows; p: (n,) true probabilities.
        ridge: the L2 penalty (in rows' units: a weight's prior of 0 counts as `ridge` observations).
    """
    if x.shape[0] == 0:
        raise ValueError("fit_linear: no rows to fit")
    x = x[:, :layout.n_features]
    d = design(layout, x[:1]).shape[1]
    a, b = np.zeros((d, d)), np.zeros(d)
    for i in range(0, x.shape[0], chunk):
        z = design(layout, x[i:i + chunk])
        a += z.T @ z
        b += z.T @ p[i:i + chunk]
    return LinearModel(layout, np.linalg.solve(a + ridge * np.eye(d), b))


def fit_loglinear(layout: Layout, x: np.ndarray, p: np.ndarray, ridge: float = 1.0, iters: int = 15,
                  chunk: int = 20_000) -> LinearModel:
    """Fit a log-link `LinearModel` by Newton's method on the ridge-penalized Poisson likelihood, the gradient
    and Hessian accumulated over chunks of rows; stops when no weight moves by more than 1e-6.

    Args:
        layout: the row's columns.
        x: (n, >= n_features) observable rows; p: (n,) true probabilities.
        ridge: the L2 penalty.
        iters: the most Newton steps.
    """
    if x.shape[0] == 0:
        raise ValueError("fit_loglinear: no rows to fit")
    x = x[:, :layout.n_features]
    d = design(layout, x[:1]).shape[1]
    w = np.zeros(d)
    w[0] = np.log(max(float(p.mean()), 1e-12))  # the bias column: start at the overall mean
    for _ in range(iters):
        g, h = -ridge * w, ridge * np.eye(d)
        for i in range(0, x.shape[0], chunk):
            z = design(layout, x[i:i + chunk])
            mu = np.exp(np.clip(z @ w, -30.0, 5.0))
            g += z.T @ (p[i:i + chunk] - mu)
            h += (z * mu[:, None]).T @ z
        step = np.linalg.solve(h, g)
        w = w + step
        if np.abs(step).max() < 1e-6:
            break
    return LinearModel(layout, w, log_link=True)


def ranking(pred: np.ndarray, p: np.ndarray, bins: int = 5) -> dict[str, Any]:
    """How well `pred` ranks the truth `p`: R^2, the explained variance share, truth by predicted quantile.

    Returns:
        `{"r2", "explained" (var(pred) / var(p)), "corr", "mean_pred", "mean_true",
        "bins": [{"pred", "p_true", "n"}]}`, the bins by quantiles of `pred` (ties to the lower bin).
    """
    if p.size < 2:
        raise ValueError(f"ranking needs at least 2 rows, got {p.size}")
    var = float(p.var())
    r2 = 1.0 - float(((p - pred) ** 2).mean()) / var if var > 0 else 0.0
    corr = float(np.corrcoef(pred, p)[0, 1]) if pred.std() > 0 and var > 0 else 0.0
    order = np.argsort(pred, kind="stable")
    table = [{"pred": float(pred[part].mean()), "p_true": float(p[part].mean()), "n": int(part.size)}
             for part in np.array_split(order, bins) if part.size]
    return {"r2": r2, "explained": float(pred.var()) / var if var > 0 else 0.0, "corr": corr,
            "mean_pred": float(pred.mean()), "mean_true": float(p.mean()), "bins": table}
