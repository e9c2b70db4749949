"""One nested, validated, frozen config tree; defaults come from `gaelp.calibration`.

The tree flows from the CLI to the components: each component receives only its own sub-config.
Load a TOML file with `load_config(path)`; the file holds only what differs from the defaults, e.g.

    users = 50000
    [campaign]
    budget_per_user = 0.03
    [[market.competitors]]
    name = "qustodio"
    base_cpc = 3.0

A list in the file (segments, channels, competitors) replaces the default list; entries are matched
by `name` and missing fields of an entry that shares a default's name take that default.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gaelp import calibration as cal
from gaelp.market.mechanisms import get_mechanism  # a leaf module (numpy only): the table of auction types

N_STAGES = len(cal.STAGES)
# Importance sampling refuses worlds whose people would weigh more than this each (an assumption between
# what was measured: weights up to 1.28 (crisis=4 and 8) leave KPIs within about 1% of plain Monte Carlo;
# where the rivals learn, weight 1.96 (crisis=0.5) leaves CPC 1.4% and crisis purchases 11% off and
# weight 3.9 (crisis=0.25) impressions 2.7%: docs/montecarlo.md, "Importance sampling")
MAX_IMPORTANCE_WEIGHT = 1.5
Prob = Field(ge=0.0, le=1.0)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def _defaults(facts: dict[str, cal.Fact]) -> dict[str, Any]:
    return {k: f.value for k, f in facts.items()}


class SegmentConfig(_Frozen):
    """A kind of person: how often they are reachable, click, buy, and how long they take."""

    name: str
    share: float = Field(gt=0.0, le=1.0, description="share of the population")
    activity: tuple[float, ...] = Field(description="opportunity-rate multiplier per channel")
    ctr_mult: float = Field(gt=0.0, le=10.0)
    cvr: float = Field(ge=0.0, le=1.0, description="post-click purchase probability (reference stage)")
    value: float = Field(gt=0.0, le=10_000.0, description="first-year revenue of a purchase, USD")
    lag_median_h: float = Field(gt=0.0, le=24 * 365, description="median post-click purchase lag")
    lag_sigma: float = Field(gt=0.0, le=5.0, description="log-normal sigma of the lag")
    crisis_rate: float = Field(ge=0.0, le=1.0, description="daily chance of a jump to INTENT")
    buy_mult: float = Field(ge=0.0, le=20.0, description="multiplier of the organic purchase hazard")


class ChannelConfig(_Frozen):
    """An ad channel: its traffic, response and auction."""

    name: str
    rate: float = Field(gt=0.0, le=50.0, description="opportunities per person per day")
    ctr: float = Field(gt=0.0, le=1.0, description="base CTR of the top slot")
    cvr_mult: float = Field(ge=0.0, le=10.0)
    mechanism: str = Field(description="auction type, a key of gaelp.market.mechanisms.MECHANISMS")
    slots: int = Field(ge=1, le=8)
    reserve: float = Field(ge=0.0, le=1000.0, description="reserve price per click, USD")
    position_ctr: tuple[float, ...]
    frequency_cap: int = Field(ge=1, le=250, description="impressions per advertiser, person and day")
    stage_activity: tuple[float, ...] = Field(description="activity multiplier per journey stage")

    @field_validator("mechanism")
    @classmethod
    def _known_mechanism(cls, name: str) -> str:
        return get_mechanism(name).name  # ValueError naming the known mechanisms

    @model_validator(mode="after")
    def _check(self) -> ChannelConfig:
        if len(self.position_ctr) != self.slots:
            raise ValueError(f"channel {self.name!r}: position_ctr needs {self.slots} values (one per slot)")
        if len(self.stage_activity) != N_STAGES:
            raise ValueError(f"channel {self.name!r}: stage_activity needs {N_STAGES} values")
        return self


class JourneyConfig(_Frozen):
    """Stage dynamics, organic behaviour, fatigue and brand choice."""

    ctr_stage: tuple[float, ...]
    cvr_stage: tuple[float, ...]
    advance: tuple[float, ...] = Field(description="per-channel chance an impression advances a stage")
    click_to_intent: float = Prob
    intent_by_stage: tuple[tuple[float, float, float], ...]
    intent_ctr: tuple[float, float, float]
    intent_cvr: tuple[float, float, float]
    initial_stage: tuple[float, ...] = Field(description="share of people in each stage on day 0")
    lapse_days: int = Field(ge=1, le=365)
    word_of_mouth: float = Prob
    organic_consider: float = Prob
    buy_hazard: tuple[float, float, float, float]
    drop_out: tuple[float, float, float, float]
    brand_base: float = Field(ge=0.0, le=100.0)
    brand_impression: float = Field(ge=0.0, le=100.0)
    brand_click: float = Field(ge=0.0, le=100.0)
    exposure_decay: float = Prob
    fatigue: float = Field(ge=0.0, le=10.0)
    same_device_conversion: float = Prob
    fast_share: float = Prob
    fast_mean_h: float = Field(gt=0.0, le=48.0)

    @model_validator(mode="after")
    def _check(self) -> JourneyConfig:
        for name in ("ctr_stage", "cvr_stage", "intent_by_stage", "initial_stage"):
            if len(getattr(self, name)) != N_STAGES:
                raise ValueError(f"journey.{name} needs {N_STAGES} values, one per stage {cal.STAGES}")
        if abs(sum(self.initial_stage) - 1.0) > 1e-6 or min(self.initial_stage) < 0:
            raise ValueError("journey.initial_stage must be non-negative shares summing to 1")
        return self


class DeviceConfig(_Frozen):
    """Cross-device identity: 1-3 devices per person."""

    count_probs: tuple[float, float, float]
    desktop_share: float = Prob
    cvr_desktop: float = Field(gt=0.0, le=10.0)
    cvr_mobile: float = Field(gt=0.0, le=10.0)
    household_share: float = Field(default=cal.DEVICES["household_share"].value, ge=0.0, le=1.0,
                                   description="share of people who share a home with another person")
    home_share_desktop: float = Field(default=cal.DEVICES["home_share_desktop"].value, ge=0.0, le=1.0)
    home_share_mobile: float = Field(default=cal.DEVICES["home_share_mobile"].value, ge=0.0, le=1.0)
    people_per_carrier_address: float = Field(default=cal.DEVICES["people_per_carrier_address"].value,
                                              ge=1.0, le=1e6)
    login_rate: float = Field(default=cal.DEVICES["login_rate"].value, ge=0.0, le=1.0,
                              description="share of clicks followed by a login on our site")


class TemporalConfig(_Frozen):
    """Hour-of-day, weekday and month multipliers."""

    hour: tuple[float, ...] = Field(min_length=24, max_length=24)
    hour_cvr: tuple[float, ...] = Field(min_length=24, max_length=24)
    weekday: tuple[float, ...] = Field(min_length=7, max_length=7)
    month: tuple[float, ...] = Field(min_length=12, max_length=12)
    surge: tuple[tuple[int, float], ...] = Field(
        default=cal.TEMPORAL["surge"].value, description="days of unusual traffic: (day, traffic multiplier) pairs")


class CreativeConfig(_Frozen):
    """Every advertiser's creatives: appeal by segment and stage, and creative-specific fatigue."""

    names: tuple[str, ...] = Field(min_length=1, max_length=16)
    appeal_segment: dict[str, tuple[float, ...]] = Field(
        description="segment name -> CTR multiplier of each creative (segments not named: 1; names of "
                    "segments the world lacks are ignored)")
    appeal_stage: tuple[tuple[float, ...], ...] = Field(description="(n_creatives, n_stages) CTR multipliers")
    same_share: float = Field(ge=0.0, le=1.0, description="share of fatigue tied to the one creative seen again")

    @model_validator(mode="after")
    def _check(self) -> CreativeConfig:
        n = len(self.names)
        if len(self.appeal_stage) != n or any(len(r) != n for r in self.appeal_segment.values()):
            raise ValueError(f"appeal_stage needs one row per creative and appeal_segment one value per creative ({n})")
        if any(len(r) != 7 for r in self.appeal_stage):
            raise ValueError("appeal_stage rows need 7 values, one per journey stage")
        if any(x <= 0 for r in (*self.appeal_segment.values(), *self.appeal_stage) for x in r):
            raise ValueError("appeal multipliers must be > 0")
        return self


