"""Cross-validate each estimator the config offers, on the package's own pipeline.

Run: ``python benchmarks/compare_estimators.py`` (after ``pip install -e .``). Prints a
Markdown table (the README's "Accuracy" table) and writes benchmarks/results/estimators.json.
Each row refits the whole pipeline in every fold, exactly as training does.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from regression_model.config.core import DATASET_DIR, ModelSettings, get_config
from regression_model.pipeline import build_pipeline
from regression_model.train_pipeline import (
    cross_validate,
    drop_training_outliers,
    load_training_data,
)

RESULTS = Path(__file__).resolve().parent / "results" / "estimators.json"
SEEDS = (0, 1, 2)
CANDIDATES: dict[str, dict[str, object]] = {
    "lasso": {"estimator": "lasso"},
    "elastic_net": {"estimator": "elastic_net"},
    "gradient_boosting": {"estimator": "gradient_boosting"},
    "hist_gradient_boosting": {"estimator": "hist_gradient_boosting"},
    "blend: lasso + hist_gradient_boosting": {
        "estimator": "blend",
        "blend": ("lasso", "hist_gradient_boosting"),
    },
    "blend: lasso + gradient_boosting": {
        "estimator": "blend",
        "blend": ("lasso", "gradient_boosting"),
    },
}


def main() -> None:
    config = get_config()
    X, y = drop_training_outliers(
        *load_training_data(config=config, dataset_dir=DATASET_DIR), settings=config.model
    )
    rows = []
    for name, update in CANDIDATES.items():
        settings = ModelSettings.model_validate({**config.model.model_dump(), **update})
        started = time.perf_counter()
        runs = [
            cross_validate(
                pipeline=build_pipeline(settings),
                X=X,
                y=y,
                folds=settings.cv_folds,
                random_state=seed,
            )
            for seed in SEEDS
        ]
        seconds = (time.perf_counter() - started) / len(SEEDS)
        rows.append(
            {
                "estimator": name,
                "cv_rmse_log": {seed: round(run.mean, 4) for seed, run in zip(SEEDS, runs)},
                "cv_rmse_log_std": {seed: round(run.std, 4) for seed, run in zip(SEEDS, runs)},
                "mean_over_seeds": round(sum(run.mean for run in runs) / len(runs), 4),
                "cv_seconds": round(seconds, 1),
            }
        )
        print(f"{name}: {rows[-1]}", flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    print("\n| estimator | 5-fold CV RMSE of log price, seeds 0 / 1 / 2 | mean | CV time |")
    print("|---|---|---|---|")
    for row in rows:
        scores: dict[int, float] = row["cv_rmse_log"]  # type: ignore[assignment]
        per_seed = " / ".join(f"{score:.4f}" for score in scores.values())
        print(
            f"| {row['estimator']} | {per_seed} | {row['mean_over_seeds']:.4f} "
            f"| {row['cv_seconds']:.0f} s |"
        )


if __name__ == "__main__":
    main()
