"""The shock experiment: our bidder doubles its bids on day DAY; do the rivals adapt, and does it pay?

One campaign is run from one world, then replayed from the start of DAY once per learning rival
(the world is copied there, so every replay has exactly the same past). In the *adapted* run every
learning rival keeps learning; in a learner's *frozen twin*, that learner keeps bidding from the
policy it had learned by DAY (exploration included) and stops updating, while the others go on as
they would. A last replay keeps our bids as they were (*no shock*), so that what the rivals would
have learned anyway can be told apart from their answer to the shock. The rivals' daily win rate,
mean bid and profit show the adaptation; the profit after the shock, adapted minus frozen, is what
adapting was worth.

**Our bid.** Doubling a bid that already tops every rival changes nothing for them: under second
price and GSP their prices do not depend on a bid above theirs. So by default our bidder (`market`)
bids what a click is worth to a typical rival product, derived from the config
(`rival_click_values`): it sits among the rivals, and doubling it takes their top slots and
raises the price of the slots they keep. Any registered bidder can take its place (`--bid X` runs
`fixed` at X).

A rival's daily profit here is its *expected advertising* profit, the simulator's ground truth:
for each of its clicks, the true probability that the click becomes its sale times its value of a
sale, minus its ad spend. Realised sales are left out on purpose: at test scale a rival makes a sale
from a click every few days, worth $100-250, so realised profit is a lottery that would drown the
few dollars a day that bidding better is worth. Organic sales (brand, word of mouth) are left out too.
"""

from __future__ import annotations

import copy
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gaelp.bidders.protocol import OURS, BaseBidder, Bidder, BidderWrapper, OpportunityBatch
from gaelp.bidders.state import freeze, load_bidder_states, save_bidder_states
from gaelp.config import Config
from gaelp.records import HourRecord
from gaelp.rng import Streams
from gaelp.simulation import Simulation, build_bidder


def rival_click_values(cfg: Config) -> np.ndarray:
    """What a click is worth to the median rival product, per channel and query intent, from the config.

    The median value of a sale over the rival products (`category` competitors) times the
    population's mean post-click purchase rate (segment shares x CVRs) times the channel's and the
    query intent's CVR multipliers. A rival that bids its value of a click bids about this much.

    Returns:
        (n_channels, 3) USD per click.
    """
    values = [c.value for c in cfg.market.competitors if c.category]
    if not values:
        raise ValueError("market.competitors has no rival product (category = true): nothing to price a click by")
    w = cfg.world
    share = np.array([s.share for s in w.segments])
    cvr = float(share @ np.array([s.cvr for s in w.segments]) / share.sum())
    return float(np.median(values)) * cvr * np.outer([c.cvr_mult for c in w.channels], w.journey.intent_cvr)


class MarketBidder(BaseBidder):
    """Bids a table per (channel, query intent): by default `rival_click_values(cfg)`.

    Args:
        cfg: the run's config (our daily budget, the market).
        table: (n_channels, 3) bids; default what a click is worth to the median rival.
    """

    def __init__(self, cfg: Config, table: np.ndarray | None = None) -> None:
        super().__init__("market", cfg.campaign.budget_per_user * cfg.users)
        self.table = rival_click_values(cfg) if table is None else np.asarray(table, np.float64)
        if self.table.shape != (len(cfg.world.channels), 3) or not (np.isfinite(self.table).all()
                                                                    and (self.table >= 0).all()):
            raise ValueError(f"table must be finite, >= 0 and of shape ({len(cfg.world.channels)}, 3), "
                             f"got {self.table.tolist()}")

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """The table entry of each opportunity's (channel, intent)."""
        return self.table.ravel()[batch.context]


class ShockBidder(BidderWrapper):
    """Wraps one of our bidders and multiplies its bids by `factor` from day `shock_day` on.

    Args:
        inner: the bidder to wrap (its name, budget and learning are kept).
        shock_day: first day of the higher bids.
        factor: the bid multiplier from then on.
    """

    def __init__(self, inner: Bidder, shock_day: int, factor: float = 2.0) -> None:
        if shock_day < 0:
            raise ValueError(f"shock_day must be >= 0, got {shock_day}")
        if not factor > 0:
            raise ValueError(f"factor must be > 0, got {factor}")
        super().__init__(inner)
        self.shock_day, self.factor = shock_day, float(factor)

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """The inner bids, times `factor` from the shock day on."""
        b = super().bid(batch)
        return b * self.factor if batch.day >= self.shock_day else b


