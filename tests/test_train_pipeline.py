"""Training: what run_training writes, what it records, and that it is reproducible."""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import Pipeline

from regression_model import __version__
from regression_model.config.core import DATASET_DIR, Config
from regression_model.pipeline import build_pipeline
from regression_model.processing.data_manager import (
    artifact_name,
    file_sha256,
    load_pipeline,
    training_fingerprint,
)
from regression_model.processing.validation import validate_records
from regression_model.report import has_matplotlib
from regression_model.train_pipeline import (
    cross_validate,
    drop_training_outliers,
    load_training_data,
    regression_metrics,
    run_training,
)

METRIC_KEYS = {
    "holdout_rmse",
    "holdout_rmse_log",
    "holdout_r2",
    "cv_folds",
    "cv_rmse_log_mean",
    "cv_rmse_log_std",
    "training_rows",
    "training_seconds",
}

# The package's accuracy promises: issue 2 asks a holdout R² of at least 0.85, issue 6 a
# cross-validated RMSE of log price of at most 0.110.
R2_FLOOR = 0.85
CV_RMSE_LOG_CEILING = 0.110


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
    # Then it returned the model file it wrote, named for this version, with its metadata,
    # input profile, model card and (where matplotlib is installed) diagnostics figure beside it
    assert trained_model.name == artifact_name(pipeline_name=config.app.pipeline_name)
    assert __version__ in trained_model.name
    suffixes = [".pkl", ".json", ".profile.json", ".md", *([".png"] if has_matplotlib() else [])]
    assert sorted(path.name for path in trained_model.parent.iterdir()) == sorted(
        trained_model.with_suffix(suffix).name for suffix in suffixes
    )
    assert metadata["package_version"] == __version__
    assert metadata["model_sha256"] == file_sha256(trained_model)
    assert metadata["training_data_file"] == config.app.training_data_file
    assert metadata["training_data_sha256"] == file_sha256(
        DATASET_DIR / config.app.training_data_file
    )


def test_run_training_records_every_metric_as_a_finite_number(
    metadata: dict[str, Any], config: Config
) -> None:
    # Given the metadata of a training run
    metrics = metadata["metrics"]

    # Then the holdout and cross-validation metrics are all there, finite and sensible
    assert METRIC_KEYS <= set(metrics)
    assert metrics["cv_folds"] == config.model.cv_folds
    fold_scores = [metrics[f"cv_rmse_log_fold_{i}"] for i in range(1, config.model.cv_folds + 1)]
    assert metrics["cv_rmse_log_mean"] == pytest.approx(np.mean(fold_scores))
    assert all(math.isfinite(value) for value in metrics.values())
    assert metrics["holdout_rmse"] > 0 and metrics["holdout_rmse_log"] > 0
    assert 0 < metrics["cv_rmse_log_mean"] < 0.5
    assert metrics["cv_rmse_log_std"] >= 0


def test_recorded_holdout_r2_is_the_r2_on_the_configured_holdout(
    metadata: dict[str, Any], config: Config
) -> None:
    """Check the recorded R² by refitting on the configured split and scoring its holdout."""
    # Given the training data, less its outliers, split with the configured size and seed
    X, y = drop_training_outliers(
        *load_training_data(config=config, dataset_dir=DATASET_DIR), settings=config.model
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=config.model.test_size, random_state=config.model.random_state
    )

    # When a pipeline is fitted on the training part and scored on the holdout
    predicted = build_pipeline(config.model).fit(X_train, y_train).predict(X_test)

    # Then the metadata records that R²
    recorded = metadata["metrics"]["holdout_r2"]
    assert recorded == pytest.approx(r2_score(y_test, predicted), rel=1e-9)


def test_trained_model_meets_the_accuracy_promises(metadata: dict[str, Any]) -> None:
    metrics = metadata["metrics"]
    assert metrics["holdout_r2"] >= R2_FLOOR
    assert metrics["cv_rmse_log_mean"] <= CV_RMSE_LOG_CEILING


def test_outlier_rule_drops_only_the_configured_training_rows(
    config: Config, train_records: pd.DataFrame
) -> None:
    # Given the training data, which holds two huge partial sales
    X, y = load_training_data(config=config, dataset_dir=DATASET_DIR)

    # When the outlier rule is applied
    kept_X, kept_y = drop_training_outliers(X, y, settings=config.model)

    # Then exactly those two rows are gone, and the rest keep their values, re-indexed
    huge_and_cheap = (train_records["GrLivArea"] > 4000) & (train_records["SalePrice"] < 300000)
    assert huge_and_cheap.sum() == 2
    assert len(kept_X) == len(kept_y) == len(X) - 2
    pd.testing.assert_series_equal(
        kept_y, y[~huge_and_cheap.to_numpy()].reset_index(drop=True), check_names=False
    )


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


