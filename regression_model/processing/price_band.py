"""Hold predicted prices to the band of prices seen in training."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from regression_model.processing.arithmetic import clip_to_range


class PriceBandRegressor(RegressorMixin, BaseEstimator):
    """A regressor whose predictions never leave the range of the targets it was fitted on.

    Capping the features bounds each one, but a linear model can still add many bounded
    terms up to a price no house in training came near. The band is the last guarantee:
    whatever the input, the price lies between the lowest and highest training price,
    widened by ``margin``.

    Parameters
    ----------
    regressor : estimator, default=None
        The regressor whose predictions are held to the band; it is cloned and fitted.
    margin : float, default=0.0
        Fraction by which the band extends below the lowest training target
        (``lowest * (1 - margin)``) and above the highest (``highest * (1 + margin)``).

    Attributes
    ----------
    regressor_ : estimator
        The fitted clone of ``regressor``.
    lower_ : float
        The lowest prediction.
    upper_ : float
        The highest prediction.
    feature_mean_ : ndarray of float64
        The mean of each column of ``X`` in fit: the reference a linear model's
        explanation measures each column from (``regression_model.explain``). Predictions
        do not use it.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``, when they were given.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> band = PriceBandRegressor(regressor=LinearRegression()).fit([[1], [2]], [100, 200])
    >>> band.predict([[0], [5]]).tolist()
    [100.0, 200.0]
    """

    def __init__(self, regressor: Any = None, margin: float = 0.0) -> None:
        self.regressor = regressor
        self.margin = margin

    def fit(self, X: Any, y: Any) -> PriceBandRegressor:
        if self.regressor is None:
            raise ValueError("regressor must be an estimator, not None.")
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must be at least 0 and below 1, got {self.margin!r}.")
        # Checked here, and records the feature names; the regressor gets X as it came, so
        # that a DataFrame keeps its column names.
        features, target = validate_data(self, X, y, y_numeric=True)
        self.regressor_ = clone(self.regressor).fit(X, target)
        self.feature_mean_ = np.mean(np.asarray(features, dtype=np.float64), axis=0)
        self.lower_ = float(np.min(target)) * (1 - self.margin)
        self.upper_ = float(np.max(target)) * (1 + self.margin)
        return self

    def predict(self, X: Any) -> Any:
        check_is_fitted(self)
        return clip_to_range(self.regressor_.predict(X), self.lower_, self.upper_)
