"""Read datasets, write and read the trained pipeline and its metadata. Files only."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import warnings
from pathlib import Path
from typing import Any

import feature_engine
import joblib
import numpy as np
import pandas as pd
import sklearn
from pydantic import BaseModel, ConfigDict, ValidationError
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.pipeline import Pipeline

from regression_model import __version__
from regression_model.config.core import DATASET_DIR, PACKAGE_ROOT, TRAINED_MODEL_DIR, Config
from regression_model.processing.domain import TrainingDomain

logger = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """The trained pipeline cannot be used: corrupt, tampered with, or from another version."""


class ModelNotFoundError(ModelLoadError, FileNotFoundError):
    """No trained pipeline exists for this package version."""


class ModelMetadata(BaseModel):
    """What a trained pipeline was made from and how well it scored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package_version: str
    model_file: str
    model_sha256: str
    training_data_file: str
    training_data_sha256: str
    metrics: dict[str, float]
    versions: dict[str, str]
    domain: TrainingDomain
    # What the model was made from (see training_fingerprint); None for a model saved
    # without one, which training then never takes for up to date.
    fingerprint: str | None = None


def load_dataset(*, file_name: str, dataset_dir: Path = DATASET_DIR) -> pd.DataFrame:
    """Read a CSV file shipped in ``datasets/``; empty cells and "NA" become missing."""
    return pd.read_csv(dataset_dir / file_name)


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
    """
    digest = hashlib.sha256()
    digest.update(config.model_dump_json().encode())
    digest.update(file_sha256(training_data).encode())
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
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "feature-engine": feature_engine.__version__,
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
    )
    metadata_path(model_path).write_text(metadata.model_dump_json(indent=2) + "\n")
    logger.debug("saved pipeline to %s", model_path)
    return model_path


def load_metadata(*, model_path: Path) -> ModelMetadata:
    """Read the metadata written beside a model file."""
    path = metadata_path(model_path)
    try:
        return ModelMetadata.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ModelLoadError(f"model metadata {path} is missing; retrain the model") from error
    except ValidationError as error:
        raise ModelLoadError(f"model metadata {path} is unreadable: {error}") from error


def load_pipeline(*, pipeline_name: str, model_dir: Path = TRAINED_MODEL_DIR) -> Pipeline:
    """Load the trained pipeline of this package version, after checking it is intact.

    Raises
    ------
    ModelNotFoundError
        If no model was trained for this version; the message says how to train one.
    ModelLoadError
        If the metadata names another version, the file's sha256 differs from the one
        recorded at training, the file cannot be unpickled, or it was pickled by another
        scikit-learn version.
    """
    model_path = model_dir / artifact_name(pipeline_name=pipeline_name)
    if not model_path.is_file():
        raise ModelNotFoundError(
            f"No trained model at {model_path}. Train one with `tox -e train` "
            "(or `python -m regression_model.train_pipeline`)."
        )
    metadata = load_metadata(model_path=model_path)
    if metadata.package_version != __version__:
        raise ModelLoadError(
            f"{model_path.name} was trained by version {metadata.package_version}, "
            f"this is version {__version__}; retrain the model"
        )
    actual_sha256 = file_sha256(model_path)
    if actual_sha256 != metadata.model_sha256:
        raise ModelLoadError(
            f"{model_path.name} does not match its metadata (sha256 {actual_sha256}, "
            f"expected {metadata.model_sha256}); the file is corrupt or was replaced"
        )
    return _unpickle(model_path)


def _unpickle(model_path: Path) -> Pipeline:
    # joblib is pickle: load only files this package wrote, which the sha256 check confirms.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", InconsistentVersionWarning)
            loaded: Any = joblib.load(model_path)
    except InconsistentVersionWarning as warning:
        raise ModelLoadError(
            f"{model_path.name} was pickled by scikit-learn {warning.original_sklearn_version}, "
            f"this is {warning.current_sklearn_version}; retrain the model"
        ) from warning
    except Exception as error:  # any unpickling failure means the same thing to the caller
        raise ModelLoadError(f"{model_path.name} could not be loaded: {error!r}") from error
    if not isinstance(loaded, Pipeline):
        raise ModelLoadError(f"{model_path.name} holds a {type(loaded).__name__}, not a Pipeline")
    return loaded
