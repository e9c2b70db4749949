"""Training at several seeds and keeping the best on validation (`gaelp.agent.seeds`)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from gaelp.agent import CHECKPOINT
from gaelp.agent.network import load_checkpoint, write_checkpoint
from gaelp.agent.ppo import BEST, PPOConfig, train, validation_score
from gaelp.agent.seeds import SEEDS_FILE, seed_dir, train_seeds
from gaelp.config import Config

HP = PPOConfig(worlds=2, users=600, days=3, env_hours=288, prior_worlds=0, val_every=1, val_users=20_000)


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = load_checkpoint(a)["model"], load_checkpoint(b)["model"]
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_each_seed_trains_as_alone_and_the_best_on_validation_is_kept(tmp_path: Path) -> None:
    trained: dict[int, list[int]] = {3: [], 4: []}
    validated: list[int] = []
    res = train_seeds(Config(), HP, [3, 4], tmp_path, workers=2, select_worlds=2,
                      on_trained=lambda s, hours: trained[s].append(hours), on_validated=validated.append)
    # progress: every iteration of each seed (2 campaigns of 144 hours), every validation world
    assert trained == {3: [144, 288], 4: [144, 288]} and sorted(validated) == [3, 3, 4, 4]
    j = json.loads((tmp_path / SEEDS_FILE).read_text())
    assert j == json.loads(json.dumps(res.to_json()))
    assert {"env_hours", "wall_s", "env_hours_per_s", "train_score", "checkpoint", "chosen", "seeds"} <= set(j)
    assert j["env_hours"] == 2 * 288 and [r["seed"] for r in j["seeds"]] == [3, 4]
    means = [r["validation"]["mean"] for r in j["seeds"]]
    assert means[0] != means[1] and j["chosen"] == [3, 4][int(np.argmax(means))]
    # the kept policy is the chosen seed's best.pt, byte for byte
    assert (tmp_path / BEST).read_bytes() == (seed_dir(tmp_path, j["chosen"]) / BEST).read_bytes()
    # a seed's run is the same run alone (another process, the other seed beside it)
    alone = tmp_path / "alone"
    train(Config(), replace(HP, seed=4), alone)
    assert _same_weights(alone / CHECKPOINT, seed_dir(tmp_path, 4) / CHECKPOINT)
    assert _same_weights(alone / BEST, seed_dir(tmp_path, 4) / BEST)
    # the choice's scores are the validation's: seed 4's mean over worlds 900-901 as training validates
    assert j["seeds"][1]["validation"]["mean"] == validation_score(Config(), load_checkpoint(alone / BEST),
                                                                   replace(HP, seed=4, val_worlds=2))


@pytest.mark.parametrize(("seeds", "hp", "match"), [
    ([1], HP, "two or more distinct seeds"),
    ([1, 1], HP, "two or more distinct seeds"),
    ([0, 1], replace(HP, learning_rate=0.0), "learning_rate must be above 0"),
])
def test_bad_seeds_or_settings_are_refused_before_any_work(tmp_path: Path, seeds: list[int], hp: PPOConfig,
                                                           match: str) -> None:
    with pytest.raises(ValueError, match=match):
        train_seeds(Config(), hp, seeds, tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_kept_policy_with_a_horizon_gets_its_guard_margin_chosen_on_the_pool(tmp_path: Path, monkeypatch) -> None:
    from gaelp.agent import seeds as seeds_module
    from gaelp.agent.ppo import validation_play

    copy = seeds_module.shutil.copyfile

    def copy_with_horizon(src, dst):  # these 3-day campaigns cannot show a 20-day table: one put into the kept copy
        copy(src, dst)
        if Path(dst) != tmp_path / BEST:
            return
        ck = load_checkpoint(Path(dst))
        ck |= {"horizon": np.linspace(0.8, 1.0, 481), "horizon_guard_margin": HP.horizon_guard_margin}
        write_checkpoint(Path(dst), ck)

    monkeypatch.setattr(seeds_module.shutil, "copyfile", copy_with_horizon)
    played: list[float] = []
    hp = replace(HP, env_hours=144, margin_worlds=2, margin_risk=0.5)
    # these short campaigns end over the target at every margin: the search steps down to the least risky, and says so
    with pytest.warns(UserWarning, match="no guard margin within 0.9-1.8 kept the share"):
        res = train_seeds(Config(), hp, [3, 4], tmp_path, workers=2, select_worlds=2, on_margin=played.append)
    j = res.to_json()
    choice, kept = j["guard_margin"], load_checkpoint(tmp_path / BEST)
    # after the worlds the iterations (900-902) and the seeds (900-901) were chosen on
    assert choice["worlds"] == [903, 904] and kept["margin_choice"] == choice
    assert [t["margin"] for t in choice["trials"]] == [1.2, 1.1, 1.0, 0.9] and kept["horizon_guard_margin"] == 0.9
    assert played == [m for t in choice["trials"] for m in [t["margin"]] * 2]  # each world of each margin
    for s in (3, 4):  # the seeds' own runs choose none
        assert "margin_choice" not in load_checkpoint(seed_dir(tmp_path, s) / BEST)
    # the pool's plays are the kept policy's at that margin, in the worlds' order
    t = choice["trials"][1]
    again = validation_play(Config(), kept | {"horizon_guard_margin": t["margin"]}, hp, 4)
    assert again["score"] == t["scores"][1] and again["cac"] == t["cacs"][1]
