"""Persistence: the saved pipeline, its metadata, and every way loading it refuses."""

from __future__ import annotations

import hashlib
import json
import platform
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feature_engine
import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
import xgboost
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.pipeline import Pipeline

from regression_model import __version__, errors
from regression_model.config import core
from regression_model.config.core import Config
from regression_model.errors import TrainingDataNotFoundError
from regression_model.pipeline import build_pipeline
from regression_model.processing.data_manager import (
    ModelLoadError,
    ModelNotFoundError,
    artifact_name,
    load_dataset,
    load_pipeline,
    save_pipeline,
)
from regression_model.processing.domain import TrainingDomain
from regression_model.processing.validation import validate_records

PIPELINE_NAME = "test_pipeline_v"
METRICS = {"holdout_r2": 0.9, "holdout_rmse": 25_000.0}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_metadata(model_path: Path) -> dict[str, Any]:
    metadata: dict[str, Any] = json.loads(model_path.with_suffix(".json").read_text())
    return metadata


def _write_metadata(model_path: Path, metadata: dict[str, Any]) -> None:
    model_path.with_suffix(".json").write_text(json.dumps(metadata))


@pytest.fixture()
def training_csv(tmp_path: Path) -> Path:
    """A small stand-in for the training data, whose bytes the metadata must hash."""
    path = tmp_path / "train.csv"
    path.write_text("Id,SalePrice\n1,200000\n2,150000\n")
    return path


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    return tmp_path / "trained_models"


@pytest.fixture()
def saved_model(
    fitted_pipeline: Pipeline, fitted_domain: TrainingDomain, training_csv: Path, model_dir: Path
) -> Path:
    """The fitted test pipeline, saved with its metadata into an empty model directory."""
    return save_pipeline(
        pipeline=fitted_pipeline,
        pipeline_name=PIPELINE_NAME,
        training_data=training_csv,
        metrics=METRICS,
        domain=fitted_domain,
        model_dir=model_dir,
    )


@pytest.fixture()
def valid_houses(raw_records: pd.DataFrame, config: Config) -> pd.DataFrame:
    validated = validate_records(records=raw_records, schema=config.model.inputs)
    return validated.frame[validated.is_valid]


def test_artifact_name_carries_the_package_version() -> None:
    assert artifact_name(pipeline_name="model_v") == f"model_v{__version__}.pkl"


def test_load_dataset_reads_empty_cells_and_na_as_missing(tmp_path: Path) -> None:
    # Given a CSV with an empty cell and an "NA" cell
    (tmp_path / "houses.csv").write_text("Alley,LotFrontage\nNA,\nPave,65\n")

    # When it is loaded
    frame = load_dataset(file_name="houses.csv", dataset_dir=tmp_path)

    # Then both are missing values
    expected = pd.DataFrame({"Alley": [np.nan, "Pave"], "LotFrontage": [np.nan, 65.0]})
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)
    assert frame.isna().sum().sum() == 2


def test_saved_pipeline_loads_back_with_identical_predictions(
    saved_model: Path, model_dir: Path, fitted_pipeline: Pipeline, valid_houses: pd.DataFrame
) -> None:
    # Given a pipeline saved to disk
    # When it is loaded back
    loaded = load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)

    # Then it is a new Pipeline that predicts exactly as the saved one
    assert loaded is not fitted_pipeline
    assert saved_model == model_dir / artifact_name(pipeline_name=PIPELINE_NAME)
    np.testing.assert_array_equal(
        loaded.predict(valid_houses), fitted_pipeline.predict(valid_houses)
    )


def test_metadata_records_versions_hashes_and_metrics(
    saved_model: Path, training_csv: Path
) -> None:
    # Given a saved pipeline
    # When its metadata file is read as plain JSON
    metadata = _read_metadata(saved_model)

    # Then it holds the package version, both sha256 digests, the metrics and library versions
    assert metadata["package_version"] == __version__
    assert metadata["model_file"] == saved_model.name
    assert metadata["model_sha256"] == _sha256(saved_model)
    assert metadata["training_data_file"] == training_csv.name
    assert metadata["training_data_sha256"] == _sha256(training_csv)
    assert metadata["metrics"] == METRICS
    assert metadata["versions"] == {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "feature-engine": feature_engine.__version__,
        "xgboost": xgboost.__version__,
    }


