"""`gaelp train`: PPO-LSTM training of the bidding agent on `gaelp/Campaign-v0` worlds.

Thin wiring: flags -> `PPOConfig` -> `gaelp.agent.ppo.train`. Exit codes: 0 success, 2 bad usage or config.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gaelp.agent import (
    CHECKPOINT,
    DEFAULT_GUARD_CEILING,
    MARGIN_RISK,
    MARGIN_WORLDS,
    SEED_WORKERS,
    SELECT_WORLDS,
    TRAIN_WORLDS,
)
from gaelp.cli.core import ConfigOpt, JsonOpt, _config
from gaelp.cli.errors import EXIT_USAGE, fail
from gaelp.cli.render import out, print_json, progress_bar

if TYPE_CHECKING:
    from gaelp.agent.ppo import PPOConfig
    from gaelp.config import Config


def train(
    config: ConfigOpt = None,
    worlds: Annotated[int, typer.Option("--worlds", help="training worlds played in parallel", min=1)] = TRAIN_WORLDS,
    users: Annotated[int, typer.Option("--users", help="people per training world", min=100)] = 5_000,
    days: Annotated[int | None, typer.Option("--days", help="campaign length (default: the config's)", min=1)] = None,
    minutes: Annotated[float | None, typer.Option("--minutes", help="stop after this wall time (checked "
                                                                      "after each campaign: at least one runs)")]
        = None,
    env_hours: Annotated[int | None, typer.Option("--env-hours", help="stop after this many simulated hours "
                                                                        "over all worlds (default 100,000)",
                                                  min=1)] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="training seed; worlds get seeds 1000 + seed x 1e6 + k "
                                             "(default 0)", min=0)] = None,
    seeds: Annotated[str | None, typer.Option("--seeds", help="train at each of these seeds (comma-separated, "
                                              "two or more; OUT/seed-S each) and keep the best on validation "
                                              "as OUT/best.pt")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="with --seeds: runs at once (processes; "
                                                f"default {SEED_WORKERS})", min=1)] = None,
    select_worlds: Annotated[int | None, typer.Option("--select-worlds", help="with --seeds: validation worlds "
                                                      "(seeds 900, 901, ...) each seed's best.pt plays for the "
                                                      f"choice (default {SELECT_WORLDS})", min=1, max=100)] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="directory for policy.pt and TensorBoard logs (tb/)")]
        = Path("runs/agent"),
    resume: Annotated[bool, typer.Option("--resume", help="continue from OUT/policy.pt, bit-identically")] = False,
    purchase_worth: Annotated[float, typer.Option("--purchase-worth", help="a purchase's worth in the reward, "
                                                                            "x the target CPA", min=0.1)] = 1.0,
    reward_value: Annotated[str, typer.Option("--reward-value", help="what the reward pays: target_cpa (a "
                                              "purchase worth the target CPA x --purchase-worth, less spend), "
                                              "revenue, score (the hourly change of the campaign's score), or lagrangian "
                                              "(a worth that starts at --purchase-worth and moves daily until "
                                              "the campaign's CAC meets the target)")]
        = "target_cpa",
    bid_level: Annotated[float, typer.Option("--bid-level", help="every bid x this: the level the policy's "
                                             "pacing moves around (the checkpoint plays at it)", min=0.25,
                                             max=4.0)] = 1.0,
    guard_ceiling: Annotated[float, typer.Option("--guard-ceiling", help="the CAC guard's largest factor on a "
                                                 "bid when the checkpoint plays, validations included (1: it never "
                                                 "raises one)", min=1.0)] = DEFAULT_GUARD_CEILING,
    prior_form: Annotated[str, typer.Option("--prior-form", help="what the bids read: logistic (the value "
                                            "model on its offline prior) or loglink (a log-link model fitted on "
                                            "the same click logs)")] = "logistic",
    prior_worlds: Annotated[int, typer.Option("--prior-worlds", help="fit the value model's prior offline on this "
                                              "many training worlds' click logs first (0: a flat prior that "
                                              "follows the campaigns)", min=0)] = 30,
    value_window: Annotated[int, typer.Option("--value-window", help="the value model's label window, "
                                                     "hours (a purchase within it labels a click); 0: the "
                                                     "lookback window", min=0)] = 72,
    loglink_window: Annotated[int, typer.Option("--loglink-window", help="the log-link prior's label window, "
                                                "hours (0: --value-window)", min=0)] = 0,
    loglink_requests: Annotated[bool, typer.Option("--loglink-requests", help="the log-link prior also reads each "
                                                   "device's bid-request history (every opportunity offered to us, "
                                                   "won or not); with --prior-form loglink")] = False,
    val_worlds: Annotated[int, typer.Option("--val-worlds", help="validation worlds (seeds 900, 901, ...) each "
                                            "checkpoint plays for best.pt", min=1, max=100)] = 3,
    val_users: Annotated[int, typer.Option("--val-users", help="people per validation world", min=100)] = 10_000,
    margin_worlds: Annotated[int, typer.Option("--margin-worlds", help="with a horizon table (campaigns over 20 "
                                               "days): validation worlds, after those of the choice, on which the "
                                               "kept policy's CAC guard margin is chosen (0: 1.2 as it is)",
                                               min=0, max=99)] = MARGIN_WORLDS,
    margin_risk: Annotated[float, typer.Option("--margin-risk", help="the largest share of those campaigns a "
                                               "chosen margin may end over the target CPA (a log-normal fit)",
                                               min=0.0, max=0.99)] = MARGIN_RISK,
    learning_rate: Annotated[float, typer.Option("--learning-rate", help="Adam's step size of the PPO update "
                                                 "(above 0)")] = 1e-3,
    value_l2: Annotated[float, typer.Option("--value-l2", help="the online value model's pull towards the "
                                            "prior", min=0.0)] = 30.0,
    copies: Annotated[int, typer.Option("--copies", help="worlds of an iteration that share one seed; each "
                                        "copy's advantages are taken against the copies' mean (must divide "
                                        "--worlds)", min=1)] = 1,
    gae_lambda: Annotated[float, typer.Option("--gae-lambda", help="GAE's lambda: how far an advantage reaches "
                                              "into later hours' rewards before it trusts the value estimate "
                                              "(0.95: about 20 hours)", min=0.0, max=1.0)] = 0.95,
    json_out: JsonOpt = False,
) -> None:
    """Train the agent's policy (PPO with an LSTM) and write OUT/policy.pt after every campaign."""
    if minutes is not None and env_hours is not None:
        raise fail("give --minutes or --env-hours, not both", EXIT_USAGE)
    if seeds is not None and (seed is not None or resume):
        raise fail("--seeds trains every seed from scratch: drop --seed and --resume", EXIT_USAGE)
    if seeds is None and (workers is not None or select_worlds is not None):
        raise fail("--workers and --select-worlds go with --seeds", EXIT_USAGE)
    seed_list = _seed_list(seeds) if seeds is not None else None
    if resume and not (out_dir / CHECKPOINT).is_file():
        raise fail(f"--resume: no checkpoint at {out_dir / CHECKPOINT}", EXIT_USAGE)
    cfg = _config(config)
    from gaelp.agent.ppo import BEST, PPOConfig, check_settings  # torch loads only for real work
    from gaelp.agent.ppo import train as run_train

    limit = env_hours if env_hours is not None else (10**12 if minutes is not None else 100_000)
    hp = PPOConfig(worlds=worlds, users=users, days=days, env_hours=limit, minutes=minutes, seed=seed or 0,
                   purchase_worth=purchase_worth, reward_value=reward_value, bid_level=bid_level, prior_form=prior_form,
                   guard_ceiling=guard_ceiling,
                   prior_worlds=prior_worlds, value_window_h=value_window or None, value_l2=value_l2,
                   loglink_window_h=loglink_window or None, loglink_requests=loglink_requests,
                   val_worlds=val_worlds, val_users=val_users, margin_worlds=margin_worlds, margin_risk=margin_risk,
                   learning_rate=learning_rate, copies=copies, gae_lambda=gae_lambda)
    try:
        check_settings(cfg, hp)  # refused before the progress bar starts
    except ValueError as e:
        raise fail(str(e), EXIT_USAGE) from None
    if seed_list is not None:
        _train_seeds(cfg, hp, seed_list, out_dir, workers or SEED_WORKERS,
                     select_worlds or SELECT_WORLDS, json_out)
        return
    with progress_bar(not json_out) as bar:
        task = bar.add_task(f"training on {worlds} worlds of {users:,} people",
                            total=limit if minutes is None else None)

        def show(row: dict[str, float]) -> None:
            bar.update(task, completed=row["env_hours"],
                       description=f"campaign {int(row['iteration']) + 1}: score {row['score']:.1f}, "
                                   f"return {row['return']:.0f}")

        try:
            result = run_train(cfg, hp, out_dir, resume=resume, on_iteration=show,
                               on_margin=_margin_progress(bar, hp.margin_worlds))
        except ValueError as e:
            raise fail(str(e), EXIT_USAGE) from None
    if json_out:
        print_json(result.to_json())
        return
    j = result.to_json()
    out.print(f"trained {j['env_hours']:,} env-hours in {j['wall_s']:.1f} s ({j['env_hours_per_s']:.0f} env-hours/s); "
              f"training score {j['train_score']:.2f}; checkpoint {j['checkpoint']}")
    _print_margin(j.get("guard_margin"), out_dir / BEST)


