"""Prediction intervals: a calibrated price range for every house, wider for unusual houses.

Method: split conformal prediction with normalised residuals, in log-price space
-------------------------------------------------------------------------------
Training already predicts every training row out of fold (5-fold cross-validation), so each
row has an honest residual ``r = log(price) - log(predicted)``. Conformal prediction turns
those residuals into a range: with the scores ``s = |r| / difficulty(house)`` of ``n``
calibration rows, the ``ceil((n + 1) * level)``-th smallest score ``q`` gives the range
``predicted * exp(± q * difficulty(house))``, which holds the true price with probability
at least ``level`` for a house exchangeable with the calibration rows.

``difficulty`` is what makes the range locally adaptive: a small log-linear model of the
expected absolute log residual, learned from the same out-of-fold residuals, from

- the predicted log price, centred, and its square: the cheapest and the dearest houses
  are priced with the largest relative errors;
- how many numeric inputs lie outside the middle of the training data (below the
  ``tail_quantile`` or above the ``1 - tail_quantile`` training quantile), up to
  ``max_tail_count``: houses unlike the training data get wider ranges.

A poor difficulty model costs width, never coverage: the quantile ``q`` is taken over the
scores it produces.

Measured, not assumed
---------------------
``calibrate_intervals`` repeats the whole calibration (difficulty model and quantiles) once
per cross-validation fold, from the other folds' rows only, and scores the fold's rows with
it: every training row gets a range from a calibration that never saw it, and the recorded
coverage and width are over those ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict

from regression_model.config.core import IntervalSettings
from regression_model.processing.validation import column_arrays

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


class DifficultyModel(BaseModel):
    """How hard a house is to price: its expected absolute log-price error, up to a factor.

    Attributes
    ----------
    columns : tuple of str
        The numeric inputs whose unusual values count.
    lower, upper : tuple of float
        For each of ``columns``, the training quantiles outside which a value is unusual.
    max_tail_count : int
        Unusual values beyond this many count as this many.
    log_price_centre : float
        The median training log price; the price terms are centred on it.
    coefficients : tuple of float
        The log-linear model's intercept and its weights on the centred log price, its
        square and the count of unusual values.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    max_tail_count: int
    log_price_centre: float
    coefficients: tuple[float, float, float, float]

    def tail_counts(self, frame: pd.DataFrame) -> FloatArray:
        """How many of each row's ``columns`` lie outside the training quantiles (capped)."""
        # Column arrays, not frame[columns]: a one-row request must not pay for a DataFrame.
        arrays = column_arrays(frame)
        positions = _positions(frame.columns, self.columns)
        values = np.array([arrays[position] for position in positions], dtype=np.float64)
        # A missing value is not unusual: NaN compares False both ways.
        with np.errstate(invalid="ignore"):
            is_unusual = (values < np.array(self.lower)[:, np.newaxis]) | (
                values > np.array(self.upper)[:, np.newaxis]
            )
        counts: FloatArray = np.minimum(is_unusual.sum(axis=0), self.max_tail_count).astype(
            np.float64
        )
        return counts

    def scale(self, *, log_prices: FloatArray, tail_counts: FloatArray) -> FloatArray:
        """The difficulty of each house: the factor its interval's half-width scales with."""
        design = _design(
            log_prices=log_prices, centre=self.log_price_centre, tail_counts=tail_counts
        )
        scale: FloatArray = np.exp(design @ np.array(self.coefficients))
        return scale


# Validation gives every frame it returns the same columns Index object, so the positions of
# the difficulty's columns are looked up once per Index, not once per request (a lookup
# costs as much as the rest of a one-row interval). Keyed by the Index's id; the entry holds
# the Index itself, so the id cannot be reused while the entry lives.
_POSITIONS: dict[tuple[int, tuple[str, ...]], tuple[pd.Index, IntArray]] = {}
_POSITIONS_KEPT = 16


def _positions(columns: pd.Index, names: tuple[str, ...]) -> IntArray:
    """Where each of ``names`` sits in ``columns``."""
    key = (id(columns), names)
    cached = _POSITIONS.get(key)
    if cached is not None and cached[0] is columns:
        return cached[1]
    positions = columns.get_indexer(pd.Index(names))
    if (positions < 0).any():
        missing = [name for name, position in zip(names, positions) if position < 0]
        raise ValueError(f"Columns not found in X: {missing}")
    if len(_POSITIONS) >= _POSITIONS_KEPT:
        _POSITIONS.clear()
    _POSITIONS[key] = (columns, positions)
    return positions


