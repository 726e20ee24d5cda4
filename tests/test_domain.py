"""Trustworthy prices: the model's domain is learned, enforced and reported.

These tests score with the trained model (``tox -e train``), as a user would: what was seen
in issue 10 is reproduced here with its expected outcome written out.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regression_model import predict
from regression_model.config.core import TRAINED_MODEL_DIR, Config, load_config
from regression_model.predict import make_prediction
from regression_model.processing.data_manager import artifact_name, load_metadata, load_pipeline
from regression_model.processing.domain import INPUT_CAPPER, PRICE_BAND, TrainingDomain
from regression_model.processing.scoring import compile_pipeline
from regression_model.results import PredictionResult, WarningKind


@pytest.fixture(scope="module")
def domain(config: Config) -> TrainingDomain:
    model_path = TRAINED_MODEL_DIR / artifact_name(pipeline_name=config.app.pipeline_name)
    return load_metadata(model_path=model_path).domain


@pytest.fixture()
def house(test_records: pd.DataFrame) -> dict[str, Any]:
    """The first house of test.csv, a typical one, as a record."""
    record: dict[str, Any] = test_records.iloc[0].to_dict()  # type: ignore[assignment]
    return record


def _price(result: PredictionResult) -> float:
    assert result.errors == []
    (price,) = result.predictions
    assert price is not None
    return price


def _warned(result: PredictionResult) -> set[tuple[str | None, WarningKind]]:
    return {(warning.column, warning.kind) for warning in result.warnings}


def test_domain_in_metadata_is_what_the_fitted_pipeline_enforces(
    config: Config, domain: TrainingDomain
) -> None:
    # Given the trained pipeline and the domain written beside it
    fitted = load_pipeline(pipeline_name=config.app.pipeline_name)

    # Then every numeric input has the range its capping step holds it to, and the band is
    # the one the final step holds prices to
    capper, band = fitted.named_steps[INPUT_CAPPER], fitted.named_steps[PRICE_BAND]
    assert set(domain.numeric) == set(config.model.inputs.numeric_columns)
    for name, allowed in domain.numeric.items():
        assert (allowed.minimum, allowed.maximum) == (capper.lower_[name], capper.upper_[name])
    assert (domain.price.minimum, domain.price.maximum) == (band.lower_, band.upper_)


def test_domain_is_the_training_range_after_the_outlier_rule(
    config: Config, train_records: pd.DataFrame, domain: TrainingDomain
) -> None:
    # Given the training rows the outlier rule keeps
    rule = config.model.training_outliers
    kept = train_records[
        ~(
            (train_records[rule.variable] > rule.above)
            & (train_records[config.model.target] < rule.target_below)
        )
    ]

    # Then the domain is their range (the configured margin is 0) and their price band
    assert config.model.domain.range_margin == 0
    assert domain.numeric["GrLivArea"].maximum == kept["GrLivArea"].max() == 4476
    assert domain.numeric["YrSold"].minimum == 2006
    assert domain.price.minimum == kept[config.model.target].min() == 34900
    assert domain.price.maximum == kept[config.model.target].max() == 755000
    assert set(domain.labels["MSZoning"]) == set(kept["MSZoning"])


@pytest.mark.parametrize(
    ("changes", "warned_columns"),
    [
        ({"TotalBsmtSF": 250000}, {"TotalBsmtSF"}),
        ({"1stFlrSF": 250000, "GrLivArea": 250000}, {"1stFlrSF", "GrLivArea"}),
        ({"2ndFlrSF": 250000}, {"2ndFlrSF"}),
        (
            {
                **{
                    column: 250000 for column in load_config().model.inputs.numeric["areas"].columns
                },
                "OverallQual": 10,
                **{column: 50 for column in load_config().model.inputs.numeric["counts"].columns},
            },
            {"GrLivArea", "TotalBsmtSF", "LotArea", "FullBath", "TotRmsAbvGrd"},
        ),
    ],
    ids=["basement", "first-floor", "second-floor", "every-area-quality-10-counts-50"],
)
def test_extreme_valid_inputs_are_capped_warned_and_priced_inside_the_band(
    house: dict[str, Any],
    domain: TrainingDomain,
    changes: dict[str, Any],
    warned_columns: set[str],
) -> None:
    """Non-regression test for #10: these were priced from $0.5 billion to $2.5e27."""
    # When a typical house gets values the schema allows but training never saw
    result = make_prediction(input_data={**house, **changes})

    # Then it is priced inside the training band, and warned about for each such column
    assert domain.price.contains(_price(result))
    assert _price(result) < 1_000_000
    warned = {
        column for column, kind in _warned(result) if kind is WarningKind.OUTSIDE_TRAINING_RANGE
    }
    assert warned_columns <= warned