def test_saving_removes_older_pipelines_and_their_metadata_only(
    fitted_pipeline: Pipeline, fitted_domain: TrainingDomain, training_csv: Path, model_dir: Path
) -> None:
    # Given pipelines of older versions with their metadata, and another pipeline's files
    model_dir.mkdir()
    older = [f"{PIPELINE_NAME}0.9.0", f"{PIPELINE_NAME}0.1.0"]
    other = "another_pipeline_v0.9.0"
    for stem in [*older, other]:
        (model_dir / f"{stem}.pkl").write_bytes(b"old model")
        (model_dir / f"{stem}.json").write_text("{}")

    # When this version's pipeline is saved
    saved = save_pipeline(
        pipeline=fitted_pipeline,
        pipeline_name=PIPELINE_NAME,
        training_data=training_csv,
        metrics=METRICS,
        domain=fitted_domain,
        model_dir=model_dir,
    )

    # Then only this version's pipeline is left under its name; other pipelines stay
    assert {path.name for path in model_dir.iterdir()} == {
        saved.name,
        saved.with_suffix(".json").name,
        f"{other}.pkl",
        f"{other}.json",
    }


def test_missing_model_error_says_how_to_train(model_dir: Path) -> None:
    # Given an empty model directory
    model_dir.mkdir()

    # When the pipeline is loaded
    # Then the error says how to train one
    with pytest.raises(ModelNotFoundError, match="tox -e train"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


def test_model_of_another_version_is_not_found(saved_model: Path, model_dir: Path) -> None:
    """Check that a pipeline saved under another version's file name is never loaded."""
    # Given only an older version's pipeline on disk
    saved_model.rename(model_dir / f"{PIPELINE_NAME}0.9.0.pkl")

    # When this version's pipeline is loaded
    # Then it is reported missing
    with pytest.raises(ModelNotFoundError, match="no trained model"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


def test_metadata_of_another_version_fails_to_load(saved_model: Path, model_dir: Path) -> None:
    # Given metadata that says another package version trained the model
    metadata = _read_metadata(saved_model)
    metadata["package_version"] = "0.0.1"
    _write_metadata(saved_model, metadata)

    # When the pipeline is loaded
    # Then loading refuses, naming the version
    with pytest.raises(ModelLoadError, match="trained by version 0.0.1"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


def test_model_file_altered_after_saving_fails_its_sha256_check(
    saved_model: Path, model_dir: Path
) -> None:
    # Given a model file changed after its metadata was written
    with saved_model.open("ab") as stream:
        stream.write(b"\0")

    # When the pipeline is loaded
    # Then the sha256 check refuses it
    with pytest.raises(ModelLoadError, match="does not match its metadata"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda data: b"this is not a pickle",
        lambda data: data[: len(data) // 2],
        lambda data: b"",
    ],
    ids=["garbage", "truncated", "empty"],
)
def test_corrupt_model_with_matching_sha256_is_a_load_error(
    saved_model: Path, model_dir: Path, corrupt: Any
) -> None:
    """Check that unreadable bytes give a ModelLoadError, not an unpickling traceback."""
    # Given a corrupt model file whose sha256 the metadata records
    saved_model.write_bytes(corrupt(saved_model.read_bytes()))
    metadata = _read_metadata(saved_model)
    metadata["model_sha256"] = _sha256(saved_model)
    _write_metadata(saved_model, metadata)

    # When the pipeline is loaded
    # Then loading fails with a ModelLoadError naming the file
    with pytest.raises(ModelLoadError, match=f"{saved_model.name} could not be loaded"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


def test_model_file_holding_no_pipeline_is_a_load_error(saved_model: Path, model_dir: Path) -> None:
    # Given a model file (with matching sha256) that holds something other than a Pipeline
    joblib.dump({"not": "a pipeline"}, saved_model)
    metadata = _read_metadata(saved_model)
    metadata["model_sha256"] = _sha256(saved_model)
    _write_metadata(saved_model, metadata)

    # When the pipeline is loaded
    # Then loading refuses it
    with pytest.raises(ModelLoadError, match="holds a dict, not a Pipeline"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


def test_missing_metadata_is_a_load_error(saved_model: Path, model_dir: Path) -> None:
    # Given a model file without its metadata
    saved_model.with_suffix(".json").unlink()

    # When the pipeline is loaded
    # Then loading refuses, naming the metadata
    with pytest.raises(ModelLoadError, match="metadata .* is missing"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


@pytest.mark.parametrize(
    "text", ["not json", '{"package_version": "1.0.0"}'], ids=["not-json", "missing-fields"]
)
def test_unreadable_metadata_is_a_load_error(saved_model: Path, model_dir: Path, text: str) -> None:
    # Given metadata that is not the metadata this package writes
    saved_model.with_suffix(".json").write_text(text)

    # When the pipeline is loaded
    # Then loading refuses, naming the metadata
    with pytest.raises(ModelLoadError, match="metadata .* is unreadable"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


def test_pipeline_pickled_by_another_sklearn_is_a_load_error(
    saved_model: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that scikit-learn's InconsistentVersionWarning stops the load."""
    # Given a model whose unpickling warns that another scikit-learn pickled it
    real_load = joblib.load

    def load_with_version_warning(path: Path) -> Any:
        warnings.warn(
            InconsistentVersionWarning(
                estimator_name="Pipeline",
                current_sklearn_version=sklearn.__version__,
                original_sklearn_version="0.24.2",
            )
        )
        return real_load(path)

    # data_manager calls joblib.load through the module, so patching the module reaches it.
    monkeypatch.setattr(joblib, "load", load_with_version_warning)

    # When the pipeline is loaded
    # Then loading fails, naming both scikit-learn versions
    with pytest.raises(ModelLoadError, match=r"pickled by scikit-learn 0\.24\.2"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


def test_model_errors_belong_to_the_user_facing_hierarchy() -> None:
    # Given the model errors importable from data_manager, where they always were
    # Then they are the ones of regression_model.errors, with their old bases, and exit 1
    assert ModelLoadError is errors.ModelLoadError
    assert ModelNotFoundError is errors.ModelNotFoundError
    assert issubclass(ModelLoadError, errors.RegressionModelError)
    assert issubclass(ModelLoadError, RuntimeError)
    assert issubclass(ModelNotFoundError, FileNotFoundError)
    assert ModelLoadError("x").exit_code == 1


def test_metadata_path_that_is_a_directory_is_a_load_error(
    saved_model: Path, model_dir: Path
) -> None:
    # Given a directory where the metadata file should be
    metadata = saved_model.with_suffix(".json")
    metadata.unlink()
    metadata.mkdir()

    # When the pipeline is loaded, then the error names the metadata and the reason
    with pytest.raises(ModelLoadError, match=f"^cannot read model metadata {metadata}: Is a dir"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


@pytest.mark.parametrize("unreadable", ["metadata", "model"])
def test_a_file_that_cannot_be_read_is_a_load_error(
    saved_model: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch, unreadable: str
) -> None:
    """Check permissions in-process, where root reads anything: opening the file is refused.

    tests/test_cli.py checks real file modes in a subprocess without root's capabilities.
    """
    # Given a model file or metadata that the process may not open
    refused = saved_model if unreadable == "model" else saved_model.with_suffix(".json")
    real_open = Path.open

    def open_refusing(path: Path, *args: Any, **kwargs: Any) -> Any:
        if path == refused:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_refusing)

    # When the pipeline is loaded, then the error names that file, not another
    kind = "model file" if unreadable == "model" else "model metadata"
    with pytest.raises(ModelLoadError, match=f"^cannot read {kind} {refused}: Permission denied$"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


def test_metadata_that_is_not_utf8_is_a_load_error(saved_model: Path, model_dir: Path) -> None:
    """Non-regression test for #11: a raw UnicodeDecodeError."""
    # Given metadata with a byte that is not UTF-8
    metadata = saved_model.with_suffix(".json")
    metadata.write_bytes(b"\xff" + metadata.read_bytes())

    # When the pipeline is loaded, then the error says so and where
    with pytest.raises(ModelLoadError, match=r"is unreadable: not UTF-8 text \(byte 0\)$"):
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)


def test_invalid_metadata_error_gives_the_field_and_the_reason(
    saved_model: Path, model_dir: Path
) -> None:
    """Non-regression test for #11: only "1 validation error for ModelMetadata"."""
    # Given metadata whose sha256 is a number
    metadata = _read_metadata(saved_model)
    metadata["model_sha256"] = 12
    _write_metadata(saved_model, metadata)

    # When the pipeline is loaded, then the one-line error names the field and the reason
    with pytest.raises(ModelLoadError) as raised:
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)
    assert str(raised.value) == (
        f"model metadata {saved_model.with_suffix('.json')} is unreadable: "
        "model_sha256: Input should be a valid string"
    )


def test_unfitted_pipeline_is_a_load_error(
    saved_files: Callable[[object], Path], config: Config
) -> None:
    """Non-regression test for #11: scikit-learn's AttributeError at the first prediction."""
    # Given an unfitted pipeline saved as the model, its sha256 matching
    model_path = saved_files(build_pipeline(config.model))

    # When it is loaded, then it is refused before anything is scored
    with pytest.raises(ModelLoadError, match="holds a pipeline that was never fitted$"):
        load_pipeline(pipeline_name=config.app.pipeline_name, model_dir=model_path.parent)


@pytest.mark.parametrize(
    ("features", "reason"),
    [
        (["Rooms", "Garden"], r"other columns .*\(lacks LotFrontage, .* and \d+ more; adds Rooms"),
        (None, "this package's features in another order"),
    ],
    ids=["other-columns", "other-order"],
)
def test_pipeline_fitted_on_other_features_is_a_load_error(
    saved_files: Callable[[object], Path],
    config: Config,
    features: list[str] | None,
    reason: str,
) -> None:
    """Non-regression test for #11: scikit-learn's ValueError at the first prediction."""
    # Given a fitted pipeline that takes other columns, or the same in another order
    columns = list(reversed(config.model.features)) if features is None else features
    other = Pipeline([("mean", DummyRegressor())])
    other.fit(pd.DataFrame({name: [0.0, 1.0] for name in columns}), [1.0, 2.0])
    model_path = saved_files(other)

    # When it is loaded, then it is refused, saying how it differs
    with pytest.raises(ModelLoadError, match=f"holds a pipeline fitted on {reason}"):
        load_pipeline(pipeline_name=config.app.pipeline_name, model_dir=model_path.parent)


@pytest.mark.parametrize(
    ("has_datasets", "where"),
    [(True, "datasets/ lacks it"), (False, "an installed package holds no training data")],
    ids=["source-checkout", "installed-wheel"],
)
def test_missing_training_data_says_to_train_from_a_source_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, has_datasets: bool, where: str
) -> None:
    # Given a package with or without its datasets directory
    datasets = tmp_path / "datasets"
    if has_datasets:
        datasets.mkdir()
    monkeypatch.setattr(core, "DATASET_DIR", datasets)

    # When a dataset is loaded that is not there
    # Then the error says why, and where training runs
    with pytest.raises(TrainingDataNotFoundError) as raised:
        load_dataset(file_name="train.csv", dataset_dir=datasets)
    assert str(raised.value) == (
        f"no data file {datasets / 'train.csv'} ({where}); "
        "train from a source checkout with `tox -e train`"
    )
    assert raised.value.exit_code == 2


@pytest.mark.parametrize(
    ("has_datasets", "advice"),
    [
        (True, "train one with `tox -e train`"),
        (
            False,
            "the installed package ships its model, so the installation is broken; "
            "reinstall the wheel",
        ),
    ],
    ids=["source-checkout", "installed-wheel"],
)
def test_missing_model_advice_depends_on_where_the_package_runs(
    model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    has_datasets: bool,
    advice: str,
) -> None:
    # Given no model, in a source checkout (datasets present) or an installed wheel
    monkeypatch.setattr(core, "DATASET_DIR", tmp_path / ("datasets" if has_datasets else "none"))
    (tmp_path / "datasets").mkdir()
    model_dir.mkdir()

    # When the pipeline is loaded, then the advice fits where the package runs
    with pytest.raises(ModelNotFoundError) as raised:
        load_pipeline(pipeline_name=PIPELINE_NAME, model_dir=model_dir)
    model_path = model_dir / artifact_name(pipeline_name=PIPELINE_NAME)
    assert str(raised.value) == f"no trained model at {model_path}; {advice}"
