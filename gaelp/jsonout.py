"""JSON out of GAELP: strict JSON only (no NaN or Infinity), numpy values converted.

Python's `json` writes `NaN` and `Infinity` by default, which no JSON parser accepts; a non-finite
number in an output is a bug upstream (a value outside its range that validation missed), so it is
refused here, naming where it sits in the document, rather than written.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


class NonFiniteOutputError(ValueError):
    """A NaN or an infinity in a document about to be written as JSON."""


def plain(x: Any, where: str = "$") -> Any:
    """`x` with numpy scalars and arrays as Python values; raises on a non-finite float.

    Args:
        x: A tree of dicts, lists, tuples, numpy values and scalars.
        where: The path of `x` in the document (for the error).
    """
    if isinstance(x, dict):
        return {k: plain(v, f"{where}.{k}") for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return plain(x.tolist(), where)
    if isinstance(x, list | tuple):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(x)]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        raise NonFiniteOutputError(f"the output holds {x} at {where}, which JSON cannot carry")
    return x


def dumps(doc: Any, **kwargs: Any) -> str:
    """`json.dumps` of `plain(doc)` with `allow_nan=False`."""
    return json.dumps(plain(doc), allow_nan=False, **kwargs)
