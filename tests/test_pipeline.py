"""The pipeline built from config: new and unfitted each call, dollar prices for valid rows."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from sklearn.base import is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from regression_model.config.core import Config
from regression_model.pipeline import build_pipeline
from regression_model.processing.validation import validate_records


def _assert_prices(predictions: npt.ArrayLike, band: tuple[float, float]) -> None:
    prices = np.asarray(predictions, dtype=float)
    assert prices.ndim == 1 and prices.size > 0
    assert np.isfinite(prices).all(), "NaN or infinite predictions"
    lowest, highest = band
    assert (prices >= lowest).all() and (prices <= highest).all(), (prices.min(), prices.max())


@pytest.fixture(scope="module")
def valid_test_houses(test_records: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Every row of test.csv that validation lets through, as the pipeline receives it."""
    validated = validate_records(records=test_records, schema=config.model.inputs)
    return validated.frame[validated.is_valid]


def test_build_pipeline_returns_a_new_unfitted_pipeline_each_call(config: Config) -> None:
    # Given the model settings
    # When the pipeline is built twice
    first, second = build_pipeline(config.model), build_pipeline(config.model)

    # Then each call gives its own unfitted Pipeline ending in a regressor, sharing no step
    assert isinstance(first, Pipeline) and isinstance(second, Pipeline)
    assert first is not second
    assert is_regressor(first)
    first_steps = {id(step) for _, step in first.steps}
    assert first_steps.isdisjoint(id(step) for _, step in second.steps)
    for pipeline in (first, second):
        with pytest.raises(NotFittedError):
            check_is_fitted(pipeline)


def test_fitting_one_built_pipeline_leaves_another_unfitted(
    config: Config, fitted_pipeline: Pipeline
) -> None:
    # Given a pipeline that has been fitted (the session's sample pipeline)
    # When another is built
    fresh = build_pipeline(config.model)

    # Then the new one is unfitted
    check_is_fitted(fitted_pipeline)
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)


def test_pipeline_predicts_a_plausible_price_for_every_valid_test_row(
    fitted_pipeline: Pipeline,
    valid_test_houses: pd.DataFrame,
    test_records: pd.DataFrame,
    training_price_band: tuple[float, float],
) -> None:
    # Given every row of test.csv that validation accepts (nearly all of them)
    assert len(valid_test_houses) >= 0.99 * len(test_records)

    # When the fitted pipeline predicts them
    predictions = fitted_pipeline.predict(valid_test_houses)

    # Then every row gets a finite, positive price in dollars
    assert len(predictions) == len(valid_test_houses)
    _assert_prices(predictions, training_price_band)


def test_pipeline_predicts_rows_missing_values_never_missing_in_training(
    fitted_pipeline: Pipeline,
    valid_test_houses: pd.DataFrame,
    train_records: pd.DataFrame,
    config: Config,
    training_price_band: tuple[float, float],
) -> None:
    """Check the columns that are empty only in test.csv (15 of them) are imputed, not NaN."""
    # Given valid test rows with a value missing in a column always filled in train.csv
    never_missing_in_training = [
        name for name in config.model.features if train_records[name].notna().all()
    ]
    gaps = valid_test_houses[never_missing_in_training].isna()
    assert gaps.any().sum() >= 10, "test.csv no longer has these gaps"
    rows_with_gaps = valid_test_houses[gaps.any(axis=1)]

    # When the fitted pipeline predicts them
    predictions = fitted_pipeline.predict(rows_with_gaps)

    # Then each gets a plausible price
    _assert_prices(predictions, training_price_band)


def test_pipeline_predicts_unseen_dwelling_class_150(
    fitted_pipeline: Pipeline,
    valid_test_houses: pd.DataFrame,
    train_records: pd.DataFrame,
    training_price_band: tuple[float, float],
) -> None:
    # Given the test row whose MSSubClass, 150, never occurs in train.csv
    assert 150 not in set(train_records["MSSubClass"])
    row = valid_test_houses[valid_test_houses["MSSubClass"] == "150"]
    assert len(row) == 1

    # When the fitted pipeline predicts it
    # Then it gets a plausible price
    _assert_prices(fitted_pipeline.predict(row), training_price_band)


def test_pipeline_predicts_rows_whose_every_label_is_unseen(
    fitted_pipeline: Pipeline,
    valid_test_houses: pd.DataFrame,
    config: Config,
    training_price_band: tuple[float, float],
) -> None:
    # Given valid rows whose every text column holds a label never seen in training
    houses = valid_test_houses.head(5).copy()
    for name in config.model.inputs.categorical:
        houses[name] = "NeverSeenLabel"

    # When the fitted pipeline predicts them
    predictions = fitted_pipeline.predict(houses)

    # Then it neither fails nor returns NaN: unseen labels are treated as rare
    _assert_prices(predictions, training_price_band)


def test_pipeline_predicts_rows_with_only_required_values(
    fitted_pipeline: Pipeline,
    test_records: pd.DataFrame,
    config: Config,
    training_price_band: tuple[float, float],
) -> None:
    """Check that every optional column may be empty: the pipeline imputes each of them."""
    # Given records that hold the required columns and nothing else
    records = test_records.head(5).copy()
    optional = [name for name in config.model.features if name not in config.model.inputs.required]
    records[optional] = None
    validated = validate_records(records=records, schema=config.model.inputs)
    assert validated.is_valid.all(), validated.errors[:3]

    # When the fitted pipeline predicts them
    predictions = fitted_pipeline.predict(validated.frame)

    # Then each gets a plausible price
    _assert_prices(predictions, training_price_band)


def test_pipeline_models_log_price_and_returns_dollars(
    fitted_pipeline: Pipeline, valid_test_houses: pd.DataFrame, train_records: pd.DataFrame
) -> None:
    """Check that the regressor learns log(price) and the pipeline exponentiates it, held to
    the band of training prices."""
    # Given the fitted pipeline's price band, the log-price model inside, and its features
    band = fitted_pipeline[-1]
    log_model = band.regressor_
    features = fitted_pipeline[:-1].transform(valid_test_houses)

    # When the inner regressor predicts and the whole pipeline predicts
    log_prices = log_model.regressor_.predict(features)
    prices = fitted_pipeline.predict(valid_test_houses)

    # Then the inner output is a log price, the outer one its exponential in the band
    assert 9 < np.median(log_prices) < 14
    expected = np.clip(np.exp(log_prices), band.lower_, band.upper_)
    np.testing.assert_allclose(prices, expected, rtol=1e-12)
    median_ratio = np.median(prices) / train_records["SalePrice"].median()
    assert 0.75 < median_ratio < 1.33


def test_pipeline_fits_when_a_label_column_has_two_most_frequent_labels(
    config: Config, train_records: pd.DataFrame
) -> None:
    """Non-regression test: a tie between most frequent labels failed the imputer's fit."""
    # Given training rows in which Foundation holds two labels equally often
    sample = train_records.head(200).copy()
    sample["Foundation"] = ["PConc", "CBlock"] * 100
    validated = validate_records(records=sample, schema=config.model.inputs)
    settings = config.model.model_copy(update={"estimator": "lasso"})

    # When the pipeline is fitted and a row missing Foundation is scored
    pipeline = build_pipeline(settings).fit(validated.frame, sample["SalePrice"])
    row = validated.frame.head(1).copy()
    row["Foundation"] = np.nan

    # Then fitting succeeded and the row gets a finite price
    assert np.isfinite(pipeline.predict(row)).all()
