"""The regression-model command line, run on real files in tmp_path.

Most tests run a command in-process through click's CliRunner: it is quick, and coverage
sees it. The error cases run both in-process and as a real ``python -m regression_model``
subprocess; the streaming, progress-bar and entry-point tests need a real process.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import pty
import re
import runpy
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.dummy import DummyRegressor
from sklearn.pipeline import Pipeline

import regression_model
from regression_model import __version__, batch, cli, tables, train_pipeline
from regression_model.batch import (
    ERROR_COLUMN,
    EXPLANATION_COLUMN,
    PREDICTION_COLUMN,
    WARNING_COLUMN,
)
from regression_model.cli import main
from regression_model.config import core
from regression_model.config.core import DATASET_DIR, Config, load_config
from regression_model.pipeline import build_pipeline
from regression_model.predict import make_prediction
from regression_model.processing.data_manager import ModelLoadError, load_metadata
from regression_model.results import PredictionResult

# The directory holding the package the tests import; subprocesses must import the same one.
PACKAGE_PARENT = Path(regression_model.__file__).resolve().parents[1]

N_HOUSES = 400
# Rows of the houses file with bad values: row 250 has two, and sits in a later chunk.
BAD_ROWS = (5, 250)
SMALL_CHUNK = 64

CliArgs = Sequence[object]


@dataclass(frozen=True)
class CliRun:
    exit_code: int
    stdout: str
    stderr: str


def _in_process(args: CliArgs) -> CliRun:
    result = CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)
    return CliRun(exit_code=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def _cli_command(args: CliArgs) -> list[str]:
    return [sys.executable, "-m", "regression_model", *(str(arg) for arg in args)]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
    return env


def _in_subprocess(args: CliArgs) -> CliRun:
    completed = subprocess.run(
        _cli_command(args), capture_output=True, text=True, env=_child_env(), timeout=300
    )
    return CliRun(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture(params=[_in_process, _in_subprocess], ids=["in-process", "subprocess"])
def run_cli(request: pytest.FixtureRequest) -> Callable[[CliArgs], CliRun]:
    runner: Callable[[CliArgs], CliRun] = request.param
    return runner


@pytest.fixture()
def houses_csv(test_records: pd.DataFrame, tmp_path: Path) -> Path:
    """The first 400 rows of test.csv as a CSV file, with bad values in rows 5 and 250."""
    houses = test_records.head(N_HOUSES).astype(object)
    houses.loc[5, "LotArea"] = "big"
    houses.loc[250, "GrLivArea"] = -5
    houses.loc[250, "Neighborhood"] = None
    path = tmp_path / "houses.csv"
    houses.to_csv(path, index=False)
    return path


def _prices(result: PredictionResult) -> npt.NDArray[np.float64]:
    return np.array(result.predictions, dtype=np.float64)


def _joined_errors(result: PredictionResult, n_rows: int) -> list[str | None]:
    messages: list[list[str]] = [[] for _ in range(n_rows)]
    for error in result.errors:
        messages[error.row].append(error.message)
    return ["; ".join(row) if row else None for row in messages]


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in directory.rglob("*")
        if path.is_file()
    }


# predict


def test_predict_csv_keeps_every_row_and_column_in_order_with_make_predictions_outcome(
    houses_csv: Path, tmp_path: Path
) -> None:
    # Given a CSV file of 400 houses, two with bad values, and an output path
    output = tmp_path / "scored.csv"

    # When it is scored in chunks of 64 rows
    run = _in_process(["predict", houses_csv, "--output", output, "--chunk-size", SMALL_CHUNK])

    # Then the command reports success, and draws no progress bar off a terminal
    assert run.exit_code == 0, run.stderr
    assert f"Scored {N_HOUSES} rows (2 with errors) into {output}" in run.stdout
    assert run.stderr == ""
    # ... every input cell comes back as it was read, in order, then the two new columns
    raw = pd.read_csv(houses_csv, dtype=object)
    scored = pd.read_csv(output, dtype=object)
    assert list(scored.columns) == [*raw.columns, PREDICTION_COLUMN, ERROR_COLUMN, WARNING_COLUMN]
    pd.testing.assert_frame_equal(scored[raw.columns], raw)
    # ... each price is the one make_prediction gives the file read whole, row for row
    expected = make_prediction(input_data=pd.read_csv(houses_csv))
    prices = scored[PREDICTION_COLUMN].astype("float64").to_numpy()
    np.testing.assert_allclose(prices, _prices(expected), rtol=1e-9)
    # ... and the bad rows, and only they, carry make_prediction's errors
    assert np.flatnonzero(scored[ERROR_COLUMN].notna()).tolist() == list(BAD_ROWS)
    expected_errors = [error or "" for error in _joined_errors(expected, N_HOUSES)]
    assert scored[ERROR_COLUMN].fillna("").tolist() == expected_errors
    assert "LotArea must be a number, got 'big'" in scored[ERROR_COLUMN][5]


@pytest.mark.parametrize(
    ("options", "words"),
    [([], 3), (["--explain-top", "5"], 5)],
    ids=["configured-top", "explain-top"],
)
def test_predict_explain_adds_each_priced_rows_largest_contributions_in_words(
    houses_csv: Path, tmp_path: Path, options: list[str], words: int
) -> None:
    # Given a CSV file of houses, two with bad values
    output = tmp_path / "scored.csv"

    # When it is scored in chunks with --explain
    run = _in_process(
        ["predict", houses_csv, "-o", output, "--chunk-size", SMALL_CHUNK, "--explain", *options]
    )

    # Then the last column holds make_prediction's words for each priced row, none elsewhere
    assert run.exit_code == 0, run.stderr
    scored = pd.read_csv(output, dtype=object)
    assert scored.columns[-1] == EXPLANATION_COLUMN
    expected = make_prediction(
        input_data=pd.read_csv(houses_csv), explain=True, explain_top=words
    ).explanations
    assert expected is not None
    assert scored[EXPLANATION_COLUMN].fillna("").tolist() == [
        "" if found is None else "; ".join(found.top) for found in expected
    ]
    assert np.flatnonzero(scored[EXPLANATION_COLUMN].isna()).tolist() == list(BAD_ROWS)
    assert scored[EXPLANATION_COLUMN][0].count("; ") == words - 1


def test_predict_explain_top_without_explain_is_a_usage_error(
    houses_csv: Path, tmp_path: Path
) -> None:
    run = _in_process(["predict", houses_csv, "-o", tmp_path / "out.csv", "--explain-top", "4"])
    assert run.exit_code == 2
    assert "'--explain-top': needs --explain" in run.stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("index", [None, "Id"], ids=["range-index", "id-index"])
def test_predict_parquet_round_trip_keeps_columns_dtypes_and_index(
    test_records: pd.DataFrame, tmp_path: Path, index: str | None
) -> None:
    # Given a Parquet file of 300 houses in three row groups, one house with a bad value
    houses = test_records.head(300).copy()
    houses.loc[7, "GrLivArea"] = -5
    if index is not None:
        houses = houses.set_index(index)
    source, output = tmp_path / "houses.parquet", tmp_path / "scored.parquet"
    houses.to_parquet(source, row_group_size=100)

    # When it is scored in chunks of 64 rows
    run = _in_process(["predict", source, "-o", output, "--chunk-size", SMALL_CHUNK])

    # Then reading the output back gives the input frame, dtypes and index included
    assert run.exit_code == 0, run.stderr
    scored = pd.read_parquet(output)
    pd.testing.assert_frame_equal(scored[houses.columns], houses)
    # ... plus make_prediction's prices, and an error only on the bad row
    expected = make_prediction(input_data=houses)
    assert scored[PREDICTION_COLUMN].dtype == np.float64
    np.testing.assert_allclose(scored[PREDICTION_COLUMN].to_numpy(), _prices(expected), rtol=1e-9)
    assert np.flatnonzero(scored[ERROR_COLUMN].notna()).tolist() == [7]
    assert scored[ERROR_COLUMN].iloc[7] == _joined_errors(expected, len(houses))[7]


@pytest.mark.parametrize("command", ["predict", "validate"])
def test_a_parquet_file_of_pandas_categoricals_predicts_and_validates(
    config: Config, test_records: pd.DataFrame, tmp_path: Path, command: str
) -> None:
    """Check that text columns stored as Parquet dictionaries score as plain text does.

    Non-regression test for #10: pandas categoricals in a Parquet file.
    """
    # Given a Parquet file whose text columns pandas wrote as categoricals
    houses = test_records.head(200)
    text_columns = [name for name in config.model.features if houses[name].dtype == "str"]
    source, output = tmp_path / "houses.parquet", tmp_path / "scored.parquet"
    houses.astype({name: "category" for name in text_columns}).to_parquet(source)

    # When the command runs on it, as a user runs it
    args = ["-o", output] if command == "predict" else []
    run = _in_subprocess([command, source, *args, "--chunk-size", SMALL_CHUNK])

    # Then it succeeds, and predict gives the prices make_prediction gives the plain records
    assert text_columns
    assert (run.exit_code, run.stderr) == (0, "")
    if command == "predict":
        scored = pd.read_parquet(output)
        expected = make_prediction(input_data=houses)
        np.testing.assert_allclose(
            scored[PREDICTION_COLUMN].to_numpy(), _prices(expected), rtol=1e-12
        )
        assert scored[ERROR_COLUMN].isna().all()
    else:
        assert "invalid           0" in run.stdout


def test_predict_csv_with_only_a_header_writes_only_a_header(
    test_records: pd.DataFrame, tmp_path: Path
) -> None:
    # Given a CSV file with the columns and no rows
    source, output = tmp_path / "empty.csv", tmp_path / "scored.csv"
    test_records.head(0).to_csv(source, index=False)

    # When it is scored
    run = _in_process(["predict", source, "-o", output])

    # Then the output has the header, with the new columns, and no rows
    assert run.exit_code == 0, run.stderr
    scored = pd.read_csv(output)
    assert list(scored.columns) == [
        *test_records.columns,
        PREDICTION_COLUMN,
        ERROR_COLUMN,
        WARNING_COLUMN,
    ]
    assert len(scored) == 0


def test_predict_with_overwrite_replaces_the_output(houses_csv: Path, tmp_path: Path) -> None:
    # Given an output file from an earlier run
    output = tmp_path / "scored.csv"
    output.write_text("an earlier run\n")

    # When the input is scored with --overwrite
    run = _in_process(["predict", houses_csv, "-o", output, "--overwrite"])

    # Then the output is replaced by the new scores, and no temporary file is left
    assert run.exit_code == 0, run.stderr
    assert len(pd.read_csv(output)) == N_HOUSES
    assert sorted(path.name for path in tmp_path.iterdir()) == ["houses.csv", "scored.csv"]


def test_a_failure_mid_stream_leaves_the_existing_output_as_it_was(
    houses_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an earlier output, and a model that fails on the second chunk
    output = tmp_path / "scored.csv"
    output.write_text("an earlier run\n")
    calls: list[int] = []

    def fail_on_second_chunk(
        *, input_data: pd.DataFrame, interval: float | None = None, **explain: object
    ) -> PredictionResult:
        calls.append(len(input_data))
        if len(calls) == 2:
            raise ModelLoadError("the model file does not match its metadata")
        return make_prediction(input_data=input_data, interval=interval)

    monkeypatch.setattr(batch, "make_prediction", fail_on_second_chunk)

    # When the input is scored over it, in chunks
    run = _in_process(["predict", houses_csv, "-o", output, "--overwrite", "--chunk-size", 64])

    # Then the command fails in one line, the old output is intact and no partial file is left
    assert run.exit_code == 1
    assert run.stderr == "Error: the model file does not match its metadata\n"
    assert output.read_text() == "an earlier run\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["houses.csv", "scored.csv"]


def test_a_failure_to_write_exits_2_and_leaves_no_file(
    houses_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a disk that fills up while the output is written
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tables, "write_csv_rows", disk_full)

    # When a file is scored
    run = _in_process(["predict", houses_csv, "-o", tmp_path / "scored.csv"])

    # Then the command fails in one line, and leaves no file behind
    assert run.exit_code == 2
    assert re.fullmatch(r"Error: cannot write .*scored\.csv: No space left on device\n", run.stderr)
    assert [path.name for path in tmp_path.iterdir()] == ["houses.csv"]


def test_an_unexpected_error_is_one_line_that_points_to_debug(
    houses_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a bug: scoring raises an exception no one meant a user to see
    def broken(
        *, input_data: pd.DataFrame, interval: float | None = None, **explain: object
    ) -> PredictionResult:
        raise ValueError("a bug\nwith a second line")

    monkeypatch.setattr(batch, "make_prediction", broken)

    # When a file is scored
    run = _in_process(["predict", houses_csv, "-o", tmp_path / "out.csv"])

    # Then one line names the exception and how to see the traceback; nothing is left
    assert run.exit_code == 1
    assert (
        run.stderr == "Error: unexpected ValueError: a bug (run with --debug for the traceback)\n"
    )
    assert [path.name for path in tmp_path.iterdir()] == ["houses.csv"]


def test_predict_reports_progress_on_stderr_when_it_is_a_terminal(
    houses_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stderr that says it is a terminal
    monkeypatch.setattr(cli, "_is_terminal", lambda stream: True)

    # When a file is scored, then the progress bar's label goes to stderr, not stdout
    run = _in_process(["predict", houses_csv, "-o", tmp_path / "scored.csv"])
    assert run.exit_code == 0, run.stderr
    assert "Scoring" in run.stderr
    assert "Scoring" not in run.stdout


GOLDEN_PREDICTIONS = Path(__file__).parent / "golden" / "test_predictions.csv"
# Prices are compared to 1e-12, relative: tight enough to catch any change in what the model
# is given, loose enough for a float printed and parsed again by another library.
GOLDEN_PRICE_TOLERANCE = 1e-12


def test_predict_of_the_shipped_test_csv_matches_the_golden_file(
    config: Config, tmp_path: Path
) -> None:
    """Check that the file path scores test.csv as it did when the golden file was written.

    Non-regression test for #14: reading and writing moved to Arrow.
    """
    # Given the shipped test.csv and its output as `predict` wrote it before issue 14
    source = DATASET_DIR / config.app.test_data_file
    output = tmp_path / "scored.csv"

    # When the command line scores it
    run = _in_subprocess(["predict", source, "-o", output])

    # Then every cell comes back as the golden file has it, the prices to 1e-12
    assert (run.exit_code, run.stderr) == (0, "")
    expected = pd.read_csv(GOLDEN_PREDICTIONS, dtype=str, keep_default_na=False)
    scored = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert list(scored.columns) == list(expected.columns)
    cells = expected.columns.drop(PREDICTION_COLUMN)
    pd.testing.assert_frame_equal(scored[cells], expected[cells])
    np.testing.assert_allclose(
        pd.to_numeric(scored[PREDICTION_COLUMN]).to_numpy(),
        pd.to_numeric(expected[PREDICTION_COLUMN]).to_numpy(),
        rtol=GOLDEN_PRICE_TOLERANCE,
    )


# Mistakes a user can make: (case id, write the files and return the arguments and the one
# line the command must print on stderr)
UserError = tuple[CliArgs, str]


def _missing_input(tmp_path: Path, houses_csv: Path) -> UserError:
    source = tmp_path / "missing.csv"
    return (
        ["predict", source, "-o", tmp_path / "out.csv"],
        f"input file {source} does not exist",
    )


def _directory_input(tmp_path: Path, houses_csv: Path) -> UserError:
    (tmp_path / "folder.csv").mkdir()
    source = tmp_path / "folder.csv"
    return ["predict", source, "-o", tmp_path / "out.csv"], f"input {source} is not a file"


def _unknown_input_extension(tmp_path: Path, houses_csv: Path) -> UserError:
    source = tmp_path / "houses.txt"
    source.write_bytes(houses_csv.read_bytes())
    return (
        ["predict", source, "-o", tmp_path / "out.txt"],
        f"{source}: unknown file type '.txt'; use one of .csv, .parquet, .pq",
    )


def _unknown_output_extension(tmp_path: Path, houses_csv: Path) -> UserError:
    output = tmp_path / "out.xlsx"
    return (
        ["predict", houses_csv, "-o", output],
        f"{output}: unknown file type '.xlsx'; use one of .csv, .parquet, .pq",
    )


def _output_in_another_format(tmp_path: Path, houses_csv: Path) -> UserError:
    output = tmp_path / "out.parquet"
    return (
        ["predict", houses_csv, "-o", output],
        f"output {output} must be a csv file, the same format as the input",
    )


def _output_directory_missing(tmp_path: Path, houses_csv: Path) -> UserError:
    return (
        ["predict", houses_csv, "-o", tmp_path / "nowhere" / "out.csv"],
        f"the output's directory {tmp_path / 'nowhere'} does not exist",
    )


def _output_is_a_directory(tmp_path: Path, houses_csv: Path) -> UserError:
    (tmp_path / "out.csv").mkdir()
    output = tmp_path / "out.csv"
    return ["predict", houses_csv, "-o", output, "--overwrite"], f"output {output} is a directory"


def _output_exists(tmp_path: Path, houses_csv: Path) -> UserError:
    (tmp_path / "out.csv").write_text("an earlier run\n")
    output = tmp_path / "out.csv"
    return (
        ["predict", houses_csv, "-o", output],
        f"output {output} already exists; pass --overwrite to replace it",
    )


def _empty_file(tmp_path: Path, houses_csv: Path) -> UserError:
    (tmp_path / "empty.csv").write_bytes(b"")
    source = tmp_path / "empty.csv"
    return (
        ["predict", source, "-o", tmp_path / "out.csv"],
        f"cannot read {source}: the file is empty",
    )


def _not_utf8(tmp_path: Path, houses_csv: Path) -> UserError:
    source = tmp_path / "latin1.csv"
    source.write_bytes("Id,Neighborhood\n1,Sāwyer\n".encode("utf-16"))
    return (
        ["predict", source, "-o", tmp_path / "out.csv"],
        f"cannot read {source}: 'utf-8' codec can't decode byte 0xff in position 0: "
        "invalid start byte",
    )


def _with_extra_field(houses_csv: Path, line_index: int, extra: str) -> None:
    lines = houses_csv.read_text().splitlines(keepends=True)
    lines[line_index] = lines[line_index].rstrip("\n") + extra + "\n"
    houses_csv.write_text("".join(lines))


def _malformed_mid_file(tmp_path: Path, houses_csv: Path) -> UserError:
    _with_extra_field(houses_csv, 300, ",an extra field")
    return (
        ["predict", houses_csv, "-o", tmp_path / "out.csv", "--chunk-size", SMALL_CHUNK],
        f"cannot read {houses_csv}: line 301 has 81 fields, the header has 80",
    )


def _trailing_comma_in_first_row(tmp_path: Path, houses_csv: Path) -> UserError:
    """Non-regression test for #11: pandas took the first column for the index."""
    _with_extra_field(houses_csv, 1, ",")
    return (
        ["predict", houses_csv, "-o", tmp_path / "out.csv"],
        f"cannot read {houses_csv}: line 2 has 81 fields, the header has 80",
    )


