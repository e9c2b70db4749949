"""The attribution contract, run over every registered model (and caught when broken)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from gaelp.attribution import MODELS, AttributionModel, get_model, model_names
from gaelp.attribution.base import TouchModel, normalize_within_paths
from gaelp.attribution.checks import AttributionContractError, check_attribution
from gaelp.attribution.paths import Paths
from gaelp.attribution.rules import LastClick, Linear

VARIANTS: list[tuple[str, dict]] = [(name, {}) for name in MODELS] + [
    ("time_decay", {"half_life_days": 1.5}),
    ("position", {"first": 0.3, "last": 0.5}),
    ("markov", {"order": 2}),
    ("markov", {"order": 3}),
    ("markov", {"weight": "value"}),
    ("shapley", {"method": "exact"}),
    ("shapley", {"method": "simplified"}),
]


def test_registry_names_are_the_documented_ones() -> None:
    assert list(MODELS) == [
        "last_click",
        "first_click",
        "linear",
        "time_decay",
        "position",
        "markov",
        "shapley",
    ]
    assert "time_decay" not in model_names(has_times=False)
    for name in MODELS:
        model = get_model(name)
        assert isinstance(model, AttributionModel) and model.name == name
    with pytest.raises(ValueError, match="unknown attribution model 'u_shape'"):
        get_model("u_shape")
    with pytest.raises(ValueError, match="bad parameters for model 'linear'"):
        get_model("linear", half_life_days=3)


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=lambda v: str(v))
def test_every_model_honours_the_contract(random_paths, rng, name: str, params: dict) -> None:
    check_attribution(get_model(name, **params), random_paths(n_paths=250), rng=rng)


@pytest.mark.parametrize("name", [n for n in MODELS if not MODELS[n].needs_times])
def test_contract_on_a_path_table(name: str) -> None:
    table = pd.DataFrame(
        {
            "path": ["search > social > search", "email", "social > email", "display", "search"],
            "total_conversions": [3, 1, 0, 0, 2],
            "total_conversion_value": [600.0, 50.0, 0.0, 0.0, 330.0],
            "total_null": [10, 40, 25, 100, 7],
        }
    )
    check_attribution(get_model(name), Paths.from_path_table(table))


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("case", ["one_touch", "no_conversions", "single_path"])
def test_contract_on_edge_cases(name: str, case: str) -> None:
    t = np.array([0.0, 5.0, 9.0])
    if case == "one_touch":
        p = Paths.from_arrays(
            np.arange(3),
            np.array([0, 1, 0]),
            ("a", "b"),
            t=t,
            conversions=np.array([1.0, 0.0, 2.0]),
            value=np.array([5.0, 0, 9]),
        )
    elif case == "no_conversions":
        p = Paths.from_arrays(
            np.array([0, 0, 1]), np.array([0, 1, 1]), ("a", "b"), t=t, conversions=np.zeros(2)
        )
    else:
        p = Paths.from_arrays(
            np.zeros(3, int),
            np.array([1, 0, 1]),
            ("a", "b"),
            t=t,
            conversions=np.ones(1),
            value=np.array([7.0]),
        )
    check_attribution(get_model(name), p)


@dataclass(frozen=True)
class Broken(TouchModel):
    """Linear credit spoiled in one way, to prove the checker notices."""

    how: str
    calls: list = field(default_factory=list)
    name: ClassVar[str] = "broken"
    needs_times: ClassVar[bool] = False

    def credit(self, paths: Paths) -> np.ndarray:
        c = Linear().credit(paths)
        if self.how == "negative":
            return c * np.where(paths.position() == 0, -1.0, 3.0)
        if self.how == "double":
            return 2 * c
        if self.how == "random":  # valid fractions, but they drift from call to call
            self.calls.append(1)
            return normalize_within_paths(paths, 1.0 + paths.position() * len(self.calls))
        if self.how == "order":  # valid fractions, but they depend on where a path sits
            return np.where(paths.path_id % 2 == 0, LastClick().credit(paths), c)
        raise AssertionError(self.how)


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("negative", "negative credit"),
        ("double", "sums to 2, not 1"),
        ("random", "not deterministic"),
        ("order", "reordered"),
    ],
)
def test_checker_catches_broken_models(random_paths, how: str, message: str) -> None:
    with pytest.raises(AttributionContractError, match=message):
        check_attribution(Broken(how), random_paths(n_paths=60))
