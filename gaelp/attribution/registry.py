"""Name -> model class registry.

Callers (the CLI, the ledger, the ground-truth scorer) pick attribution models by name and never
import or `isinstance`-check concrete classes.

Example:
    >>> from gaelp.attribution.registry import get_model
    >>> get_model("time_decay", half_life_days=3.0)
    TimeDecay(half_life_days=3.0)

"""

from __future__ import annotations

from gaelp.attribution.base import AttributionModel
from gaelp.attribution.markov import Markov
from gaelp.attribution.rules import FirstClick, LastClick, Linear, PositionBased, TimeDecay
from gaelp.attribution.shapley import Shapley

MODELS: dict[str, type[AttributionModel]] = {
    cls.name: cls
    for cls in (LastClick, FirstClick, Linear, TimeDecay, PositionBased, Markov, Shapley)
}
"""Every registered model class by name, in the order reports list them."""

RULE_BASED: tuple[str, ...] = ("last_click", "first_click", "linear", "time_decay", "position")
"""The heuristic models (fixed rules, no fitting)."""


def get_model(name: str, **params: object) -> AttributionModel:
    """Build the model registered under `name` with its parameters.

    Args:
        name: One of `MODELS` (`last_click`, `first_click`, `linear`, `time_decay`, `position`,
            `markov`, `shapley`).
        **params: The model's own parameters (e.g. `half_life_days`, `order`, `method`).

    Raises:
        ValueError: Unknown name, or a parameter the model does not take.

    """
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown attribution model {name!r}; known: {', '.join(MODELS)}"
        ) from None
    try:
        return cls(**params)
    except TypeError as err:
        raise ValueError(f"bad parameters for model {name!r}: {err}") from None


def model_names(has_times: bool = True) -> list[str]:
    """Registered model names usable on an input with (or without) touch times."""
    return [name for name, cls in MODELS.items() if has_times or not cls.needs_times]