def _duplicated_header(tmp_path: Path, houses_csv: Path) -> UserError:
    """Non-regression test for #11: the second GrLivArea came out as GrLivArea.1."""
    houses = pd.read_csv(houses_csv)
    houses.insert(3, "Extra", houses["GrLivArea"])
    houses.rename(columns={"Extra": "GrLivArea"}).to_csv(houses_csv, index=False)
    return (
        ["predict", houses_csv, "-o", tmp_path / "out.csv"],
        f"{houses_csv}: the column 'GrLivArea' appears more than once in the header",
    )


def _none_of_the_model_columns(tmp_path: Path, houses_csv: Path) -> UserError:
    """Non-regression test for #11: every row scored as an error, and exit 0."""
    pd.read_csv(houses_csv)[["Id"]].to_csv(houses_csv, index=False)
    features = load_config().model.features
    return (
        ["predict", houses_csv, "-o", tmp_path / "out.csv"],
        f"{houses_csv} is missing {len(features)} required columns: {', '.join(features[:5])} "
        f"and {len(features) - 5} more",
    )


def _two_model_columns_missing(tmp_path: Path, houses_csv: Path) -> UserError:
    pd.read_csv(houses_csv).drop(columns=["GrLivArea", "Street"]).to_csv(houses_csv, index=False)
    return (
        ["predict", houses_csv, "-o", tmp_path / "out.csv"],
        f"{houses_csv} is missing 2 required columns: GrLivArea, Street",
    )