class _FoldSpy(Pipeline):
    """A pipeline that records which rows each fitted copy saw and was asked about."""

    fitted_rows: list[set[int]] = []
    predicted_rows: list[set[int]] = []

    def fit(self, X: pd.DataFrame, y: Any = None, **params: Any) -> _FoldSpy:
        type(self).fitted_rows.append(set(X["Id"]))
        return self

    def predict(self, X: pd.DataFrame, **params: Any) -> Any:
        type(self).predicted_rows.append(set(X["Id"]))
        return np.full(len(X), 100_000.0)


def test_cross_validation_fits_each_fold_only_on_its_training_rows() -> None:
    """Check that no fold's model sees the rows it is scored on, and every row is scored."""
    # Given rows tagged with an id and a pipeline that records what it sees
    X = pd.DataFrame({"Id": range(50)})
    y = pd.Series(np.linspace(100_000, 200_000, 50))
    _FoldSpy.fitted_rows, _FoldSpy.predicted_rows = [], []

    # When it is cross-validated
    cv = cross_validate(pipeline=_FoldSpy([("spy", None)]), X=X, y=y, folds=5, random_state=0)

    # Then each fold was fitted on rows disjoint from those it scored, and each row was scored
    # exactly once
    assert len(cv.fold_scores) == 5
    for fitted, predicted in zip(_FoldSpy.fitted_rows, _FoldSpy.predicted_rows, strict=True):
        assert not fitted & predicted
        assert fitted | predicted == set(range(50))
    assert sorted(row for rows in _FoldSpy.predicted_rows for row in rows) == list(range(50))


def test_fold_predictions_ignore_the_targets_of_the_rows_they_score(config: Config) -> None:
    """Check for leakage: changing the prices of a fold's rows leaves its predictions alone."""
    # Given the training data and a fast estimator, and a copy whose first fold's prices are
    # all doubled
    settings = config.model.model_copy(update={"estimator": "lasso"})
    X, y = drop_training_outliers(
        *load_training_data(config=config, dataset_dir=DATASET_DIR), settings=settings
    )
    first_fold = next(KFold(n_splits=settings.cv_folds, shuffle=True, random_state=0).split(X))[1]
    changed_y = y.copy()
    changed_y.iloc[first_fold] *= 2

    # When both are cross-validated with the same folds
    runs = [
        cross_validate(
            pipeline=build_pipeline(settings),
            X=X,
            y=target,
            folds=settings.cv_folds,
            random_state=0,
        )
        for target in (y, changed_y)
    ]

    # Then the first fold's out-of-fold predictions are identical, while its score moved
    np.testing.assert_array_equal(runs[0].predictions[first_fold], runs[1].predictions[first_fold])
    assert runs[0].fold_scores[0] != runs[1].fold_scores[0]


# Reuse or retrain


@pytest.fixture(scope="module")
def fast_config(config: Config) -> Config:
    """The packaged config with the Lasso alone, which trains in seconds."""
    return config.model_copy(
        update={"model": config.model.model_copy(update={"estimator": "lasso"})}
    )


@pytest.fixture(scope="module")
def fast_model_dir(tmp_path_factory: pytest.TempPathFactory, fast_config: Config) -> Path:
    """A folder holding one model trained with ``fast_config``; copy it before changing it."""
    model_dir = tmp_path_factory.mktemp("fast_model")
    run_training(config=fast_config, model_dir=model_dir)
    return model_dir


@pytest.fixture()
def copied_model_dir(fast_model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(fast_model_dir, tmp_path / "trained_models"))


def _file_times(model_dir: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in model_dir.iterdir()}


