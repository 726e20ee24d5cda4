"""Training: what run_training writes, what it records, and that it is reproducible."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from regression_model import __version__
from regression_model.config.core import DATASET_DIR, Config
from regression_model.pipeline import build_pipeline
from regression_model.processing.data_manager import artifact_name, file_sha256, load_pipeline
from regression_model.processing.validation import validate_records
from regression_model.train_pipeline import load_training_data, regression_metrics, run_training

METRIC_KEYS = {
    "holdout_rmse",
    "holdout_rmse_log",
    "holdout_r2",
    "cv_rmse_log_mean",
    "cv_rmse_log_std",
}

# Issue 2 asks for a holdout R² of at least 0.85. The current Lasso pipeline scores 0.834, so
# the hard floor below guards against regressions and the strict xfail tracks the goal.
R2_REGRESSION_FLOOR = 0.80
R2_GOAL = 0.85


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory: pytest.TempPathFactory, config: Config) -> Path:
    """One full training run, into a temporary model directory, shared by this module."""
    return run_training(config=config, model_dir=tmp_path_factory.mktemp("trained_models"))


@pytest.fixture(scope="module")
def metadata(trained_model: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(trained_model.with_suffix(".json").read_text())
    return loaded


@pytest.fixture(scope="module")
def valid_test_houses(test_records: pd.DataFrame, config: Config) -> pd.DataFrame:
    validated = validate_records(records=test_records, schema=config.model.inputs)
    return validated.frame[validated.is_valid]


def _load(model_path: Path, config: Config) -> Pipeline:
    return load_pipeline(pipeline_name=config.app.pipeline_name, model_dir=model_path.parent)


def test_run_training_writes_this_versions_model_and_metadata(
    trained_model: Path, config: Config, metadata: dict[str, Any]
) -> None:
    # Given a training run into an empty directory
    # Then it returned the model file it wrote, named for this version, with metadata beside it
    assert trained_model.name == artifact_name(pipeline_name=config.app.pipeline_name)
    assert __version__ in trained_model.name
    assert sorted(path.name for path in trained_model.parent.iterdir()) == sorted(
        [trained_model.name, trained_model.with_suffix(".json").name]
    )
    assert metadata["package_version"] == __version__
    assert metadata["model_sha256"] == file_sha256(trained_model)
    assert metadata["training_data_file"] == config.app.training_data_file
    assert metadata["training_data_sha256"] == file_sha256(
        DATASET_DIR / config.app.training_data_file
    )


def test_run_training_records_every_metric_as_a_finite_number(metadata: dict[str, Any]) -> None:
    # Given the metadata of a training run
    metrics = metadata["metrics"]

    # Then the holdout and cross-validation metrics are all there, finite and sensible
    assert set(metrics) == METRIC_KEYS
    assert all(math.isfinite(value) for value in metrics.values())
    assert metrics["holdout_rmse"] > 0 and metrics["holdout_rmse_log"] > 0
    assert 0 < metrics["cv_rmse_log_mean"] < 0.5
    assert metrics["cv_rmse_log_std"] >= 0


def test_recorded_holdout_r2_is_the_r2_on_the_configured_holdout(
    metadata: dict[str, Any], config: Config
) -> None:
    """Check the recorded R² by refitting on the configured split and scoring its holdout."""
    # Given the training data split with the configured size and seed
    X, y = load_training_data(config=config, dataset_dir=DATASET_DIR)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=config.model.test_size, random_state=config.model.random_state
    )

    # When a pipeline is fitted on the training part and scored on the holdout
    predicted = build_pipeline(config.model).fit(X_train, y_train).predict(X_test)

    # Then the metadata records that R², and it clears the regression floor
    recorded = metadata["metrics"]["holdout_r2"]
    assert recorded == pytest.approx(r2_score(y_test, predicted), rel=1e-9)
    assert recorded >= R2_REGRESSION_FLOOR


@pytest.mark.xfail(
    strict=True, reason="the current Lasso pipeline's holdout R² is 0.834; issue 2 asks 0.85"
)
def test_holdout_r2_reaches_the_issue_goal(metadata: dict[str, Any]) -> None:
    assert metadata["metrics"]["holdout_r2"] >= R2_GOAL


def test_two_training_runs_give_identical_predictions(
    trained_model: Path, config: Config, tmp_path: Path, valid_test_houses: pd.DataFrame
) -> None:
    # Given a first training run, and a second one into another directory
    second_model = run_training(config=config, model_dir=tmp_path)

    # When both models predict every valid row of test.csv
    first_predictions = _load(trained_model, config).predict(valid_test_houses)
    second_predictions = _load(second_model, config).predict(valid_test_houses)

    # Then the predictions are identical, bit for bit
    np.testing.assert_array_equal(first_predictions, second_predictions)


# (case id, column, bad value, text the error must contain)
BAD_TRAINING_ROWS: list[tuple[str, str, object, str]] = [
    ("negative-area", "GrLivArea", -5, "GrLivArea"),
    ("missing-required-value", "Neighborhood", None, "Neighborhood"),
    ("zero-price", "SalePrice", 0, "SalePrice must be a positive price"),
    ("missing-price", "SalePrice", None, "SalePrice must be a positive price"),
]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [case[1:] for case in BAD_TRAINING_ROWS],
    ids=[case[0] for case in BAD_TRAINING_ROWS],
)
def test_training_data_with_a_bad_row_is_refused(
    tmp_path: Path,
    config: Config,
    train_records: pd.DataFrame,
    column: str,
    value: Any,
    message: str,
) -> None:
    # Given a copy of the training data with one bad value in row 7
    dataset_dir = tmp_path / "datasets"
    dataset_dir.mkdir()
    records = train_records.copy()
    records[column] = records[column].astype(object)
    records.loc[7, column] = value
    records.to_csv(dataset_dir / config.app.training_data_file, index=False)
    model_dir = tmp_path / "trained_models"

    # When training runs on it
    # Then it raises, naming the problem, and writes no model
    with pytest.raises(ValueError, match=message):
        run_training(config=config, dataset_dir=dataset_dir, model_dir=model_dir)
    assert not model_dir.exists() or not any(model_dir.iterdir())


def test_untouched_copy_of_training_data_validates_cleanly(
    tmp_path: Path, config: Config, train_records: pd.DataFrame
) -> None:
    """Check that the bad-row cases fail for their bad value, not for the CSV round trip."""
    # Given the training data written back to CSV as the bad-row cases write it
    train_records.to_csv(tmp_path / config.app.training_data_file, index=False)

    # When it is loaded for training
    X, y = load_training_data(config=config, dataset_dir=tmp_path)

    # Then every row is accepted
    assert len(X) == len(y) == len(train_records)


def test_regression_metrics_on_hand_computed_values() -> None:
    # Given two prices predicted the wrong way round
    y_true, y_pred = [10.0, 20.0], [20.0, 10.0]

    # When the metrics are computed
    metrics = regression_metrics(y_true=y_true, y_pred=y_pred, prefix="holdout")

    # Then RMSE is 10 dollars, RMSE of logs is log 2, and R² is 1 - 200 / 50
    assert metrics == pytest.approx(
        {"holdout_rmse": 10.0, "holdout_rmse_log": math.log(2), "holdout_r2": -3.0}
    )
