"""What scoring returns: one price or the row's errors per input row, and the row's warnings.

Every user-facing outcome of validation and scoring is one of these types, so the API, the
command line and the server describe a row in the same words.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, model_validator


class ErrorKind(str, Enum):
    """Why a row gets no prediction."""

    MISSING_COLUMN = "missing_column"
    MISSING_VALUE = "missing_value"
    NOT_A_NUMBER = "not_a_number"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    NOT_WHOLE_NUMBER = "not_whole_number"
    WRONG_TYPE = "wrong_type"
    PREDICTION_FAILED = "prediction_failed"


class WarningKind(str, Enum):
    """Why a priced row deserves a second look: the model saw nothing like it in training."""

    OUTSIDE_TRAINING_RANGE = "outside_training_range"
    CONTRADICTION = "contradiction"
    LABEL_NORMALISED = "label_normalised"
    UNSEEN_LABEL = "unseen_label"
    PRICE_AT_BAND_EDGE = "price_at_band_edge"


class RowError(BaseModel):
    """One reason why the input row at position ``row`` gets no prediction."""

    model_config = ConfigDict(frozen=True)

    row: int
    column: str | None
    kind: ErrorKind
    message: str


class RowWarning(BaseModel):
    """One reason to doubt the price of the input row at position ``row``; it is still priced."""

    model_config = ConfigDict(frozen=True)

    row: int
    column: str | None
    kind: WarningKind
    message: str


class Explanation(BaseModel):
    """Why one house got its price: each input column's part of its log price.

    ``base + sum(contributions.values()) + price_band`` is the log of the row's price
    (within 1e-6). ``regression_model.explain`` says how the parts are computed and how a
    feature made from several columns is shared among them.

    Attributes
    ----------
    base : float
        The log price every house starts from (the model's expected log price); the same
        for every row.
    contributions : dict of str to float
        For every input column the model reads, what it adds to the log price: 0.1 raises
        the price by about 10.5 % (``exp(0.1) - 1``).
    price_band : float
        ``log(price) - log(model's price)`` where the price band held the price at the
        lowest or highest training price; 0.0 for every other row.
    top : list of str
        The largest contributions in words, largest first: ``"OverallQual 9: +18%"``.
    held : list of str
        The input columns behind a value held to the training range, in column order.
    """

    model_config = ConfigDict(frozen=True)

    base: float
    contributions: dict[str, float]
    price_band: float
    top: list[str]
    held: list[str]


class PredictionResult(BaseModel):
    """Predicted sale prices, aligned one to one with the input rows.

    Attributes
    ----------
    predictions : list of float or None
        The sale price in dollars for each input row, in input order; ``None`` where
        the row has errors.
    errors : list of RowError
        Every reason a row got no prediction, ordered by row; empty when all rows scored.
    warnings : list of RowWarning
        Every reason to doubt a price, ordered by row; the row keeps its price.
    version : str
        The package version, which is also the version of the model that scored.
    lower, upper : list of float or None, or None
        With ``make_prediction(..., interval=level)``: each row's prediction interval in
        dollars, aligned with ``predictions`` and ``None`` where the row has errors.
        ``None`` when no interval was asked for.
    explanations : list of Explanation or None, or None
        With ``make_prediction(..., explain=True)``: each row's ``Explanation``, aligned
        with ``predictions`` and ``None`` where the row has errors. ``None`` when no
        explanation was asked for.
    """

    model_config = ConfigDict(frozen=True)

    predictions: list[float | None]
    errors: list[RowError]
    warnings: list[RowWarning] = []
    version: str
    lower: list[float | None] | None = None
    upper: list[float | None] | None = None
    explanations: list[Explanation | None] | None = None

    @model_validator(mode="after")
    def _check_rows_have_one_outcome(self) -> PredictionResult:
        # With numpy, not a Python loop per row: a batch result holds 100,000 rows.
        n_rows = len(self.predictions)
        has_error = np.zeros(n_rows, dtype=bool)
        has_error[[error.row for error in self.errors if 0 <= error.row < n_rows]] = True
        unexplained = np.flatnonzero(_has_price(self.predictions) == has_error).tolist()
        if unexplained:
            raise ValueError(
                f"rows need a prediction or errors, not both or neither: {unexplained}"
            )
        return self

    @model_validator(mode="after")
    def _check_intervals_align(self) -> PredictionResult:
        if (self.lower is None) != (self.upper is None):
            raise ValueError("an interval needs both its lower and its upper ends")
        if self.lower is None or self.upper is None:
            return self
        has_price = _has_price(self.predictions)
        for name, ends in (("lower", self.lower), ("upper", self.upper)):
            if len(ends) != len(self.predictions) or (_has_price(ends) != has_price).any():
                raise ValueError(f"{name} must hold one end per priced row, None elsewhere")
        return self

    @model_validator(mode="after")
    def _check_explanations_align(self) -> PredictionResult:
        if self.explanations is None:
            return self
        is_explained = np.array([found is not None for found in self.explanations], dtype=bool)
        if (
            len(self.explanations) != len(self.predictions)
            or (is_explained != _has_price(self.predictions)).any()
        ):
            raise ValueError("explanations must hold one per priced row, None elsewhere")
        return self


def _has_price(predictions: list[float | None]) -> npt.NDArray[np.bool_]:
    """Which entries are not ``None`` (a NaN price still counts as a price)."""
    prices = np.array(predictions, dtype=np.float64)  # None becomes NaN
    has_price = ~np.isnan(prices)
    for row in np.flatnonzero(~has_price).tolist():
        has_price[row] = predictions[row] is not None
    return has_price
