"""ResidualTrimmedRegressor: refitted without the training rows it fits worst."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from regression_model.config.core import Config
from regression_model.pipeline import build_estimator
from regression_model.processing.residual_trim import (
    ResidualTrimmedRegressor,
    predicting_estimator,
)


@parametrize_with_checks([ResidualTrimmedRegressor(regressor=LinearRegression())])
def test_sklearn_compatible_estimator(estimator: Any, check: Any) -> None:
    check(estimator)


@pytest.fixture
def line_with_outliers() -> tuple[Any, Any, Any]:
    """y = 2x + small noise, with two rows pushed far off the line."""
    rng = np.random.default_rng(0)
    X = np.arange(100, dtype=float).reshape(-1, 1)
    y = 2 * X[:, 0] + rng.normal(0, 1, 100)
    outliers = np.array([10, 70])
    y[outliers] += [60.0, -80.0]
    return X, y, outliers


def test_the_second_fit_leaves_out_only_the_outlying_rows(
    line_with_outliers: tuple[Any, Any, Any],
) -> None:
    # Given a line with two rows far off it
    X, y, outliers = line_with_outliers

    # When the trimmed regressor fits it
    trimmed = ResidualTrimmedRegressor(regressor=LinearRegression(), threshold=3.0).fit(X, y)

    # Then the second fit is the fit of the rows without the outliers, and predicts
    kept = np.setdiff1d(np.arange(len(y)), outliers)
    expected = LinearRegression().fit(X[kept], y[kept])
    assert trimmed.n_trimmed_ == len(outliers)
    np.testing.assert_allclose(trimmed.regressor_.coef_, expected.coef_)
    np.testing.assert_allclose(trimmed.predict(X), expected.predict(X))


@pytest.mark.parametrize(
    ("threshold", "trimmed_rows"),
    [(1000.0, 0), (3.0, 2)],
    ids=["threshold-beyond-every-residual", "threshold-at-three"],
)
def test_the_threshold_decides_how_many_rows_are_left_out(
    line_with_outliers: tuple[Any, Any, Any], threshold: float, trimmed_rows: int
) -> None:
    # Given a line with two outliers
    X, y, _ = line_with_outliers

    # When it is fitted with a threshold
    trimmed = ResidualTrimmedRegressor(regressor=LinearRegression(), threshold=threshold)

    # Then that many rows are left out of the second fit
    assert trimmed.fit(X, y).n_trimmed_ == trimmed_rows


def test_a_perfect_first_fit_keeps_every_row() -> None:
    # Given data a line fits exactly: every residual is zero, and so is their spread
    X = np.arange(10, dtype=float).reshape(-1, 1)

    # When the trimmed regressor fits it
    trimmed = ResidualTrimmedRegressor(regressor=LinearRegression()).fit(X, 3 * X[:, 0])

    # Then no row is left out
    assert trimmed.n_trimmed_ == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "regressor must be an estimator"),
        ({"regressor": LinearRegression(), "threshold": 0.0}, "threshold must be above 0"),
    ],
    ids=["no-regressor", "zero-threshold"],
)
def test_fit_refuses_unusable_settings(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ResidualTrimmedRegressor(**arguments).fit([[1.0], [2.0]], [1.0, 2.0])


def test_the_configured_members_are_trimmed_and_the_others_not(config: Config) -> None:
    # Given the shipped config, which trims the boosted trees only
    settings = config.model
    assert settings.residual_trim.estimators == ("xgboost",)

    # When the blend's members are built
    trees = build_estimator(settings, "xgboost")
    lasso = build_estimator(settings, "lasso")

    # Then the trees are wrapped with the configured threshold, the Lasso is not
    assert isinstance(trees, ResidualTrimmedRegressor)
    assert trees.threshold == settings.residual_trim.threshold
    assert not isinstance(lasso, ResidualTrimmedRegressor)


def test_predicting_estimator_unwraps_a_trimmed_regressor_only(
    line_with_outliers: tuple[Any, Any, Any],
) -> None:
    X, y, _ = line_with_outliers
    trimmed = ResidualTrimmedRegressor(regressor=LinearRegression()).fit(X, y)
    plain = LinearRegression().fit(X, y)

    assert predicting_estimator(trimmed) is trimmed.regressor_
    assert predicting_estimator(plain) is plain
