"""`gaelp evaluate` as a user runs it, and `gaelp run` (the main job) wired to a stand-in agent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer

from gaelp.cli import core
from gaelp.cli import evaluate as cli_evaluate
from tests.experiments.test_evaluate import stub_agent


def gaelp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from gaelp.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=300, check=False)


def no_nan(token: str):
    raise ValueError(f"{token} in JSON")


def test_evaluate_json_has_exactly_the_documented_keys():
    out = gaelp("evaluate", "--bidders", "target_cpa,fixed", "--worlds", "3", "--seed-base", "7",
                "--users", "1000", "--days", "2", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout, parse_constant=no_nan)
    assert {"worlds", "users", "days", "bidders", "comparisons"} <= set(data)
    assert (data["worlds"], data["users"], data["days"]) == ([7, 8, 9], 1000, 2)
    assert list(data["bidders"]) == ["target_cpa", "fixed"]
    for b in data["bidders"].values():
        assert {"mean", "ci95"} <= set(b["score"])
        for m in ("conversions", "cac", "roas", "budget_use"):
            assert "mean" in b[m]
        assert [w["seed"] for w in b["per_world"]] == [7, 8, 9]
        assert {"seed", "score", "conversions", "cac", "roas", "spend", "budget_use"} <= set(b["per_world"][0])
    (c,) = data["comparisons"]
    assert (c["a"], c["b"]) == ("target_cpa", "fixed") and {"ratio", "p_value", "p_holm"} <= set(c)


@pytest.mark.parametrize(("args", "message"), [
    (("--bidders", "target_cpa,nope"), "unknown bidder 'nope'"),
    (("--bidders", "fixed", "--online"), "--online needs the agent"),
    (("--bidders", "fixed", "--users", "0"), "users"),
    (("--guard-ceiling", "1.2", "--no-cac-guard"), "--guard-ceiling sets the CAC guard's ceiling"),
    (("--guard-ceiling", "0.8"), "--guard-ceiling"),
    (("--guard-aim", "whole"), "--guard-aim: guard_aim must be one of spent, rest, got 'whole'"),
    (("--guard-aim", "rest", "--no-cac-guard"), "--guard-aim sets the CAC guard's aim"),
])
def test_evaluate_rejects_bad_input_by_name(args, message):
    from typer.testing import CliRunner

    app = typer.Typer()
    app.callback()(lambda: None)  # a group, so that the command is called by name as in `gaelp evaluate`
    cli_evaluate.register(app)
    out = CliRunner().invoke(app, ["evaluate", "--worlds", "1", "--days", "1", *args])
    assert out.exit_code == 2
    assert message in out.stderr


def test_a_bad_policy_is_refused_before_any_world_plays(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from gaelp.experiments import evaluate as experiments

    def no_world(*args, **kwargs):
        raise AssertionError("a world played before the policy was checked")

    monkeypatch.setattr(experiments, "play_worlds", no_world)
    app = typer.Typer()
    app.callback()(lambda: None)
    cli_evaluate.register(app)
    bad = tmp_path / "policy.pt"
    bad.write_text("not a checkpoint")
    for path, message in ((tmp_path / "nope.pt", f"--policy: no policy checkpoint at {tmp_path / 'nope.pt'}"),
                          (bad, f"--policy: {bad} is not a policy checkpoint written by `gaelp train`")):
        out = CliRunner().invoke(app, ["evaluate", "--policy", str(path), "--worlds", "2", "--days", "1"])
        assert out.exit_code == 2
        assert out.stderr.startswith(f"error: {message}")


def test_a_missing_agent_module_is_an_error_that_says_how_to_fix_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gaelp.agent.bidder", None)  # importing it now raises ImportError
    with pytest.raises(typer.Exit) as e:
        cli_evaluate.load_agent_factory()
    assert e.value.exit_code == 2
    assert "gaelp.agent.bidder" in capsys.readouterr().err


def test_run_plays_the_agent_first_against_the_baselines_and_oracle_lp(monkeypatch, capsys):
    monkeypatch.setattr(cli_evaluate, "load_agent_factory", lambda: stub_agent)
    core.run(config=None, users=1_000, days=1, seconds=0.001, seed_base=3, as_json=True)
    data = json.loads(capsys.readouterr().out, parse_constant=no_nan)
    assert list(data["bidders"]) == ["agent", "target_cpa", "fixed", "oracle", "oracle_lp"]
    assert data["worlds"] == [3, 4]  # one batch: as many worlds as workers
    assert data["users"] == 1_000 and data["reference"] == "agent"
    assert [c["b"] for c in data["comparisons"]] == ["target_cpa", "fixed", "oracle", "oracle_lp"]


def summary(ratio: float | None, with_oracle: bool = True, ci: list[float] | None = None) -> dict:
    comps = [{"a": "agent", "b": "fixed", "ratio": 2.0, "p_value": 0.01, "p_holm": 0.02}]
    if with_oracle:
        comps.append({"a": "agent", "b": "oracle_lp", "ratio": ratio, "p_value": 0.03, "p_holm": 0.03})
        if ci is not None:
            comps[-1]["ratio_ci95"] = ci
    return {"reference": "agent", "worlds": list(range(12)), "comparisons": comps}


def test_the_standing_line_says_how_far_the_reference_is_from_oracle_lp():
    assert cli_evaluate.standing_line(summary(0.85)) == (
        "agent scores 85.0% of oracle_lp's score (median of per-world ratios over 12 worlds, Holm p = 0.03): "
        "it meets the 80% target.")
    assert cli_evaluate.standing_line(summary(0.85, ci=[0.81, 0.9])) == (
        "agent scores 85.0% of oracle_lp's score (median of per-world ratios over 12 worlds, 95% CI "
        "81.0%-90.0%, Holm p = 0.03): it meets the 80% target.")
    # the target inside the interval: met or not, these worlds cannot tell
    assert cli_evaluate.standing_line(summary(0.805, ci=[0.774, 0.816])).endswith(
        "it meets the 80% target, within the noise of these worlds (the target lies inside the CI).")
    assert "falls short of the 80% target, within the noise" in cli_evaluate.standing_line(
        summary(0.774, ci=[0.726, 0.806]))
    assert cli_evaluate.standing_line(summary(0.7, ci=[0.65, 0.75])).endswith("falls short of the 80% target.")
    assert "falls short of the 80% target" in cli_evaluate.standing_line(summary(0.46))
    assert "not compared with oracle_lp" in cli_evaluate.standing_line(summary(None))
    assert "not compared with oracle_lp" in cli_evaluate.standing_line(summary(0.9, with_oracle=False))


def test_the_tables_show_each_bidders_mean_and_ci_and_each_comparison():
    from rich.console import Console

    from gaelp.config import Config
    from gaelp.experiments.evaluate import summarize
    from gaelp.experiments.play import WorldResult

    rows = {name: [WorldResult(s, name, score + s, 10 + s, 80.0, 2.5, 800.0, 0.4) for s in range(4)]
            for name, score in (("agent", 100.0), ("oracle_lp", 140.0))}
    summary = summarize(Config(users=500, days=3), rows)
    console = Console(width=200, record=True)
    for table in cli_evaluate.result_tables(summary, "title"):
        console.print(table)
    text = console.export_text()
    assert "101.5" in text and "141.5" in text  # mean scores
    lo, hi = summary["bidders"]["agent"]["score"]["ci95"]
    assert f"{lo:,.1f} - {hi:,.1f}" in text
    assert "oracle_lp" in text and f"{summary['comparisons'][0]['ratio']:.2f}x" in text


def test_the_agent_plays_with_its_cac_guard_unless_told_not_to():
    from gaelp.config import build_config

    cfg = build_config({"users": 200, "days": 1})
    assert cli_evaluate.load_agent_factory()(cfg, None, False).cac_guard
    assert not cli_evaluate.load_agent_factory(cac_guard=False)(cfg, None, False).cac_guard
    assert cli_evaluate.load_agent_factory(guard_ceiling=1.15)(cfg, None, False).guard_ceiling == 1.15
    assert cli_evaluate.load_agent_factory()(cfg, None, False).guard_aim == "spent"
    assert cli_evaluate.load_agent_factory(guard_aim="rest")(cfg, None, False).guard_aim == "rest"


def test_the_closing_line_counts_processes_in_words():
    assert (cli_evaluate._processes(1), cli_evaluate._processes(2)) == ("1 process", "2 processes")


def test_the_agent_plays_with_its_horizon_unless_told_not_to(monkeypatch):
    from typer.testing import CliRunner

    from gaelp.experiments import evaluate as experiments

    seen = []

    def factories(cfg, seeds, names, agent_factory=None, **kwargs):
        seen.append(agent_factory.keywords["horizon"])
        raise SystemExit(0)

    monkeypatch.setattr(experiments, "play_worlds", factories)
    app = typer.Typer()
    app.callback()(lambda: None)
    cli_evaluate.register(app)
    for args in ((), ("--no-horizon",)):
        CliRunner().invoke(app, ["evaluate", "--bidders", "agent", "--worlds", "1", "--days", "1", *args])
    assert seen == [True, False]