class WorldConfig(_Frozen):
    """The people side of the market."""

    segments: tuple[SegmentConfig, ...] = Field(min_length=1)
    channels: tuple[ChannelConfig, ...] = Field(min_length=1)
    journey: JourneyConfig = JourneyConfig(**_defaults(cal.JOURNEY))
    devices: DeviceConfig = DeviceConfig(**_defaults(cal.DEVICES))
    temporal: TemporalConfig = TemporalConfig(**_defaults(cal.TEMPORAL))
    creatives: CreativeConfig = CreativeConfig(**_defaults(cal.CREATIVES))
    importance: dict[str, float] = Field(
        default_factory=dict,
        description="importance sampling: segment -> oversampling factor; the drawn people of a segment "
                    "weigh share / drawn share in KPIs and in what the platform charges (empty: a plain world)")

    @model_validator(mode="after")
    def _check(self) -> WorldConfig:
        n_ch = len(self.channels)
        names = {s.name for s in self.segments}
        for name, factor in self.importance.items():
            if name not in names:
                raise ValueError(f"importance: unknown segment {name!r}; known: {', '.join(sorted(names))}")
            if not (math.isfinite(factor) and factor > 0):
                raise ValueError(f"importance: factor of {name!r} must be a positive number, got {factor}")
        for s in self.segments:
            if len(s.activity) != n_ch:
                raise ValueError(f"segment {s.name!r}: activity needs {n_ch} values, one per channel")
        if len(self.journey.advance) != n_ch:
            raise ValueError(f"journey.advance needs {n_ch} values, one per channel")
        total = sum(s.share for s in self.segments)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"segment shares must sum to 1, got {total:.6f}")
        if self.importance:
            self._check_weights()
        return self

    def _check_weights(self) -> None:
        """Refuse importance factors that would make a segment's people heavier than `MAX_IMPORTANCE_WEIGHT`.

        A person of segment s weighs (sum_k share_k f_k) / f_s (`world.population.sampling_shares`). At
        `crisis=0.25` (weight 3.9) the target-CPA rival's multiplier runs higher than in plain worlds and
        our impressions come out 2.7% low (the default market, 768 worlds, 7 se; the rule market is
        unbiased since our anomaly detector watches the platform's charges).
        """
        factors = {s.name: self.importance.get(s.name, 1.0) for s in self.segments}
        mean = sum(s.share * factors[s.name] for s in self.segments)
        for s in self.segments:
            weight = mean / factors[s.name]
            if weight > MAX_IMPORTANCE_WEIGHT:
                raise ValueError(
                    f"importance: the people of segment {s.name!r} would weigh {weight:.2f} each, above "
                    f"{MAX_IMPORTANCE_WEIGHT}: KPIs are biased at such weights (undersampling, or oversampling a "
                    "large segment; docs/montecarlo.md, Importance sampling); oversample rare segments instead")


