"""The label-sources benchmark: the bound's model fitted on clicks from each source, played at a grid of levels."""

from __future__ import annotations

import pytest

from benchmarks.bench_label_sources import fit_source, run


def test_each_source_fits_on_its_own_clicks_and_the_run_repeats_itself() -> None:
    kw = {"train_worlds": 2, "train_users": 2000, "seeds": [900], "ks": [1.0, 2.0], "users": 1000, "days": 6,
          "workers": 1, "test_seed": 1002}
    out = run(["broad_labels", "pixel"], **kw)
    assert out == {**run(["broad_labels", "pixel"], **kw), "wall_s": out["wall_s"]}  # same seeds, same numbers
    for name, r in out["sources"].items():
        assert 0 <= r["labels"] <= r["clicks"] and r["clicks"] > 0, name
        best = r["per_world"][0]
        assert best["seed"] == 900 and best["k"] in (1.0, 2.0)
        assert r["mean"] == best["score"]


def test_the_broad_buyer_buys_more_than_the_selective_one() -> None:
    # one flat bid everywhere against oracle_lp at k = 2: the broad buyer's clicks cover more opportunities
    (_, broad), (_, oracle) = (fit_source(s, 1, 1500, 3, 1) for s in ("broad_truth", "oracle_truth"))
    assert broad["clicks"] > oracle["clicks"] and broad["labels"] is None


def test_a_shorter_pixel_window_counts_fewer_labels_on_more_complete_clicks() -> None:
    # a click labelled within a day is labelled within three; one whose three days are complete has its day
    (_, day), (_, three) = (fit_source("pixel", 1, 20_000, 8, 1, window_h=w) for w in (24, 72))
    assert 0 < day["labels"] < three["labels"] and day["clicks"] > three["clicks"]


def test_an_unknown_source_is_named() -> None:
    with pytest.raises(ValueError, match="source must be one of .*got 'truth'"):
        fit_source("truth", 1, 100, 1, 1)


def test_with_requests_the_model_reads_the_request_history_of_each_source() -> None:
    plain, _ = fit_source("broad_labels", 1, 1500, 3, 1)
    with_requests, info = fit_source("broad_labels", 1, 1500, 3, 1, requests=True)
    assert with_requests.layout.requests and not plain.layout.requests
    assert with_requests.w.size > plain.w.size and info["clicks"] > 0  # the request terms and cells
    # the pixel source's collecting agent keeps the history and buys the same clicks as without it
    (pixel, a), (pixel_r, b) = (fit_source("pixel", 1, 20_000, 8, 1, requests=r) for r in (False, True))
    assert a == b and pixel_r.layout.requests and pixel_r.w.size == with_requests.w.size > pixel.w.size
