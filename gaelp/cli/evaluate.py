"""`gaelp evaluate`: every bidder on the same held-out worlds, with CIs and paired tests.

The agent comes from `gaelp.agent.bidder.make_agent_bidder`, imported only when the agent plays.
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from gaelp.cli.core import ConfigOpt, DaysOpt, JsonOpt, _config
from gaelp.cli.errors import fail
from gaelp.cli.render import err, fmt, out, progress_bar
from gaelp.config import Config
from gaelp.experiments.play import AGENT, AGENT_ONLINE, AgentFactory
from gaelp.experiments.score import RATIO_TARGET


def load_agent_factory(cac_guard: bool = True, guard_ceiling: float | None = None,
                       guard_aim: str = "spent", horizon: bool = True) -> AgentFactory:
    """`make_agent_bidder` (with its CAC guard on or off, its ceiling the checkpoint's unless given, its aim, and
    the campaign's horizon on or off), or exit with how to get it."""
    try:
        from gaelp.agent.bidder import check_guard_aim, make_agent_bidder
    except ImportError as e:
        raise fail(f"the agent cannot be loaded ({e}); it lives in gaelp.agent.bidder "
                   "(install the package with `make venv`), or leave `agent` out of --bidders", 2) from None
    try:
        check_guard_aim(guard_aim)
    except ValueError as e:
        raise fail(f"--guard-aim: {e}", 2) from None
    return partial(make_agent_bidder, cac_guard=cac_guard, guard_ceiling=guard_ceiling, guard_aim=guard_aim,
                   horizon=horizon)


def check_policy(policy: Path) -> None:
    """Exit (2) before any world plays if `policy` is not a checkpoint written by `gaelp train`."""
    from gaelp.agent.network import CheckpointError, load_checkpoint

    try:
        load_checkpoint(policy)
    except (FileNotFoundError, CheckpointError) as e:
        raise fail(f"--policy: {e}", 2) from None


def _processes(n: int) -> str:
    """'1 process', '2 processes'."""
    return f"{n} process" if n == 1 else f"{n} processes"


def _cell(metric: dict[str, Any], pattern: str) -> Text:
    """The mean, and its 95% CI on a second, dimmed line."""
    ci = metric["ci95"]
    band = "" if ci is None else f"\n{pattern.format(ci[0])} - {pattern.format(ci[1])}"
    return Text.assemble(fmt(metric["mean"], pattern), (band, "dim"))


def result_tables(summary: dict[str, Any], title: str) -> list:
    """Rich tables: per bidder the mean and 95% CI of each metric; then the paired comparisons."""
    from rich.table import Table

    t = Table(title=f"{title}: mean over worlds, 95% bootstrap CI below", header_style="bold")
    cols = (("score", "Score", "{:,.1f}"), ("conversions", "Conv.", "{:,.1f}"), ("cac", "CAC", "${:,.0f}"),
            ("roas", "ROAS", "{:.2f}x"), ("spend", "Spend", "${:,.0f}"), ("budget_use", "Budget use", "{:.0%}"))
    t.add_column("Bidder")
    for _, head, _ in cols:
        t.add_column(head, justify="right")
    for name, b in summary["bidders"].items():
        t.add_row(name, *(_cell(b[m], p) for m, _, p in cols))
    c = Table(title=f"Paired over {len(summary['worlds'])} worlds: score of {summary['reference']} against each",
              header_style="bold")
    for head in ("Against", "Median ratio (95% CI)", "Ratio of means", "Wilcoxon p", "Holm p"):
        c.add_column(head, justify="right" if head != "Against" else "left")
    for row in summary["comparisons"]:
        c.add_row(row["b"], _cell({"mean": row["ratio"], "ci95": row.get("ratio_ci95")}, "{:.2f}x"),
                  fmt(row["ratio_of_means"], "{:.2f}x"), f"{row['p_value']:.3g}", f"{row['p_holm']:.3g}")
    return [t, c]


def standing_line(summary: dict[str, Any]) -> str:
    """One line on where the reference bidder stands against `oracle_lp`."""
    ref = summary["reference"]
    row = next((c for c in summary["comparisons"] if c["b"] == "oracle_lp"), None)
    if row is None or row["ratio"] is None:
        return f"{ref} was not compared with oracle_lp (oracle_lp did not play or scored 0 everywhere)."
    meets = row["ratio"] >= RATIO_TARGET
    ci = row.get("ratio_ci95")  # runs saved before the interval was reported have none
    band = "" if ci is None else f", 95% CI {ci[0]:.1%}-{ci[1]:.1%}"
    # the target inside the interval: these worlds cannot tell whether it is met
    noisy = ci is not None and ci[0] < RATIO_TARGET <= ci[1]
    return (f"{ref} scores {row['ratio']:.1%} of oracle_lp's score (median of per-world ratios over "
            f"{len(summary['worlds'])} worlds{band}, Holm p = {row['p_holm']:.3g}): it "
            f"{'meets' if meets else 'falls short of'} the {RATIO_TARGET:.0%} target"
            + (", within the noise of these worlds (the target lies inside the CI)." if noisy else "."))


def print_summary(summary: dict[str, Any], as_json: bool) -> None:
    """The JSON object (no NaN allowed), or the tables."""
    if as_json:
        print(json.dumps(summary, allow_nan=False))
        return
    seeds = summary["worlds"]
    title = (f"{len(seeds)} worlds (seeds {seeds[0]}-{seeds[-1]}), {summary['users']:,} people, {summary['days']} days, "
             f"target CPA ${summary['target_cpa']:,.0f}")
    for table in result_tables(summary, title):
        out.print(table)


def evaluate(
    policy: Annotated[Path | None, typer.Option("--policy", help="agent checkpoint (default: the shipped one)")] = None,
    bidders: Annotated[str, typer.Option("--bidders", help="comma-separated bidders to play")] =
        "agent,target_cpa,fixed,oracle,oracle_lp",
    worlds: Annotated[int, typer.Option("--worlds", min=1, help="world seeds to play (paired)")] = 30,
    seed_base: Annotated[int, typer.Option("--seed-base", min=0, help="first world seed (held out: < 1000)")] = 0,
    users: Annotated[int | None, typer.Option("--users", help="people per world")] = None,
    days: DaysOpt = None,
    config: ConfigOpt = None,
    online: Annotated[bool, typer.Option("--online", help="also the agent learning online (agent_online)")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="processes")] = 2,
    cac_guard: Annotated[bool, typer.Option("--cac-guard/--no-cac-guard",
                                            help="the agent's CAC guard (docs/agent.md)")] = True,
    guard_ceiling: Annotated[float | None, typer.Option("--guard-ceiling", min=1.0,
                                                        help="the CAC guard's largest factor on a bid (1: it "
                                                        "never raises one; default: the checkpoint's)")] = None,
    guard_aim: Annotated[str, typer.Option("--guard-aim", help="what the CAC guard holds under the target: the "
                                           "CAC so far (spent) or the whole campaign's, through what the rest "
                                           "may cost (rest)")] = "spent",
    horizon: Annotated[bool, typer.Option("--horizon/--no-horizon",
                                          help="the agent bids for the purchases that land before the campaign's "
                                          "end, if its checkpoint has a horizon table (docs/agent.md)")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Play every bidder on the same held-out worlds; scores with 95% CIs and paired Wilcoxon tests."""
    from gaelp.experiments.evaluate import TRAINING_SEEDS_FROM, bidder_list, play_worlds, summarize

    cfg = _config(config, users=users, days=days)
    try:
        names = bidder_list([n.strip() for n in bidders.split(",") if n.strip()], online)
    except ValueError as e:
        raise fail(str(e), 2) from None
    seeds = list(range(seed_base, seed_base + worlds))
    if seeds[-1] >= TRAINING_SEEDS_FROM:
        err.print(Text.assemble(("warning:", "yellow"), f" seeds >= {TRAINING_SEEDS_FROM} are training worlds, "
                                "not held out"))
    if guard_ceiling is not None and not cac_guard:
        raise fail("--guard-ceiling sets the CAC guard's ceiling: drop it or --no-cac-guard", 2)
    if guard_aim != "spent" and not cac_guard:
        raise fail("--guard-aim sets the CAC guard's aim: drop it or --no-cac-guard", 2)
    factory = (load_agent_factory(cac_guard, guard_ceiling, guard_aim, horizon)
               if AGENT in names or AGENT_ONLINE in names else None)
    if factory is not None and policy is not None:  # a bad path fails now, not after the baselines' worlds
        check_policy(policy)
    start = time.perf_counter()
    with progress_bar(not as_json) as bar:
        task = bar.add_task(f"{worlds} worlds x {len(names)} bidders", total=None)
        summary = summarize(cfg, play_worlds(
            cfg, seeds, names, agent_factory=factory, policy=policy, workers=workers,
            progress=lambda done, total: bar.update(task, completed=done, total=total)))
    summary["wall_s"] = round(time.perf_counter() - start, 2)
    print_summary(summary, as_json)
    if not as_json:
        out.print(f"Played in {summary['wall_s']:.0f} s with {_processes(workers)}.")


RUN_BIDDERS = (AGENT, "target_cpa", "fixed", "oracle", "oracle_lp")


def main_job(cfg: Config, budget_s: float, as_json: bool, *, bidders: tuple[str, ...] = RUN_BIDDERS,
             agent_factory: AgentFactory | None = None, seed_base: int = 0, workers: int = 2) -> dict[str, Any]:
    """`gaelp run`: the bidders on as many held-out worlds as fit in about `budget_s`; tables and a verdict.

    The first bidder is the reference of the comparisons (the agent in `gaelp run`); the last line
    says where it stands against `oracle_lp`.

    Returns:
        the `gaelp evaluate --json` object of the worlds played (with `wall_s`).
    """
    from gaelp.experiments.evaluate import play_worlds_within, summarize

    start = time.perf_counter()
    with progress_bar(not as_json) as bar:
        task = bar.add_task(f"{len(bidders)} bidders, {cfg.users:,} people, ~{budget_s:.0f} s of worlds", total=None)
        results = play_worlds_within(cfg, seed_base, bidders, budget_s, workers=workers, agent_factory=agent_factory,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total))
    summary = summarize(cfg, results)
    summary["wall_s"] = round(time.perf_counter() - start, 2)
    print_summary(summary, as_json)
    if not as_json:
        out.print(standing_line(summary))
        out.print("oracle_lp sees true purchase probabilities and picks its k per world in hindsight: an upper "
                  f"reference, not a product. Played in {summary['wall_s']:.0f} s with {_processes(workers)}.")
    return summary


def register(app: typer.Typer) -> None:
    """Add `evaluate` to `app`."""
    app.command()(evaluate)