def test_training_again_with_nothing_changed_reuses_the_model(
    copied_model_dir: Path, fast_config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a model trained with the same config, data, source and libraries
    before = _file_times(copied_model_dir)

    # When training runs again
    with caplog.at_level(logging.INFO):
        model_path = run_training(config=fast_config, model_dir=copied_model_dir)

    # Then it returns that model, writes nothing and says why
    assert model_path.parent == copied_model_dir
    assert _file_times(copied_model_dir) == before
    assert "is up to date" in caplog.text and "--force" in caplog.text


def _change_config(config: Config, dataset_dir: Path, model_dir: Path) -> dict[str, Any]:
    lasso = config.model.lasso.model_copy(update={"alpha": config.model.lasso.alpha * 2})
    changed = config.model_copy(update={"model": config.model.model_copy(update={"lasso": lasso})})
    return {"config": changed}


def _change_training_data(config: Config, dataset_dir: Path, model_dir: Path) -> dict[str, Any]:
    data_file = config.app.training_data_file
    shutil.copy(dataset_dir / data_file, model_dir.parent / data_file)
    with (model_dir.parent / data_file).open("a", encoding="utf-8") as stream:
        stream.write("\n")  # a trailing blank line: the same rows, other bytes
    return {"dataset_dir": model_dir.parent}


def _force(config: Config, dataset_dir: Path, model_dir: Path) -> dict[str, Any]:
    return {"force": True}


def _replace_model_file(config: Config, dataset_dir: Path, model_dir: Path) -> dict[str, Any]:
    (model_path,) = model_dir.glob("*.pkl")
    model_path.write_bytes(model_path.read_bytes() + b"\0")
    return {}


def _delete_model_card(config: Config, dataset_dir: Path, model_dir: Path) -> dict[str, Any]:
    (card,) = model_dir.glob("*.md")
    card.unlink()
    return {}


def _delete_input_profile(config: Config, dataset_dir: Path, model_dir: Path) -> dict[str, Any]:
    (profile,) = model_dir.glob("*.profile.json")
    profile.unlink()
    return {}


# (case id, change made after the first training; returns run_training's changed arguments)
RETRAINING_CASES: list[tuple[str, Callable[[Config, Path, Path], dict[str, Any]]]] = [
    ("config-changed", _change_config),
    ("training-data-changed", _change_training_data),
    ("forced", _force),
    ("model-file-replaced", _replace_model_file),
    ("model-card-missing", _delete_model_card),
    ("input-profile-missing", _delete_input_profile),
]


@pytest.mark.parametrize(
    "change", [case[1] for case in RETRAINING_CASES], ids=[case[0] for case in RETRAINING_CASES]
)
def test_training_retrains_when_anything_it_depends_on_changed(
    copied_model_dir: Path,
    fast_config: Config,
    change: Callable[[Config, Path, Path], dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a trained model, and then a change to what it was made from (or a forced run)
    arguments: dict[str, Any] = {"config": fast_config, "model_dir": copied_model_dir}
    arguments.update(change(fast_config, DATASET_DIR, copied_model_dir))
    before = _file_times(copied_model_dir)

    # When training runs again
    with caplog.at_level(logging.INFO):
        model_path = run_training(**arguments)

    # Then it trained and wrote the model anew, with the new fingerprint
    assert "is up to date" not in caplog.text
    after = _file_times(copied_model_dir)
    assert after[model_path.name] != before[model_path.name]
    assert after.keys() >= {
        model_path.with_suffix(".md").name,
        model_path.with_suffix(".json").name,
        model_path.with_suffix(".profile.json").name,
    }
    recorded = json.loads(model_path.with_suffix(".json").read_text())["fingerprint"]
    data_dir = arguments.get("dataset_dir", DATASET_DIR)
    assert recorded == training_fingerprint(
        config=arguments["config"], training_data=data_dir / fast_config.app.training_data_file
    )


@pytest.fixture()
def source_dir(tmp_path: Path) -> Path:
    """A small package source tree: two modules, one in a subpackage."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "core.py").write_text("VALUE = 1\n")
    (tmp_path / "sub" / "extra.py").write_text("OTHER = 2\n")
    return tmp_path


def _edit_module(source_dir: Path) -> None:
    (source_dir / "core.py").write_text("VALUE = 2\n")


def _add_module(source_dir: Path) -> None:
    (source_dir / "sub" / "new.py").write_text("")


def _move_module(source_dir: Path) -> None:
    (source_dir / "sub" / "extra.py").rename(source_dir / "extra.py")


# (case id, change to the package source)
SOURCE_CHANGES: list[tuple[str, Callable[[Path], None]]] = [
    ("module-edited", _edit_module),
    ("module-added", _add_module),
    ("module-moved", _move_module),
]


@pytest.mark.parametrize(
    "change", [case[1] for case in SOURCE_CHANGES], ids=[case[0] for case in SOURCE_CHANGES]
)
def test_fingerprint_changes_with_the_package_source(
    source_dir: Path, config: Config, change: Callable[[Path], None]
) -> None:
    # Given the fingerprint of a source tree, which is stable while nothing changes
    training_data = DATASET_DIR / config.app.training_data_file
    first = training_fingerprint(config=config, training_data=training_data, source_dir=source_dir)
    again = training_fingerprint(config=config, training_data=training_data, source_dir=source_dir)
    assert first == again

    # When the source changes
    change(source_dir)

    # Then the fingerprint changes
    assert first != training_fingerprint(
        config=config, training_data=training_data, source_dir=source_dir
    )
