"""Every default number of the market, with its source or marked as an assumption.

The config tree (`gaelp.config`) takes its defaults from here and nowhere else. Each entry is a
`Fact`: the value and where it comes from. Sources are the public facts collected in the project's
docs/calibration.md section 2; a number that no public fact pins down says `assumption:` and why it was chosen (most
were tuned so that the default market reproduces the validation targets at the end of this file).

`gaelp calibrate --check` runs the default market and checks `TARGETS`; `gaelp calibrate --sources`
lists every fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WORDSTREAM = "WordStream/LocaliQ 2024 search benchmarks: CTR 6.42%, CPC $4.66, CVR 6.96% (leads)"
SUMMARIES = "2024 benchmark summaries: search CTR 3-5%, display CTR 0.05-0.08%, CVR 2-4%"
GA4 = "family-safety advertiser's GA4 exports 2024-25 (indicative, one advertiser)"
PRICES = "2026 review-site list prices of family-safety apps"
CRITEO = "Chapelle KDD 2014: Criteo delays, ~35% within 1 h and ~50% within 24 h, tail to 30 days"
GOOGLE = "Google Ads attribution conventions (30-day click lookback)"
TUNED = "assumption: tuned so the default market meets the validation targets"
STAGES = ("UNAWARE", "AWARE", "CONSIDERING", "INTENT", "CONVERTED", "LAPSED", "LOST")


@dataclass(frozen=True, slots=True)
class Fact:
    """A default value and its provenance."""

    value: Any
    source: str

    @property
    def assumption(self) -> bool:
        """True when no public fact pins the number down."""
        return self.source.startswith("assumption")


def _f(value: Any, source: str) -> Fact:
    return Fact(value, source)


# --- People -------------------------------------------------------------------------------------
# Segment behaviour. Activity multipliers are per channel (search, social, display). Values are
# first-year subscription revenue; lags are log-normal (median hours, sigma) after a click.
SEGMENTS: dict[str, dict[str, Fact]] = {
    "crisis": {
        "share": _f(0.04, "assumption: crisis parents are rare (a few % of in-market parents)"),
        "activity": _f((3.0, 1.0, 0.8), "assumption: in a crisis people search, not browse"),
        "ctr_mult": _f(1.4, "assumption: urgent need raises click propensity"),
        "cvr": _f(0.047, "assumption: urgent buyers convert several times the base rate"),
        "value": _f(300.0, f"{PRICES}: Aura premium tiers $144-360/yr; urgent buyers pick premium"),
        "lag_median_h": _f(18.0, "assumption: crisis buyers decide within hours"),
        "lag_sigma": _f(1.0, TUNED),
        "crisis_rate": _f(0.05, "assumption: daily chance a crisis sends them to INTENT"),
        "buy_mult": _f(3.0, "assumption: urgent buyers purchase organically sooner"),
    },
    "researcher": {
        "share": _f(0.20, "assumption: a fifth of parents compare products for weeks"),
        "activity": _f((1.6, 0.8, 1.0), "assumption: researchers search and read reviews"),
        "ctr_mult": _f(1.2, TUNED),
        "cvr": _f(0.0093, f"{GA4}: paid search CVR 1.7-3.1% per click; {TUNED}"),
        "value": _f(220.0, "assumption: first-year revenue ~$220 (docs/calibration.md section 2, within Aura's range)"),
        "lag_median_h": _f(200.0, "assumption: researchers compare for days to weeks"),
        "lag_sigma": _f(1.1, TUNED),
        "crisis_rate": _f(0.002, TUNED),
        "buy_mult": _f(0.6, TUNED),
    },
    "price_conscious": {
        "share": _f(0.26, "assumption: a quarter of parents are driven by price and discounts"),
        "activity": _f((1.0, 1.2, 1.0), TUNED),
        "ctr_mult": _f(0.9, TUNED),
        "cvr": _f(0.0068, f"{GA4}: paid social CVR 1.6-1.8% per click; {TUNED}"),
        "value": _f(120.0, f"{PRICES}: Qustodio $54.95-137.95/yr, Net Nanny $39.99-99.99/yr"),
        "lag_median_h": _f(120.0, f"{GA4}: 14-day trial, mean 7.5 days to purchase; {TUNED}"),
        "lag_sigma": _f(1.3, TUNED),
        "crisis_rate": _f(0.002, TUNED),
        "buy_mult": _f(0.8, TUNED),
    },
    "concerned": {
        "share": _f(0.30, "assumption: the largest group, generally concerned parents"),
        "activity": _f((1.0, 1.0, 1.0), "assumption: the reference segment"),
        "ctr_mult": _f(1.0, "assumption: the reference segment"),
        "cvr": _f(0.0093, f"{GA4}: paid search CVR 1.7-3.1% per click; {TUNED}"),
        "value": _f(220.0, "assumption: first-year revenue ~$220 (docs/calibration.md section 2)"),
        "lag_median_h": _f(150.0, f"{CRITEO}; {TUNED}"),
        "lag_sigma": _f(1.3, TUNED),
        "crisis_rate": _f(0.003, TUNED),
        "buy_mult": _f(1.0, "assumption: the reference segment"),
    },
    "free_tools": {
        "share": _f(0.20, "assumption: built-in Screen Time / Family Link users rarely pay"),
        "activity": _f((0.6, 1.0, 1.0), TUNED),
        "ctr_mult": _f(0.6, TUNED),
        "cvr": _f(0.0043, f"{GA4}: organic CVR 0.2-0.6%; free alternatives exist"),
        "value": _f(100.0, f"{PRICES}: entry tiers"),
        "lag_median_h": _f(96.0, TUNED),
        "lag_sigma": _f(1.3, TUNED),
        "crisis_rate": _f(0.001, TUNED),
        "buy_mult": _f(0.15, "assumption: most of them never buy (free alternatives)"),
    },
}

# --- Channels -----------------------------------------------------------------------------------
CHANNELS: dict[str, dict[str, Fact]] = {
    "search": {
        "rate": _f(0.45, "assumption: relevant queries per day of a person at INTENT"),
        "ctr": _f(0.042, f"{WORDSTREAM}; {SUMMARIES}: top-slot CTR inside the 3-7% target"),
        "cvr_mult": _f(1.0, f"{GA4}: paid search is the reference CVR (1.7-3.1%)"),
        "mechanism": _f("gsp", "Google search ads rank by bid x quality (GSP)"),
        "slots": _f(4, "Google shows up to 4 ads above the results"),
        "reserve": _f(0.5, "assumption: minimum CPC of a few tens of cents"),
        "position_ctr": _f((1.0, 0.55, 0.38, 0.28), "assumption: position decay from eye-tracking lore"),
        "frequency_cap": _f(1, "assumption: one impression per advertiser, searcher and day (ad rotation)"),
        "stage_activity": _f((0.02, 0.3, 0.6, 1.0, 0.02, 0.02, 0.02), "assumption: searches rise with intent"),
    },
    "social": {
        "rate": _f(0.22, "assumption: targeted feed slots per day of a person at INTENT"),
        "ctr": _f(0.012, f"{SUMMARIES}; validation target 0.5-1.5%"),
        "cvr_mult": _f(1.2, f"{GA4}: paid social CVR 1.6-1.8% vs search 1.7-3.1%"),
        "mechanism": _f("second_price", "assumption: social platforms run a second-price-like auction"),
        "slots": _f(1, "one ad per feed position"),
        "reserve": _f(0.2, "assumption: a floor of a few tens of cents per click on feeds"),
        "position_ctr": _f((1.0,), "a single slot: no position effect"),
        "frequency_cap": _f(1, "assumption: a common daily frequency cap on feeds"),
        "stage_activity": _f((0.05, 0.4, 0.7, 1.0, 0.05, 0.05, 0.05), "assumption: platforms target in-market signals"),
    },
    "display": {
        "rate": _f(0.22, "assumption: targeted display placements per day of a person at INTENT"),
        "ctr": _f(0.002, f"{SUMMARIES}; validation target 0.05-0.3%"),
        "cvr_mult": _f(0.02, f"{GA4}: display CVR about 0"),
        "mechanism": _f("first_price", "open-exchange display moved to first price in 2019"),
        "slots": _f(1, "one ad per placement"),
        "reserve": _f(0.05, "assumption: open-exchange floors are a few cents per click-equivalent"),
        "position_ctr": _f((1.0,), "a single slot: no position effect"),
        "frequency_cap": _f(1, "assumption: a common daily frequency cap on display"),
        "stage_activity": _f((0.05, 0.4, 0.7, 1.0, 0.05, 0.05, 0.05), "assumption: contextual / audience targeting"),
    },
}

# --- Journeys -----------------------------------------------------------------------------------
JOURNEY: dict[str, Fact] = {
    "ctr_stage": _f((0.5, 0.8, 1.1, 1.6, 0.25, 0.5, 0.25), "assumption: clicks rise with intent"),
    "cvr_stage": _f((0.25, 0.5, 1.0, 1.5, 0.0, 0.4, 0.0), "assumption: purchase rises with intent"),
    "advance": _f((0.2, 0.08, 0.03), "assumption: chance one impression moves a stage (per channel)"),
    "click_to_intent": _f(0.25, "assumption: chance a click (site visit) jumps to INTENT"),
    "intent_by_stage": _f(
        ((0.8, 0.2, 0.0), (0.6, 0.35, 0.05), (0.3, 0.5, 0.2), (0.1, 0.4, 0.5),
         (0.7, 0.2, 0.1), (0.7, 0.25, 0.05), (0.8, 0.15, 0.05)),
        "assumption: share of informational / category / purchase queries by stage",
    ),
    "intent_ctr": _f((0.6, 1.0, 1.6), "assumption: purchase queries click more"),
    "intent_cvr": _f((0.7, 1.0, 1.3), "assumption: purchase queries convert more"),
    "initial_stage": _f((0.5, 0.3, 0.12, 0.08, 0.0, 0.0, 0.0),
                        "assumption: the audience is in-market; a world already running"),
    "lapse_days": _f(14, "GAELP roadmap: journeys time out after 14 days without a touch"),
    "word_of_mouth": _f(0.15, "assumption: daily chance of hearing about the category organically"),
    "organic_consider": _f(0.05, "assumption: daily AWARE -> CONSIDERING drift without ads"),
    "buy_hazard": _f((0.0, 0.0, 0.002, 0.01), "assumption: daily organic purchase chance by stage"),
    "drop_out": _f((0.0, 0.15, 0.15, 0.2), "assumption: daily chance an active journey gives up (free tools, no time)"),
    "brand_base": _f(0.1, "assumption: our unaided brand weight vs ~0.5-1 for established rivals"),
    "brand_impression": _f(0.02, "assumption: brand weight one impression adds"),
    "brand_click": _f(0.05, "assumption: brand weight one click (a site visit) adds, times the channel's cvr_mult"),
    "exposure_decay": _f(0.85, "assumption: daily decay of remembered exposures (fatigue, recall)"),
    "fatigue": _f(0.12, "assumption: CTR / (1 + fatigue x recent impressions of that advertiser)"),
    "same_device_conversion": _f(0.7, "assumption: share of post-click purchases on the click device"),
    "fast_share": _f(0.05, f"{CRITEO}: a fast mode of purchases within about an hour"),
    "fast_mean_h": _f(1.0, CRITEO),
}

DEVICES: dict[str, Fact] = {
    "count_probs": _f((0.35, 0.45, 0.20), "assumption: 1-3 devices per person"),
    "desktop_share": _f(0.35, "assumption: a third of devices are desktops"),
    "cvr_desktop": _f(1.45, f"{GA4}: desktop converts ~2.2x mobile"),
    "cvr_mobile": _f(0.66, f"{GA4}: desktop converts ~2.2x mobile"),
    # signals an advertiser sees that tie devices together (gaelp/world/identity.py)
    "household_share": _f(0.25, "assumption: a quarter of in-market parents share a home (and its network "
                                "address) with another in-market parent"),
    "home_share_desktop": _f(0.9, "assumption: desktops are mostly used at home"),
    "home_share_mobile": _f(0.5, "assumption: phones are on home wifi about half the time, else on a carrier"),
    "people_per_carrier_address": _f(50.0, "assumption: carrier-grade NAT puts dozens of people behind one "
                                           "public address"),
    "login_rate": _f(0.2, "assumption: a fifth of clicks lead to a login on our site (existing or trial "
                          "accounts); every purchase is logged in (a subscription needs an account)"),
}

# Our four messages, and every rival's rotation of the same four (the category's usual pitches).
# appeal_segment: segment name -> one CTR multiplier per creative (a segment not named: 1 for all);
# appeal_stage: one row per creative over the stages (UNAWARE, AWARE, CONSIDERING, INTENT, CONVERTED,
# LAPSED, LOST). Means are about 1, so a uniform rotation keeps the calibrated CTR.
CREATIVES: dict[str, Fact] = {
    "names": _f(("crisis", "safety_features", "price", "social_proof"),
                "assumption: the four usual messages of a family-safety app"),
    "appeal_segment": _f({"crisis": (1.6, 1.0, 0.8, 0.9), "researcher": (0.8, 1.3, 0.9, 1.0),
                          "price_conscious": (0.8, 0.9, 1.4, 1.0), "concerned": (1.0, 1.15, 0.9, 1.1),
                          "free_tools": (0.7, 0.9, 1.3, 1.0)},
                         "assumption: a crisis message speaks to parents in a crisis, features to researchers "
                         "and concerned parents, price to the price-conscious and to those using free tools"),
    "appeal_stage": _f(((1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0), (0.9, 1.0, 1.15, 1.0, 1.0, 1.0, 1.0),
                        (0.8, 0.9, 1.0, 1.2, 1.0, 1.0, 1.0), (1.2, 1.15, 0.95, 0.85, 1.0, 1.0, 1.0)),
                       "assumption: social proof works early in a journey, features while comparing, price "
                       "at the point of purchase"),
    "same_share": _f(0.5, "assumption: half of ad fatigue is tiredness of the one creative seen again (the rest "
                          "is of the brand); with four creatives in uniform rotation the total is the "
                          "calibrated journey.fatigue"),
}

TEMPORAL: dict[str, Fact] = {
    "hour": _f(
        (0.55, 0.45, 0.38, 0.35, 0.34, 0.42, 0.62, 0.85, 1.05, 1.25, 1.45, 1.45,
         1.45, 1.45, 1.45, 1.45, 1.45, 1.35, 1.30, 1.30, 1.25, 1.10, 0.90, 0.70),
        f"{GA4}: sessions lowest at 4:00 (0.34x), plateau 1.45x over 10:00-16:00",
    ),
    "hour_cvr": _f(
        (0.9, 0.85, 0.8, 0.8, 0.8, 0.8, 0.8, 0.79, 0.85, 0.9, 0.95, 1.0,
         1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.15, 1.25, 1.25, 1.15, 1.05, 0.95),
        f"{GA4}: CVR highest 19:00-20:00 (1.5%), lowest 7:00 (0.95%)",
    ),
    "weekday": _f((1.0, 1.2, 1.2, 1.05, 0.95, 0.83, 0.83), f"{GA4}: Tue/Wed 1.2x, weekend 0.83x"),
    "month": _f(
        (1.15, 1.0, 0.95, 0.95, 0.95, 0.9, 0.9, 1.1, 1.15, 1.0, 1.0, 1.05),
        "assumption: new devices after the holidays and back to school lift demand",
    ),
    "surge": _f((), "assumption: no day of unusual traffic by default (set days to test pacing)"),
}

# --- Advertisers --------------------------------------------------------------------------------
OURS: dict[str, Fact] = {
    "budget_per_user": _f(0.015, f"assumption: {TUNED}; chosen so the budget binds a naive bidder"),
    "creative_quality": _f(1.0, "assumption: the reference creative"),
    "appeal": _f(1.0, "assumption: the reference product"),
    "lookback_days": _f(30, GOOGLE),
    "creatives": _f("thompson", "assumption: our bidders pick a creative per opportunity by Thompson sampling"),
    "ab_pair": _f((0, 1), "assumption: an A/B test compares our first two creatives"),
    "pacing": _f("daily", "assumption: the daily budget as a hard cap by default, so the calibrated worlds stay "
                          "as they are; 'promise' is Google Ads' documented 2x a day / 30.4x a month"),
    "fixed_bid": _f(5.0, f"{WORDSTREAM}: CPC $4.66 average; a naive round bid just above it"),
    "target_cpa": _f(110.0, "roadmap bar: CAC under $100 with ~$220 revenue (ROAS > 2x)"),
    "max_bid": _f(50.0, "assumption: a safety cap per click, ~10x the average search CPC"),
    "max_hour_share": _f(0.25, "assumption: no hour may spend more than a quarter of the day's allowance "
                               "(the busiest hour of a naive bidder spends ~15% at 10k people)"),
    "anomalies": _f(True, "assumption: anomaly pauses are on, as in any advertiser's monitoring"),
    "watch_charges": _f(True, "assumption: we check each impression's price against our bid, as our own logs allow"),
    "react_minutes": _f(1.0, "assumption: a minute from an overpriced impression to our bids' withdrawal (the win "
                             "notice with the price reaches our own bid server within seconds; it stops bidding "
                             "on its next requests)"),
    "pause_hours": _f(24, "assumption: an anomaly pauses bidding for a day, time for a person to look"),
    "oracle_fraction": _f(0.4, "assumption: the oracle bids 40% of the true value of a click"),
    "oracle_lp_k": _f(1.0, "assumption: the LP-dual bid's multiplier before the hindsight search picks one per world"),
    "prior_cvr": _f(0.03, "assumption: target_cpa's prior CVR per context, near the CVR of search (GA4 1.7-3.1%)"),
    "prior_strength": _f(30.0, "assumption: target_cpa's prior weighs as much as 30 clicks of its own"),
}

# Our Thompson-sampling creative selector (control/creatives.py; `campaign.selector`). An advertiser's
# modelling choices, not market facts: none is pinned by a public figure.
SELECTOR: dict[str, Fact] = {
    "prior_clicks": _f(1.0, "assumption: a creative's prior rate over all contexts is 1 click in 30 impressions "
                            "(3.3%, between social's ~1% and search's 3-7% top-slot CTR), weak enough that a "
                            "day of our impressions outweighs it"),
    "prior_impressions": _f(30.0, "assumption: the prior rate's weight, 30 impressions (see prior_clicks)"),
    "pool": _f(100.0, "assumption: each context's prior is the creative's overall rate with 100 impressions' "
                      "weight, so a context with little data borrows from the rest and one with a few "
                      "thousand impressions speaks for itself"),
    "samples": _f(8, "assumption: 8 Thompson samples per context, creative and hour, each shared by the hour's "
                     "opportunities of the context whose device hashes to it (the posterior only changes between "
                     "hours; a draw per opportunity cost 15% of a run, and one sample an hour learned less in "
                     "small worlds: docs/control.md)"),
    "fatigue": _f(0.3, "assumption: a device's sampled rate of a creative / (1 + 0.3 x its recent showings "
                       "of it): a few showings move it to the next-best creative"),
    "decay": _f(0.85, "assumption: daily decay of those showings, the same memory as the world's "
                      "journey.exposure_decay (a half-life of about 4 days)"),
    "purchase_weight": _f(3.0, "assumption: a purchase our pixel matches to a click counts as 3 clicks for that "
                               "click's creative (a purchase is worth far more than a click, but arrives late "
                               "and rarely: 1-3% of clicks)"),
}

COMPETITORS: dict[str, dict[str, Fact]] = {
    "qustodio": {
        "kind": _f("q_learning", "GAELP roadmap: Qustodio learns by tabular Q-learning over bid levels"),
        "value": _f(100.0, f"{PRICES}: Qustodio $54.95-137.95/yr"),
        "budget_per_user": _f(0.08, "assumption: share of voice of a market leader"),
        "base_cpc": _f(3.3, f"{WORDSTREAM}: CPC $4.66 average, $1.72-8.94 by industry"),
        "channel_mult": _f((1.0, 0.45, 0.2), "assumption: search-first media plan"),
        "creative_quality": _f(1.1, "assumption: the best-known brand earns a higher CTR"),
        "appeal": _f(1.0, "assumption: rivals' products differ little in post-click appeal"),
        "brand": _f(0.9, "assumption: unaided weight of the market leader"),
    },
    "bark": {
        "kind": _f("policy_gradient", "GAELP roadmap: Bark learns a Gaussian bid policy by REINFORCE"),
        "value": _f(168.0, f"{PRICES}: Bark about $14/month"),
        "budget_per_user": _f(0.07, "assumption: a little below the leader's share of voice"),
        "base_cpc": _f(3.9, WORDSTREAM),
        "channel_mult": _f((1.0, 0.6, 0.2), "assumption: strong on social"),
        "creative_quality": _f(1.0, "assumption: an average creative"),
        "appeal": _f(0.9, "assumption: rivals' products differ little in post-click appeal"),
        "brand": _f(0.7, "assumption: a well-known brand, a little behind the leader"),
    },
    "circle": {
        "kind": _f("rule", "GAELP roadmap: Circle bids by fixed rules (hour, intent, budget cap)"),
        "value": _f(129.0, f"{PRICES}: Circle about $129/yr (older reviews)"),
        "budget_per_user": _f(0.04, "assumption: smaller advertiser"),
        "base_cpc": _f(2.9, WORDSTREAM),
        "channel_mult": _f((1.0, 0.4, 0.3), "assumption: search-first, some display"),
        "creative_quality": _f(0.9, "assumption: a weaker creative than the leaders'"),
        "appeal": _f(0.8, "assumption: rivals' products differ little in post-click appeal"),
        "brand": _f(0.4, "assumption: a smaller, hardware-first brand"),
    },
    "aura": {
        "kind": _f("rival_tcpa", "assumption: a large advertiser runs target-CPA bidding with pacing"),
        "value": _f(250.0, f"{PRICES}: Aura $144-360/yr"),
        "budget_per_user": _f(0.10, "assumption: large bundle brand"),
        "base_cpc": _f(4.6, WORDSTREAM),
        "channel_mult": _f((1.0, 0.5, 0.25), "assumption: broad media plan"),
        "creative_quality": _f(1.0, "assumption: an average creative"),
        "appeal": _f(0.9, "assumption: rivals' products differ little in post-click appeal"),
        "brand": _f(0.6, "assumption: a bundle brand known outside the category"),
    },
}
# The rest of the market: advertisers of other products who buy the same feed and display inventory
# (and generic queries). Not a rival product: its ads do not move our category's journeys.
COMPETITORS["others"] = {
    "kind": _f("rule", "the rest of the market bids by a fixed spread around a median"),
    "value": _f(1.0, "not used: the rest of the market sells other products"),
    "budget_per_user": _f(100.0, "assumption: the rest of the market is not budget-bound here"),
    "base_cpc": _f(1.4, "assumption: median outside CPC; social CPM ~$12 at ~0.9% CTR"),
    "channel_mult": _f((0.8, 1.0, 1.1), "assumption: display CPC ~$1.5 (CPM ~$2 at 0.12% CTR)"),
    "intent_mult": _f((1.0, 1.0, 1.0), "assumption: outside advertisers ignore our query intent"),
    "creative_quality": _f(1.0, "assumption: an average creative"),
    "appeal": _f(0.0, "sells another product: no purchase in our category"),
    "brand": _f(0.0, "sells another product: never chosen in our category"),
    "bid_sigma": _f(0.8, "assumption: wide spread of outside bids"),
    "category": _f(False, "the rest of the market: not a rival product"),
}
COMPETITOR_INTENT_MULT = _f((0.6, 1.0, 1.5), "assumption: rivals bid up purchase queries")

# --- Validation targets (docs/calibration.md section 5: what the default market must reproduce) ------
TARGETS: dict[str, tuple[float, float]] = {
    "search_top_ctr": (0.03, 0.07),
    "search_cpc": (2.0, 6.0),
    "search_cvr": (0.015, 0.04),
    "social_ctr": (0.005, 0.015),
    "social_cvr": (0.01, 0.02),
    "display_ctr": (0.0005, 0.003),
    "display_cvr": (0.0, 0.005),
    "fixed_cac": (150.0, 250.0),
    "oracle_cac": (0.0, 80.0),
    "touchpoints_per_conversion": (2.0, 6.0),
    "median_lag_days": (2.0, 7.0),
    "share_within_day_of_click": (0.2, 0.5),
    # not published ranges, but asked for by docs/calibration.md section 5: real headroom between naive and informed,
    # and a default budget that binds (spend with the budget over spend with ten times the budget).
    "cac_headroom": (1.5, float("inf")),
    "budget_binding": (0.0, 0.95),
}


def all_facts() -> dict[str, Fact]:
    """Every fact, keyed by a dotted path (e.g. `segments.crisis.share`)."""
    out: dict[str, Fact] = {}
    for group, table in (("segments", SEGMENTS), ("channels", CHANNELS), ("competitors", COMPETITORS)):
        for name, facts in table.items():
            out.update({f"{group}.{name}.{k}": v for k, v in facts.items()})
    for group, facts in (("journey", JOURNEY), ("devices", DEVICES), ("temporal", TEMPORAL), ("ours", OURS),
                         ("creatives", CREATIVES), ("selector", SELECTOR)):
        out.update({f"{group}.{k}": v for k, v in facts.items()})
    out["competitors.intent_mult"] = COMPETITOR_INTENT_MULT
    return out
