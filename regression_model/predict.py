"""Score houses: raw records in, one prediction or error per row out."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from regression_model import __version__
from regression_model.config.core import get_config
from regression_model.processing.data_manager import load_pipeline
from regression_model.processing.scoring import PipelineScorer, compile_pipeline
from regression_model.processing.validation import to_frame, validate_records
from regression_model.results import ErrorKind, PredictionResult, RowError

InputData = pd.DataFrame | Mapping[str, object] | Sequence[Mapping[str, object]]


@functools.cache
def _trained_pipeline() -> Pipeline:
    """The trained pipeline, loaded from disk once, on the first prediction."""
    return load_pipeline(pipeline_name=get_config().app.pipeline_name)


@functools.cache
def _trained_scorer() -> PipelineScorer:
    """The trained pipeline compiled for scoring, once, on the first prediction.

    It predicts what the pipeline predicts (tests/test_scoring.py holds it to a relative
    1e-9) without the pipeline's per-step DataFrame copies; see processing/scoring.py.
    """
    return compile_pipeline(_trained_pipeline())


def make_prediction(*, input_data: InputData) -> PredictionResult:
    """Predict sale prices for raw house records.

    Parameters
    ----------
    input_data : DataFrame, dict or list of dicts
        Houses with the raw column names of the House Prices data (``1stFlrSF`` ...): a
        DataFrame, a list of record dicts, one record dict, or a dict of column lists.
        Extra columns, such as ``Id``, are ignored.

    Returns
    -------
    PredictionResult
        One prediction or error set per input row, in input order.

    Raises
    ------
    TypeError
        If ``input_data`` is not a table of records.
    ModelNotFoundError
        If no model has been trained for this package version.

    Examples
    --------
    >>> result = make_prediction(input_data=houses)  # doctest: +SKIP
    >>> result.predictions[0]  # doctest: +SKIP
    208500.3
    """
    records = to_frame(input_data)
    validated = validate_records(records=records, schema=get_config().model.inputs)
    prices = np.full(len(records), np.nan)
    errors = validated.errors
    if validated.is_valid.any():
        is_valid = validated.is_valid
        prices[is_valid] = _trained_scorer().predict(validated.frame, rows=is_valid)
        errors = errors + _unusable_predictions(prices, is_valid)
    predictions: list[float | None] = prices.tolist()
    for row in np.flatnonzero(~np.isfinite(prices)).tolist():
        predictions[row] = None
    return PredictionResult(predictions=predictions, errors=errors, version=__version__)


def _unusable_predictions(prices: np.ndarray, is_valid: np.ndarray) -> list[RowError]:
    """Errors for valid rows whose price came out non-finite or not positive.

    Validation should make this impossible; it is here so a pipeline bug surfaces as an
    explicit row error instead of a NaN price.
    """
    with np.errstate(invalid="ignore"):
        is_unusable = is_valid & ~(np.isfinite(prices) & (prices > 0))
    prices[is_unusable] = np.nan
    return [
        RowError(
            row=row,
            column=None,
            kind=ErrorKind.PREDICTION_FAILED,
            message="the model produced no finite, positive price for this row",
        )
        for row in np.flatnonzero(is_unusable).tolist()
    ]
