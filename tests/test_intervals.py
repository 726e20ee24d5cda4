"""Prediction intervals: calibrated at training, carried by the saved model, measured honestly."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.model_selection import train_test_split

from regression_model.batch import check_no_output_columns
from regression_model.config.core import TRAINED_MODEL_DIR, Config
from regression_model.predict import make_prediction
from regression_model.processing.data_manager import (
    artifact_name,
    load_metadata,
    load_pipeline,
)
from regression_model.processing.intervals import (
    IntervalCalibration,
    calibrate_intervals,
    conformal_quantile,
)
from regression_model.processing.validation import validate_records
from regression_model.results import PredictionResult
from regression_model.train_pipeline import drop_training_outliers, run_training

# The tolerance: measured coverage within 3 points of the nominal level.
COVERAGE_TOLERANCE = 0.03
# House 2550 in test.csv: 5,095 sq ft, a partial sale, far outside the training data.
UNUSUAL_HOUSE_ID = 2550


@pytest.fixture(scope="module")
def held_out_training(
    config: Config, train_records: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, pd.DataFrame]:
    """A model trained on half of train.csv in a tmp dir, and the other half's raw records."""
    used, held_out = train_test_split(
        train_records, test_size=0.5, random_state=config.model.random_state
    )
    directory = tmp_path_factory.mktemp("half_trained")
    used.to_csv(directory / config.app.training_data_file, index=False)
    run_training(config=config, dataset_dir=directory, model_dir=directory)
    return directory, held_out.reset_index(drop=True)


