"""The split of our click-through conversions into post-click and organic purchases
(`benchmarks.bench_conversion_kinds`)."""

from __future__ import annotations

import json

from benchmarks.bench_conversion_kinds import conversion_kinds, main
from gaelp.config import load_config
from gaelp.experiments.play import Play, play


def test_the_two_kinds_add_up_to_the_scores_conversions():
    cfg = load_config(None, users=30_000, days=10, seed=3)
    row = conversion_kinds(cfg, "fixed")
    assert row["post_click"] > 0 and row["organic"] > 0  # a broad bidder's clickers buy both ways
    assert row["post_click"] + row["organic"] == play(cfg, Play(3, "fixed")).conversions


def test_oracle_lp_plays_at_the_k_given_and_the_json_has_a_row_per_bidder_and_world(capsys):
    cfg = load_config(None, users=10_000, days=8, seed=4)
    low, high = conversion_kinds(cfg, "oracle_lp", 0.25), conversion_kinds(cfg, "oracle_lp", 8.0)
    assert low["post_click"] + low["organic"] < high["post_click"] + high["organic"]
    main(["--bidders", "fixed,target_cpa", "--seeds", "1,2", "--users", "800", "--days", "2", "--workers", "1",
          "--json"])
    out = json.loads(capsys.readouterr().out)
    assert [(r["bidder"], r["seed"]) for r in out["rows"]] == [("fixed", 1), ("fixed", 2), ("target_cpa", 1),
                                                               ("target_cpa", 2)]
    assert (out["users"], out["days"], out["oracle_k"]) == (800, 2, 2.0)
