"""Read datasets, write and read the trained pipeline and its metadata. Files only."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from regression_model import __version__
from regression_model.config.core import (
    DATASET_DIR,
    PACKAGE_ROOT,
    TRAINED_MODEL_DIR,
    Config,
    get_config,
    is_source_checkout,
    no_model_advice,
)

# The errors live in regression_model.errors with the others a user can meet; they are
# importable from here too, where they have always been.
from regression_model.errors import (
    InputFileError,
    ModelLoadError,
    ModelNotFoundError,
    TrainingDataNotFoundError,
)
from regression_model.processing.domain import TrainingDomain
from regression_model.processing.intervals import IntervalCalibration

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

__all__ = [
    "ModelLoadError",
    "ModelMetadata",
    "ModelNotFoundError",
    "artifact_name",
    "file_sha256",
    "library_versions",
    "load_dataset",
    "load_metadata",
    "load_pipeline",
    "metadata_path",
    "save_pipeline",
]

logger = logging.getLogger(__name__)
# Features named in a message about a model trained on other ones: enough to recognise them.
_FEATURES_SHOWN = 5


class ModelMetadata(BaseModel):
    """What a trained pipeline was made from and how well it scored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package_version: str
    model_file: str
    model_sha256: str
    training_data_file: str
    training_data_sha256: str
    # int first: counts (folds, rows) stay integers, so `info` can print them as such.
    metrics: dict[str, int | float]
    versions: dict[str, str]
    domain: TrainingDomain
    # What the model was made from (see training_fingerprint); None for a model saved
    # without one, which training then never takes for up to date.
    fingerprint: str | None = None
    # None for a model saved without prediction intervals (tests' small models).
    intervals: IntervalCalibration | None = None


def load_dataset(*, file_name: str, dataset_dir: Path = DATASET_DIR) -> pd.DataFrame:
    """Read a CSV file shipped in ``datasets/``; empty cells and "NA" become missing.

    Raises
    ------
    TrainingDataNotFoundError
        If the file does not exist; the message says where training can run.
    InputFileError
        If the file cannot be read or parsed.
    """
    path = _existing_dataset(dataset_dir / file_name)
    try:
        # index_col=False: never take the first column for an index when a row is long.
        return pd.read_csv(path, index_col=False)
    except (OSError, ValueError) as error:
        raise InputFileError(f"cannot read {path}: {_reason(error)}", culprit=path) from error


def _existing_dataset(path: Path) -> Path:
    """``path``, after checking it exists; the error says where training can run."""
    if not path.is_file():
        where = (
            "datasets/ lacks it"
            if is_source_checkout()
            else "an installed package holds no training data"
        )
        raise TrainingDataNotFoundError(
            f"no data file {path} ({where}); train from a source checkout with `tox -e train`",
            culprit=path,
        )
    return path


def _reason(error: BaseException) -> str:
    """One line saying why ``error`` happened, without errno numbers or pydantic's URLs."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror  # "Permission denied", without "[Errno 13]"
    if isinstance(error, ValidationError):
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        return f"{where}: {first['msg']}{more}"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def file_sha256(path: Path) -> str:
    """The hex sha256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def training_fingerprint(
    *, config: Config, training_data: Path, source_dir: Path = PACKAGE_ROOT
) -> str:
    """A sha256 of everything a trained model depends on.

    It covers the configuration, the training data's bytes, every Python source file of
    the package and the library versions a pickle depends on, so that any change to one of
    them gives another fingerprint and a model trained before the change is not reused.

    Parameters
    ----------
    config : Config
        The configuration the model is trained with.
    training_data : Path
        The training data file.
    source_dir : Path, default=the installed package's folder
        The package source whose ``*.py`` files are hashed.

    Returns
    -------
    str
        The hex digest.

    Raises
    ------
    TrainingDataNotFoundError
        If the training data file does not exist (an installed wheel holds none).
    """
    digest = hashlib.sha256()
    digest.update(config.model_dump_json().encode())
    digest.update(file_sha256(_existing_dataset(training_data)).encode())
    digest.update(json.dumps(library_versions(), sort_keys=True).encode())
    for source in sorted(source_dir.rglob("*.py")):
        # The relative path counts too: moving code between modules is a change.
        digest.update(source.relative_to(source_dir).as_posix().encode())
        digest.update(file_sha256(source).encode())
    return digest.hexdigest()


