"""Choose the tree engine by measurement: every candidate on the same matrix, in one run.

Run from the repository root (``pip install -r requirements/engines_bench_requirements.txt``
first, for the candidates the package does not depend on)::

    python benchmarks/compare_engines.py              # 100,000 rows, 2 x 5-fold CV
    python benchmarks/compare_engines.py --repeats 5  # the accuracy issue's 5 x 5-fold

The model matrix is what the shipped pipeline's feature steps make of test.csv, repeated to
``--rows`` rows. Each candidate boosting member is trained on the matrix of every training
row, with the settings in ``config.yml`` (scikit-learn's and XGBoost's) or the nearest
LightGBM ones, and then timed scoring the same rows:

- scikit-learn's ``GradientBoostingRegressor.predict`` (the 2.0.0 model's member);
- the same fitted trees imported by treelite and compiled to C by tl2cgen with gcc;
- LightGBM's and XGBoost's own predictors, on one thread and on two.

Accuracy: each member blended with the Lasso, as ``config.yml`` blends, scored by repeated
5-fold cross-validation on ``compare_models.py``'s folds (RMSE of log price, mean and
spread over repeats), and the paired difference against the 2.0.0 blend. Figures go to
``benchmarks/results/compare_engines.json`` with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from compare_models import CANDIDATES, REFERENCE, cross_validate_candidates
from machine import describe
from sklearn.ensemble import VotingRegressor
from sklearn.pipeline import Pipeline

from regression_model.config.core import DATASET_DIR, ModelSettings, get_config
from regression_model.pipeline import build_estimator, build_pipeline
from regression_model.processing.boosted_trees import XGBoostTreesRegressor
from regression_model.train_pipeline import drop_training_outliers, load_training_data

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "benchmarks" / "results" / "compare_engines.json"


def _lightgbm_member(seed: int) -> Any:
    import lightgbm

    trees = get_config().model.xgboost
    return lightgbm.LGBMRegressor(
        n_estimators=trees.n_estimators,
        learning_rate=trees.learning_rate,
        max_depth=trees.max_depth,
        num_leaves=2**trees.max_depth,
        min_child_samples=10,
        subsample=trees.subsample,
        subsample_freq=1,
        colsample_bytree=trees.colsample_bytree,
        reg_lambda=trees.reg_lambda,
        random_state=seed,
        n_jobs=1,
        deterministic=True,
        verbose=-1,
    )


def _best_seconds(run: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _speed(predict: Callable[[Any], object], matrix: Any) -> dict[str, float]:
    one = matrix[:1]
    calls = 200
    return {
        "rows_per_s": len(matrix) / _best_seconds(lambda: predict(matrix)),
        "one_row_us": 1e6 * _best_seconds(lambda: [predict(one) for _ in range(calls)]) / calls,
    }


def measure_speed(features: Any, log_price: Any, rows: Any) -> dict[str, dict[str, float]]:
    settings = get_config().model
    seed = settings.random_state
    gradient_boosting = build_estimator(settings, "gradient_boosting").fit(features, log_price)
    xgboost_trees = XGBoostTreesRegressor(**settings.xgboost.model_dump(), random_state=seed)
    xgboost_trees.fit(features, log_price)
    lightgbm_model = _lightgbm_member(seed).fit(features, log_price)
    rows32 = np.ascontiguousarray(rows, dtype=np.float32)
    results = {"scikit-learn GradientBoosting": _speed(gradient_boosting.predict, rows)}

    import tl2cgen
    import treelite

    with tempfile.TemporaryDirectory() as scratch:
        library = Path(scratch) / "forest.so"
        forest = treelite.sklearn.import_model(gradient_boosting)
        tl2cgen.export_lib(forest, toolchain="gcc", libpath=str(library), params={})
        for threads in (1, 2):
            compiled = tl2cgen.Predictor(str(library), nthread=threads)
            results[f"treelite + tl2cgen, {threads} thread(s)"] = _speed(
                lambda m, c=compiled: c.predict(tl2cgen.DMatrix(m)), rows
            )
        gtil_model = forest
        for threads in (1, 2):
            results[f"treelite gtil, {threads} thread(s)"] = _speed(
                lambda m, t=threads: treelite.gtil.predict(gtil_model, m, nthread=t), rows
            )

    booster = lightgbm_model.booster_
    for threads in (1, 2):
        results[f"LightGBM, {threads} thread(s)"] = _speed(
            lambda m, t=threads: booster.predict(m, num_threads=t), rows
        )
    raw = xgboost_trees._loaded_booster()
    for threads in (1, 2):
        raw.set_param({"nthread": threads})
        results[f"XGBoost, {threads} thread(s)"] = _speed(
            lambda m: raw.inplace_predict(m, validate_features=False), rows32
        )
    raw.set_param({"nthread": 1})
    results["XGBoost's trees walked in numpy (small batches, fallback)"] = _speed(
        xgboost_trees.walk, rows32[:20_000]
    )
    return results


def measure_accuracy(*, repeats: int) -> dict[str, Any]:
    """Each boosting member blended with the Lasso, on compare_models.py's folds."""

    def with_lightgbm(settings: ModelSettings) -> Any:
        lasso = build_estimator(settings, "lasso")
        return VotingRegressor([("lasso", lasso), ("trees", _lightgbm_member(settings.random_state))])

    candidates = {
        name: CANDIDATES[name]
        for name in (REFERENCE, "lasso + xgboost", "lasso + xgboost, trimmed (config.yml)")
    }
    candidates["lasso + lightgbm"] = with_lightgbm
    return cross_validate_candidates(repeats=repeats, candidates=candidates)["candidates"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    arguments = parser.parse_args()
    config = get_config()
    X, y = drop_training_outliers(
        *load_training_data(config=config, dataset_dir=DATASET_DIR), settings=config.model
    )
    features = Pipeline(build_pipeline(config.model).steps[:-1]).fit(X, y)
    matrix = np.ascontiguousarray(features.transform(X), dtype=np.float64)
    rng = np.random.default_rng(config.model.random_state)
    rows = np.ascontiguousarray(matrix[rng.integers(0, len(matrix), arguments.rows)])
    results = {
        "machine": describe(),
        "load_average_before": os.getloadavg(),
        "rows": arguments.rows,
        "speed": measure_speed(matrix, np.log(y.to_numpy()), rows),
        "accuracy": measure_accuracy(repeats=arguments.repeats),
        "load_average_after": os.getloadavg(),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for name, figures in results["speed"].items():
        print(f"{name:55s} {figures['rows_per_s']:>12,.0f} rows/s {figures['one_row_us']:>8.0f} us")
    for name, figures in results["accuracy"].items():
        print(
            f"{name:40s} CV {figures['rmse_log_mean']:.4f} ± {figures['rmse_log_spread']:.4f}"
            f"  better by {figures['better_than_reference_by']:+.4f}"
            f" ± {figures['difference_spread']:.4f}"
        )


if __name__ == "__main__":
    main()