class CompetitorConfig(_Frozen):
    """A rival advertiser with its own budget, value and bidding rules."""

    name: str
    kind: str = Field(default="rule", description="bidder class from the registry")
    value: float = Field(gt=0.0, le=10_000.0, description="revenue of one of its sales, USD")
    budget_per_user: float = Field(ge=0.0, le=100.0, description="daily budget per person in the world")
    base_cpc: float = Field(gt=0.0, le=1000.0)
    channel_mult: tuple[float, ...]
    intent_mult: tuple[float, float, float] = cal.COMPETITOR_INTENT_MULT.value
    creative_quality: float = Field(gt=0.0, le=10.0)
    appeal: float = Field(ge=0.0, le=10.0, description="post-click purchase multiplier")
    brand: float = Field(ge=0.0, le=100.0, description="unaided brand weight in organic choice")
    bid_sigma: float = Field(default=0.0, ge=0.0, le=3.0, description="log-normal spread of its bids")
    category: bool = Field(default=True, description="sells in our category (False: the rest of the market)")


class RivalValueConfig(_Frozen):
    """The learning rivals' click-value model (`bidders.value_models.ClickValueModel`).

    Each rival learns what a click is worth per (channel, intent) from its own clicks and pixel, with
    the delayed-feedback correction. The settings are modelling assumptions, not market facts.
    """

    window_h: int = Field(default=24 * 7, ge=1, le=24 * 90, description="credit window of a click, hours")
    prior_cvr: float = Field(default=0.0125, ge=0.0, le=1.0,
                             description="assumption: prior purchases per click, near the market's CVR")
    strength: float = Field(default=300.0, ge=0.0, le=1e6, description="assumption: prior weight in clicks")
    incrementality: float = Field(default=0.45, ge=0.0, le=1.0,
                                  description="share of last-click credit a rival counts as caused "
                                              "(incrementality studies: a third to two thirds)")


