"""The training benchmark's figures (speed itself is measured by running it, never asserted)."""

import statistics

import pytest

from benchmarks.bench_train import bench_train, main


def test_both_trainers_run_each_round_and_the_ratio_is_of_the_medians():
    r = bench_train(users=200, days=1, worlds=2, hours=48, n_steps=8, repeats=2, rppo_envs=2)
    assert (r["worlds"], r["rppo_envs"], r["env_hours"]) == (2, 2, 48)
    runs = r["runs"]
    assert all(len(runs[k]) == 2 and min(runs[k]) > 0 for k in ("ours", "recurrent_ppo", "ours_cpu",
                                                                 "recurrent_ppo_cpu"))
    # the figures are rounded to 0.1 env-hours/s: the medians of the rounds, up to that
    assert r["ours_env_hours_per_s"] == pytest.approx(statistics.median(runs["ours"]), abs=0.1)
    assert r["ratio"] == pytest.approx(statistics.median(runs["ours"]) / statistics.median(runs["recurrent_ppo"]),
                                       rel=0.05)


@pytest.mark.parametrize("flag", ["--rppo-envs", "--worlds"])
def test_a_count_below_one_is_refused_naming_both_flags(flag, capsys):
    with pytest.raises(SystemExit) as e:
        main([flag, "0"])
    assert e.value.code == 2
    assert "--worlds and --rppo-envs must be at least 1" in capsys.readouterr().err
