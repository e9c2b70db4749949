"""The learning-curve plot of training runs (`benchmarks.plot_learning_curve`)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.plot_learning_curve import history_of, main, plot, rolling_mean
from gaelp.agent.bidder import default_policy_path
from gaelp.agent.network import RecurrentActorCritic, save_checkpoint

ROWS = [{"iteration": i, "score": float(i % 3), "cac": 100.0 + i, **({"val_score": 2.0 * i} if i % 5 == 4 else {})}
        for i in range(12)]


def test_the_rolling_mean_takes_what_there_is_at_the_start_then_a_full_window():
    np.testing.assert_allclose(rolling_mean(np.arange(1.0, 8.0), 5), [1, 1.5, 2, 2.5, 3, 4, 5])


def test_a_run_draws_its_score_its_cac_and_its_validation_points():
    fig = plot({"a": ROWS, "b": ROWS[:6]}, target_cpa=110.0)
    ax_s, ax_c, ax_v = fig.axes
    assert len(ax_s.lines) == 4  # per run: each iteration, and the rolling mean
    assert list(ax_c.lines[-1].get_ydata()) == [110.0, 110.0]  # the target line
    np.testing.assert_allclose(ax_v.lines[0].get_xdata(), [5, 10])  # iterations counted from 1
    np.testing.assert_allclose(ax_v.lines[1].get_ydata(), [8.0])


def test_main_writes_the_png_of_checkpoints_with_history(tmp_path):
    path = tmp_path / "run" / "policy.pt"
    path.parent.mkdir()
    save_checkpoint(path, RecurrentActorCritic(4, 2, 8), np.zeros(3), history=ROWS)  # a checkpoint as training writes
    out = tmp_path / "curve.png"
    main([str(path), "--out", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_playing_checkpoint_without_history_is_refused_by_name():
    with pytest.raises(SystemExit, match="no training history"):
        history_of(default_policy_path())
