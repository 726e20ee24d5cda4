"""The regression-model command line, run on real files in tmp_path.

Most tests run a command in-process through click's CliRunner: it is quick, and coverage
sees it. The error cases run both in-process and as a real ``python -m regression_model``
subprocess; the streaming, progress-bar and entry-point tests need a real process.
"""

from __future__ import annotations

import errno
import json
import os
import pty
import re
import runpy
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from click.testing import CliRunner

import regression_model
from regression_model import __version__, batch, cli, train_pipeline
from regression_model.batch import ERROR_COLUMN, PREDICTION_COLUMN
from regression_model.cli import main
from regression_model.config import core
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
    assert list(scored.columns) == [*raw.columns, PREDICTION_COLUMN, ERROR_COLUMN]
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
    assert list(scored.columns) == [*test_records.columns, PREDICTION_COLUMN, ERROR_COLUMN]
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

    def fail_on_second_chunk(*, input_data: pd.DataFrame) -> PredictionResult:
        calls.append(len(input_data))
        if len(calls) == 2:
            raise ModelLoadError("the model file does not match its metadata")
        return make_prediction(input_data=input_data)

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

    monkeypatch.setattr(pd.DataFrame, "to_csv", disk_full)

    # When a file is scored
    run = _in_process(["predict", houses_csv, "-o", tmp_path / "scored.csv"])

    # Then the command fails in one line, and leaves no file behind
    assert run.exit_code == 2
    assert re.fullmatch(r"Error: cannot write .*scored\.csv: No space left on device\n", run.stderr)
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


# Mistakes a user can make: (case id, write the files and give the arguments, stderr pattern)
def _missing_input(tmp_path: Path, houses_csv: Path) -> CliArgs:
    return ["predict", tmp_path / "missing.csv", "-o", tmp_path / "out.csv"]


def _directory_input(tmp_path: Path, houses_csv: Path) -> CliArgs:
    (tmp_path / "folder.csv").mkdir()
    return ["predict", tmp_path / "folder.csv", "-o", tmp_path / "out.csv"]


def _unknown_input_extension(tmp_path: Path, houses_csv: Path) -> CliArgs:
    source = tmp_path / "houses.txt"
    source.write_bytes(houses_csv.read_bytes())
    return ["predict", source, "-o", tmp_path / "out.txt"]


def _unknown_output_extension(tmp_path: Path, houses_csv: Path) -> CliArgs:
    return ["predict", houses_csv, "-o", tmp_path / "out.xlsx"]


def _output_in_another_format(tmp_path: Path, houses_csv: Path) -> CliArgs:
    return ["predict", houses_csv, "-o", tmp_path / "out.parquet"]


def _output_directory_missing(tmp_path: Path, houses_csv: Path) -> CliArgs:
    return ["predict", houses_csv, "-o", tmp_path / "nowhere" / "out.csv"]


def _output_is_a_directory(tmp_path: Path, houses_csv: Path) -> CliArgs:
    (tmp_path / "out.csv").mkdir()
    return ["predict", houses_csv, "-o", tmp_path / "out.csv", "--overwrite"]


def _output_exists(tmp_path: Path, houses_csv: Path) -> CliArgs:
    (tmp_path / "out.csv").write_text("an earlier run\n")
    return ["predict", houses_csv, "-o", tmp_path / "out.csv"]


def _empty_file(tmp_path: Path, houses_csv: Path) -> CliArgs:
    (tmp_path / "empty.csv").write_bytes(b"")
    return ["predict", tmp_path / "empty.csv", "-o", tmp_path / "out.csv"]


def _not_utf8(tmp_path: Path, houses_csv: Path) -> CliArgs:
    (tmp_path / "latin1.csv").write_bytes("Id,Neighborhood\n1,Sāwyer\n".encode("utf-16"))
    return ["predict", tmp_path / "latin1.csv", "-o", tmp_path / "out.csv"]


def _malformed_mid_file(tmp_path: Path, houses_csv: Path) -> CliArgs:
    lines = houses_csv.read_text().splitlines(keepends=True)
    lines[300] = lines[300].rstrip("\n") + ",an extra field\n"
    houses_csv.write_text("".join(lines))
    return ["predict", houses_csv, "-o", tmp_path / "out.csv", "--chunk-size", SMALL_CHUNK]