class CalibratedLevel(BaseModel):
    """One interval level: its conformal quantile and how it did on held-out rows.

    Attributes
    ----------
    level : float
        The nominal probability that the range holds the true price.
    score_quantile : float
        The conformal quantile of the normalised scores; the half-width in log price is
        ``score_quantile * difficulty``.
    coverage : float
        The share of held-out training rows whose price lay in their range.
    median_relative_width : float
        The median of ``(upper - lower) / prediction`` over the same rows.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: float
    score_quantile: float
    coverage: float
    median_relative_width: float


class IntervalCalibration(BaseModel):
    """Everything a saved model needs to put a calibrated range around its prices.

    Attributes
    ----------
    difficulty : DifficultyModel
        Learned from every training row's out-of-fold residual.
    levels : tuple of CalibratedLevel
        The calibrated levels, in the configured order.
    held_out_rows : int
        How many rows the coverage and width of each level were measured on.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    difficulty: DifficultyModel
    levels: tuple[CalibratedLevel, ...]
    held_out_rows: int

    @property
    def calibrated_levels(self) -> tuple[float, ...]:
        return tuple(calibrated.level for calibrated in self.levels)

    def calibrated(self, level: float) -> CalibratedLevel:
        """The calibration of ``level``.

        Raises
        ------
        ValueError
            If training did not calibrate ``level``; the message names the levels it did.
        """
        for calibrated in self.levels:
            if calibrated.level == level:
                return calibrated
        shown = ", ".join(f"{known:g}" for known in self.calibrated_levels)
        raise ValueError(
            f"interval level {level!r} is not calibrated; the calibrated levels are {shown}"
        )

    def bounds(
        self, *, frame: pd.DataFrame, prices: FloatArray, level: float
    ) -> tuple[FloatArray, FloatArray]:
        """The lower and upper ends of each house's range, in dollars.

        Parameters
        ----------
        frame : DataFrame
            The validated records the prices were predicted from, one row per price.
        prices : ndarray of float
            The predicted prices, in dollars.
        level : float
            One of ``calibrated_levels``.

        Returns
        -------
        lower, upper : ndarray of float
            ``lower <= prices <= upper`` row by row.

        Raises
        ------
        ValueError
            If ``level`` was not calibrated.
        """
        quantile = self.calibrated(level).score_quantile
        log_prices = np.log(prices)
        half_width = quantile * self.difficulty.scale(
            log_prices=log_prices, tail_counts=self.difficulty.tail_counts(frame)
        )
        return np.exp(log_prices - half_width), np.exp(log_prices + half_width)


@dataclass(frozen=True)
class Calibration:
    """The outcome of ``calibrate_intervals``.

    Attributes
    ----------
    intervals : IntervalCalibration
        The calibration the saved model carries, learned from every training row.
    held_out_lower, held_out_upper : dict of float to ndarray
        For each level, every training row's range from the calibration that did not see
        the row's fold: what the coverage was measured on, and what the model card plots.
    """

    intervals: IntervalCalibration
    held_out_lower: dict[float, FloatArray]
    held_out_upper: dict[float, FloatArray]


def conformal_quantile(scores: FloatArray, level: float) -> float:
    """The ``ceil((n + 1) * level)``-th smallest of ``n`` scores: split conformal's quantile.

    The ``+ 1`` counts the new house among the calibration rows; it is what makes the
    coverage at least ``level`` for any ``n``, not only on average over large ``n``.

    Raises
    ------
    ValueError
        If there are too few scores for ``level`` (the range would be unbounded).
    """
    n_scores = len(scores)
    rank = math.ceil((n_scores + 1) * level)
    if rank > n_scores:
        raise ValueError(f"{n_scores} calibration rows are too few for level {level}")
    return float(np.partition(scores, rank - 1)[rank - 1])


def calibrate_intervals(
    *,
    features: pd.DataFrame,
    y: pd.Series,
    predictions: FloatArray,
    folds: IntArray,
    numeric_columns: tuple[str, ...],
    settings: IntervalSettings,
) -> Calibration:
    """Calibrate every configured level on out-of-fold predictions, and measure each.

    Parameters
    ----------
    features : DataFrame
        The validated training rows.
    y : Series
        Their sale prices.
    predictions : ndarray of float
        Each row's out-of-fold prediction, from a model that did not train on the row.
    folds : ndarray of int
        The cross-validation fold each row was predicted in.
    numeric_columns : tuple of str
        The numeric inputs whose unusual values widen a range.
    settings : IntervalSettings
        The levels and what counts as unusual.

    Returns
    -------
    Calibration
        The calibration learned from all rows, and each row's held-out range.
    """
    log_prices = np.log(predictions)
    residuals = np.log(y.to_numpy(dtype=np.float64)) - log_prices
    held_out_lower = {level: np.empty(len(y)) for level in settings.levels}
    held_out_upper = {level: np.empty(len(y)) for level in settings.levels}
    for fold in np.unique(folds):
        is_held_out = folds == fold
        fold_calibration = _fit(
            features=features[~is_held_out],
            log_prices=log_prices[~is_held_out],
            residuals=residuals[~is_held_out],
            numeric_columns=numeric_columns,
            settings=settings,
        )
        for level in settings.levels:
            lower, upper = fold_calibration.bounds(
                frame=features[is_held_out], prices=predictions[is_held_out], level=level
            )
            held_out_lower[level][is_held_out] = lower
            held_out_upper[level][is_held_out] = upper
    final = _fit(
        features=features,
        log_prices=log_prices,
        residuals=residuals,
        numeric_columns=numeric_columns,
        settings=settings,
    )
    prices = y.to_numpy(dtype=np.float64)
    measured = tuple(
        level.model_copy(
            update={
                "coverage": float(
                    np.mean(
                        (held_out_lower[level.level] <= prices)
                        & (prices <= held_out_upper[level.level])
                    )
                ),
                "median_relative_width": float(
                    np.median(
                        (held_out_upper[level.level] - held_out_lower[level.level]) / predictions
                    )
                ),
            }
        )
        for level in final.levels
    )
    return Calibration(
        intervals=final.model_copy(update={"levels": measured, "held_out_rows": len(y)}),
        held_out_lower=held_out_lower,
        held_out_upper=held_out_upper,
    )


