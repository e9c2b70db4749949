"""Name -> bidder registry.

Callers (the simulation, the CLI, experiments) build bidders by name and never import concrete
classes. The built-in bidders are listed here explicitly, as `attribution/registry.py` lists its
models: no import is done only for its side effect, and no code mutates the table. A caller with
bidders of its own passes them as `extra`.

Example:
    >>> from gaelp.bidders.registry import BIDDERS, bidder_names
    >>> bidder_names()[:3]
    ['fixed', 'target_cpa', 'oracle']
    >>> BIDDERS["rule"].__name__
    'RuleBidder'

"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gaelp.bidders.baselines import FixedBidder, OracleBidder, OracleLpBidder, TargetCpaBidder
from gaelp.bidders.learners import PolicyGradientBidder, QLearningBidder, RivalTargetCpaBidder
from gaelp.bidders.protocol import Bidder, BidderContext, BidderFactory
from gaelp.bidders.rules import RuleBidder

BIDDERS: Mapping[str, BidderFactory] = MappingProxyType({
    "fixed": FixedBidder,
    "target_cpa": TargetCpaBidder,
    "oracle": OracleBidder,
    "oracle_lp": OracleLpBidder,
    "rule": RuleBidder,
    "q_learning": QLearningBidder,
    "policy_gradient": PolicyGradientBidder,
    "rival_tcpa": RivalTargetCpaBidder,
})
"""Every built-in bidder by name: our baselines first, then the rivals' kinds (read-only)."""


def bidder_names(extra: Mapping[str, BidderFactory] | None = None) -> list[str]:
    """The names `make_bidder` knows, built-in first."""
    return [*BIDDERS, *(n for n in (extra or {}) if n not in BIDDERS)]


def make_bidder(name: str, ctx: BidderContext, extra: Mapping[str, BidderFactory] | None = None) -> Bidder:
    """Build the bidder called `name`.

    Args:
        name: a key of `BIDDERS` or of `extra`.
        ctx: what the factory may use (config, budget, random stream, competitor settings).
        extra: the caller's own bidders by name; a name may not shadow a built-in one.

    Raises:
        ValueError: an unknown name (the message lists the known ones), or `extra` shadowing a built-in.
    """
    if extra:
        clash = sorted(set(extra) & set(BIDDERS))
        if clash:
            raise ValueError(f"bidder names already built in: {', '.join(clash)}")
    factory = BIDDERS.get(name) or (extra or {}).get(name)
    if factory is None:
        raise ValueError(f"unknown bidder {name!r}; known: {', '.join(bidder_names(extra))}")
    return factory(ctx)
