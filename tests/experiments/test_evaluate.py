"""The evaluator: paired worlds, oracle_lp's hindsight k, summaries with CIs and Holm-adjusted tests.

The agent is stood in for by a tiny bidder of this module, passed as the agent factory (the real
one, `make_agent_bidder`, is wired by the command line).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from gaelp.bidders.protocol import BaseBidder, OpportunityBatch
from gaelp.config import Config, load_config
from gaelp.experiments.evaluate import (
    TRAINING_SEEDS_FROM,
    bidder_list,
    compare,
    play_worlds,
    play_worlds_within,
    summarize,
)
from gaelp.experiments.hindsight import KGrid
from gaelp.experiments.play import Play, WorldResult, play

CFG = load_config(None, users=2_000, days=3)
SEEDS = [0, 1, 2]
BIDDERS = ["agent", "agent_online", "target_cpa", "fixed", "oracle_lp"]
GRID = KGrid(coarse=(-1.0, 1.0), refine=(0.5,))  # a short search: the search itself is tested in test_hindsight
CALLS: list[tuple[int, str | Path | None, bool]] = []


class StubAgent(BaseBidder):
    """Stands in for the agent: a flat bid, higher when 'learning online' (so the two differ)."""

    def __init__(self, cfg: Config, online: bool) -> None:
        super().__init__("agent", cfg.campaign.budget_per_user * cfg.users)
        self.value = cfg.bidders.fixed_bid * (0.5 if online else 0.8)

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        return np.full(batch.size, self.value)


def stub_agent(cfg: Config, policy: str | Path | None, online: bool) -> StubAgent:
    CALLS.append((cfg.seed, policy, online))
    return StubAgent(cfg, online)


@pytest.fixture(scope="module")
def results() -> dict[str, list[WorldResult]]:
    CALLS.clear()
    return play_worlds(CFG, SEEDS, BIDDERS, agent_factory=stub_agent, policy="ckpt.pt", workers=1, grid=GRID)


def test_every_bidder_plays_the_same_worlds_in_order(results):
    assert list(results) == BIDDERS
    for rows in results.values():
        assert [r.seed for r in rows] == SEEDS
    assert sorted(CALLS) == sorted((s, "ckpt.pt", online) for s in SEEDS for online in (False, True))


def test_a_world_result_is_the_campaign_of_that_seed(results):
    again = play(CFG, Play(1, "target_cpa"))
    assert again == results["target_cpa"][1]
    assert results["fixed"][0] != results["fixed"][1]  # different seeds, different worlds
    assert results["agent"] != results["agent_online"]


def test_oracle_lp_plays_each_world_with_its_hindsight_k(results):
    for r in results["oracle_lp"]:
        assert r.k is not None and r.k > 0
        assert r.score >= play(CFG, Play(r.seed, "oracle_lp", 0.5)).score  # k = 2^-1 is on the coarse grid
        assert play(CFG, Play(r.seed, "oracle_lp", r.k)) == r


def test_summary_has_the_documented_json_shape_and_no_nan(results):
    s = summarize(CFG, results)
    text = json.dumps(s, allow_nan=False)
    assert json.loads(text) == s
    assert s["worlds"] == SEEDS and s["users"] == CFG.users and s["days"] == CFG.days
    assert list(s["bidders"]) == BIDDERS
    for b in s["bidders"].values():
        assert {"score", "conversions", "cac", "roas", "budget_use", "spend", "per_world"} <= set(b)
        assert {"mean", "ci95"} <= set(b["score"])
        assert [w["seed"] for w in b["per_world"]] == SEEDS
        for w in b["per_world"]:
            assert {"seed", "score", "conversions", "cac", "roas", "spend", "budget_use"} <= set(w)
        scores = [w["score"] for w in b["per_world"]]
        assert b["score"]["mean"] == pytest.approx(np.mean(scores))
        lo, hi = b["score"]["ci95"]
        assert min(scores) <= lo <= b["score"]["mean"] <= hi <= max(scores)
        assert b["score"]["n"] == len(SEEDS)
        cacs = [w["cac"] for w in b["per_world"] if w["cac"] is not None]
        assert b["cac"]["n"] == len(cacs)
        assert b["cac"]["mean"] == (pytest.approx(np.mean(cacs)) if cacs else None)
    assert {"k"} <= set(s["bidders"]["oracle_lp"]["per_world"][0])


def test_the_agent_is_compared_with_every_other_bidder_holm_adjusted(results):
    s = summarize(CFG, results)
    assert s["reference"] == "agent"
    comps = s["comparisons"]
    assert [(c["a"], c["b"]) for c in comps] == [("agent", b) for b in BIDDERS[1:]]
    for c in comps:
        assert {"a", "b", "ratio", "p_value", "p_holm"} <= set(c)
        assert 0 <= c["p_value"] <= c["p_holm"] <= 1
    m = len(comps)
    assert min(c["p_holm"] for c in comps) == pytest.approx(min(1.0, m * min(c["p_value"] for c in comps)))


def test_without_the_agent_the_first_bidder_is_the_reference(results):
    s = summarize(CFG, {b: results[b] for b in ("fixed", "target_cpa", "oracle_lp")})
    assert s["reference"] == "fixed"
    assert [c["b"] for c in s["comparisons"]] == ["target_cpa", "oracle_lp"]


def world(seed: int, bidder: str, score: float) -> WorldResult:
    return WorldResult(seed, bidder, score, 1, None if score == 0 else 50.0, 1.0, 10.0, 0.5)


def test_compare_takes_the_median_of_per_world_ratios_over_worlds_where_b_scores():
    a = [world(s, "a", v) for s, v in enumerate([8.0, 3.0, 10.0, 1.0])]
    b = [world(s, "b", v) for s, v in enumerate([10.0, 0.0, 5.0, 4.0])]
    c = compare(a, b)
    assert c["ratio"] == pytest.approx(0.8)  # ratios 0.8, 2.0, 0.25 (the world where b scores 0 left out)
    assert c["ratio_of_means"] == pytest.approx(22.0 / 19.0)
    lo, hi = c["ratio_ci95"]  # the median's bootstrap interval over the three worlds that count
    assert 0.25 <= lo <= 0.8 <= hi <= 2.0 and compare(a, b)["ratio_ci95"] == c["ratio_ci95"]
    zero = [world(s, "z", 0.0) for s in range(4)]
    assert compare(a, zero)["ratio"] is None and compare(a, zero)["ratio_of_means"] is None
    assert compare(a, zero)["ratio_ci95"] is None
    with pytest.raises(ValueError, match="same worlds"):
        compare(a, b[::-1])


def test_undefined_cac_is_null_and_left_out_of_the_mean():
    rows = {"x": [world(0, "x", 0.0), world(1, "x", 2.0)], "y": [world(0, "y", 1.0), world(1, "y", 1.0)]}
    s = summarize(CFG, rows)
    assert s["bidders"]["x"]["per_world"][0]["cac"] is None
    assert s["bidders"]["x"]["cac"] == {"mean": 50.0, "ci95": [50.0, 50.0], "n": 1}
    assert not any(isinstance(v, float) and math.isnan(v) for v in json.loads(json.dumps(s))["bidders"]["x"]["score"]
                   ["ci95"])


@pytest.mark.parametrize(("names", "online", "message"), [
    (["target_cpa", "bogus"], False, "unknown bidder 'bogus'"),
    (["fixed", "fixed"], False, "twice"),
    ([], False, "empty"),
    (["fixed"], True, "--online needs the agent"),
])
def test_bidder_list_rejects_bad_names_by_name(names, online, message):
    with pytest.raises(ValueError, match=message):
        bidder_list(names, online)


def test_bidder_list_puts_the_online_agent_beside_the_frozen_one():
    assert bidder_list(["fixed", "agent", "oracle_lp"], online=True) == ["fixed", "agent", "agent_online", "oracle_lp"]
    assert bidder_list(["agent", "fixed"]) == ["agent", "fixed"]


def test_the_agent_needs_a_factory():
    with pytest.raises(ValueError, match="agent factory"):
        play_worlds(CFG, [0], ["agent", "fixed"], workers=1)


def test_a_process_pool_plays_exactly_what_one_process_plays():
    cfg = load_config(None, users=1_000, days=2)
    progress: list[tuple[int, int]] = []
    pooled = play_worlds(cfg, [5, 6], ["fixed", "target_cpa"], workers=2,
                         progress=lambda done, total: progress.append((done, total)))
    assert pooled == play_worlds(cfg, [5, 6], ["fixed", "target_cpa"], workers=1)
    assert sorted(d for d, _ in progress) == [1, 2, 3, 4] and {t for _, t in progress} == {4}


def test_worlds_within_a_tiny_budget_play_one_batch_of_worker_count():
    cfg = load_config(None, users=1_000, days=1)
    out = play_worlds_within(cfg, 40, ["fixed"], budget_s=1e-3, workers=1)
    assert [r.seed for r in out["fixed"]] == [40]
    progress: list[tuple[int, int]] = []
    out = play_worlds_within(cfg, 40, ["fixed"], budget_s=1e6, workers=1, max_worlds=3,
                             progress=lambda done, total: progress.append((done, total)))
    assert [r.seed for r in out["fixed"]] == [40, 41, 42]
    assert progress == [(1, 1), (2, 2), (3, 3)]  # counted over the batches, as one bar shows them
    out = play_worlds_within(cfg, TRAINING_SEEDS_FROM - 2, ["fixed"], budget_s=1e6, workers=1)
    assert [r.seed for r in out["fixed"]] == [998, 999]  # never a training world
    with pytest.raises(ValueError, match="held-out"):
        play_worlds_within(cfg, TRAINING_SEEDS_FROM, ["fixed"], budget_s=1.0, workers=1)


def test_a_failing_play_fails_the_evaluation_with_its_message():
    with pytest.raises(ValueError, match="needs the agent's factory"):
        play(CFG, Play(0, "agent"))
    with pytest.raises(ValueError, match="unknown bidder"):
        play_worlds(CFG, [0], ["nope"], workers=1)


def test_held_out_and_training_seeds_do_not_overlap_by_default():
    assert TRAINING_SEEDS_FROM == 1000  # training uses seeds >= 1000; `gaelp evaluate` defaults to 0 .. worlds - 1