def _not_parquet(tmp_path: Path, houses_csv: Path) -> UserError:
    (tmp_path / "houses.parquet").write_bytes(houses_csv.read_bytes())
    source = tmp_path / "houses.parquet"
    return (
        ["predict", source, "-o", tmp_path / "out.parquet"],
        f"cannot read {source}: Parquet magic bytes not found in footer. Either the file is "
        "corrupted or this is not a parquet file.",
    )


def _parquet_missing_a_model_column(tmp_path: Path, houses_csv: Path) -> UserError:
    source = tmp_path / "houses.parquet"
    pd.read_csv(houses_csv).drop(columns=["Neighborhood"]).to_parquet(source)
    return (
        ["predict", source, "-o", tmp_path / "out.parquet"],
        f"{source} is missing 1 required column: Neighborhood",
    )


def _parquet_with_a_repeated_column(tmp_path: Path, houses_csv: Path) -> UserError:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "houses.parquet"
    table = pa.Table.from_pandas(pd.read_csv(houses_csv), preserve_index=False)
    pq.write_table(table.append_column("GrLivArea", table.column("GrLivArea")), source)
    return (
        ["predict", source, "-o", tmp_path / "out.parquet"],
        f"{source}: the column 'GrLivArea' appears more than once",
    )


def _has_a_prediction_column(tmp_path: Path, houses_csv: Path) -> UserError:
    pd.read_csv(houses_csv).assign(prediction=1.0).to_csv(houses_csv, index=False)
    return (
        ["predict", houses_csv, "-o", tmp_path / "out.csv"],
        f"{houses_csv}: the input already has the column(s) ['prediction'] that scoring adds; "
        "rename them first",
    )