def artifact_name(*, pipeline_name: str) -> str:
    """The model file name for this package version, e.g. ``..._v2.0.0.pkl``."""
    return f"{pipeline_name}{__version__}.pkl"


def metadata_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def library_versions() -> dict[str, str]:
    """Versions of the interpreter and libraries that a pickled pipeline depends on."""
    import feature_engine
    import sklearn
    import xgboost

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "feature-engine": feature_engine.__version__,
        "xgboost": xgboost.__version__,
    }


def save_pipeline(
    *,
    pipeline: Pipeline,
    pipeline_name: str,
    training_data: Path,
    metrics: dict[str, float],
    domain: TrainingDomain,
    model_dir: Path = TRAINED_MODEL_DIR,
    fingerprint: str | None = None,
    intervals: IntervalCalibration | None = None,
) -> Path:
    """Persist a fitted pipeline with its metadata, replacing any older pipeline.

    One package version holds exactly one model: pipelines saved under other versions
    are removed, together with their metadata and reports.

    Returns
    -------
    Path
        The saved model file.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    model_path = model_dir / artifact_name(pipeline_name=pipeline_name)
    for old_model in model_dir.glob(f"{pipeline_name}*.pkl"):
        # The model, its metadata and its report share the model's stem.
        for old_file in model_dir.glob(f"{old_model.stem}.*"):
            old_file.unlink()
    import joblib

    joblib.dump(pipeline, model_path)
    metadata = ModelMetadata(
        package_version=__version__,
        model_file=model_path.name,
        model_sha256=file_sha256(model_path),
        training_data_file=training_data.name,
        training_data_sha256=file_sha256(training_data),
        metrics=metrics,
        versions=library_versions(),
        domain=domain,
        fingerprint=fingerprint,
        intervals=intervals,
    )
    metadata_path(model_path).write_text(metadata.model_dump_json(indent=2) + "\n")
    logger.debug("saved pipeline to %s", model_path)
    return model_path


def load_metadata(*, model_path: Path) -> ModelMetadata:
    """Read the metadata written beside a model file.

    Raises
    ------
    ModelLoadError
        If the metadata file is missing, cannot be read, is not UTF-8 JSON, or does not
        hold the fields this package writes; the message names the file and the reason.
    """
    path = metadata_path(model_path)
    try:
        return ModelMetadata.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ModelLoadError(
            f"model metadata {path} is missing; {_retrain_advice()}", culprit=path
        ) from error
    except OSError as error:
        raise ModelLoadError(
            f"cannot read model metadata {path}: {_reason(error)}", culprit=path
        ) from error
    except UnicodeDecodeError as error:
        raise ModelLoadError(
            f"model metadata {path} is unreadable: not UTF-8 text (byte {error.start})",
            culprit=path,
        ) from error
    except ValidationError as error:
        raise ModelLoadError(
            f"model metadata {path} is unreadable: {_reason(error)}", culprit=path
        ) from error


def _retrain_advice() -> str:
    if is_source_checkout():
        return "retrain with `tox -e train`"
    return no_model_advice()


def model_file(*, pipeline_name: str, model_dir: Path = TRAINED_MODEL_DIR) -> Path:
    """The path of this version's model file, which must exist.

    Raises
    ------
    ModelNotFoundError
        If it does not exist; the message says what to do, for where the package runs.
    """
    model_path = model_dir / artifact_name(pipeline_name=pipeline_name)
    if not model_path.is_file():
        raise ModelNotFoundError(
            f"no trained model at {model_path}; {no_model_advice()}", culprit=model_path
        )
    return model_path


def model_sha256(model_path: Path) -> str:
    """The sha256 of a model file, as ``file_sha256``, with read failures as ModelLoadError."""
    try:
        return file_sha256(model_path)
    except OSError as error:
        raise ModelLoadError(
            f"cannot read model file {model_path}: {_reason(error)}", culprit=model_path
        ) from error


def load_pipeline(
    *,
    pipeline_name: str,
    model_dir: Path = TRAINED_MODEL_DIR,
    features: Sequence[str] | None = None,
) -> Pipeline:
    """Load the trained pipeline of this package version, after checking it is usable.

    Parameters
    ----------
    pipeline_name : str
        The configured ``app.pipeline_name``.
    model_dir : Path, default=TRAINED_MODEL_DIR
        Where the model file and its metadata lie.
    features : sequence of str, default=None
        The input columns the pipeline must have been fitted on, in order; ``None`` means
        the packaged config's features.

    Raises
    ------
    ModelNotFoundError
        If no model was trained for this version; the message says what to do.
    ModelLoadError
        If the model or its metadata cannot be read, the metadata names another version,
        the file's sha256 differs from the one recorded at training, the file cannot be
        unpickled or was pickled by another scikit-learn version, or it holds anything but
        a fitted Pipeline taking ``features``.
    """
    model_path = model_file(pipeline_name=pipeline_name, model_dir=model_dir)
    metadata = load_metadata(model_path=model_path)
    if metadata.package_version != __version__:
        raise ModelLoadError(
            f"{model_path.name} was trained by version {metadata.package_version}, "
            f"this is version {__version__}; {_retrain_advice()}",
            culprit=model_path,
        )
    actual_sha256 = model_sha256(model_path)
    if actual_sha256 != metadata.model_sha256:
        raise ModelLoadError(
            f"{model_path.name} does not match its metadata (sha256 {actual_sha256}, "
            f"expected {metadata.model_sha256}); the file is corrupt or was replaced",
            culprit=model_path,
        )
    pipeline = _unpickle(model_path)
    _check_usable(
        pipeline, model_path, get_config().model.features if features is None else features
    )
    return pipeline


def _check_usable(pipeline: Pipeline, model_path: Path, features: Sequence[str]) -> None:
    """Refuse a pipeline that is not fitted, or was fitted on columns other than ``features``."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(pipeline)
    except (NotFittedError, TypeError, AttributeError) as error:
        raise ModelLoadError(
            f"{model_path.name} holds a pipeline that was never fitted", culprit=model_path
        ) from error
    fitted_on = [str(name) for name in getattr(pipeline, "feature_names_in_", [])]
    if fitted_on == list(features):
        return
    missing = [name for name in features if name not in fitted_on]
    unknown = [name for name in fitted_on if name not in features]
    if missing or unknown:
        differences = "; ".join(
            f"{label} {_first_few(names)}"
            for label, names in (("lacks", missing), ("adds", unknown))
            if names
        )
        reason = f"other columns than this package's features ({differences})"
    else:
        reason = "this package's features in another order"
    raise ModelLoadError(
        f"{model_path.name} holds a pipeline fitted on {reason}; {_retrain_advice()}",
        culprit=model_path,
    )


