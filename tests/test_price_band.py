"""PriceBandRegressor: predictions held to the band of training targets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from regression_model.processing.price_band import PriceBandRegressor


@parametrize_with_checks([PriceBandRegressor(regressor=LinearRegression())])
def test_price_band_passes_sklearn_estimator_checks(estimator: object, check: object) -> None:
    check(estimator)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("margin", "expected"),
    [(0.0, [100.0, 150.0, 300.0]), (0.5, [50.0, 150.0, 450.0])],
    ids=["training-band", "widened-by-half"],
)
def test_predictions_beyond_the_training_targets_are_held_to_the_band(
    margin: float, expected: list[float]
) -> None:
    # Given a line fitted on prices from 100 to 300
    X, y = np.array([[1.0], [2.0], [3.0]]), np.array([100.0, 200.0, 300.0])
    band = PriceBandRegressor(regressor=LinearRegression(), margin=margin).fit(X, y)

    # When it predicts far below, inside and far above the training inputs
    predictions = band.predict(np.array([[-100.0], [1.5], [100.0]]))

    # Then inside stays as the line says and beyond is held to the (widened) band
    assert predictions.tolist() == pytest.approx(expected)
    assert (band.lower_, band.upper_) == pytest.approx((100.0 * (1 - margin), 300.0 * (1 + margin)))


@pytest.mark.parametrize("margin", [-0.1, 1.0], ids=["negative", "whole"])
def test_margin_outside_zero_to_one_is_refused(margin: float) -> None:
    with pytest.raises(ValueError, match="margin must be at least 0 and below 1"):
        PriceBandRegressor(regressor=LinearRegression(), margin=margin).fit([[1.0]], [1.0])


def test_missing_regressor_is_refused() -> None:
    with pytest.raises(ValueError, match="regressor must be an estimator"):
        PriceBandRegressor().fit([[1.0]], [1.0])


def test_fit_learns_the_mean_of_each_feature_for_explanations() -> None:
    """Check the linear members' reference for explanations: the training mean of X."""
    # Given a band fitted on two features
    X, y = np.array([[1.0, 10.0], [2.0, 30.0], [6.0, 20.0]]), np.array([100.0, 200.0, 300.0])
    band = PriceBandRegressor(regressor=LinearRegression()).fit(X, y)

    # Then it holds each feature's mean, and predicts as the regressor alone would
    assert band.feature_mean_.tolist() == [3.0, 20.0]
    alone = LinearRegression().fit(X, y)
    assert band.predict(X).tolist() == alone.predict(X).tolist()
