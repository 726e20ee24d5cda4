"""Train the pipeline, measure it honestly, save it with its metadata and model card.

Run as ``python -m regression_model.train_pipeline`` (``tox -e train`` does). Training skips
itself when the model of this version was made from the same config, training data, package
source and libraries; ``--force`` retrains anyway.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import Pipeline

from regression_model import __version__
from regression_model.array_types import FloatArray
from regression_model.config.core import (
    DATASET_DIR,
    TRAINED_MODEL_DIR,
    Config,
    ModelSettings,
    check_training_settings,
    get_config,
)
from regression_model.drift import profile_path, write_profile
from regression_model.pipeline import build_pipeline
from regression_model.processing.data_manager import (
    ModelLoadError,
    artifact_name,
    file_sha256,
    load_dataset,
    load_metadata,
    save_pipeline,
    training_fingerprint,
)
from regression_model.processing.domain import learn_domain
from regression_model.processing.intervals import calibrate_intervals
from regression_model.processing.validation import validate_records
from regression_model.report import has_matplotlib, write_report

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold predictions, the fold each row was predicted in, and each fold's RMSE."""

    fold_scores: list[float]
    predictions: FloatArray
    folds: npt.NDArray[np.intp]

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_scores))


def rmse_log(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Root mean squared error between the logs of true and predicted prices."""
    true, pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return float(np.sqrt(mean_squared_error(np.log(true), np.log(pred))))


def regression_metrics(
    *, y_true: npt.ArrayLike, y_pred: npt.ArrayLike, prefix: str
) -> dict[str, float]:
    """RMSE in dollars, RMSE of log prices and R² of prices, keyed ``<prefix>_<metric>``."""
    true, pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return {
        f"{prefix}_rmse": float(np.sqrt(mean_squared_error(true, pred))),
        f"{prefix}_rmse_log": rmse_log(true, pred),
        f"{prefix}_r2": float(r2_score(true, pred)),
    }


def load_training_data(*, config: Config, dataset_dir: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Read the training set through the same validation as scoring traffic.

    Returns the validated features and the target, both indexed by row position.

    Raises
    ------
    ValueError
        If any training row breaks the input schema or lacks a positive target: the schema
        must accept every row the model learns from.
    """
    raw = load_dataset(file_name=config.app.training_data_file, dataset_dir=dataset_dir)
    validated = validate_records(records=raw, schema=config.model.inputs)
    if validated.errors:
        shown = "\n".join(f"  row {e.row}: {e.message}" for e in validated.errors[:10])
        raise ValueError(f"{len(validated.errors)} problems in the training data:\n{shown}")
    target = raw[config.model.target].astype("float64").reset_index(drop=True)
    if not (target > 0).all():
        raise ValueError(f"{config.model.target} must be a positive price in every row")
    return validated.frame, target


def drop_training_outliers(
    X: pd.DataFrame, y: pd.Series, *, settings: ModelSettings
) -> tuple[pd.DataFrame, pd.Series]:
    """Remove the rows the configured outlier rule names. Training only, never at scoring."""
    rule = settings.training_outliers
    is_outlier = (X[rule.variable] > rule.above) & (y < rule.target_below)
    logger.debug("dropping %d training outliers (%s)", int(is_outlier.sum()), rule)
    return X[~is_outlier].reset_index(drop=True), y[~is_outlier].reset_index(drop=True)


def cross_validate(
    *, pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, folds: int, random_state: int
) -> CrossValidation:
    """Score ``pipeline`` on shuffled folds, cloning and refitting it in every fold.

    Everything the pipeline learns (imputation values, rare labels, encodings, scaling, the
    estimator) is learned again from each fold's training rows only, so nothing from the
    rows a fold is scored on leaks into it.
    """
    splitter = KFold(n_splits=folds, shuffle=True, random_state=random_state)
    predictions = np.empty(len(y))
    fold_of_row = np.empty(len(y), dtype=np.intp)
    scores = []
    for fold, (train_rows, test_rows) in enumerate(splitter.split(X)):
        fold_model = clone(pipeline).fit(X.iloc[train_rows], y.iloc[train_rows])
        predictions[test_rows] = fold_model.predict(X.iloc[test_rows])
        fold_of_row[test_rows] = fold
        scores.append(rmse_log(y.iloc[test_rows], predictions[test_rows]))
    return CrossValidation(fold_scores=scores, predictions=predictions, folds=fold_of_row)


def find_current_model(*, model_dir: Path, pipeline_name: str, fingerprint: str) -> Path | None:
    """The saved model of this version, if it is intact and was made from ``fingerprint``.

    The files beside it must be there too: the model card and the input profile (for
    ``regression-model drift``) always, and the figure wherever
    matplotlib could draw it, so that a wheel built after a skipped training still ships
    them.

    Returns
    -------
    Path or None
        The model file, or None when training has to run.
    """
    model_path = model_dir / artifact_name(pipeline_name=pipeline_name)
    if not model_path.is_file():
        return None
    try:
        metadata = load_metadata(model_path=model_path)
    except ModelLoadError:
        return None
    report_files = [model_path.with_suffix(".md"), profile_path(model_path)]
    if has_matplotlib():
        report_files.append(model_path.with_suffix(".png"))
    is_current = (
        metadata.package_version == __version__
        and metadata.fingerprint == fingerprint
        and metadata.model_sha256 == file_sha256(model_path)
        and all(path.is_file() for path in report_files)
    )
    return model_path if is_current else None


def run_training(
    *,
    config: Config | None = None,
    dataset_dir: Path = DATASET_DIR,
    model_dir: Path = TRAINED_MODEL_DIR,
    force: bool = False,
) -> Path:
    """Fit the pipeline, report its holdout and cross-validated scores, and save it.

    The outlier rule removes its rows before anything else, so the holdout and the folds
    score the houses the model is meant for. They measure the procedure; the saved
    pipeline is then refit on every remaining training row.

    Parameters
    ----------
    config : Config, default=None
        The configuration to train with; None uses the packaged one.
    dataset_dir : Path, default=the packaged datasets
        Where the training data file is.
    model_dir : Path, default=the package's trained_models folder
        Where the model, its metadata, model card and figure are written.
    force : bool, default=False
        Retrain even when the saved model of this version was made from the same config,
        training data, package source and libraries (see ``find_current_model``).

    Returns
    -------
    Path
        The saved model file; its metadata, input profile, model card and figure lie beside
        it.
    """
    started = time.perf_counter()
    config = get_config() if config is None else config
    settings = config.model
    training_data = dataset_dir / config.app.training_data_file
    fingerprint = training_fingerprint(config=config, training_data=training_data)
    current_model = find_current_model(
        model_dir=model_dir, pipeline_name=config.app.pipeline_name, fingerprint=fingerprint
    )
    if current_model is not None and not force:
        logger.info(
            "%s is up to date with the config, training data and package source; "
            "not retrained (pass --force to retrain)",
            current_model,
        )
        return current_model
    X, y = drop_training_outliers(
        *load_training_data(config=config, dataset_dir=dataset_dir), settings=settings
    )
    check_training_settings(settings=settings, n_rows=len(y))

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=settings.test_size, random_state=settings.random_state
    )
    holdout_model = build_pipeline(settings).fit(X_train, y_train)
    metrics = regression_metrics(
        y_true=y_test, y_pred=holdout_model.predict(X_test), prefix="holdout"
    )

    cv = cross_validate(
        pipeline=build_pipeline(settings),
        X=X,
        y=y,
        folds=settings.cv_folds,
        random_state=settings.random_state,
    )
    metrics.update(
        cv_folds=settings.cv_folds,
        cv_rmse_log_mean=cv.mean,
        cv_rmse_log_std=cv.std,
        **{f"cv_rmse_log_fold_{i}": score for i, score in enumerate(cv.fold_scores, 1)},
        training_rows=len(y),
    )

    # Prediction intervals come from the folds' out-of-fold residuals: no extra model fits.
    calibration = calibrate_intervals(
        features=X,
        y=y,
        predictions=cv.predictions,
        folds=cv.folds,
        numeric_columns=settings.inputs.numeric_columns,
        settings=settings.intervals,
    )

    final_model = build_pipeline(settings).fit(X, y)
    metrics["training_seconds"] = time.perf_counter() - started
    for name, value in metrics.items():
        logger.info("%-20s %s", name, _format_metric(value))
    model_path = save_pipeline(
        pipeline=final_model,
        pipeline_name=config.app.pipeline_name,
        training_data=training_data,
        metrics=metrics,
        domain=learn_domain(pipeline=final_model, features=X, schema=settings.inputs),
        model_dir=model_dir,
        fingerprint=fingerprint,
        intervals=calibration.intervals,
    )
    write_profile(features=X, config=config, model_path=model_path)
    report_files = write_report(
        model_path=model_path,
        metadata=load_metadata(model_path=model_path),
        config=config,
        y_true=y.to_numpy(),
        y_pred=cv.predictions,
        held_out_intervals=calibration,
    )
    beside = ", ".join(
        path.name
        for path in [model_path.with_suffix(".json"), profile_path(model_path), *report_files]
    )
    logger.info("wrote %s, and beside it %s", model_path, beside)
    return model_path


def _format_metric(value: float) -> str:
    # Counts (folds, rows) are whole numbers and read best without decimals.
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.4f}"


def main(argv: list[str] | None = None) -> None:
    """Train from the command line: ``python -m regression_model.train_pipeline [--force]``."""
    parser = argparse.ArgumentParser(
        prog="python -m regression_model.train_pipeline",
        description="Train the model and save it, with its metadata, model card and figure.",
    )
    parser.add_argument(
        "--force", action="store_true", help="retrain even when the saved model is up to date"
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_training(force=arguments.force)


if __name__ == "__main__":
    main()
