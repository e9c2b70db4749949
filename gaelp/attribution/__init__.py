"""Multi-touch attribution and conversion-lag models, on simulated journeys and on real logs.

* `Paths` holds journeys as flat arrays (`paths.py`); `tables.py` and `events.py` build them from
  event logs and path tables, `Paths.from_arrays` from the simulator's touches.
* Models share one interface (`base.AttributionModel`) and are picked by name from
  `registry.MODELS`: `last_click`, `first_click`, `linear`, `time_decay`, `position`, `markov`,
  `shapley`. `checks.check_attribution` is the contract every model passes.
* `lag.py` fits the delayed-feedback model (P(convert) x delay distribution, with censoring).

Example:
    >>> import numpy as np
    >>> from gaelp.attribution import Paths, get_model
    >>> paths = Paths.from_arrays(np.array([0, 0, 1]), np.array([0, 1, 1]), ("search", "social"),
    ...                           conversions=np.array([1.0, 1.0]))
    >>> get_model("position").channel_credit(paths).conversions.tolist()
    [0.5, 1.5]

"""

from gaelp.attribution.base import AttributionModel, ChannelCredit, credit_by_channel
from gaelp.attribution.checks import AttributionContractError, check_attribution
from gaelp.attribution.event_log import parse_events
from gaelp.attribution.events import EventPaths, EventSummary, events_to_paths
from gaelp.attribution.files import read_table
from gaelp.attribution.lag import ClickLog, LagFit, fit_lag, fit_lag_groups, prob_converts_later
from gaelp.attribution.markov import Markov, removal_effects
from gaelp.attribution.paths import Paths
from gaelp.attribution.registry import MODELS, RULE_BASED, get_model, model_names
from gaelp.attribution.rules import FirstClick, LastClick, Linear, PositionBased, TimeDecay
from gaelp.attribution.shapley import Shapley
from gaelp.attribution.tables import BadRowsError, parse_path_table

__all__ = [
    "MODELS",
    "RULE_BASED",
    "AttributionContractError",
    "AttributionModel",
    "BadRowsError",
    "ChannelCredit",
    "ClickLog",
    "EventPaths",
    "EventSummary",
    "FirstClick",
    "LagFit",
    "LastClick",
    "Linear",
    "Markov",
    "Paths",
    "PositionBased",
    "Shapley",
    "TimeDecay",
    "check_attribution",
    "credit_by_channel",
    "events_to_paths",
    "fit_lag",
    "fit_lag_groups",
    "get_model",
    "model_names",
    "parse_events",
    "parse_path_table",
    "prob_converts_later",
    "read_table",
    "removal_effects",
]