class QLearningConfig(_Frozen):
    """The Q-learning rival (`q_learning`): bid levels x its reference bid, epsilon-greedy (assumptions)."""

    level_min: float = Field(default=0.25, gt=0.0, le=1.0, description="lowest bid level x reference")
    level_max: float = Field(default=4.0, ge=1.0, le=100.0, description="highest bid level x reference")
    levels: int = Field(default=9, ge=2, le=64, description="bid levels, log-spaced")
    alpha: float = Field(default=0.01, gt=0.0, le=1.0, description="learning rate")
    epsilon0: float = Field(default=0.2, ge=0.0, le=1.0, description="initial exploration rate")
    epsilon_min: float = Field(default=0.05, ge=0.0, le=1.0, description="floor of the exploration rate")
    decay_hours: float = Field(default=24 * 10, gt=0.0, le=1e6, description="time constant of the decay")


class PolicyGradientConfig(_Frozen):
    """The policy-gradient rival (`policy_gradient`): a log-normal bid policy (assumptions)."""

    sigma0: float = Field(default=0.4, gt=0.0, le=5.0, description="initial log-bid exploration")
    sigma_min: float = Field(default=0.1, gt=0.0, le=5.0, description="floor of the exploration")
    decay_hours: float = Field(default=24 * 10, gt=0.0, le=1e6, description="time constant of the decay")
    lr: float = Field(default=0.01, gt=0.0, le=10.0, description="policy learning rate")
    baseline_lr: float = Field(default=0.1, gt=0.0, le=10.0, description="reward-baseline learning rate")
    max_log_shift: float = Field(default=2.0, gt=0.0, le=10.0, description="bound on the log-bid shift")


class RivalTcpaConfig(_Frozen):
    """The target-CPA rival (`rival_tcpa`): steers a multiplier toward its target CPA (assumptions)."""

    fraction: float = Field(default=1.0, gt=0.0, le=1.0, description="target CPA over the value of a sale")
    step: float = Field(default=0.02, gt=0.0, le=1.0, description="change of log m per hour per log(CPA/target)")
    memory_h: float = Field(default=48.0, gt=0.0, le=1e5, description="memory of the cost and value sums, hours")
    max_log_shift: float = Field(default=1.5, gt=0.0, le=10.0, description="bound on |log m|")


class LearnersConfig(_Frozen):
    """Hyper-parameters of the learning rivals, one section per kind."""

    value: RivalValueConfig = RivalValueConfig()
    q_learning: QLearningConfig = QLearningConfig()
    policy_gradient: PolicyGradientConfig = PolicyGradientConfig()
    rival_tcpa: RivalTcpaConfig = RivalTcpaConfig()


class MarketConfig(_Frozen):
    """The advertisers we compete with, and how the learning ones learn."""

    competitors: tuple[CompetitorConfig, ...] = tuple(
        CompetitorConfig(name=n, **_defaults(f)) for n, f in cal.COMPETITORS.items()
    )
    learners: LearnersConfig = LearnersConfig()