def _fit(
    *,
    features: pd.DataFrame,
    log_prices: FloatArray,
    residuals: FloatArray,
    numeric_columns: tuple[str, ...],
    settings: IntervalSettings,
) -> IntervalCalibration:
    """Learn the difficulty model and every level's quantile from the given rows only."""
    values = features[list(numeric_columns)].to_numpy(dtype=np.float64, na_value=np.nan)
    untrained = DifficultyModel(
        columns=numeric_columns,
        lower=tuple(np.nanquantile(values, settings.tail_quantile, axis=0).tolist()),
        upper=tuple(np.nanquantile(values, 1 - settings.tail_quantile, axis=0).tolist()),
        max_tail_count=settings.max_tail_count,
        log_price_centre=float(np.median(log_prices)),
        coefficients=(0.0, 0.0, 0.0, 0.0),
    )
    tail_counts = untrained.tail_counts(features)
    design = _design(
        log_prices=log_prices, centre=untrained.log_price_centre, tail_counts=tail_counts
    )
    absolute = np.abs(residuals)
    # The floor keeps a near-perfect prediction (|r| close to 0) from pulling the fit of
    # log|r| towards minus infinity; it only shapes the difficulty, never the coverage.
    floor = float(np.quantile(absolute, settings.tail_quantile))
    coefficients, *_ = np.linalg.lstsq(design, np.log(np.maximum(absolute, floor)), rcond=None)
    difficulty = untrained.model_copy(update={"coefficients": tuple(coefficients.tolist())})
    scores = absolute / difficulty.scale(log_prices=log_prices, tail_counts=tail_counts)
    return IntervalCalibration(
        difficulty=difficulty,
        levels=tuple(
            CalibratedLevel(
                level=level,
                score_quantile=conformal_quantile(scores, level),
                coverage=math.nan,
                median_relative_width=math.nan,
            )
            for level in settings.levels
        ),
        held_out_rows=0,
    )


def _design(*, log_prices: FloatArray, centre: float, tail_counts: FloatArray) -> FloatArray:
    centred = log_prices - centre
    return np.column_stack([np.ones_like(centred), centred, centred**2, tail_counts])


def calibrated_level(intervals: IntervalCalibration | None, level: float) -> CalibratedLevel:
    """The calibration of ``level`` in a saved model's ``intervals``.

    Raises
    ------
    ValueError
        If the model has no intervals, or training did not calibrate ``level``.
    """
    return _required(intervals).calibrated(level)


def _required(intervals: IntervalCalibration | None) -> IntervalCalibration:
    if intervals is None:
        raise ValueError(
            "this model was saved without prediction intervals; retrain it to calibrate them"
        )
    return intervals


def interval_ends(
    intervals: IntervalCalibration | None,
    *,
    frame: pd.DataFrame,
    prices: FloatArray,
    level: float,
    has_no_price: list[int],
) -> tuple[list[float | None], list[float | None]]:
    """Each row's range as lists aligned with the predictions, ``None`` where unpriced.

    Parameters
    ----------
    intervals : IntervalCalibration or None
        The saved model's calibration.
    frame : DataFrame
        The validated records, one row per price.
    prices : ndarray of float
        The predicted prices, NaN where a row has none.
    level : float
        A calibrated level.
    has_no_price : list of int
        The rows without a price.

    Raises
    ------
    ValueError
        If ``level`` is not calibrated.
    """
    # NaN prices give NaN ends, which become None below.
    with np.errstate(invalid="ignore"):
        lower, upper = _required(intervals).bounds(frame=frame, prices=prices, level=level)
    ends = []
    for bound in (lower, upper):
        values: list[float | None] = bound.tolist()
        for row in has_no_price:
            values[row] = None
        ends.append(values)
    return ends[0], ends[1]
