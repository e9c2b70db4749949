"""The delayed-reward ledger: credit on conversion, zero on a closed window, advances and
corrections, against a slow reference over a long synthetic horizon."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.attribution.lag import fit_lag, sample_click_log
from gaelp.attribution.ledger import ADVANCE, CORRECTION, CREDIT, ZERO, RewardEvents, RewardLedger
from gaelp.attribution.paths import Paths
from gaelp.attribution.registry import MODELS, RULE_BASED, get_model

from .helpers import SEED

CHANNELS = ("search", "social", "display", "email")
W = 30 * 24.0
DAYS = 150


def synthetic_log(rng: np.random.Generator, n_people: int = 300, days: int = DAYS):
    """Touches and conversions of many people over `days`, times continuous (no ties)."""
    n_touch = rng.poisson(10, n_people)
    person = np.repeat(np.arange(n_people), n_touch)
    touches = {
        "t": rng.uniform(0, 24.0 * days, person.size),
        "identity": person,
        "channel": rng.choice(len(CHANNELS), person.size, p=[0.4, 0.3, 0.2, 0.1]),
    }
    touches["decision"] = np.arange(person.size) + 1000  # any int ids
    n_conv = rng.poisson(1.2, n_people)
    cperson = np.repeat(np.arange(n_people), n_conv)
    convs = {
        "t": rng.uniform(0, 24.0 * days, cperson.size),
        "identity": cperson,
        "value": rng.uniform(50.0, 300.0, cperson.size),
    }
    return touches, convs


def reference_credit(touches, convs, model_name: str) -> tuple[np.ndarray, float]:
    """Slow, obvious: each conversion's path is its person's touches after the previous
    conversion (ties go to the earlier) and at most W hours before it.

    Returns:
        (n_touches,) final reward of each touch, and the total value of credited conversions.
    """
    path_id, members, conv_value, conv_t = [], [], [], []
    order = np.argsort(convs["t"], kind="stable")
    prev: dict[int, float] = {}
    for j in order:
        u, T = int(convs["identity"][j]), float(convs["t"][j])
        lo = prev.get(u, -np.inf)
        prev[u] = T
        idx = [
            i for i in range(len(touches["t"]))
            if touches["identity"][i] == u and lo < touches["t"][i] <= T
            and T - touches["t"][i] <= W
        ]
        if idx:
            path_id += [len(conv_value)] * len(idx)
            members += idx
            conv_value.append(convs["value"][j])
            conv_t.append(T)
    reward = np.zeros(len(touches["t"]))
    if not members:
        return reward, 0.0
    members = np.array(members)
    paths = Paths.from_arrays(
        np.array(path_id), touches["channel"][members], CHANNELS,
        conversions=np.ones(len(conv_value)), value=np.array(conv_value),
        t=touches["t"][members], conversion_t=np.array(conv_t),
    )
    credit = get_model(model_name).credit(paths)
    reward[members[paths.touch_index]] = credit * paths.value[paths.path_id]
    return reward, float(np.sum(conv_value))


def stream(ledger: RewardLedger, touches, convs, days: int = DAYS, close_every: int = 7,
           close=None):
    """Feed the log day by day, closing an episode every `close_every` days; check the running
    invariant `paid == attributed + outstanding` after every call."""
    parts = []
    close = close or {"p": 0.3, "survival": lambda h: np.exp(-np.asarray(h) / 48.0), "value": 150.0}
    for d in range(days):
        lo, hi = 24.0 * d, 24.0 * (d + 1)
        m = (touches["t"] >= lo) & (touches["t"] < hi)
        ledger.touch(touches["decision"][m], touches["t"][m], touches["identity"][m],
                     touches["channel"][m])
        c = (convs["t"] >= lo) & (convs["t"] < hi)
        parts.append(ledger.convert(convs["t"][c], convs["identity"][c], convs["value"][c]))
        if (d + 1) % close_every == 0:
            parts.append(ledger.close_episode(hi, **close))
        assert ledger.paid == pytest.approx(ledger.attributed_value + ledger.outstanding)
    parts.append(ledger.expire(np.inf))
    return RewardEvents.concat(parts)


@pytest.mark.parametrize("model", RULE_BASED)
def test_long_horizon_matches_the_reference_decision_by_decision(model: str) -> None:
    rng = np.random.default_rng(SEED)
    touches, convs = synthetic_log(rng)
    ledger = RewardLedger(CHANNELS, model, window_h=W)
    events = stream(ledger, touches, convs)
    expected, attributed = reference_credit(touches, convs, model)

    assert ledger.n_pending == 0 and ledger.outstanding == 0.0
    assert events.total == pytest.approx(attributed, rel=1e-12)
    assert ledger.attributed_value == pytest.approx(attributed, rel=1e-12)
    assert 0 < ledger.attributed_conversions < len(convs["t"])  # some conversions are direct
    assert ledger.direct_conversions == len(convs["t"]) - ledger.attributed_conversions
    ids, total = events.by_decision()
    assert np.array_equal(ids, touches["decision"])  # every touch was settled, none twice
    np.testing.assert_allclose(total, expected, rtol=1e-9, atol=1e-9)
    # Advances were made and corrected: they are not all zero, but they net out.
    adv = events.kind == ADVANCE
    assert adv.any() and np.abs(events.amount[adv]).sum() > 1.0
    settle = np.isin(events.kind, (CREDIT, ZERO, CORRECTION))
    _, n_settle = np.unique(events.decision[settle], return_counts=True)
    assert np.all(n_settle == 1)  # exactly one settlement per touch


@pytest.mark.parametrize("model", ["markov", "shapley"])
def test_data_driven_models_pay_exactly_the_attributed_value(model: str) -> None:
    rng = np.random.default_rng(SEED + 1)
    touches, convs = synthetic_log(rng, n_people=200, days=90)
    ledger = RewardLedger(CHANNELS, model, window_h=W)
    events = stream(ledger, touches, convs, days=90)
    _, attributed = reference_credit(touches, convs, "linear")  # which conversions have a path
    assert events.total == pytest.approx(attributed, rel=1e-12)
    _, total = events.by_decision()
    assert total.min() >= -1e-9


def test_shared_decisions_sum_their_touches() -> None:
    rng = np.random.default_rng(SEED + 2)
    touches, convs = synthetic_log(rng, n_people=100, days=60)
    per_touch = stream(RewardLedger(CHANNELS, "position", window_h=W), touches, convs, days=60)
    shared = dict(touches, decision=touches["decision"] // 5)  # one decision bought 5 touches
    per_decision = stream(RewardLedger(CHANNELS, "position", window_h=W), shared, convs, days=60)
    ids, total = per_decision.by_decision()
    expected = np.bincount(per_touch.decision // 5, per_touch.amount)
    np.testing.assert_allclose(total, expected[ids], atol=1e-9)


def one_person(model: str = "linear") -> RewardLedger:
    led = RewardLedger(CHANNELS, model, window_h=W)
    led.touch(np.array([1, 2]), np.array([0.0, 10.0]), np.array([7, 7]), np.array([0, 1]))
    return led


def test_touch_after_a_conversion_earns_nothing_from_it() -> None:
    led = one_person()
    ev = led.convert(np.array([10.0]), np.array([7]), np.array([100.0]))  # same instant counts
    assert ev.decision.tolist() == [1, 2] and ev.amount.tolist() == [50.0, 50.0]
    led.touch(np.array([3]), np.array([11.0]), np.array([7]), np.array([2]))
    assert len(led.convert(np.array([11.0]), np.array([8]), np.array([5.0]))) == 0
    late = led.expire(11.0 + W + 1)
    assert late.decision.tolist() == [3] and late.amount.tolist() == [0.0]
    assert late.kind.tolist() == [ZERO] and late.t.tolist() == [11.0 + W]
    assert led.attributed_value == 100.0 and led.direct_conversions == 1


def test_window_bounds_are_inclusive_and_old_touches_resolve_to_zero() -> None:
    led = one_person()
    ev = led.convert(np.array([10.0 + W]), np.array([7]), np.array([90.0]))
    credit = ev.kind == CREDIT
    assert ev.decision[credit].tolist() == [2] and ev.amount[credit].tolist() == [90.0]
    assert ev.decision[ev.kind == ZERO].tolist() == [1]  # 10 + W - 0 > W: outside
    led2 = one_person()
    ev2 = led2.convert(np.array([10.0 + W + 0.5]), np.array([7]), np.array([90.0]))
    assert np.all(ev2.amount == 0.0) and led2.direct_conversions == 1


def test_other_identities_and_repeat_conversions() -> None:
    led = RewardLedger(CHANNELS, "last_click", window_h=W)
    led.touch(np.array([1, 2, 3]), np.array([0.0, 1.0, 2.0]), np.array([5, 6, 5]),
              np.array([0, 1, 2]))
    # Person 5 converts twice in one batch: the second has no new touch (direct).
    ev = led.convert(np.array([4.0, 3.0]), np.array([5, 5]), np.array([10.0, 20.0]))
    assert ev.decision.tolist() == [1, 3] and ev.amount.tolist() == [0.0, 20.0]
    assert led.direct_conversions == 1 and led.n_pending == 1  # person 6 still pending


def test_correction_is_zero_when_the_expectation_was_right() -> None:
    """p = 1 and every converter converts within the window: the advance is the truth."""
    led = one_person("linear")
    adv = led.close_episode(24.0, p=1.0, survival=lambda h: (np.asarray(h) < W).astype(float),
                            value=80.0)
    assert adv.kind.tolist() == [ADVANCE, ADVANCE] and adv.amount.tolist() == [40.0, 40.0]
    assert led.outstanding == 80.0 and led.paid == 80.0
    ev = led.convert(np.array([30.0]), np.array([7]), np.array([80.0]))
    assert ev.kind.tolist() == [CORRECTION, CORRECTION] and ev.amount.tolist() == [0.0, 0.0]
    assert led.paid == led.attributed_value == 80.0


def test_corrections_are_unbiased_under_the_true_lag_model() -> None:
    """One click per person; conversions drawn from p and an exponential delay. Advancing with
    the true model, the corrections sum to about zero; with a wrong p, they do not."""
    rng = np.random.default_rng(SEED + 3)
    n, p, mean_h, horizon = 20_000, 0.3, 48.0, 14 * 24.0
    click_t = np.sort(rng.uniform(0.0, horizon, n))
    delay = rng.exponential(mean_h, n)
    converts = rng.random(n) < p

    def run(p_assumed: float) -> tuple[float, float]:
        led = RewardLedger(CHANNELS, "linear", window_h=W)
        led.touch(np.arange(n), click_t, np.arange(n), np.zeros(n, np.int64))
        seen = converts & (click_t + delay <= horizon)
        led.convert(click_t[seen] + delay[seen], np.flatnonzero(seen))
        adv = led.close_episode(horizon, p=p_assumed, survival=lambda h: np.exp(-h / mean_h))
        later = converts & ~seen
        order = np.argsort(click_t[later] + delay[later])
        who = np.flatnonzero(later)[order]
        ev = led.convert(click_t[who] + delay[who], who)
        ev = RewardEvents.concat([ev, led.expire(np.inf)])
        corr = ev.amount[ev.kind == CORRECTION]
        q = adv.amount[adv.kind == ADVANCE]
        return float(corr.sum()), float(np.sqrt(np.sum(q * (1 - q))))

    total, sd = run(p)
    assert abs(total) < 4 * sd
    wrong, sd_w = run(0.6)  # over-optimistic advances must be clawed back
    assert wrong < -10 * sd_w


def test_close_episode_with_a_fitted_lag_model() -> None:
    rng = np.random.default_rng(SEED + 4)
    log = sample_click_log(rng, 5000, p=0.3, mean_delay_h=48.0, horizon_h=168.0)
    fit = fit_lag(log.elapsed_h, log.delay_h)
    led = one_person("linear")
    ev = led.close_episode(10.0 + 48.0, fit, value=2.0)
    s = fit.survival(48.0)
    q = fit.p_convert() * s / (1 - fit.p_convert() + fit.p_convert() * s)
    q *= (s - fit.survival(W)) / s
    np.testing.assert_allclose(ev.amount, [q, q], rtol=1e-12)  # 2.0 * q split 50/50
    # A second close re-advances only the change.
    ev2 = led.close_episode(10.0 + 96.0, fit, value=2.0)
    assert np.all(ev2.amount < 0) and led.outstanding == pytest.approx(
        2 * float(led.pending().advanced[0])
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda led: led.touch(np.array([1]), np.array([0.0]), np.array([1]), np.array([9])),
         "channel[0] = 9"),
        (lambda led: led.touch(np.array([1, 2]), np.array([0.0]), np.array([1]), np.array([0])),
         "decision must have 1 entries"),
        (lambda led: led.touch(np.array([1]), np.array([np.nan]), np.array([1]), np.array([0])),
         "t[0] = nan is not finite"),
        (lambda led: led.touch(np.array([1.5]), np.array([0.0]), np.array([1]), np.array([0])),
         "decision must hold integers"),
        (lambda led: led.convert(np.array([5.0]), np.array([1]), np.array([-1.0])),
         "value[0] = -1.0 is negative"),
        (lambda led: led.close_episode(100.0, p=0.5), "give either lag"),
    ],
)
def test_bad_input_fails_clearly(call, message: str) -> None:
    led = RewardLedger(CHANNELS, "linear", window_h=W)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        call(led)


def test_time_runs_forward() -> None:
    led = one_person()
    led.convert(np.array([50.0]), np.array([9]))
    with pytest.raises(ValueError, match="predates the ledger's clock 50.0"):
        led.touch(np.array([4]), np.array([49.0]), np.array([7]), np.array([0]))
    with pytest.raises(ValueError, match="predates"):
        led.convert(np.array([49.0]), np.array([7]))


def test_model_by_name_or_instance_and_unknown_names() -> None:
    assert RewardLedger(CHANNELS, "time_decay", half_life_days=3.0).model == get_model(
        "time_decay", half_life_days=3.0
    )
    assert RewardLedger(CHANNELS, get_model("markov", order=2)).model.order == 2
    with pytest.raises(ValueError, match="unknown attribution model 'u_shape'"):
        RewardLedger(CHANNELS, "u_shape")
    with pytest.raises(ValueError, match="window_h"):
        RewardLedger(CHANNELS, window_h=0.0)
    assert set(RULE_BASED) <= set(MODELS)