class SelectorConfig(_Frozen):
    """Our Thompson-sampling creative selector (`control/creatives.py`; sources in `calibration.SELECTOR`)."""

    prior_clicks: float = Field(default=cal.SELECTOR["prior_clicks"].value, gt=0.0, le=1e6,
                                description="clicks of the prior of a creative's rate over all contexts")
    prior_impressions: float = Field(default=cal.SELECTOR["prior_impressions"].value, gt=0.0, le=1e7,
                                     description="impressions of that prior (more than prior_clicks)")
    pool: float = Field(default=cal.SELECTOR["pool"].value, gt=0.0, le=1e7,
                        description="impressions' worth of the overall rate in each context's prior")
    samples: int = Field(default=cal.SELECTOR["samples"].value, ge=1, le=64,
                         description="Thompson samples per context, creative and hour, shared by the hour's "
                                     "opportunities (each takes one by a hash of its device)")
    fatigue: float = Field(default=cal.SELECTOR["fatigue"].value, ge=0.0, le=100.0,
                           description="discount of a sampled rate per recent showing to the same device")
    decay: float = Field(default=cal.SELECTOR["decay"].value, ge=0.0, le=1.0,
                         description="daily decay of those showings")
    purchase_weight: float = Field(default=cal.SELECTOR["purchase_weight"].value, ge=0.0, le=1000.0,
                                   description="clicks a matched purchase adds to its click's creative")

    @model_validator(mode="after")
    def _check(self) -> SelectorConfig:
        if self.prior_clicks >= self.prior_impressions:
            raise ValueError(f"prior_clicks ({self.prior_clicks}) must be less than prior_impressions "
                             f"({self.prior_impressions}): the prior is a click rate below 1")
        return self


class CampaignConfig(_Frozen):
    """Our own campaign: budget, creative, attribution window."""

    budget_per_user: float = Field(default=cal.OURS["budget_per_user"].value, ge=0.0, le=100.0)
    creative_quality: float = Field(default=cal.OURS["creative_quality"].value, gt=0.0, le=10.0)
    appeal: float = Field(default=cal.OURS["appeal"].value, ge=0.0, le=10.0)
    lookback_days: int = Field(default=cal.OURS["lookback_days"].value, ge=1, le=90)
    creatives: Literal["thompson", "rotate", "ab"] = Field(
        default=cal.OURS["creatives"].value,
        description="how our bidders pick a creative: thompson (learned from our clicks), rotate (uniform), "
                    "ab (A/B by a hash of the device between ab_pair)")
    ab_pair: tuple[int, int] = Field(default=cal.OURS["ab_pair"].value, description="creatives of an A/B test")
    selector: SelectorConfig = SelectorConfig()
    pacing: Literal["daily", "promise"] = Field(
        default=cal.OURS["pacing"].value,
        description="daily: spend at most the daily budget each day; promise: up to 2x on a busy day, "
                    "at most 30.4x over 30 days (the platform's promise)")


class BiddersConfig(_Frozen):
    """Parameters of our baseline bidders."""

    fixed_bid: float = Field(default=cal.OURS["fixed_bid"].value, gt=0.0, le=1000.0)
    target_cpa: float = Field(default=cal.OURS["target_cpa"].value, gt=0.0, le=100_000.0)
    oracle_fraction: float = Field(default=cal.OURS["oracle_fraction"].value, gt=0.0, le=1.0)
    oracle_lp_k: float = Field(default=cal.OURS["oracle_lp_k"].value, gt=0.0, le=1000.0,
                               description="oracle_lp bids k x true P(purchase | click) x target_cpa")
    prior_cvr: float = Field(default=cal.OURS["prior_cvr"].value, ge=0.0, le=1.0,
                             description="target_cpa's prior CVR per context")
    prior_strength: float = Field(default=cal.OURS["prior_strength"].value, ge=0.0, le=1e6,
                                  description="target_cpa's prior weight, in clicks")