def _not_parquet(tmp_path: Path, houses_csv: Path) -> CliArgs:
    (tmp_path / "houses.parquet").write_bytes(houses_csv.read_bytes())
    return ["predict", tmp_path / "houses.parquet", "-o", tmp_path / "out.parquet"]


def _has_a_prediction_column(tmp_path: Path, houses_csv: Path) -> CliArgs:
    pd.read_csv(houses_csv).assign(prediction=1.0).to_csv(houses_csv, index=False)
    return ["predict", houses_csv, "-o", tmp_path / "out.csv"]


def _validate_missing_input(tmp_path: Path, houses_csv: Path) -> CliArgs:
    return ["validate", tmp_path / "missing.parquet"]


def _validate_malformed_mid_file(tmp_path: Path, houses_csv: Path) -> CliArgs:
    return ["validate", *_malformed_mid_file(tmp_path, houses_csv)[1:2], "--chunk-size", 64]


USER_ERRORS: list[tuple[str, Callable[[Path, Path], CliArgs], str]] = [
    ("missing-input", _missing_input, r"input file .*missing\.csv does not exist"),
    ("input-is-a-directory", _directory_input, r"input .*folder\.csv is not a file"),
    ("unknown-input-extension", _unknown_input_extension, r"unknown file type '\.txt'"),
    ("unknown-output-extension", _unknown_output_extension, r"unknown file type '\.xlsx'"),
    ("output-in-another-format", _output_in_another_format, r"must be a csv file"),
    ("output-directory-missing", _output_directory_missing, r"directory .*nowhere does not"),
    ("output-is-a-directory", _output_is_a_directory, r"output .*out\.csv is a directory"),
    ("output-exists", _output_exists, r"out\.csv already exists; pass --overwrite"),
    ("empty-file", _empty_file, r"cannot read .*empty\.csv: No columns to parse"),
    ("not-utf8", _not_utf8, r"cannot read .*latin1\.csv: .*codec can't decode"),
    (
        "malformed-mid-file",
        _malformed_mid_file,
        r"cannot read .*houses\.csv: .*Expected \d+ fields",
    ),
    ("not-parquet", _not_parquet, r"cannot read .*houses\.parquet: .*magic bytes"),
    ("has-a-prediction-column", _has_a_prediction_column, r"already has the column.*prediction"),
    ("validate-missing-input", _validate_missing_input, r"missing\.parquet does not exist"),
    ("validate-malformed-mid-file", _validate_malformed_mid_file, r"Expected \d+ fields"),
]


@pytest.mark.parametrize(
    ("make_args", "message"),
    [case[1:] for case in USER_ERRORS],
    ids=[case[0] for case in USER_ERRORS],
)
def test_a_user_error_exits_2_with_one_line_and_leaves_no_file(
    run_cli: Callable[[CliArgs], CliRun],
    houses_csv: Path,
    tmp_path: Path,
    make_args: Callable[[Path, Path], CliArgs],
    message: str,
) -> None:
    # Given a mistake in the files or the arguments
    args = make_args(tmp_path, houses_csv)
    files_before = _files(tmp_path)

    # When the command runs
    run = run_cli(args)

    # Then it exits with 2 and one line on stderr, no traceback
    assert run.exit_code == 2, run.stderr
    (line,) = run.stderr.splitlines()
    assert line.startswith("Error: ")
    assert re.search(message, line), line
    assert run.stdout == ""
    # ... and no file was created or changed, partial output included
    assert _files(tmp_path) == files_before


# validate


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
    errors = re.findall(r"^  row (\d+)\s+(\S+)\s+(.+)$", run.stdout, re.MULTILINE)
    assert errors == [
        ("5", "LotArea", "LotArea must be a number, got 'big'"),
        ("250", "GrLivArea", "GrLivArea must be between 0 and 250000, got -5"),
        ("250", "Neighborhood", "Neighborhood is required but has no value"),
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

    # Then one error is listed, out of three
    assert "first 1 of 3 errors:" in run.stdout
    assert len(re.findall(r"^  row ", run.stdout, re.MULTILINE)) == 1


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
        assert re.search(rf"^  {metric}\s+\d", run.stdout, re.MULTILINE)


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
    assert run.stderr.count("\n") == 1
    assert "no trained model" in run.stderr and "regression-model train" in run.stderr


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

    The baseline is one chunk's worth of file; scoring a file 40 chunks long must add far
    less memory than reading that same file in one chunk adds.
    """
    # Given a 500-row file and a 20,000-row file
    chunk_size, n_rows = 500, 20_000
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