def _chunk_size(value: str, message: str) -> Callable[[Path, Path], UserError]:
    def make(tmp_path: Path, houses_csv: Path) -> UserError:
        return (
            ["predict", houses_csv, "-o", tmp_path / "out.csv", "--chunk-size", value],
            f"Invalid value for '--chunk-size': {message}",
        )

    return make


def _validate_missing_input(tmp_path: Path, houses_csv: Path) -> UserError:
    source = tmp_path / "missing.parquet"
    return ["validate", source], f"input file {source} does not exist"


def _validate_malformed_mid_file(tmp_path: Path, houses_csv: Path) -> UserError:
    _, line = _malformed_mid_file(tmp_path, houses_csv)
    return ["validate", houses_csv, "--chunk-size", 64], line


def _validate_missing_model_columns(tmp_path: Path, houses_csv: Path) -> UserError:
    _, line = _two_model_columns_missing(tmp_path, houses_csv)
    return ["validate", houses_csv], line


_OUT_OF_RANGE = "is not in the range 1<=x<=1000000000."
USER_ERRORS: list[tuple[str, Callable[[Path, Path], UserError]]] = [
    ("missing-input", _missing_input),
    ("input-is-a-directory", _directory_input),
    ("unknown-input-extension", _unknown_input_extension),
    ("unknown-output-extension", _unknown_output_extension),
    ("output-in-another-format", _output_in_another_format),
    ("output-directory-missing", _output_directory_missing),
    ("output-is-a-directory", _output_is_a_directory),
    ("output-exists", _output_exists),
    ("empty-file", _empty_file),
    ("not-utf8", _not_utf8),
    ("malformed-mid-file", _malformed_mid_file),
    ("trailing-comma-in-first-row", _trailing_comma_in_first_row),
    ("duplicated-header", _duplicated_header),
    ("none-of-the-model-columns", _none_of_the_model_columns),
    ("two-model-columns-missing", _two_model_columns_missing),
    ("not-parquet", _not_parquet),
    ("parquet-missing-a-model-column", _parquet_missing_a_model_column),
    ("parquet-with-a-repeated-column", _parquet_with_a_repeated_column),
    ("has-a-prediction-column", _has_a_prediction_column),
    ("chunk-size-zero", _chunk_size("0", f"0 {_OUT_OF_RANGE}")),
    ("chunk-size-negative", _chunk_size("-5", f"-5 {_OUT_OF_RANGE}")),
    ("chunk-size-not-a-number", _chunk_size("abc", "'abc' is not a valid integer range.")),
    (
        "chunk-size-past-64-bits",
        _chunk_size("9223372036854775808", f"9223372036854775808 {_OUT_OF_RANGE}"),
    ),
    ("validate-missing-input", _validate_missing_input),
    ("validate-malformed-mid-file", _validate_malformed_mid_file),
    ("validate-missing-model-columns", _validate_missing_model_columns),
]


@pytest.mark.parametrize(
    "make_case", [case[1] for case in USER_ERRORS], ids=[case[0] for case in USER_ERRORS]
)
def test_a_user_error_exits_2_with_one_line_and_leaves_no_file(
    run_cli: Callable[[CliArgs], CliRun],
    houses_csv: Path,
    tmp_path: Path,
    make_case: Callable[[Path, Path], UserError],
) -> None:
    # Given a mistake in the files or the arguments
    args, message = make_case(tmp_path, houses_csv)
    files_before = _files(tmp_path)

    # When the command runs
    run = run_cli(args)

    # Then it exits with 2 and prints exactly one line on stderr, no traceback
    assert run.exit_code == 2, run.stderr
    assert run.stderr == f"Error: {message}\n"
    assert run.stdout == ""
    # ... and no file was created or changed, partial output included
    assert _files(tmp_path) == files_before


# validate


def _listed(stdout: str, name: str) -> list[tuple[str, str, str]]:
    """The (row, column, message) lines that validate lists under "first N of M <name>:"."""
    section = re.search(rf"^first \d+ of [\d,]+ {name}:\n((?:  row .*\n)*)", stdout, re.MULTILINE)
    assert section is not None, stdout
    return re.findall(r"^  row (\d+)\s+(\S+)\s+(.+)$", section.group(1), re.MULTILINE)


def test_validate_counts_rows_and_lists_errors_numbered_across_the_whole_file(
    houses_csv: Path,
) -> None:
    # Given a CSV file of 400 houses with bad values in rows 5 and 250

    # When it is validated in chunks of 64 rows
    run = _in_process(["validate", houses_csv, "--chunk-size", SMALL_CHUNK])

    # Then it exits with 1 and reports the counts
    assert run.exit_code == 1
    assert re.search(r"^rows\s+400$", run.stdout, re.MULTILINE)
    assert re.search(r"^valid\s+398$", run.stdout, re.MULTILINE)
    assert re.search(r"^invalid\s+2$", run.stdout, re.MULTILINE)
    # ... and the errors by row in the file, not in the chunk, and by column
    assert _listed(run.stdout, "errors") == [
        ("5", "LotArea", "LotArea must be a number, got 'big'"),
        ("250", "GrLivArea", "GrLivArea must be between 0 and 250000, got -5"),
        ("250", "Neighborhood", "Neighborhood must have a value"),
    ]