@dataclass(frozen=True, slots=True)
class RivalSeries:
    """One rival's days in one run: arrays of shape (days,)."""

    win_rate: np.ndarray
    mean_bid: np.ndarray
    profit: np.ndarray


@dataclass(frozen=True, slots=True)
class ShockResult:
    """Both runs of the experiment.

    Attributes:
        shock_day: first day of our doubled bids.
        names: rival names (bidders 1..).
        learns: whether each rival learns.
        adapted: name -> series of the run where learners keep learning.
        frozen: name -> series of each learner's frozen twin (the adapted series for a rival that
            does not learn).
        no_shock: name -> series of the replay without the shock (learners keep learning); None
            when it was not run.
    """

    shock_day: int
    names: tuple[str, ...]
    learns: tuple[bool, ...]
    adapted: dict[str, RivalSeries]
    frozen: dict[str, RivalSeries]
    no_shock: dict[str, RivalSeries] | None = None

    def bid_move(self, name: str, days: int = 7) -> float:
        """Largest |daily mean bid / mean bid of the day before the shock - 1| over `days` days from it."""
        mb = self.adapted[name].mean_bid
        before = mb[self.shock_day - 1]
        if before <= 0:
            return float("inf") if (mb[self.shock_day:self.shock_day + days] > 0).any() else 0.0
        return float(np.abs(mb[self.shock_day:self.shock_day + days] / before - 1.0).max())

    def profit_after(self, name: str, frozen: bool = False) -> float:
        """Total profit of rival `name` from the shock day on."""
        s = (self.frozen if frozen else self.adapted)[name]
        return float(s.profit[self.shock_day:].sum())

    def to_json(self) -> dict[str, Any]:
        """The documented `gaelp competitors --json` object."""
        comps = {}
        for name, learns in zip(self.names, self.learns):
            a = self.adapted[name]
            comps[name] = {
                "learns": learns,
                "daily_win_rate": [round(float(x), 4) for x in a.win_rate],
                "daily_mean_bid": [round(float(x), 4) for x in a.mean_bid],
                "daily_profit": [round(float(x), 2) for x in a.profit],
                "profit_after_shock": round(self.profit_after(name), 2),
                "profit_after_shock_frozen": round(self.profit_after(name, frozen=learns), 2),
            }
        return {"shock_day": self.shock_day, "competitors": comps}


class ExpectedProfit:
    """Observer of a simulation: every advertiser's expected advertising profit, per day.

    For each impression: true CTR x (true P(sale | click) x value of a sale - price per click), from
    the hour record's ground truth (the CTR the world drew the click from; no draw of its own).

    Attributes:
        daily: (days, n_advertisers).
    """

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.daily = np.zeros((sim.cfg.days, sim.n_adv))
        sim.observe(self)

    def __call__(self, rec: HourRecord) -> None:
        sim, cl, truth, batch = self.sim, rec.impressions, rec.truth, rec.batch
        r, a = cl.row, cl.advertiser
        seg = truth.segment[r]
        p = sim.response.cvr(batch.channel[r], seg, truth.stage[r], batch.intent[r], batch.device_type[r],
                             sim.calendar.hour_cvr[rec.t % 24], sim.appeal[a])
        value = np.where(a == OURS, sim.response.value[seg], sim.rival_value[a])
        day = rec.t // 24
        if day >= self.daily.shape[0]:
            self.daily = np.vstack([self.daily, np.zeros((day + 1 - self.daily.shape[0], sim.n_adv))])
        self.daily[day] += np.bincount(a, weights=cl.ctr * (p * value - cl.price), minlength=sim.n_adv)


def _series(sim: Simulation, profit: ExpectedProfit) -> dict[str, RivalSeries]:
    d = sim.kpis.daily
    days = sim.day
    bids = d["bids"][:days]
    win_rate = np.divide(d["impressions"][:days], bids, out=np.zeros_like(bids), where=bids > 0)
    mean_bid = np.divide(d["bid_sum"][:days], bids, out=np.zeros_like(bids), where=bids > 0)
    tally = profit.daily[:days]
    return {b.name: RivalSeries(win_rate[:, j], mean_bid[:, j], tally[:, j])
            for j, b in enumerate(sim.bidders) if j != OURS}