def _first_few(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_FEATURES_SHOWN])
    more = len(names) - _FEATURES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _unpickle(model_path: Path) -> Pipeline:
    # Imported here: scikit-learn loads with the first model, not with regression_model.predict.
    import joblib
    from sklearn.exceptions import InconsistentVersionWarning
    from sklearn.pipeline import Pipeline

    # joblib is pickle: load only files this package wrote, which the sha256 check confirms.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", InconsistentVersionWarning)
            loaded: Any = joblib.load(model_path)
    except InconsistentVersionWarning as warning:
        raise ModelLoadError(
            f"{model_path.name} was pickled by scikit-learn {warning.original_sklearn_version}, "
            f"this is {warning.current_sklearn_version}; {_retrain_advice()}",
            culprit=model_path,
        ) from warning
    except OSError as error:
        raise ModelLoadError(
            f"cannot read model file {model_path}: {_reason(error)}", culprit=model_path
        ) from error
    except Exception as error:  # any unpickling failure means the same thing to the caller
        raise ModelLoadError(
            f"{model_path.name} could not be loaded: {type(error).__name__}: {_reason(error)}",
            culprit=model_path,
        ) from error
    if not isinstance(loaded, Pipeline):
        raise ModelLoadError(
            f"{model_path.name} holds a {type(loaded).__name__}, not a Pipeline",
            culprit=model_path,
        )
    return loaded