def test_house_2550_is_priced_inside_the_band_with_a_warning_on_its_living_area(
    test_records: pd.DataFrame, domain: TrainingDomain
) -> None:
    """Non-regression test for #10: the 5,095 sq ft partial sale was priced $991,000."""
    # When the largest house of test.csv is priced
    result = make_prediction(input_data=test_records[test_records["Id"] == 2550])

    # Then its price stays in the band, and a warning names the living area
    assert domain.price.contains(_price(result))
    assert ("GrLivArea", WarningKind.OUTSIDE_TRAINING_RANGE) in _warned(result)
    message = next(w.message for w in result.warnings if w.column == "GrLivArea")
    assert message == "GrLivArea 5095 is above the training range (priced as 4476)"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"YrSold": 1800, "YearBuilt": 2100, "YearRemodAdd": 2100},
            {
                ("YrSold", WarningKind.CONTRADICTION),
                ("YrSold", WarningKind.OUTSIDE_TRAINING_RANGE),
                ("YearBuilt", WarningKind.OUTSIDE_TRAINING_RANGE),
                ("YearRemodAdd", WarningKind.OUTSIDE_TRAINING_RANGE),
            },
        ),
        (
            {"GrLivArea": 10, "1stFlrSF": 5000, "2ndFlrSF": 0},
            {
                ("GrLivArea", WarningKind.CONTRADICTION),
                ("GrLivArea", WarningKind.OUTSIDE_TRAINING_RANGE),
                ("1stFlrSF", WarningKind.OUTSIDE_TRAINING_RANGE),
            },
        ),
        (
            {"YearRemodAdd": 1950, "YearBuilt": 1960},
            {("YearRemodAdd", WarningKind.CONTRADICTION)},
        ),
        (
            {"GrLivArea": 0, "1stFlrSF": 0, "2ndFlrSF": 0},
            # Many houses have no second floor; none has no living area or first floor.
            {
                ("GrLivArea", WarningKind.OUTSIDE_TRAINING_RANGE),
                ("1stFlrSF", WarningKind.OUTSIDE_TRAINING_RANGE),
            },
        ),
    ],
    ids=[
        "sold-before-built-in-2100",
        "first-floor-above-living-area",
        "remodelled-first",
        "no-area",
    ],
)
def test_nonsense_that_passes_the_schema_is_priced_with_warnings(
    house: dict[str, Any],
    domain: TrainingDomain,
    changes: dict[str, Any],
    expected: set[tuple[str, WarningKind]],
) -> None:
    """Non-regression test for #10: these were priced with no word."""
    # When a house's fields contradict each other or lie outside training
    result = make_prediction(input_data={**house, **changes})

    # Then it is priced inside the band, with a warning for each problem
    assert domain.price.contains(_price(result))
    assert expected <= _warned(result)


def test_contradiction_message_names_both_fields(house: dict[str, Any]) -> None:
    changes = {"YrSold": 2007, "YearBuilt": 2008, "YearRemodAdd": 2008}
    result = make_prediction(input_data={**house, **changes})
    contradictions = [w.message for w in result.warnings if w.kind is WarningKind.CONTRADICTION]
    assert contradictions == ["YrSold (2007) is below YearBuilt (2008)"]


@pytest.mark.parametrize(
    ("column", "written", "read_as"),
    [
        ("MSZoning", " RH", "RH"),
        ("MSZoning", "rh", "RH"),
        ("MSZoning", "  rH\t", "RH"),
        ("MSSubClass", "20.0", "20"),
        ("MSSubClass", " 20 ", "20"),
        ("Neighborhood", "names", "NAmes"),
    ],
)
def test_label_differing_only_by_case_or_spacing_is_read_as_the_known_one(
    house: dict[str, Any], column: str, written: str, read_as: str
) -> None:
    """Non-regression test for #10: " RH" and "rh" were unseen labels, priced -19%."""
    # Given the house with the known label, and with the label written differently
    known = make_prediction(input_data={**house, column: read_as})
    written_differently = make_prediction(input_data={**house, column: written})

    # Then both get the same price, and the rewritten one a warning saying how it was read
    assert _price(written_differently) == _price(known)
    assert [(w.column, w.kind, w.message) for w in written_differently.warnings] == [
        (column, WarningKind.LABEL_NORMALISED, f"{column} {written!r} was read as {read_as!r}")
    ]