def run_shock(cfg: Config, shock_day: int, days: int | None = None, factor: float = 2.0,
              bidder: str = "market", no_shock: bool = True, state_path: str | Path | None = None) -> ShockResult:
    """Run the experiment.

    Args:
        cfg: the world and market (its competitors' kinds pick who learns).
        shock_day: first day of our multiplied bids; 1 <= shock_day < days.
        days: campaign length (default `cfg.days`).
        factor: our bid multiplier from the shock on.
        bidder: our bidder before the shock: "market" (`MarketBidder`) or a registered name.
        no_shock: also replay the days from the shock without it.
        state_path: a rivals' checkpoint (`save_bidder_states`): loaded before the campaign when
            the file exists, and written with the adapted run's learned state at its end.

    Returns:
        The daily series per rival of every run.
    """
    days = cfg.days if days is None else days
    if not 1 <= shock_day < days:
        raise ValueError(f"shock day must be in 1..{days - 1} (the campaign has {days} days), got {shock_day}")
    cfg = cfg.replace(days=days)
    sim = Simulation(cfg, ShockBidder(_our_bidder(cfg, bidder), shock_day, factor))
    profit = ExpectedProfit(sim)
    if state_path is not None and Path(state_path).exists():
        _load_rival_state(sim.rivals, Path(state_path))
    sim.run(shock_day)
    rivals = sim.rivals
    learns = tuple(bool(getattr(b, "learns", False)) for b in rivals)
    # Every replay is the same world copied at the start of the shock day (exactly the same past).
    # In a learner's twin only that learner freezes: the others adapt as they would.
    twins = {}
    for j, b in enumerate(rivals):
        if learns[j]:
            twin, twin_profit = copy.deepcopy((sim, profit))  # the copied tally observes the copied world
            freeze([twin.rivals[j]])
            twin.run(days - shock_day)
            twins[b.name] = _series(twin, twin_profit)[b.name]
    baseline = None
    if no_shock:
        calm, calm_profit = copy.deepcopy((sim, profit))
        shocked = calm.ours
        assert isinstance(shocked, ShockBidder)
        shocked.factor = 1.0
        calm.run(days - shock_day)
        baseline = _series(calm, calm_profit)
    sim.run(days - shock_day)
    if state_path is not None:
        save_bidder_states(sim.rivals, state_path)
    adapted = _series(sim, profit)
    frozen = {b.name: twins.get(b.name, adapted[b.name]) for b in rivals}
    return ShockResult(shock_day, tuple(b.name for b in rivals), learns, adapted, frozen, baseline)


def _load_rival_state(rivals: list[Bidder], path: Path) -> None:
    """Load a rivals' checkpoint, or refuse a file that is not one (and leave it untouched).

    Raises:
        ValueError: the file is unreadable, damaged, or holds no state of any of these rivals.
    """
    names = ", ".join(b.name for b in rivals)
    try:
        restored = load_bidder_states(rivals, path)
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"--state {path} is not a readable rivals' state ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else 'damaged'}); it was left as it is: pass another "
                         "--state path, or move the file away") from None
    if not restored:
        raise ValueError(f"--state {path} is not a rivals' state (it holds none of {names}); it was left as it "
                         "is: pass another --state path")


def _our_bidder(cfg: Config, name: str) -> Bidder:
    if name == "market":
        return MarketBidder(cfg)
    return build_bidder(cfg, name, Streams(cfg.seed))


def plot_shock(result: ShockResult, path: str) -> None:
    """Write a PNG: win rate, mean bid and profit per day for each rival (frozen twins dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(9, 10), sharex=True)
    panels = (("win_rate", "daily win rate"), ("mean_bid", "mean bid per click (USD)"),
              ("profit", "daily ad profit (USD)"))
    for ax, (field, label) in zip(axes, panels):
        for i, (name, learns) in enumerate(zip(result.names, result.learns)):
            color = f"C{i}"
            days = np.arange(getattr(result.adapted[name], field).size)
            ax.plot(days, getattr(result.adapted[name], field), color=color, label=name)
            if learns:
                ax.plot(days[result.shock_day:], getattr(result.frozen[name], field)[result.shock_day:],
                        color=color, linestyle="--", label=f"{name} (frozen)")
        ax.axvline(result.shock_day - 0.5, color="k", linewidth=0.8)
        ax.set_ylabel(label)
    axes[0].legend(ncol=3, fontsize=8)
    axes[-1].set_xlabel("day")
    axes[0].set_title(f"our bids x2 from day {result.shock_day}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["ExpectedProfit", "MarketBidder", "RivalSeries", "ShockBidder", "ShockResult", "plot_shock",
           "rival_click_values", "run_shock"]