class SafetyConfig(_Frozen):
    """Limits that sit between every bidder of ours and the market."""

    max_bid: float = Field(default=cal.OURS["max_bid"].value, gt=0.0, le=10_000.0, description="bid cap per click")
    max_hour_share: float = Field(default=cal.OURS["max_hour_share"].value, gt=0.0, le=1.0,
                                  description="circuit breaker: most of a day's allowance one hour may spend")
    anomalies: bool = Field(default=cal.OURS["anomalies"].value, description="pause bidding on anomalies of our own hourly stats")
    pause_hours: int = Field(default=cal.OURS["pause_hours"].value, ge=1, le=24 * 365,
                             description="hours a detected anomaly pauses our bidding")
    watch_charges: bool = Field(default=cal.OURS["watch_charges"].value,
                                description="withdraw our bids within the hour after an impression priced above its bid")
    react_minutes: float = Field(default=cal.OURS["react_minutes"].value, ge=0.0, le=60.0,
                                 description="minutes from an overpriced impression to our bids' withdrawal")


class Config(_Frozen):
    """The whole run."""

    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    users: int = Field(default=10_000, ge=1, le=100_000_000)
    days: int = Field(default=30, ge=1, le=3650)
    start_date: dt.date = dt.date(2026, 1, 5)
    bidder: str = "fixed"
    world: WorldConfig = WorldConfig(
        segments=tuple(SegmentConfig(name=n, **_defaults(f)) for n, f in cal.SEGMENTS.items()),
        channels=tuple(ChannelConfig(name=n, **_defaults(f)) for n, f in cal.CHANNELS.items()),
    )
    market: MarketConfig = MarketConfig()
    campaign: CampaignConfig = CampaignConfig()
    bidders: BiddersConfig = BiddersConfig()
    safety: SafetyConfig = SafetyConfig()
    store_url: str | None = Field(default=None, description="journey store URL (None: in memory)")

    @model_validator(mode="after")
    def _check(self) -> Config:
        n_ch = len(self.world.channels)
        for c in self.market.competitors:
            if len(c.channel_mult) != n_ch:
                raise ValueError(f"competitor {c.name!r}: channel_mult needs {n_ch} values")
        return self

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Channel names in index order."""
        return tuple(c.name for c in self.world.channels)

    def replace(self, **changes: Any) -> Config:
        """A validated copy with top-level fields changed (None values are ignored)."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return Config.model_validate(data)


class ConfigError(ValueError):
    """A config that fails validation; the message names each bad field and what is allowed."""


def _merge(default: Any, override: Any) -> Any:
    if isinstance(default, dict) and isinstance(override, dict):
        # unknown keys pass through for pydantic to reject by name
        return {**default, **{k: _merge(default[k], v) if k in default else v for k, v in override.items()}}
    if isinstance(default, list) and isinstance(override, list):
        by_name = {d.get("name"): d for d in default if isinstance(d, dict)}
        return [_merge(by_name[o["name"]], o) if isinstance(o, dict) and o.get("name") in by_name else o
                for o in override]
    return override


def build_config(data: dict[str, Any], origin: str = "config") -> Config:
    """Validate `data` (only the fields that differ from the defaults) into a `Config`."""
    try:
        return Config.model_validate(_merge(Config().model_dump(mode="json"), data))
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {loc or '(root)'}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError(f"invalid {origin}:\n" + "\n".join(lines)) from None


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Defaults, then the TOML file at `path` (if any), then non-None `overrides` (CLI flags)."""
    data: dict[str, Any] = {}
    origin = "config"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist (pass a TOML file to --config)")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {p} is not valid TOML: {e}") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"config file {p} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset "
                              f"{e.start}); save it as UTF-8") from None
        except OSError as e:
            raise ConfigError(f"cannot read config file {p}: {e.strerror}; check its permissions") from None
        origin = f"config file {p}"
    data.update({k: v for k, v in overrides.items() if v is not None})
    return build_config(data, origin)


def dump_toml(cfg: Config) -> str:
    """The full effective config as TOML (None values are left out, as TOML has no null)."""

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if v is not None}
        if isinstance(x, list | tuple):
            return [strip(v) for v in x]
        return x

    return tomli_w.dumps(strip(cfg.model_dump(mode="json")))
