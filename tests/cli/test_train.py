"""`gaelp train`, run as a user runs it (a subprocess each, tiny sizes)."""

import json
from pathlib import Path

import torch

from tests.cli.test_core import gaelp


def test_train_json_shape_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = gaelp("train", "--worlds", "2", "--users", "400", "--days", "1", "--env-hours", "48", "--seed", "2",
                  "--prior-worlds", "0", "--copies", "2", "--gae-lambda", "0.9", "--guard-ceiling", "1.1",
                  "--margin-worlds", "4", "--margin-risk", "0.1", "--out", str(out), "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert set(data) == {"env_hours", "wall_s", "env_hours_per_s", "train_score", "checkpoint"}
    assert data["env_hours"] == 48 and Path(data["checkpoint"]) == out / "policy.pt"
    ckpt = torch.load(out / "policy.pt", weights_only=False)
    hp = ckpt["hp"]
    assert (hp["copies"], hp["gae_lambda"], ckpt["guard_ceiling"]) == (2, 0.9, 1.1)  # the flags reach the run
    assert (hp["margin_worlds"], hp["margin_risk"]) == (4, 0.1)
    more = gaelp("train", "--worlds", "2", "--users", "400", "--days", "1", "--env-hours", "96", "--seed", "2",
                 "--prior-worlds", "0", "--copies", "2", "--gae-lambda", "0.9", "--guard-ceiling", "1.1",
                 "--margin-worlds", "4", "--margin-risk", "0.1", "--out", str(out), "--resume", "--json")
    assert more.returncode == 0, more.stderr
    assert json.loads(more.stdout)["env_hours"] == 96
    changed = gaelp("train", "--worlds", "2", "--users", "500", "--days", "1", "--env-hours", "144",
                    "--prior-worlds", "0", "--out", str(out), "--resume")
    assert changed.returncode == 2 and "other settings" in changed.stderr


def test_train_rejects_bad_usage(tmp_path: Path) -> None:
    both = gaelp("train", "--minutes", "1", "--env-hours", "10", "--out", str(tmp_path))
    assert both.returncode == 2 and "--minutes or --env-hours" in both.stderr
    assert both.stderr.startswith("error: give --minutes") and "[red]" not in both.stderr  # plain text, no markup
    nothing = gaelp("train", "--resume", "--out", str(tmp_path / "empty"))
    assert nothing.returncode == 2 and "no checkpoint" in nothing.stderr
    still = gaelp("train", "--learning-rate", "0", "--prior-worlds", "0", "--out", str(tmp_path / "lr"))
    assert still.returncode == 2 and "learning_rate must be above 0, got 0.0" in still.stderr
    assert not (tmp_path / "lr" / "policy.pt").exists()
    no_time = gaelp("train", "--minutes", "0", "--out", str(tmp_path / "m"))
    assert no_time.returncode == 2 and no_time.stderr.startswith("error: minutes must be above 0, got 0.0")
    assert not (tmp_path / "m").exists()
    both_seeds = gaelp("train", "--seed", "1", "--seeds", "0,1", "--out", str(tmp_path))
    assert both_seeds.returncode == 2 and "drop --seed" in both_seeds.stderr
    not_ints = gaelp("train", "--seeds", "0,x", "--out", str(tmp_path))
    assert not_ints.returncode == 2 and "got '0,x'" in not_ints.stderr
    alone = gaelp("train", "--select-worlds", "4", "--out", str(tmp_path))
    assert alone.returncode == 2 and "go with --seeds" in alone.stderr
    odd = gaelp("train", "--worlds", "4", "--copies", "3", "--prior-worlds", "0", "--out", str(tmp_path / "c"))
    assert odd.returncode == 2 and "copies must be at least 1 and divide worlds (4), got 3" in odd.stderr
    many = gaelp("train", "--val-worlds", "90", "--margin-worlds", "12", "--out", str(tmp_path / "v"))
    assert many.returncode == 2 and "val_worlds + margin_worlds at most 100" in many.stderr
    many = gaelp("train", "--seeds", "0,1", "--select-worlds", "95", "--out", str(tmp_path / "s"))
    assert many.returncode == 2 and "select_worlds (95) and margin_worlds (12) take more than" in many.stderr
    assert not (tmp_path / "v").exists() and not (tmp_path / "s").exists()
    requests = gaelp("train", "--loglink-requests", "--out", str(tmp_path / "r"))  # the logistic prior has no such form
    assert requests.returncode == 2 and "loglink_requests needs prior_form 'loglink', got 'logistic'" in requests.stderr


def test_train_seeds_json_has_the_train_keys_and_the_choice(tmp_path: Path) -> None:
    run = gaelp("train", "--seeds", "0,1", "--worlds", "2", "--users", "400", "--days", "1", "--env-hours", "48",
                "--prior-worlds", "0", "--val-users", "400", "--select-worlds", "2", "--out", str(tmp_path), "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert {"env_hours", "wall_s", "env_hours_per_s", "train_score", "checkpoint"} <= set(data)
    assert data["env_hours"] == 96 and Path(data["checkpoint"]) == tmp_path / "best.pt"
    assert data["chosen"] in (0, 1) and [r["seed"] for r in data["seeds"]] == [0, 1]
    assert (tmp_path / "seed-0" / "policy.pt").is_file() and (tmp_path / "seed-1" / "best.pt").is_file()
