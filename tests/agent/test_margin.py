"""The CAC guard's margin chosen on validation worlds (`gaelp.agent.margin`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from gaelp.agent.margin import MarginChoice, MarginTrial, over_target_share, search_margin, write_margin
from gaelp.agent.network import RecurrentActorCritic, load_checkpoint, save_checkpoint


def test_the_share_over_the_target_is_a_log_normal_fitted_to_the_cacs() -> None:
    cacs = [92.0, 101.0, 97.0, 108.0, 99.0]
    logs = np.log(cacs)
    expected = norm.sf((math.log(110.0) - logs.mean()) / logs.std(ddof=1))
    assert over_target_share(cacs, 110.0) == pytest.approx(expected, rel=1e-12)
    assert 0 < over_target_share(cacs, 110.0) < 0.2  # none over, yet a share: the fit's tail
    assert over_target_share(cacs, 100.0) > 0.4
    # a campaign without a purchase counts as over; too few finite CACs, or all equal: the plain share
    assert over_target_share([*cacs, math.inf], 110.0) == pytest.approx((1 + 5 * expected) / 6, rel=1e-12)
    assert over_target_share([100.0, 100.0, 100.0], 110.0) == 0.0
    assert over_target_share([120.0, math.nan], 110.0) == 1.0
    with pytest.raises(ValueError, match="no campaign"):
        over_target_share([], 110.0)


def _market(spread: float = 0.04):
    """A stand-in for the margin's worlds: CAC ~ 80 x margin (with a spread over 12 worlds), and more purchases
    the higher the margin, less the score's penalty over the target."""
    z = norm.ppf((np.arange(12) + 0.5) / 12)
    played: list[float] = []

    def play(m: float) -> list[dict[str, float]]:
        played.append(m)
        cac = 80.0 * m * np.exp(spread * z)
        conv = 200.0 * m
        return [{"cac": c, "score": conv * min(1.0, (110.0 / c) ** 2)} for c in cac]

    return play, played


def test_the_margin_climbs_while_its_risk_stays_within_the_limit() -> None:
    play, played = _market()
    choice = search_margin(play, 110.0, start=1.2, step=0.1, bounds=(0.9, 1.8), risk=0.05, worlds=range(912, 924))
    # the risk of 80 x m x exp(0.04 z) over 110: within 5% up to 1.2, over at 1.3, where the climb stops
    risks = {t.margin: t.risk for t in choice.trials}
    assert played == [1.2, 1.3] and risks[1.2] <= 0.05 < risks[1.3]
    assert choice.margin == 1.2 and choice.worlds == tuple(range(912, 924)) and choice.risk == 0.05
    # a looser limit lets it climb further, and the highest-scoring margin within it wins
    play, played = _market()
    loose = search_margin(play, 110.0, start=1.2, risk=0.5)
    within = [t for t in loose.trials if t.risk <= 0.5]
    assert played == [1.2, 1.3, 1.4] and loose.margin == max(within, key=lambda t: t.mean_score).margin == 1.3


def test_the_margin_steps_down_until_one_is_within_the_limit() -> None:
    play, played = _market(spread=0.02)
    choice = search_margin(lambda m: play(m * 1.4), 110.0, start=1.2, risk=0.05)  # a policy that spends more
    assert played == pytest.approx([1.68, 1.54, 1.4, 1.26])  # 1.2, 1.1, 1.0, 0.9 of the search
    assert [t.margin for t in choice.trials] == [1.2, 1.1, 1.0, 0.9] and choice.margin == 0.9
    assert all(t.risk > 0.05 for t in choice.trials[:-1]) and choice.trials[-1].risk <= 0.05


def test_no_margin_within_the_limit_keeps_the_least_risky_and_says_so() -> None:
    play, _ = _market()
    with pytest.warns(UserWarning, match="no guard margin within 0.9-1.8 kept the share of campaigns over the target"):
        choice = search_margin(lambda m: play(m + 1.0), 110.0, start=1.2, risk=0.05)
    assert [t.margin for t in choice.trials] == [1.2, 1.1, 1.0, 0.9] and choice.margin == 0.9


@pytest.mark.parametrize(("kw", "match"), [({"start": 2.0}, "start <= 1.8"), ({"step": 0.0}, "step > 0"),
                                           ({"risk": 1.0}, "risk must be in")])
def test_bad_search_settings_are_refused(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        search_margin(_market()[0], 110.0, **kw)


def test_the_choice_is_written_into_the_checkpoint_with_its_record(tmp_path) -> None:
    net = RecurrentActorCritic(3, 2, 4)
    trial = MarginTrial(1.3, (200.0, 210.0), (101.0, 104.0), 0.01)
    choice = MarginChoice(1.3, (trial,), (912, 913), 0.05)
    save_checkpoint(tmp_path / "a.pt", net, np.zeros(2), horizon=np.linspace(0, 1, 5), horizon_guard_margin=1.2)
    write_margin(tmp_path / "a.pt", choice)
    ck = load_checkpoint(tmp_path / "a.pt")
    assert ck["horizon_guard_margin"] == 1.3 and ck["margin_choice"] == choice.to_json()
    assert ck["margin_choice"]["trials"][0] == {"margin": 1.3, "mean_score": 205.0, "over_target_share": 0.01,
                                                "scores": [200.0, 210.0], "cacs": [101.0, 104.0]}
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in ck["model"].items())
    save_checkpoint(tmp_path / "b.pt", net, np.zeros(2))
    with pytest.raises(ValueError, match="has no horizon table"):
        write_margin(tmp_path / "b.pt", choice)
