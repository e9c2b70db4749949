"""Training at several seeds and keeping the best on validation (`gaelp.agent.seeds`)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from gaelp.agent import CHECKPOINT
from gaelp.agent.network import load_checkpoint
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
