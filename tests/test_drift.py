"""Input drift: the training profile, the PSI and verdicts of profile_report, the drift command
and its HTML report (the browser test is tests/test_drift_browser.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames, range_indexes

from regression_model import __version__, drift
from regression_model.cli import main
from regression_model.config.core import Config
from regression_model.drift import (
    DriftCounter,
    DriftReport,
    InputProfile,
    LabelProfile,
    NumericProfile,
    Verdict,
    build_profile,
    load_profile,
    profile_path,
    profile_report,
    psi,
    write_profile,
)
from regression_model.drift_html import render_html
from regression_model.errors import ModelLoadError
from tests.conftest import SHIFTED_NEIGHBORHOOD

# Areas that are 0 (the house has none) in most of test.csv, so that multiplying them by 1.5
# moves few rows between bins: PoolArea (6 houses), 3SsnPorch and LowQualFinSF are non-zero
# in under 1% of the houses, MiscVal in 3.5%, BsmtFinSF2 in 12% and EnclosedPorch in 17%.
# Their PSI stays below psi_moderate (0.004 to 0.083): a shift of so few houses is not a shift
# of the batch, and for the rarest the bins hold one or two houses each, so noise dominates.
QUIET_AREAS = frozenset(
    {"PoolArea", "3SsnPorch", "LowQualFinSF", "MiscVal", "BsmtFinSF2", "EnclosedPorch"}
)
# ... each is non-zero in fewer than this share of test.csv. That alone does not decide it:
# ScreenPorch, non-zero in 9.6%, is flagged (moderate, PSI 0.116), its porches spread over
# bins that ×1.5 empties and fills.
QUIET_AREA_NONZERO_SHARE = 0.18
SMALL_CHUNK = 97


def _report(profile: InputProfile, config: Config, *frames: pd.DataFrame) -> DriftReport:
    counter = DriftCounter(profile=profile, settings=config.drift)
    for frame in frames:
        counter.add(frame)
    return counter.report()


def _psi_by_column(report: DriftReport) -> dict[str, float]:
    return {c.column: c.psi for c in report.columns}


# The profile


def test_profile_covers_every_input_column_with_shares_summing_to_one(
    training_profile: InputProfile, config: Config
) -> None:
    # Given the profile of the training rows
    # Then every numeric and text input has one, and each column's shares sum to 1
    assert set(training_profile.numeric) == set(config.model.inputs.numeric_columns)
    assert set(training_profile.labels) == set(config.model.inputs.categorical)
    profiles: list[NumericProfile | LabelProfile] = [
        *training_profile.numeric.values(),
        *training_profile.labels.values(),
    ]
    for profile in profiles:
        assert sum(profile.shares) + profile.missing_share == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("values", "bins", "expected_names"),
    [
        # A value holding at least 1/bins of the rows is a bin of its own.
        ([0.0] * 8 + [10.0, 20.0], 3, ["< 0", "= 0", "0 to 15", "> 15"]),
        ([1.0, 2.0, 3.0, 4.0], 2, ["≤ 2.5", "> 2.5"]),
        # Every value heavy: each is its own bin.
        ([5.0, 5.0, 7.0, 7.0], 2, ["< 5", "= 5", "5 to < 7", "= 7", "> 7"]),
    ],
    ids=["mostly-zero", "plain-quantiles", "two-values"],
)
def test_numeric_bins_give_a_heavy_value_a_bin_of_its_own(
    config: Config, values: list[float], bins: int, expected_names: list[str]
) -> None:
    # Given a column of values and a number of bins
    frame = pd.DataFrame({"LotArea": values})
    settings = config.drift.model_copy(update={"quantile_bins": bins})

    # When it is profiled and compared with itself
    profile = build_profile(features=frame, numeric=("LotArea",), labels=(), settings=settings)
    report = _report(profile, config, frame)

    # Then the bins are named as expected (missing last), and the PSI is 0
    (lot_area,) = report.columns
    assert [b.bin for b in lot_area.bins] == [*expected_names, drift.MISSING_BIN]
    assert lot_area.psi == 0.0


def test_profile_survives_a_round_trip_through_its_file(
    training_profile: InputProfile, config: Config, tmp_path: Path
) -> None:
    # Given the training features written as a profile beside a model file
    model_path = tmp_path / "model.pkl"
    features = pd.DataFrame(
        {name: [1.0, 2.0] for name in config.model.inputs.numeric_columns}
        | {name: ["a", None] for name in config.model.inputs.categorical}
    )
    written = write_profile(features=features, config=config, model_path=model_path)

    # When it is read back
    loaded = load_profile(model_path=model_path)

    # Then it is the profile build_profile makes, at the documented path
    assert written == profile_path(model_path) == tmp_path / "model.profile.json"
    assert loaded.training_rows == 2
    assert loaded.labels["Neighborhood"].missing_share == 0.5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no training profile"),
        ("not json", "is unreadable"),
        ('{"package_version": "0.0.1", "training_rows": 1, "numeric": {}, "labels": {}}', "0.0.1"),
    ],
    ids=["missing", "garbage", "other-version"],
)
def test_an_unusable_profile_is_a_model_load_error_naming_the_file(
    tmp_path: Path, content: str | None, message: str
) -> None:
    # Given a model whose profile is missing, unreadable or from another version
    model_path = tmp_path / "model.pkl"
    if content is not None:
        profile_path(model_path).write_text(content)

    # When it is loaded
    # Then a one-line ModelLoadError names the file and the reason
    with pytest.raises(ModelLoadError, match=message) as raised:
        load_profile(model_path=model_path)
    assert str(profile_path(model_path)) in str(raised.value)
    assert "\n" not in str(raised.value)


# The PSI


@pytest.mark.parametrize(
    ("training", "actual", "expected"),
    [
        ([0.5, 0.5], [0.5, 0.5], 0.0),
        ([0.5, 0.5], [0.9, 0.1], 0.8789),
        # An empty bin counts as share_floor (1e-4), so the PSI stays finite.
        ([1.0, 0.0], [0.0, 1.0], 18.4188),
    ],
    ids=["identical", "shifted", "disjoint"],
)
def test_psi_of_share_vectors(training: list[float], actual: list[float], expected: float) -> None:
    # Given two share vectors over the same bins
    # When their PSI is computed
    index = psi(training=np.array(training), actual=np.array(actual), floor=1e-4)

    # Then it is the textbook value
    assert index == pytest.approx(expected, abs=1e-4)


_AREAS = st.one_of(st.none(), st.floats(min_value=0, max_value=250_000, allow_nan=False))
_LABELS = st.one_of(st.none(), st.sampled_from(["NAmes", "OldTown", "Gilbert", "x y"]))


@given(
    frame=data_frames(
        columns=[
            column("LotArea", elements=_AREAS, dtype=object),
            column("Neighborhood", elements=_LABELS, dtype=object),
        ],
        index=range_indexes(min_size=1, max_size=40),
    )
)
def test_psi_of_identical_data_is_zero(frame: pd.DataFrame) -> None:
    """Check that any batch compared with its own profile has PSI 0 and nothing outside."""
    # Given a batch and the profile built from it
    from regression_model.config.core import get_config

    config = get_config()
    validated = frame.astype({"LotArea": float})
    profile = build_profile(
        features=validated, numeric=("LotArea",), labels=("Neighborhood",), settings=config.drift
    )

    # When the same batch is compared with the profile
    report = _report(profile, config, frame)

    # Then every column is stable, with PSI 0 and no value outside training
    assert [(c.psi, c.outside_share, c.verdict) for c in report.columns] == [
        (0.0, 0.0, Verdict.STABLE)
    ] * 2


# The figures: test.csv and the shifted copy


def test_test_csv_does_not_drift_from_training(
    training_profile: InputProfile, config: Config, test_records: pd.DataFrame
) -> None:
    # Given test.csv, houses from the same market and years as the training set
    # When it is compared with the training profile
    report = _report(training_profile, config, test_records)

    # Then no column is flagged: the largest PSI is well below psi_moderate
    assert report.flagged_columns == []
    assert report.columns[0].psi < config.drift.psi_moderate / 2
    assert report.rows == len(test_records)


def test_shifted_copy_is_flagged_on_exactly_the_shifted_columns(
    training_profile: InputProfile,
    config: Config,
    test_records: pd.DataFrame,
    shifted_records: pd.DataFrame,
    area_columns: tuple[str, ...],
) -> None:
    # Given test.csv with every area × 1.5 and every house in one neighbourhood
    # When both are compared with the training profile
    before = _psi_by_column(_report(training_profile, config, test_records))
    report = _report(training_profile, config, shifted_records)

    # Then the flagged columns are the shifted ones, Neighborhood first, except the areas
    # that few houses have (QUIET_AREAS)
    assert report.columns[0].column == "Neighborhood"
    assert report.columns[0].verdict is Verdict.DRIFTED
    shares = {b.bin: b.input_share for b in report.columns[0].bins}
    assert shares[SHIFTED_NEIGHBORHOOD] == 1.0
    assert set(report.flagged_columns) == {"Neighborhood", *area_columns} - QUIET_AREAS
    nonzero_share = (test_records[list(area_columns)].fillna(0) > 0).mean()
    assert (nonzero_share[list(QUIET_AREAS)] < QUIET_AREA_NONZERO_SHARE).all()
    # ... and every flagged column's PSI went up, at least threefold
    after = _psi_by_column(report)
    assert all(after[name] > 3 * before[name] for name in report.flagged_columns)


def test_reading_in_chunks_gives_the_report_of_one_pass(
    training_profile: InputProfile, config: Config, shifted_records: pd.DataFrame
) -> None:
    # Given the shifted copy cut into chunks of 97 rows
    chunks = [
        shifted_records.iloc[start : start + SMALL_CHUNK].reset_index(drop=True)
        for start in range(0, len(shifted_records), SMALL_CHUNK)
    ]

    # When it is counted chunk by chunk, and in one pass
    # Then both reports are equal, to the last bit
    assert _report(training_profile, config, *chunks) == _report(
        training_profile, config, shifted_records
    )


def test_invalid_values_and_unseen_labels_are_counted_not_dropped(
    training_profile: InputProfile, config: Config, test_records: pd.DataFrame
) -> None:
    # Given 100 houses, four with a lot area that is not a number, ten in a new neighbourhood
    houses = test_records.head(100).astype(object)
    houses.loc[:3, "LotArea"] = "big"
    houses.loc[:9, "Neighborhood"] = "Atlantis"

    # When they are compared with training
    columns = {c.column: c for c in _report(training_profile, config, houses).columns}

    # Then the bad areas are invalid and missing, the new label outside training
    assert columns["LotArea"].invalid_share == 0.04
    assert columns["LotArea"].missing_share == 0.04
    assert columns["Neighborhood"].outside_share == 0.1
    unseen = [b for b in columns["Neighborhood"].bins if b.bin == drift.UNSEEN_LABELS_BIN]
    assert [b.input_share for b in unseen] == [0.1]


def test_a_report_of_no_rows_is_refused(training_profile: InputProfile, config: Config) -> None:
    # Given a counter that was given no rows
    counter = DriftCounter(profile=training_profile, settings=config.drift)

    # When the report is asked for
    # Then it is refused
    with pytest.raises(ValueError, match="no rows to compare"):
        counter.report()


def test_profile_report_takes_what_make_prediction_takes(test_records: pd.DataFrame) -> None:
    # Given 30 houses as a DataFrame and as a list of record dicts
    houses = test_records.head(30)
    records = [{str(key): value for key, value in row.items()} for row in houses.to_dict("records")]

    # When each is compared with the trained model's profile
    # Then the reports are equal, and name the package version
    report = profile_report(input_data=houses)
    assert profile_report(input_data=records) == report
    assert report.version == __version__


def test_profile_report_refuses_what_is_not_a_table() -> None:
    with pytest.raises(TypeError, match="input_data must be"):
        profile_report(input_data=42)  # type: ignore[arg-type]


def test_shipped_profile_is_the_profile_of_the_training_rows(
    training_profile: InputProfile, config: Config
) -> None:
    # Given the profile training wrote beside the model
    # Then it is the one built from the training rows
    assert drift.drift_counter(config=config).profile == training_profile


# The command line


def _drift(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["drift", *map(str, args)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def shifted_csv(shifted_records: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "shifted.csv"
    shifted_records.to_csv(path, index=False)
    return path


def test_drift_prints_one_line_per_column_and_exits_0_without_drift(
    config: Config, tmp_path: Path, test_records: pd.DataFrame
) -> None:
    # Given test.csv
    path = tmp_path / "test.csv"
    test_records.to_csv(path, index=False)

    # When the drift command compares it
    exit_code, stdout, stderr = _drift(path)

    # Then it prints a summary, a header and a line per input column, and exits 0
    lines = stdout.splitlines()
    n_columns = len(config.model.features)
    assert (exit_code, stderr) == (0, "")
    assert (
        lines[0]
        == f"1,459 rows against 1,458 training rows: {n_columns} stable, 0 moderate, 0 drifted"
    )
    assert len(lines) == 2 + n_columns
    assert {line.split()[0] for line in lines[2:]} == set(config.model.features)


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_drift_json_of_a_file_read_in_chunks_is_the_report_of_one_pass(
    shifted_records: pd.DataFrame, tmp_path: Path, file_format: str
) -> None:
    # Given the shifted copy as a CSV or Parquet file
    path = tmp_path / f"shifted.{file_format}"
    if file_format == "csv":
        shifted_records.to_csv(path, index=False)
    else:
        shifted_records.to_parquet(path)

    # When the command reports it as JSON, read in chunks of 97 rows
    exit_code, stdout, _ = _drift(path, "--json", "--chunk-size", SMALL_CHUNK)

    # Then it exits 1, for the drifted columns, with the report of one pass over the frame
    assert exit_code == 1
    assert DriftReport.model_validate(json.loads(stdout)) == profile_report(
        input_data=shifted_records
    )


def test_drift_html_has_a_chart_per_flagged_column_and_loads_nothing(
    shifted_csv: Path, tmp_path: Path, shifted_records: pd.DataFrame
) -> None:
    # Given the shifted copy and where to write the page
    page = tmp_path / "drift.html"

    # When the command writes the HTML report
    exit_code, _, _ = _drift(shifted_csv, "--html", page)

    # Then the page has one chart per flagged column and no reference to anything outside
    html = page.read_text(encoding="utf-8")
    report = profile_report(input_data=shifted_records)
    assert exit_code == 1
    assert html == render_html(report=report, source=shifted_csv.name)
    assert html.count("<svg") == len(report.flagged_columns)
    assert "src=" not in html and "href=" not in html and "url(" not in html


def test_drift_html_escapes_what_it_shows(config: Config) -> None:
    # Given a report with a chart whose bins include a label that is markup
    training = pd.DataFrame({"Neighborhood": ["<script>alert(1)</script>", "NAmes"]})
    profile = build_profile(
        features=training, numeric=(), labels=("Neighborhood",), settings=config.drift
    )
    report = _report(profile, config, pd.DataFrame({"Neighborhood": ["NAmes"]}))

    # When it is rendered
    html = render_html(report=report, source="<b>.csv")

    # Then the markup is shown as text
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp: [tmp / "absent.csv"], "does not exist"),
        (lambda tmp: [tmp / "houses.txt"], "unknown file type"),
        (lambda tmp: [tmp / "empty.csv"], "has no rows to compare"),
        (lambda tmp: [tmp / "narrow.csv"], "is missing 1 required column: LotArea"),
        (lambda tmp: [tmp / "empty.csv", "--html", tmp / "page.html"], "already exists"),
        (lambda tmp: [tmp / "empty.csv", "--html", tmp / "no" / "page.html"], "does not exist"),
        (lambda tmp: [tmp / "empty.csv", "--chunk-size", 0], "--chunk-size"),
    ],
    ids=[
        "missing",
        "unknown-type",
        "no-rows",
        "missing-column",
        "html-exists",
        "html-dir",
        "chunk",
    ],
)
def test_drift_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, test_records: pd.DataFrame, make_args: object, message: str
) -> None:
    # Given files the command cannot use, or a call it cannot follow
    test_records.head(0).to_csv(tmp_path / "empty.csv", index=False)
    test_records.head(5).drop(columns="LotArea").to_csv(tmp_path / "narrow.csv", index=False)
    (tmp_path / "houses.txt").write_text("x")
    (tmp_path / "page.html").write_text("kept")
    args = make_args(tmp_path)  # type: ignore[operator]

    # When the drift command runs
    exit_code, stdout, stderr = _drift(*args)

    # Then it exits 2 with one line on stderr naming the problem, and writes nothing
    assert exit_code == 2
    assert stdout == ""
    assert stderr.startswith("Error: ") and message in stderr
    assert stderr.count("\n") == 1
    assert (tmp_path / "page.html").read_text() == "kept"


def test_drift_without_a_profile_exits_1(
    shifted_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a model folder without a training profile
    monkeypatch.setattr(drift, "TRAINED_MODEL_DIR", tmp_path)

    # When the drift command runs
    exit_code, _, stderr = _drift(shifted_csv)

    # Then it says so in one line and exits 1, as for any unusable model
    assert exit_code == 1
    assert "no training profile" in stderr and stderr.count("\n") == 1