def _seed_list(text: str) -> list[int]:
    """`--seeds`' comma-separated integers (exit 2 naming the value if one is not)."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise fail(f"--seeds takes comma-separated integers, e.g. 0,1,2; got {text!r}", EXIT_USAGE) from None


def _train_seeds(cfg: Config, hp: PPOConfig, seeds: list[int], out_dir: Path, workers: int, select_worlds: int,
                 json_out: bool) -> None:
    """`gaelp train --seeds`: `gaelp.agent.seeds.train_seeds` with a progress bar, then the choice."""
    from gaelp.agent.seeds import SEEDS_FILE, train_seeds

    with progress_bar(not json_out) as bar:
        tasks = {s: bar.add_task(f"seed {s}: training", total=hp.env_hours if hp.minutes is None else None)
                 for s in seeds}
        check = bar.add_task(f"validation of each seed's best.pt ({select_worlds} worlds each)",
                             total=len(seeds) * select_worlds)
        try:
            result = train_seeds(cfg, hp, seeds, out_dir, workers, select_worlds,
                                 on_trained=lambda s, hours: bar.update(tasks[s], completed=hours),
                                 on_validated=lambda s: bar.advance(check),
                                 on_margin=_margin_progress(bar, hp.margin_worlds))
        except ValueError as e:
            raise fail(str(e), EXIT_USAGE) from None
    j = result.to_json()
    if json_out:
        print_json(j)
        return
    for row in j["seeds"]:
        v = row["validation"]
        out.print(f"seed {row['seed']}: {row['env_hours']:,} env-hours in {row['wall_s']:.0f} s; validation score "
                  f"{v['mean']:.1f} on {select_worlds} worlds")
    out.print(f"kept seed {j['chosen']}'s best.pt as {j['checkpoint']} ({j['wall_s']:.0f} s in all; "
              f"{out_dir / SEEDS_FILE})")
    _print_margin(j.get("guard_margin"), Path(j["checkpoint"]))


def _margin_progress(bar: Any, worlds: int) -> Callable[[float], None]:
    """The progress of the guard margin's choice: a task added at its first world, each margin `worlds` worlds."""
    task: list[Any] = []

    def played(margin: float) -> None:
        if not task:
            task.append(bar.add_task("the CAC guard's margin on validation worlds", total=None))
        bar.update(task[0], advance=1, description=f"the CAC guard's margin: {margin:g} x the target CPA "
                                                   f"({worlds} worlds each)")

    return played


def _print_margin(choice: dict[str, Any] | None, path: Path) -> None:
    """A line per margin played, then the one written into `path`."""
    if choice is None:
        return
    for t in choice["trials"]:
        out.print(f"guard margin {t['margin']:g}: mean score {t['mean_score']:.1f}, share of campaigns over the "
                  f"target CPA {t['over_target_share']:.1%} (worlds {choice['worlds'][0]}-{choice['worlds'][-1]})")
    out.print(f"chose guard margin {choice['chosen']:g} (the best score with at most {choice['risk']:.0%} over); "
              f"written into {path}")


def register(app: typer.Typer) -> None:
    """Add `gaelp train` to the app."""
    app.command("train")(train)
