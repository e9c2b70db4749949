"""Every default number of the market has a source or says it is an assumption."""

import numbers

import pytest

from gaelp import calibration as cal
from gaelp.config import Config

# Config fields that are names, not market settings.
NOT_NUMBERS = {"name"}
# Competitor fields whose class default (no spread, a rival product, the shared intent multipliers)
# applies when a competitor has no fact of its own.
SHARED = {"bid_sigma": None, "category": None, "intent_mult": "competitors.intent_mult"}


def _plain(x):
    return [_plain(v) for v in x] if isinstance(x, list | tuple) else x


def _config_facts():
    """(calibration key, config default) for every market number of the default config."""
    cfg = Config().model_dump()
    w = cfg["world"]
    for group, items in (("segments", w["segments"]), ("channels", w["channels"]),
                         ("competitors", cfg["market"]["competitors"])):
        for item in items:
            for k, v in item.items():
                if k not in NOT_NUMBERS:
                    yield f"{group}.{item['name']}.{k}", v
    for group in ("journey", "devices", "temporal", "creatives"):
        for k, v in w[group].items():
            yield f"{group}.{k}", v
    for group in ("campaign", "bidders", "safety"):
        for k, v in cfg[group].items():
            if k != "selector":
                yield f"ours.{k}", v
    for k, v in cfg["campaign"]["selector"].items():
        yield f"selector.{k}", v


@pytest.mark.parametrize(("key", "value"), list(_config_facts()))
def test_every_default_number_comes_from_a_sourced_fact(key, value):
    facts = cal.all_facts()
    field = key.rsplit(".", 1)[-1]
    if key.startswith("competitors.") and key not in facts and field in SHARED:
        if SHARED[field] is None:
            assert value in (0.0, True), f"{key} = {value!r} differs from the neutral default without a source"
            return
        key = SHARED[field]
    assert key in facts, f"config default {key} = {value!r} has no entry in gaelp/calibration.py"
    fact = facts[key]
    assert _plain(value) == _plain(fact.value)
    assert len(fact.source) > 10, f"{key}: the source must say where the number comes from"


def test_every_fact_is_used_by_the_config():
    used = {k for k, _ in _config_facts()}
    unused = set(cal.all_facts()) - used - {"competitors.intent_mult"}
    assert not unused, f"facts with no config field: {sorted(unused)}"


def test_assumptions_are_marked_and_sources_cite_facts():
    facts = cal.all_facts()
    assumptions = [k for k, f in facts.items() if f.assumption]
    sourced = [k for k, f in facts.items() if not f.assumption]
    assert assumptions and sourced
    assert all(isinstance(f.source, str) for f in facts.values())


def test_targets_are_well_formed():
    for name, (lo, hi) in cal.TARGETS.items():
        assert isinstance(lo, numbers.Real) and lo < hi, name
