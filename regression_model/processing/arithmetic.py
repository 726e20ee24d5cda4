"""The arithmetic of our feature transformers, as plain functions over arrays.

``processing/features.py``'s transformers call these on a frame's columns, and the compiled
scorer (``processing/scoring.py``) calls them on its own arrays: one implementation of each
rule. This module imports numpy only, so that importing the scorer (and
``regression_model.predict``) does not import scikit-learn before a model is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from regression_model.array_types import CodeArray, FloatArray


def years_before(*, reference: Any, years: Any) -> Any:
    """The years from ``years`` to ``reference``; missing either way gives missing."""
    return reference - years


def map_labels(
    *, codes: CodeArray, labels: Sequence[Any], mapping: Mapping[str, float]
) -> FloatArray:
    """Numbers for factorized labels: ``mapping``'s value of each row's label.

    Parameters
    ----------
    codes : ndarray of intp
        For each row, the position of its label in ``labels``; -1 where it is missing.
    labels : sequence
        The distinct labels. Each is looked up once, however many rows hold it.
    mapping : mapping of str to float
        The numbers; a label not in it, and a missing value, get NaN.

    Returns
    -------
    ndarray of float64
        One number per row.
    """
    numbers = [mapping.get(label, np.nan) for label in labels]
    numbers.append(np.nan)  # code -1, a missing value, picks this last entry
    mapped: FloatArray = np.asarray(numbers, dtype=np.float64)[codes]
    return mapped


def weighted_sum(*, terms: Iterable[tuple[FloatArray, float]]) -> FloatArray:
    """The sum of each ``(values, weight)`` term's weighted values, added in the order given.

    The order is fixed so that a row's sum never depends on the other rows; a missing value
    in any term makes the sum missing.
    """
    total: Any = 0.0
    for values, weight in terms:
        total = total + weight * values
    result: FloatArray = np.asarray(total, dtype=np.float64)
    return result


def presence_flags(*, values: FloatArray) -> FloatArray:
    """1.0 where ``values`` is above zero, 0.0 where it is not, NaN where it is missing."""
    flags: FloatArray = np.where(np.isnan(values), np.nan, (values > 0).astype(np.float64))
    return flags


def clip_to_range(values: Any, lower: Any, upper: Any) -> Any:
    """``values`` held between ``lower`` and ``upper``; NaN stays NaN.

    The one implementation of capping: ``RangeCapper.transform`` and its compiled form in
    ``processing/scoring.py`` both call it.
    """
    return np.clip(values, lower, upper)