def test_validate_reports_the_same_whatever_the_chunk_size(houses_csv: Path) -> None:
    # Given one file, validated in small chunks and in one chunk
    in_chunks = _in_process(["validate", houses_csv, "--chunk-size", 37])
    whole = _in_process(["validate", houses_csv, "--chunk-size", 100_000])

    # Then the reports are identical
    assert in_chunks.stdout == whole.stdout


def test_validate_lists_at_most_max_errors(houses_csv: Path) -> None:
    # When a file with three errors is validated with --max-errors 1
    run = _in_process(["validate", houses_csv, "--max-errors", "1"])

    # Then one error is listed, out of three (and one warning, apart)
    assert "first 1 of 3 errors:" in run.stdout
    assert len(_listed(run.stdout, "errors")) == 1
    assert len(_listed(run.stdout, "warnings")) == 1


def test_validate_reports_warnings_apart_from_errors(houses_csv: Path) -> None:
    """Check that validate lists the warnings a file's rows would get (issue 10), apart."""
    # When the file of test.csv houses is validated
    run = _in_process(["validate", houses_csv])

    # Then the warnings are counted by kind and listed with their rows, after the errors,
    # and the same rows get the same warnings from make_prediction
    assert run.stdout.index("errors by column:") < run.stdout.index("warnings by kind:")
    records = pd.read_csv(houses_csv)
    expected = make_prediction(input_data=records).warnings
    counts = dict(re.findall(r"^  ([a-z_]+)\s+(\d+)$", run.stdout, re.MULTILINE))
    assert counts == {
        kind: str(sum(w.kind.value == kind for w in expected))
        for kind in {w.kind.value for w in expected}
    }
    listed = _listed(run.stdout, "warnings")
    assert listed == [(str(w.row), w.column or "-", w.message) for w in expected[: len(listed)]]


def test_validate_of_a_clean_parquet_file_exits_0(
    test_records: pd.DataFrame, tmp_path: Path
) -> None:
    # Given a Parquet file of valid houses
    source = tmp_path / "houses.parquet"
    test_records.head(100).to_parquet(source)

    # When it is validated
    run = _in_process(["validate", source])

    # Then it exits with 0 and reports no invalid row
    assert run.exit_code == 0
    assert re.search(r"^invalid\s+0$", run.stdout, re.MULTILINE)
    assert "errors" not in run.stdout


# info and train


def test_info_shows_the_version_model_file_and_metrics() -> None:
    # When info is asked for as text
    run = _in_process(["info"])

    # Then it names the version, the model file, that it is intact, and every metric
    assert run.exit_code == 0, run.stderr
    assert f"regression_model {__version__}" in run.stdout
    assert re.search(rf"model file .*_v{re.escape(__version__)}\.pkl$", run.stdout, re.MULTILINE)
    assert "(matches the file)" in run.stdout
    for metric in ("holdout_rmse", "holdout_r2", "cv_rmse_log_mean"):
        assert re.search(rf"^  {metric}\s+\$?\d", run.stdout, re.MULTILINE)


def test_info_shows_the_price_band_and_the_training_range_of_every_number(
    config: Config,
) -> None:
    """Check that info reports the model's domain (issue 10), as its metadata holds it."""
    # When info is asked for as text
    run = _in_process(["info"])

    # Then it shows the band of prices and, for each numeric input, the range it is held to
    assert run.exit_code == 0, run.stderr
    domain = load_metadata(model_path=cli._model_path()).domain
    band = f"price band     ${domain.price.minimum:,.0f} to ${domain.price.maximum:,.0f}"
    assert band in run.stdout.splitlines()
    ranges = dict(re.findall(r"^  (\S+)\s+(\S+ to \S+)$", run.stdout, re.MULTILINE))
    assert set(ranges) == set(config.model.inputs.numeric_columns)
    assert ranges["GrLivArea"] == "334 to 4476"


def test_info_json_holds_the_model_metadata() -> None:
    # When info is asked for as JSON
    run = _in_process(["info", "--json"])

    # Then it parses, and its metadata is the metadata saved with the model
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["version"] == __version__
    assert report["model_sha256_matches"] is True
    saved = load_metadata(model_path=Path(report["model_file"]))
    assert report["metadata"] == saved.model_dump(mode="json")


def test_info_without_a_trained_model_says_how_to_train_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a model directory with no model
    monkeypatch.setattr(core, "TRAINED_MODEL_DIR", tmp_path)

    # When info is asked for, then it fails in one line that says what to run
    run = _in_process(["info", "--json"])
    assert run.exit_code == 1
    model_path = cli._model_path()
    assert run.stderr == f"Error: no trained model at {model_path}; train one with `tox -e train`\n"


def test_info_with_unreadable_metadata_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a model file whose metadata is not JSON
    monkeypatch.setattr(core, "TRAINED_MODEL_DIR", tmp_path)
    model_path = cli._model_path()
    model_path.write_bytes(b"a model")
    model_path.with_suffix(".json").write_text("{not json")

    # When info is asked for, then it fails in one line naming the metadata file
    run = _in_process(["info"])
    assert run.exit_code == 1
    assert re.fullmatch(r"Error: model metadata .*\.json is unreadable: .*\n", run.stderr)


def test_info_prints_counts_as_integers_and_money_with_separators() -> None:
    # When info is asked for as text
    run = _in_process(["info"])

    # Then counts are whole numbers, dollars carry separators, ratios four decimals
    assert run.exit_code == 0, run.stderr
    metrics = dict(re.findall(r"^  (\S+)\s+(.+)$", run.stdout, re.MULTILINE))
    assert metrics["cv_folds"] == "5"
    assert re.fullmatch(r"\d,\d{3}", metrics["training_rows"])
    assert re.fullmatch(r"\$\d{2},\d{3}", metrics["holdout_rmse"])
    assert re.fullmatch(r"0\.\d{4}", metrics["holdout_r2"])
    assert re.fullmatch(r"\d+\.\d s", metrics["training_seconds"])


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("cv_folds", 5, "5"),
        ("cv_folds", 5.0, "5"),
        ("training_rows", 1458, "1,458"),
        ("holdout_rmse", 21873.4, "$21,873"),
        ("holdout_rmse_log", 0.10781, "0.1078"),
        ("training_seconds", 1234.56, "1,234.6 s"),
    ],
    ids=["count", "count-from-old-metadata", "thousands", "money", "ratio", "seconds"],
)
def test_format_metric_shows_each_kind_as_a_person_reads_it(
    name: str, value: float, shown: str
) -> None:
    assert cli.format_metric(name, value) == shown


