"""`check_attribution`: the contract every attribution model must honour.

In the spirit of Gymnasium's `check_env`: tests run it over every registered model, so a new
model gets the same scrutiny for free.

The contract, on any `Paths`:

1. `credit(paths)` has shape (n_touches,), is finite and never negative, and sums to one within
   every path: a conversion is credited exactly once.
2. `channel_credit(paths)` never goes negative and sums to the paths' total conversions and total
   value.
3. Deterministic: the same input gives bit-identical output.
4. The order of input rows is irrelevant: permuting the paths permutes the per-touch credit with
   them and leaves the channel credit unchanged (up to floating-point summation order).
"""

from __future__ import annotations

import numpy as np

from gaelp.attribution.base import AttributionModel
from gaelp.attribution.paths import Paths


class AttributionContractError(AssertionError):
    """An attribution model broke the contract; the message says which clause and where."""


def _fail(model: AttributionModel, message: str) -> None:
    raise AttributionContractError(f"{model.name}: {message}")


def check_attribution(
    model: AttributionModel,
    paths: Paths,
    *,
    rng: np.random.Generator | None = None,
    rtol: float = 1e-9,
) -> None:
    """Check `model` against the attribution contract on `paths`.

    Args:
        model: The model under test.
        paths: Journeys to test on (include repeated channels, one-touch and non-converting
            paths to exercise the edge cases).
        rng: Draws the row permutation; if None, the paths are reversed instead.
        rtol: Relative tolerance for sums and for the permutation comparison.

    Raises:
        AttributionContractError: The first broken clause, with the offending path or channel.

    """
    credit = np.asarray(model.credit(paths))
    if credit.shape != (paths.n_touches,):
        _fail(model, f"credit has shape {credit.shape}, expected ({paths.n_touches},)")
    if not np.all(np.isfinite(credit)):
        _fail(model, f"credit is not finite at touch {int(np.argmin(np.isfinite(credit)))}")
    if np.any(credit < 0):
        _fail(model, f"negative credit {credit.min():.6g} at touch {int(np.argmin(credit))}")
    per_path = np.bincount(paths.path_id, credit, minlength=paths.n_paths)
    bad = np.flatnonzero(~np.isclose(per_path, 1.0, rtol=0, atol=rtol * 10))
    if bad.size:
        _fail(model, f"credit on path {int(bad[0])} sums to {per_path[bad[0]]:.6g}, not 1")

    cc = model.channel_credit(paths)
    n_ch = len(paths.channels)
    for name, arr, total in (
        ("conversions", cc.conversions, paths.conversions.sum()),
        ("value", cc.value, paths.value.sum()),
    ):
        arr = np.asarray(arr)
        if arr.shape != (n_ch,):
            _fail(model, f"channel {name} has shape {arr.shape}, expected ({n_ch},)")
        if np.any(arr < 0):
            _fail(model, f"channel {paths.channels[int(np.argmin(arr))]!r} gets negative {name}")
        if not np.isclose(arr.sum(), total, rtol=rtol, atol=rtol):
            _fail(model, f"channel {name} sum to {arr.sum():.10g}, the paths hold {total:.10g}")

    again = model.channel_credit(paths)
    if not (
        np.array_equal(np.asarray(model.credit(paths)), credit)
        and np.array_equal(again.conversions, cc.conversions)
        and np.array_equal(again.value, cc.value)
    ):
        _fail(model, "not deterministic: a second call on the same input differs")

    order = np.arange(paths.n_paths)[::-1] if rng is None else rng.permutation(paths.n_paths)
    shuffled = paths.take(order)
    credit_shuffled = np.asarray(model.credit(shuffled))
    back = np.empty_like(credit)
    # take() keeps each path's touches in order, so touches line up by (path, position).
    back[paths.offsets[order][shuffled.path_id] + shuffled.position()] = credit_shuffled
    if not np.allclose(back, credit, rtol=rtol, atol=rtol):
        _fail(model, "per-touch credit changes when the input paths are reordered")
    cc_shuffled = model.channel_credit(shuffled)
    if not (
        np.allclose(cc_shuffled.conversions, cc.conversions, rtol=rtol, atol=rtol)
        and np.allclose(cc_shuffled.value, cc.value, rtol=rtol, atol=rtol)
    ):
        _fail(model, "channel credit changes when the input paths are reordered")