def test_label_never_seen_in_training_is_priced_with_a_warning(house: dict[str, Any]) -> None:
    result = make_prediction(input_data={**house, "Neighborhood": "Atlantis"})
    _price(result)
    assert [(w.column, w.kind, w.message) for w in result.warnings] == [
        (
            "Neighborhood",
            WarningKind.UNSEEN_LABEL,
            "Neighborhood 'Atlantis' was never seen in training",
        )
    ]


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        (
            "train.csv",
            # The two training outliers the outlier rule drops lie outside the domain it
            # leaves; the larger is priced at the top of the band.
            {
                ("outside_training_range", "GrLivArea"): 2,
                ("outside_training_range", "BsmtFinSF1"): 2,
                ("outside_training_range", "TotalBsmtSF"): 1,
                ("outside_training_range", "1stFlrSF"): 1,
                ("outside_training_range", "GarageArea"): 1,
                ("unseen_label", "RoofMatl"): 1,
                ("price_at_band_edge", None): 1,
            },
        ),
        ("test.csv", None),
    ],
)
def test_shipped_data_stays_quiet(
    config: Config, file_name: str, expected: dict[tuple[str, str | None], int] | None
) -> None:
    """Check the warning counts on the shipped data, which README "Warnings" reports."""
    # Given every house of a shipped data set
    records = pd.read_csv(f"regression_model/datasets/{file_name}")

    # When they are priced
    result = make_prediction(input_data=records)
    counts = Counter((w.kind.value, w.column) for w in result.warnings)
    rows_warned = len({w.row for w in result.warnings})

    # Then few rows are warned about
    if expected is not None:
        assert dict(counts) == expected
    else:
        assert sum(counts.values()) == 33
        assert rows_warned == 26
        assert counts[("unseen_label", "MSSubClass")] == 1  # code 150, never in train.csv


areas = load_config().model.inputs.numeric


@st.composite
def schema_records(draw: st.DrawFn) -> dict[str, Any]:
    """A house anywhere the schema allows: every number inside its rule's bounds."""
    record: dict[str, Any] = {}
    for rule in areas.values():
        for column in rule.columns:
            if rule.whole_numbers:
                value: float = draw(st.integers(int(rule.minimum), int(rule.maximum)))
            else:
                value = draw(st.floats(rule.minimum, rule.maximum, allow_nan=False))
            record[column] = value
    return record


@settings(max_examples=40)
@given(numbers=st.lists(schema_records(), min_size=1, max_size=5))
def test_any_house_the_schema_accepts_gets_a_finite_price_inside_the_band(
    test_records: pd.DataFrame, domain: TrainingDomain, numbers: list[dict[str, Any]]
) -> None:
    # Given typical houses whose every number is drawn anywhere inside the schema
    base = test_records.iloc[: len(numbers)].reset_index(drop=True)
    records = base.assign(**pd.DataFrame(numbers))

    # When they are priced
    result = make_prediction(input_data=records)

    # Then every house gets a finite price inside the stated band
    assert result.errors == []
    prices = np.array(result.predictions, dtype=np.float64)
    assert np.isfinite(prices).all()
    assert ((prices >= domain.price.minimum) & (prices <= domain.price.maximum)).all()


def test_concurrent_first_calls_load_and_compile_the_model_once(
    monkeypatch: pytest.MonkeyPatch, house: dict[str, Any]
) -> None:
    """Non-regression test for #10: eight threads loaded and compiled the model eight times."""
    # Given no model loaded yet, and a loader that counts its calls and takes its time
    predict._load_trained_model.cache_clear()
    calls: list[int] = []
    real_compile = compile_pipeline

    def slow_counting_compile(pipeline: Any) -> Any:
        calls.append(1)
        threading.Event().wait(0.2)  # long enough for every thread to arrive meanwhile
        return real_compile(pipeline)

    monkeypatch.setattr("regression_model.predict.compile_pipeline", slow_counting_compile)

    # When eight threads make their first prediction at once
    prices: list[float | None] = []
    threads = [
        threading.Thread(
            target=lambda: prices.extend(make_prediction(input_data=house).predictions)
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    predict._load_trained_model.cache_clear()

    # Then the model was compiled once and all eight got the same price
    assert len(calls) == 1
    assert len(prices) == 8 and len(set(prices)) == 1