def test_predict_of_one_row_says_1_row(test_records: pd.DataFrame, tmp_path: Path) -> None:
    """Non-regression test for #11: "Scored 1 rows"."""
    # Given a file of one house
    source, output = tmp_path / "one.csv", tmp_path / "out.csv"
    test_records.head(1).to_csv(source, index=False)

    # When it is scored
    run = _in_process(["predict", source, "-o", output])

    # Then the summary speaks of one row
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith(f"Scored 1 row (0 with errors) into {output} in ")


def test_train_runs_training_and_says_where_the_model_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check the command's wiring; tests/test_train_pipeline.py tests training itself."""
    # Given training that records its calls and saves into a scratch directory
    calls: list[dict[str, object]] = []

    def record_training(**kwargs: object) -> Path:
        calls.append(kwargs)
        return tmp_path / "model.pkl"

    monkeypatch.setattr(train_pipeline, "run_training", record_training)

    # When the train command runs
    run = _in_process(["train"])

    # Then it trained once, with the packaged config and data, and says where the model is
    assert run.exit_code == 0, run.stderr
    assert calls == [{}]
    assert run.stdout == f"Saved the trained model to {tmp_path / 'model.pkl'}\n"


# The real process: entry point, terminal, memory


def test_python_m_regression_model_runs_the_command_line() -> None:
    # When the package is run as a module
    run = _in_subprocess(["--version"])

    # Then the command line answers
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == f"regression-model, version {__version__}"


def test_running_the_package_as_a_module_calls_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the arguments of `python -m regression_model --version`
    monkeypatch.setattr(sys, "argv", ["regression-model", "--version"])
    # runpy warns if the module it runs as __main__ was imported before (doctests import it).
    monkeypatch.delitem(sys.modules, "regression_model.__main__", raising=False)

    # When the package's __main__ runs in this process
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("regression_model", run_name="__main__")

    # Then the command line ran
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"regression-model, version {__version__}"


