"""Refit a regressor without the training rows it fits worst."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

# The median absolute deviation times this estimates the standard deviation of normally
# distributed residuals, without letting the outliers themselves inflate it.
MAD_TO_STD = 1.4826


class ResidualTrimmedRegressor(RegressorMixin, BaseEstimator):
    """A regressor refitted without the training rows whose residual is an outlier.

    A few sales in the training data are priced far from what any house like them sells
    for (abnormal sales, family transfers). Boosted trees spend splits chasing them. This
    fits the regressor once, drops the rows whose residual lies more than ``threshold``
    robust standard deviations from zero, and fits a fresh clone on the rest. Prediction
    uses the second fit only; no row is ever dropped at prediction time.

    Parameters
    ----------
    regressor : estimator, default=None
        The regressor to fit twice; it is cloned.
    threshold : float, default=3.0
        How many robust standard deviations (``1.4826`` times the median absolute
        deviation of the first fit's residuals) a residual may reach and its row be kept.

    Attributes
    ----------
    regressor_ : estimator
        The clone fitted on the kept rows: the one that predicts.
    n_trimmed_ : int
        How many training rows the second fit left out.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``, when they were given.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X, y = [[0], [1], [2], [3], [4], [5]], [0.0, 1.1, 1.9, 3.0, 40.0, 5.1]
    >>> trimmed = ResidualTrimmedRegressor(regressor=LinearRegression()).fit(X, y)
    >>> trimmed.n_trimmed_, round(float(trimmed.predict([[4]])[0]), 1)
    (1, 4.0)
    """

    def __init__(self, regressor: Any = None, threshold: float = 3.0) -> None:
        self.regressor = regressor
        self.threshold = threshold

    def fit(self, X: Any, y: Any) -> ResidualTrimmedRegressor:
        if self.regressor is None:
            raise ValueError("regressor must be an estimator, not None.")
        if not self.threshold > 0:
            raise ValueError(f"threshold must be above 0, got {self.threshold!r}.")
        # Checked and recorded here; the regressor sees the checked array, in both fits.
        features, target = validate_data(self, X, y, y_numeric=True, ensure_all_finite="allow-nan")
        residuals = target - clone(self.regressor).fit(features, target).predict(features)
        spread = MAD_TO_STD * np.median(np.abs(residuals - np.median(residuals)))
        kept = np.abs(residuals) <= self.threshold * spread
        if spread == 0:  # a perfect first fit: nothing stands out
            kept[:] = True
        self.n_trimmed_ = int((~kept).sum())
        self.regressor_ = clone(self.regressor).fit(features[kept], target[kept])
        return self

    def predict(self, X: Any) -> Any:
        check_is_fitted(self)
        features = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return self.regressor_.predict(features)


def predicting_estimator(estimator: Any) -> Any:
    """The fitted estimator that does the predicting: the second fit of a trimmed one."""
    if isinstance(estimator, ResidualTrimmedRegressor):
        return estimator.regressor_
    return estimator