def _ends(result: PredictionResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prices, lower and upper ends as float arrays, NaN where a row has none."""
    assert result.lower is not None and result.upper is not None
    return tuple(  # type: ignore[return-value]
        np.array(values, dtype=np.float64)
        for values in (result.predictions, result.lower, result.upper)
    )


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95], ids=["80%", "90%", "95%"])
def test_every_interval_holds_its_prediction(test_records: pd.DataFrame, level: float) -> None:
    # Given every house of test.csv
    # When they are priced with an interval
    result = make_prediction(input_data=test_records, interval=level)

    # Then each priced row's range is positive and holds its price
    prices, lower, upper = _ends(result)
    is_priced = ~np.isnan(prices)
    assert is_priced.sum() > 0.9 * len(test_records)
    assert (lower[is_priced] > 0).all()
    assert (lower[is_priced] <= prices[is_priced]).all()
    assert (prices[is_priced] <= upper[is_priced]).all()
    assert (lower[is_priced] < upper[is_priced]).all()


def test_interval_ends_are_none_exactly_where_rows_have_errors(
    config: Config, raw_records: pd.DataFrame
) -> None:
    # Given records with a negative area in row 3 and no neighbourhood in row 7
    area, required = config.model.inputs.numeric["areas"].columns[0], "Neighborhood"
    raw_records.loc[3, area] = -1.0
    raw_records.loc[7, required] = None

    # When they are priced with an interval
    result = make_prediction(input_data=raw_records, interval=0.9)

    # Then the ends line up with the predictions: None exactly where the row has errors
    assert result.lower is not None and result.upper is not None
    assert len(result.lower) == len(result.upper) == len(raw_records)
    unpriced = [row for row, price in enumerate(result.predictions) if price is None]
    assert unpriced == [3, 7]
    assert [row for row, end in enumerate(result.lower) if end is None] == unpriced
    assert [row for row, end in enumerate(result.upper) if end is None] == unpriced
    assert sorted({error.row for error in result.errors}) == unpriced


def test_without_an_interval_the_result_is_unchanged(raw_records: pd.DataFrame) -> None:
    # When the same records are priced with and without an interval
    plain = make_prediction(input_data=raw_records)
    with_interval = make_prediction(input_data=raw_records, interval=0.9)

    # Then without one there are no ends, and the prices, errors and warnings are the same
    assert plain.lower is None and plain.upper is None
    assert with_interval.predictions == plain.predictions
    assert with_interval.errors == plain.errors
    assert with_interval.warnings == plain.warnings


def test_intervals_are_reproducible(raw_records: pd.DataFrame) -> None:
    # When the same records are priced twice, once as a whole and once row by row
    first = make_prediction(input_data=raw_records, interval=0.9)
    second = make_prediction(input_data=raw_records, interval=0.9)
    row_by_row = [
        make_prediction(input_data=raw_records.iloc[[row]], interval=0.9) for row in range(5)
    ]

    # Then the ranges are identical, and a row's range does not depend on its batch
    assert first.lower == second.lower and first.upper == second.upper
    assert first.lower is not None and first.upper is not None
    for row, single in enumerate(row_by_row):
        assert single.lower is not None and single.upper is not None
        assert single.lower[0] == pytest.approx(first.lower[row], rel=1e-9)
        assert single.upper[0] == pytest.approx(first.upper[row], rel=1e-9)


def test_wider_levels_give_nested_intervals(raw_records: pd.DataFrame, config: Config) -> None:
    # When the same records are priced at every calibrated level, narrowest first
    levels = sorted(config.model.intervals.levels)
    ends = [_ends(make_prediction(input_data=raw_records, interval=level)) for level in levels]

    # Then each level's range contains the one before
    for (_, narrow_lower, narrow_upper), (_, wide_lower, wide_upper) in zip(ends, ends[1:]):
        assert (wide_lower <= narrow_lower).all() and (narrow_upper <= wide_upper).all()


@pytest.mark.parametrize("level", [0.85, 0.5, 1.0, 90.0], ids=["between", "low", "one", "percent"])
def test_an_uncalibrated_level_is_a_value_error_naming_the_calibrated_ones(
    raw_records: pd.DataFrame, config: Config, level: float
) -> None:
    # Given the levels config.yml calibrates
    calibrated = ", ".join(f"{known:g}" for known in config.model.intervals.levels)

    # When another level is asked for, then the error names the calibrated ones
    with pytest.raises(ValueError, match=re.escape(f"the calibrated levels are {calibrated}")):
        make_prediction(input_data=raw_records, interval=level)


def test_an_unusual_house_gets_a_wider_interval_than_typical_houses(
    config: Config, test_records: pd.DataFrame
) -> None:
    """Check that the interval adapts: house 2550, far outside the training data, is wider."""
    # When test.csv is priced with 90% intervals
    result = make_prediction(input_data=test_records, interval=0.9)
    prices, lower, upper = _ends(result)
    relative_width = (upper - lower) / prices

    # Then house 2550 is priced, warned about, and its range is far wider than the median's
    row = int(np.flatnonzero(test_records[config.model.id_column] == UNUSUAL_HOUSE_ID)[0])
    assert row in {warning.row for warning in result.warnings}
    assert relative_width[row] > 2 * np.nanmedian(relative_width)


def test_coverage_on_held_out_rows_is_within_tolerance(
    config: Config, held_out_training: tuple[Path, pd.DataFrame]
) -> None:
    """Check the promise itself: on rows the model never saw, ranges hold the price as often
    as their level says, within 3 points."""
    # Given a model trained on half of train.csv, and the other half (minus the outliers the
    # model is not meant for: the partial sales of very large new houses)
    model_dir, held_out = held_out_training
    pipeline = load_pipeline(pipeline_name=config.app.pipeline_name, model_dir=model_dir)
    metadata = load_metadata(
        model_path=model_dir / artifact_name(pipeline_name=config.app.pipeline_name)
    )
    assert metadata.intervals is not None
    validated = validate_records(records=held_out, schema=config.model.inputs)
    target = held_out[config.model.target].astype("float64")
    features, prices = drop_training_outliers(validated.frame, target, settings=config.model)

    # When the held-out half is priced with every calibrated level
    predictions = pipeline.predict(features)
    for level in config.model.intervals.levels:
        lower, upper = metadata.intervals.bounds(frame=features, prices=predictions, level=level)
        coverage = float(np.mean((lower <= prices) & (prices <= upper)))

        # Then the share of prices in range is the level, within tolerance
        assert coverage == pytest.approx(level, abs=COVERAGE_TOLERANCE), level


def test_training_records_the_measured_coverage_of_every_level(
    config: Config, held_out_training: tuple[Path, pd.DataFrame]
) -> None:
    # Given the metadata and model card of a model trained in a tmp dir
    model_dir, _ = held_out_training
    model_path = model_dir / artifact_name(pipeline_name=config.app.pipeline_name)
    intervals = load_metadata(model_path=model_path).intervals
    card = model_path.with_suffix(".md").read_text(encoding="utf-8")

    # Then every configured level is recorded, measured within tolerance, in both
    assert intervals is not None
    assert intervals.calibrated_levels == config.model.intervals.levels
    assert "## Prediction intervals" in card
    for level in intervals.levels:
        assert level.coverage == pytest.approx(level.level, abs=COVERAGE_TOLERANCE)
        assert 0 < level.median_relative_width < 1
        assert (
            f"| {level.level:.0%} | {level.coverage:.1%} | {level.median_relative_width:.1%} |"
            in card
        )


@pytest.mark.parametrize(
    ("n_scores", "level", "expected"),
    [(9, 0.8, 8.0), (9, 0.5, 5.0), (99, 0.9, 90.0), (19, 0.95, 19.0)],
    ids=["9-at-80%", "9-at-50%", "99-at-90%", "19-at-95%"],
)
def test_conformal_quantile_is_the_finite_sample_rank(
    n_scores: int, level: float, expected: float
) -> None:
    # Given the scores 1..n, shuffled
    scores = np.random.default_rng(0).permutation(np.arange(1.0, n_scores + 1))

    # Then the quantile is the ceil((n + 1) * level)-th smallest
    assert conformal_quantile(scores, level) == expected
    assert expected == math.ceil((n_scores + 1) * level)


def test_conformal_quantile_refuses_too_few_scores() -> None:
    # Given 9 scores, too few for a 95% range (it would need the 10th smallest)
    # Then the quantile is refused, not taken as the largest
    with pytest.raises(ValueError, match="too few for level 0.95"):
        conformal_quantile(np.arange(1.0, 10.0), 0.95)


def test_calibration_is_reproducible_and_learns_only_from_its_rows(config: Config) -> None:
    """Check that calibrating twice gives the same result, and that each fold's held-out
    ranges do not depend on that fold's own prices."""
    # Given synthetic rows whose error grows with the first numeric input
    rng = np.random.default_rng(config.model.random_state)
    columns = config.model.inputs.numeric_columns[:3]
    n_rows = 600
    features = pd.DataFrame({name: rng.uniform(1, 100, n_rows) for name in columns})
    predictions = rng.uniform(1e5, 3e5, n_rows)
    noise = rng.normal(0, 0.02 + features[columns[0]].to_numpy() / 1000)
    prices = pd.Series(predictions * np.exp(noise))
    folds = np.arange(n_rows) % 5

    def calibrate(y: pd.Series) -> tuple[IntervalCalibration, np.ndarray]:
        calibration = calibrate_intervals(
            features=features,
            y=y,
            predictions=predictions,
            folds=folds,
            numeric_columns=columns,
            settings=config.model.intervals,
        )
        return calibration.intervals, calibration.held_out_upper[0.9]

    # When it is calibrated twice, and once more with fold 0's prices changed
    first, first_upper = calibrate(prices)
    second, second_upper = calibrate(prices)
    changed = prices.where(folds != 0, prices * 3)
    _, changed_upper = calibrate(changed)

    # Then the two calibrations are equal, and fold 0's ranges ignore fold 0's prices
    assert first == second
    np.testing.assert_array_equal(first_upper, second_upper)
    np.testing.assert_array_equal(changed_upper[folds == 0], first_upper[folds == 0])
    assert not np.array_equal(changed_upper[folds != 0], first_upper[folds != 0])


@pytest.mark.parametrize(
    ("lower", "upper"),
    [([1.0, None], None), ([1.0], [2.0]), ([1.0, 2.0], [2.0, 3.0])],
    ids=["one-end-only", "too-short", "end-for-a-failed-row"],
)
def test_prediction_result_refuses_misaligned_intervals(
    lower: list[float | None], upper: list[float | None] | None
) -> None:
    # Given a result whose second row failed
    row_error = {"row": 1, "column": None, "kind": "prediction_failed", "message": "failed"}

    # When its ends do not line up with its predictions, then it is refused
    with pytest.raises(ValidationError):
        PredictionResult(
            predictions=[1.5, None],
            errors=[row_error],
            version="0",
            lower=lower,
            upper=upper,
        )


def test_batch_refuses_input_with_interval_columns_only_when_asked_for_them() -> None:
    # Given input that already has a `lower` column
    columns = ["Id", "lower"]

    # Then it scores without an interval, and is refused with one
    check_no_output_columns(columns=columns)
    with pytest.raises(ValueError, match=r"\['lower'\]"):
        check_no_output_columns(columns=columns, has_interval=True)


def _run_cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "regression_model", *(str(arg) for arg in args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_predict_with_an_interval_adds_lower_and_upper_columns(
    tmp_path: Path, raw_records: pd.DataFrame, suffix: str
) -> None:
    # Given a file of houses
    source, output = tmp_path / f"houses{suffix}", tmp_path / f"scored{suffix}"
    if suffix == ".csv":
        raw_records.to_csv(source, index=False)
    else:
        raw_records.to_parquet(source, index=False)

    # When it is scored with a 90% interval
    run = _run_cli("predict", source, "--output", output, "--interval", 0.9)

    # Then the output ends with lower and upper, which match make_prediction's
    assert run.returncode == 0, run.stderr
    scored = pd.read_csv(output) if suffix == ".csv" else pd.read_parquet(output)
    assert list(scored.columns[-2:]) == ["lower", "upper"]
    expected = make_prediction(input_data=raw_records, interval=0.9)
    np.testing.assert_allclose(scored["lower"], np.array(expected.lower, dtype=float), rtol=1e-9)
    np.testing.assert_allclose(scored["upper"], np.array(expected.upper, dtype=float), rtol=1e-9)


def test_cli_predict_with_an_uncalibrated_level_fails_in_one_line(
    tmp_path: Path, raw_records: pd.DataFrame, config: Config
) -> None:
    # Given a file of houses
    source, output = tmp_path / "houses.csv", tmp_path / "scored.csv"
    raw_records.to_csv(source, index=False)

    # When it is scored with a level training did not calibrate
    run = _run_cli("predict", source, "--output", output, "--interval", 0.85)

    # Then it exits 2 with one line naming the calibrated levels, and writes nothing
    calibrated = ", ".join(f"{level:g}" for level in config.model.intervals.levels)
    assert run.returncode == 2
    assert run.stderr == (
        "Error: Invalid value for '--interval': interval level 0.85 is not calibrated; "
        f"the calibrated levels are {calibrated}\n"
    )
    assert not output.exists()


def test_cli_info_shows_the_calibrated_levels_and_their_coverage(config: Config) -> None:
    # Given the shipped model's metadata
    model_path = TRAINED_MODEL_DIR / artifact_name(pipeline_name=config.app.pipeline_name)
    intervals = load_metadata(model_path=model_path).intervals
    assert intervals is not None

    # When info is asked for
    run = _run_cli("info")

    # Then it lists every calibrated level with its measured coverage and width
    assert run.returncode == 0, run.stderr
    assert f"measured on {intervals.held_out_rows:,} held-out rows" in run.stdout
    for level in intervals.levels:
        assert re.search(
            rf"^  {level.level:g}\s+{level.coverage:.1%}\s+{level.median_relative_width:.1%}$",
            run.stdout,
            re.MULTILINE,
        )