def test_predict_draws_a_progress_bar_when_stderr_is_a_terminal(
    houses_csv: Path, tmp_path: Path
) -> None:
    # Given stderr attached to a terminal
    controller, terminal = pty.openpty()
    args = ["predict", houses_csv, "-o", tmp_path / "out.csv", "--chunk-size", SMALL_CHUNK]

    # When a file is scored
    process = subprocess.Popen(
        _cli_command(args), stdout=subprocess.DEVNULL, stderr=terminal, env=_child_env()
    )
    os.close(terminal)
    drawn = b""
    while True:
        try:
            block = os.read(controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not block:
            break
        drawn += block
    os.close(controller)

    # Then it succeeds, and the terminal shows the bar, finished
    assert process.wait(timeout=300) == 0
    assert b"Scoring" in drawn
    assert b"100%" in drawn


# Runs the command given as arguments and prints its peak resident memory. A child's ru_maxrss
# starts from the memory of the process that forked it, so the measuring parent must be small:
# this fresh interpreter, not the test process.
_PRINT_PEAK_RSS = """
import resource, subprocess, sys
returncode = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(returncode)
"""


def _peak_rss_mib(args: CliArgs) -> float:
    """Run the command line in a child process; return the child's peak resident memory."""
    measured = subprocess.run(
        [sys.executable, "-c", _PRINT_PEAK_RSS, *_cli_command(args)],
        capture_output=True,
        text=True,
        env=_child_env(),
        timeout=300,
    )
    assert measured.returncode == 0, measured.stderr
    return int(measured.stdout) / 1024  # Linux reports KiB


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB only on Linux")
def test_predict_streams_a_file_many_chunks_long_in_bounded_memory(
    test_records: pd.DataFrame, tmp_path: Path
) -> None:
    """Check that peak memory grows with the chunk size, not the file size.

    The baseline is one chunk's worth of file; scoring a file 120 chunks long must add far
    less memory than reading that same file in one chunk adds. (Streamed, the heap still
    creeps a little with the file's length, as 2.0.0's did: about 20 MB over 20,000 rows and
    33 MB over 60,000, where reading 60,000 rows at once adds about 200 MB. At 20,000 rows
    the margin was too thin for a loaded machine.)
    """
    # Given a 500-row file and a 60,000-row file
    chunk_size, n_rows = 500, 60_000
    big = pd.concat([test_records] * -(-n_rows // len(test_records)), ignore_index=True)
    small_path, big_path = tmp_path / "small.csv", tmp_path / "big.csv"
    big.head(chunk_size).to_csv(small_path, index=False)
    big.head(n_rows).to_csv(big_path, index=False)

    # When each is scored 500 rows at a time, and the big one also in one chunk
    def peak(source: Path, chunks_of: int) -> float:
        args = ["predict", source, "-o", tmp_path / "out.csv", "--overwrite"]
        return _peak_rss_mib([*args, "--chunk-size", chunks_of])

    baseline = peak(small_path, chunk_size)
    streamed = peak(big_path, chunk_size)
    loaded_whole = peak(big_path, n_rows)

    # Then loading the file whole costs a lot, and streaming it a small fraction of that
    assert loaded_whole - baseline > 50, (baseline, loaded_whole)
    assert streamed - baseline < (loaded_whole - baseline) / 5, (baseline, streamed, loaded_whole)


# Concurrency, signals and leftovers


def test_a_second_writer_of_a_new_output_fails_instead_of_replacing_it(
    houses_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Non-regression test for #11: two runs to one new output both exited 0."""
    # Given another run that creates the output while this one is scoring
    output = tmp_path / "out.csv"

    def other_run_finishes_first(
        *, input_data: pd.DataFrame, interval: float | None = None, **explain: object
    ) -> PredictionResult:
        if not output.exists():
            output.write_text("the other run's output\n")
        return make_prediction(input_data=input_data)

    monkeypatch.setattr(batch, "make_prediction", other_run_finishes_first)

    # When this run finishes, without --overwrite
    run = _in_process(["predict", houses_csv, "-o", output])

    # Then it fails in one line, and the other run's output and nothing else is left
    assert run.exit_code == 2
    assert run.stderr == (
        f"Error: output {output} was created by another run while this one wrote it; "
        "pass --overwrite to replace it\n"
    )
    assert output.read_text() == "the other run's output\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["houses.csv", "out.csv"]


def test_predict_removes_stale_partial_files_of_its_output_only(
    houses_csv: Path, tmp_path: Path
) -> None:
    """Check that a killed run's leftovers go, and a live run's and other files stay."""
    # Given a killed run's temporary file, a live run's (locked), and look-alikes
    output = tmp_path / "out.csv"
    stale = tmp_path / ".out.csv.0123abcd.partial"
    live = tmp_path / ".out.csv.89abcdef.partial"
    others = [tmp_path / ".out.csv.notours.partial", tmp_path / ".other.csv.0123abcd.partial"]
    for path in [stale, live, *others]:
        path.write_text("partial rows\n")

    with live.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)

        # When a new run writes the same output
        run = _in_process(["predict", houses_csv, "-o", output])

        # Then it succeeds, removing only the stale file of its own pattern
        assert run.exit_code == 0, run.stderr
    assert not stale.exists()
    assert live.exists() and all(path.exists() for path in others)


def _default_ctrl_c() -> None:
    # A shell's background job inherits SIGINT ignored, and Python then keeps ignoring it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_predict(args: CliArgs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _cli_command(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(),
        preexec_fn=_default_ctrl_c,
    )


def _wait_for_partial(directory: Path, process: subprocess.Popen[str]) -> None:
    """Block until the run has started writing, its temporary file existing."""
    while not any(directory.glob(".*.partial")):
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)


@pytest.mark.parametrize(
    "signal_number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["INT", "TERM", "HUP"]
)
def test_a_stopping_signal_leaves_no_partial_file(
    test_records: pd.DataFrame, tmp_path: Path, signal_number: signal.Signals
) -> None:
    """Non-regression test for #11: kill -TERM left the hidden .partial file behind."""
    # Given a run scoring a file long enough to be caught mid-way, in small chunks
    source, output = tmp_path / "houses.csv", tmp_path / "out.csv"
    pd.concat([test_records] * 20, ignore_index=True).to_csv(source, index=False)
    process = _start_predict(["predict", source, "-o", output, "--chunk-size", SMALL_CHUNK])
    _wait_for_partial(tmp_path, process)

    # When the signal arrives
    process.send_signal(signal_number)
    stdout, stderr = process.communicate(timeout=300)

    # Then the run stops as Ctrl-C would, in one line, and leaves the input alone
    assert process.returncode == 128 + signal_number
    assert stderr == f"Error: interrupted by {signal_number.name}; {output} was not written\n"
    assert [path.name for path in tmp_path.iterdir()] == ["houses.csv"]


# Broken models, configs and installs, in a copy of the package (subprocess)


def _run_copy(package_dir: Path, args: CliArgs, *, env: dict[str, str] | None = None) -> CliRun:
    """Run the command line of a package copy; as root, without root's file permissions."""
    child_env = {**os.environ, "PYTHONPATH": str(package_dir.parent), **(env or {})}
    # Root reads any file whatever its mode: drop the two capabilities that allow that, so
    # a file made unreadable stays unreadable, as it would for any other user.
    if _is_root_with_setpriv():
        capabilities = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--inh-caps={capabilities}", f"--bounding-set={capabilities}"]
    else:
        prefix = []
    completed = subprocess.run(
        [*prefix, *_cli_command(args)],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=300,
        cwd=package_dir.parent,
    )
    return CliRun(completed.returncode, completed.stdout, completed.stderr)


def _is_root_with_setpriv() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


def _require_file_modes_enforced() -> None:
    """Skip where nothing can make a file unreadable to the command: root without setpriv.

    tests/test_data_manager.py covers the same messages in-process, with open() refused.
    """
    if os.geteuid() == 0 and not _is_root_with_setpriv():
        pytest.skip("root reads any file, and setpriv (util-linux) is not there to stop it")


def _model_of(package_dir: Path) -> Path:
    (model_path,) = (package_dir / "trained_models").glob("*.pkl")
    return model_path


def _replace_model(package_dir: Path, model: object) -> Path:
    """Save ``model`` as the copy's model file, with the sha256 its metadata expects."""
    model_path = _model_of(package_dir)
    joblib.dump(model, model_path)
    metadata = json.loads(model_path.with_suffix(".json").read_text())
    metadata["model_sha256"] = hashlib.sha256(model_path.read_bytes()).hexdigest()
    model_path.with_suffix(".json").write_text(json.dumps(metadata))
    return model_path


def _edit_config(package_dir: Path, old: str, new: str) -> tuple[Path, int]:
    """Replace ``old`` in the copy's config; return the file and the line ``old`` was on."""
    config_path = package_dir / "config.yml"
    text = config_path.read_text()
    assert old in text
    config_path.write_text(text.replace(old, new, 1))
    return config_path, text[: text.index(old)].count("\n") + 1


def _unreadable_model(package_dir: Path) -> str:
    _require_file_modes_enforced()
    model_path = _model_of(package_dir)
    model_path.chmod(0)
    return f"cannot read model file {model_path}: Permission denied"


def _unreadable_metadata(package_dir: Path) -> str:
    _require_file_modes_enforced()
    metadata = _model_of(package_dir).with_suffix(".json")
    metadata.chmod(0)
    return f"cannot read model metadata {metadata}: Permission denied"


def _metadata_is_a_directory(package_dir: Path) -> str:
    metadata = _model_of(package_dir).with_suffix(".json")
    metadata.unlink()
    metadata.mkdir()
    return f"cannot read model metadata {metadata}: Is a directory"


def _metadata_not_utf8(package_dir: Path) -> str:
    metadata = _model_of(package_dir).with_suffix(".json")
    not_utf8 = b"\xff"
    damaged = metadata.read_bytes().replace(b"train.csv", b"tr" + not_utf8 + b"in.csv")
    metadata.write_bytes(damaged)
    position = damaged.index(not_utf8)
    return f"model metadata {metadata} is unreadable: not UTF-8 text (byte {position})"


def _metadata_missing_a_field(package_dir: Path) -> str:
    metadata = _model_of(package_dir).with_suffix(".json")
    fields = json.loads(metadata.read_text())
    del fields["metrics"]
    metadata.write_text(json.dumps(fields))
    return f"model metadata {metadata} is unreadable: metrics: Field required"


def _config_missing(package_dir: Path) -> str:
    (package_dir / "config.yml").unlink()
    return f"cannot read config {package_dir / 'config.yml'}: No such file or directory"


def _cv_folds_as_text(package_dir: Path) -> str:
    config_path, line = _edit_config(package_dir, "cv_folds: 5", "cv_folds: five")
    return (
        f"invalid config {config_path} line {line}, model.cv_folds: expecting an integer, "
        "found 'five'"
    )


def _unfitted_pipeline(package_dir: Path) -> str:
    model_path = _replace_model(package_dir, build_pipeline(load_config().model))
    return f"{model_path.name} holds a pipeline that was never fitted"


def _pipeline_of_other_features(package_dir: Path) -> str:
    other = Pipeline([("mean", DummyRegressor())])
    other.fit(pd.DataFrame({"Rooms": [1, 2], "Garden": [0, 1]}), [1.0, 2.0])
    model_path = _replace_model(package_dir, other)
    features = load_config().model.features
    return (
        f"{model_path.name} holds a pipeline fitted on other columns than this package's "
        f"features (lacks {', '.join(features[:5])} and {len(features) - 5} more; "
        "adds Rooms, Garden); retrain with `tox -e train`"
    )


def _no_model(package_dir: Path) -> str:
    model_path = _model_of(package_dir)
    model_path.unlink()
    return f"no trained model at {model_path}; train one with `tox -e train`"


def _no_model_in_a_wheel(package_dir: Path) -> str:
    shutil.rmtree(package_dir / "datasets")
    model_path = _model_of(package_dir)
    model_path.unlink()
    return (
        f"no trained model at {model_path}; the installed package ships its model, so the "
        "installation is broken; reinstall the wheel"
    )


# (case id, break the copy and return the one stderr line every command must print)
BROKEN_INSTALLS: list[tuple[str, Callable[[Path], str]]] = [
    ("model-unreadable", _unreadable_model),
    ("metadata-unreadable", _unreadable_metadata),
    ("metadata-is-a-directory", _metadata_is_a_directory),
    ("metadata-not-utf8", _metadata_not_utf8),
    ("metadata-missing-a-field", _metadata_missing_a_field),
    ("config-missing", _config_missing),
    ("config-cv-folds-as-text", _cv_folds_as_text),
    ("unfitted-pipeline", _unfitted_pipeline),
    ("pipeline-of-other-features", _pipeline_of_other_features),
    ("no-model", _no_model),
    ("no-model-in-a-wheel", _no_model_in_a_wheel),
]


@pytest.mark.parametrize(
    "break_copy", [case[1] for case in BROKEN_INSTALLS], ids=[case[0] for case in BROKEN_INSTALLS]
)
def test_predict_with_an_unusable_model_or_config_exits_1_in_one_line(
    package_copy: Path, houses_csv: Path, tmp_path: Path, break_copy: Callable[[Path], str]
) -> None:
    """Non-regression test for #11: tracebacks, and the output blamed for the model's fault."""
    # Given a package whose model, metadata or config cannot be used
    message = break_copy(package_copy)

    # When a file is scored
    run = _run_copy(package_copy, ["predict", houses_csv, "-o", tmp_path / "out.csv"])

    # Then the command names the culprit in one line, exits with 1 and writes nothing
    assert (run.exit_code, run.stderr) == (1, f"Error: {message}\n")
    assert not any(path.name.startswith((".out", "out")) for path in tmp_path.iterdir())


@pytest.mark.parametrize(
    "break_copy",
    [_unreadable_metadata, _metadata_is_a_directory, _metadata_not_utf8, _no_model_in_a_wheel],
    ids=["metadata-unreadable", "metadata-is-a-directory", "metadata-not-utf8", "no-model"],
)
def test_info_with_an_unusable_model_exits_1_in_one_line(
    package_copy: Path, break_copy: Callable[[Path], str]
) -> None:
    # Given a package whose model or metadata cannot be used
    message = break_copy(package_copy)

    # When info is asked for, then it names the culprit in one line and exits with 1
    run = _run_copy(package_copy, ["info"])
    assert (run.exit_code, run.stderr) == (1, f"Error: {message}\n")


@pytest.mark.parametrize("field", ["model_sha256", "package_version"], ids=["sha256", "version"])
def test_info_of_a_model_that_does_not_match_its_metadata_exits_1(
    package_copy: Path, field: str
) -> None:
    """Non-regression test for #11: info printed "DOES NOT MATCH" and exited 0."""
    # Given metadata whose sha256 or version differs from the model's
    model_path = _model_of(package_copy)
    metadata = json.loads(model_path.with_suffix(".json").read_text())
    metadata[field] = {"model_sha256": "0" * 64, "package_version": "0.0.1"}[field]
    model_path.with_suffix(".json").write_text(json.dumps(metadata))

    # When info is asked for, as text and as JSON
    text, as_json = _run_copy(package_copy, ["info"]), _run_copy(package_copy, ["info", "--json"])

    # Then both print the report, and fail in one line that names the mismatch
    expected = {
        "model_sha256": f"Error: {model_path.name} does not match the sha256 in its metadata; "
        "the file is corrupt or was replaced\n",
        "package_version": f"Error: {model_path.name} was trained by version 0.0.1, "
        f"this is version {__version__}\n",
    }[field]
    for run in (text, as_json):
        assert (run.exit_code, run.stderr) == (1, expected)
    assert "model sha256" in text.stdout
    assert json.loads(as_json.stdout)["metadata"][field] == metadata[field]


def test_train_from_an_installed_wheel_says_where_training_runs(package_copy: Path) -> None:
    """Non-regression test for #11: a 51-line FileNotFoundError traceback."""
    # Given a package without its datasets, as a wheel installs it
    shutil.rmtree(package_copy / "datasets")

    # When training is asked for
    run = _run_copy(package_copy, ["train"])

    # Then it says, in one line, to train from a source checkout, and exits with 2
    training_data = package_copy / "datasets" / "train.csv"
    assert (run.exit_code, run.stderr) == (
        2,
        f"Error: no data file {training_data} (an installed package holds no training data); "
        "train from a source checkout with `tox -e train`\n",
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("test_size: 0.1", "test_size: ten", "model.test_size: expecting a float, found 'ten'"),
        (
            "cv_folds: 5",
            "cv_folds: 100000",
            "model.cv_folds: 100000 folds need at least as many training rows; there are 1458",
        ),
    ],
    ids=["test-size-as-text", "more-folds-than-rows"],
)
def test_train_with_a_broken_config_exits_1_naming_the_key(
    package_copy: Path, old: str, new: str, message: str
) -> None:
    """Non-regression test for #11: `test_size: ten` named target_below; 100000 folds crashed
    inside scikit-learn."""
    # Given a config with one bad value
    config_path, line = _edit_config(package_copy, old, new)

    # When training is asked for, then it names the key and its line, and exits with 1
    run = _run_copy(package_copy, ["train"])
    assert (run.exit_code, run.stderr) == (
        1,
        f"Error: invalid config {config_path} line {line}, {message}\n",
    )


@pytest.mark.parametrize(
    ("flag", "env"),
    [(["--debug"], {}), ([], {cli.DEBUG_ENVIRONMENT_VARIABLE: "1"})],
    ids=["flag", "environment"],
)
def test_debug_shows_the_traceback(
    package_copy: Path, flag: list[str], env: dict[str, str]
) -> None:
    # Given a package whose config cannot be read
    (package_copy / "config.yml").unlink()

    # When info runs with --debug or the environment variable
    run = _run_copy(package_copy, [*flag, "info"], env=env)

    # Then the traceback is shown, ending in the same error
    assert run.exit_code == 1
    assert run.stderr.startswith("Traceback (most recent call last):")
    assert (
        run.stderr.rstrip()
        .splitlines()[-1]
        .startswith("regression_model.errors.ConfigError: cannot read config")
    )
