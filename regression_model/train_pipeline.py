"""Train the pipeline, measure it on held-out rows and save it.

Run as ``python -m regression_model.train_pipeline`` (``tox -e train`` does).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import Pipeline

from regression_model.config.core import DATASET_DIR, TRAINED_MODEL_DIR, Config, get_config
from regression_model.pipeline import build_pipeline
from regression_model.processing.data_manager import load_dataset, save_pipeline
from regression_model.processing.validation import validate_records

logger = logging.getLogger(__name__)

CV_FOLDS = 5


def regression_metrics(
    *, y_true: npt.ArrayLike, y_pred: npt.ArrayLike, prefix: str
) -> dict[str, float]:
    """RMSE in dollars, RMSE of log prices and R² of prices, keyed ``<prefix>_<metric>``."""
    true, pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return {
        f"{prefix}_rmse": float(np.sqrt(mean_squared_error(true, pred))),
        f"{prefix}_rmse_log": float(np.sqrt(mean_squared_error(np.log(true), np.log(pred)))),
        f"{prefix}_r2": float(r2_score(true, pred)),
    }


def load_training_data(*, config: Config, dataset_dir: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Read the training set and pass it through the same validation as scoring traffic.

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
    target = raw[config.model.target].astype("float64")
    if not (target > 0).all():
        raise ValueError(f"{config.model.target} must be a positive price in every row")
    return validated.frame, target


def cross_validate_log_rmse(
    *, pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, random_state: int
) -> list[float]:
    """RMSE of log prices on each of ``CV_FOLDS`` shuffled folds.

    The whole pipeline is cloned and refit in every fold, so nothing it learns (imputation
    values, encodings, scaling) sees the fold it is scored on.
    """
    folds = KFold(n_splits=CV_FOLDS, shuffle=True, random_state=random_state)
    scores = []
    for train_index, test_index in folds.split(X):
        fold_model = clone(pipeline).fit(X.iloc[train_index], y.iloc[train_index])
        predicted = fold_model.predict(X.iloc[test_index])
        true = y.iloc[test_index].to_numpy()
        scores.append(float(np.sqrt(mean_squared_error(np.log(true), np.log(predicted)))))
    return scores


def run_training(
    *,
    config: Config | None = None,
    dataset_dir: Path = DATASET_DIR,
    model_dir: Path = TRAINED_MODEL_DIR,
) -> Path:
    """Fit the pipeline, report its holdout and cross-validated scores, and save it.

    The holdout and the folds measure the procedure; the saved pipeline is then refit on
    every training row, so that no labelled house is left unused.

    Returns
    -------
    Path
        The saved model file.
    """
    config = get_config() if config is None else config
    settings = config.model
    X, y = load_training_data(config=config, dataset_dir=dataset_dir)

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=settings.test_size, random_state=settings.random_state
    )
    holdout_model = build_pipeline(settings).fit(X_train, y_train)
    metrics = regression_metrics(
        y_true=y_test, y_pred=holdout_model.predict(X_test), prefix="holdout"
    )

    fold_scores = cross_validate_log_rmse(
        pipeline=build_pipeline(settings), X=X, y=y, random_state=settings.random_state
    )
    metrics["cv_rmse_log_mean"] = float(np.mean(fold_scores))
    metrics["cv_rmse_log_std"] = float(np.std(fold_scores))

    for name, value in metrics.items():
        logger.info("%s: %.4f", name, value)

    final_model = build_pipeline(settings).fit(X, y)
    return save_pipeline(
        pipeline=final_model,
        pipeline_name=config.app.pipeline_name,
        training_data=dataset_dir / config.app.training_data_file,
        metrics=metrics,
        model_dir=model_dir,
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_training()
