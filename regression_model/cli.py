"""The ``regression-model`` command line: score files, validate them, train, describe the model.

Run it as ``regression-model COMMAND`` or ``python -m regression_model COMMAND``.

Exit codes: 0 on success; 1 when ``validate`` finds invalid rows or the trained model cannot
be loaded; 2 for a mistake in the command (a missing, unreadable or unknown kind of file, or an
output that exists without ``--overwrite``). Every failure prints one line on stderr.

Files are read and written in chunks of ``--chunk-size`` rows, so memory does not grow with
the file. The model sees a CSV file's values typed as ``pd.read_csv`` types them, and the
output gets its cells back unchanged, as text (cells pandas reads as missing, such as ``NA``,
come back empty). Parquet columns pass through with their Arrow types.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click
import pandas as pd

from regression_model import __version__

# scikit-learn, the model and pyarrow are imported inside the commands that use them: loading
# them takes a second that `--help` and a mistyped file name should not cost.
if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_CHUNK_SIZE = 10_000
DEFAULT_MAX_ERRORS = 20


class UsageError(click.ClickException):
    """A mistake in the command: reported in one line on stderr, exit code 2."""

    exit_code = 2


class TableFormat(str, Enum):
    """The file formats the command line reads and writes, chosen by file extension."""

    CSV = "csv"
    PARQUET = "parquet"


_FORMAT_BY_SUFFIX = {
    ".csv": TableFormat.CSV,
    ".parquet": TableFormat.PARQUET,
    ".pq": TableFormat.PARQUET,
}


def table_format(path: Path) -> TableFormat:
    """The format of a table file, from its extension.

    Raises
    ------
    UsageError
        If the extension is not ``.csv``, ``.parquet`` or ``.pq``.
    """
    try:
        return _FORMAT_BY_SUFFIX[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(_FORMAT_BY_SUFFIX))
        raise UsageError(f"{path}: unknown file type {path.suffix!r}; use one of {known}") from None


def _check_input(path: Path) -> TableFormat:
    if not path.exists():
        raise UsageError(f"input file {path} does not exist")
    if not path.is_file():
        raise UsageError(f"input {path} is not a file")
    return table_format(path)


def _check_output(path: Path, *, input_format: TableFormat, overwrite: bool) -> None:
    if table_format(path) is not input_format:
        raise UsageError(
            f"output {path} must be a {input_format.value} file, the same format as the input"
        )
    if not path.parent.is_dir():
        raise UsageError(f"the output's directory {path.parent} does not exist")
    if path.is_dir():
        raise UsageError(f"output {path} is a directory")
    if path.exists() and not overwrite:
        raise UsageError(f"output {path} already exists; pass --overwrite to replace it")


def _first_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror  # "No space left on device", without "[Errno 28]"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn any failure to read or parse ``path`` into a one-line UsageError."""
    try:
        yield
    # pandas' and pyarrow's parse errors are ValueErrors, their I/O errors OSErrors.
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {path}: {_first_line(error)}") from error


def _csv_chunks(
    path: Path,
    *,
    chunk_size: int,
    as_text: bool,
    on_progress: Callable[[int], None] = lambda done: None,
) -> Iterator[pd.DataFrame]:
    """The rows of a CSV file in chunks; ``on_progress`` gets the number of bytes read so far.

    With ``as_text``, every cell is read as text (NaN where missing), so every chunk has the
    same dtypes whatever values it holds and cells can be written back as they were read.
    Without it, pandas infers each chunk's dtypes as ``pd.read_csv`` does for a whole file.
    """
    with _reading(path), path.open("rb") as handle:
        dtype = object if as_text else None
        # low_memory=False: infer each column's dtype from the whole chunk, never from parts
        # of it, which could mix numbers and text in one column (pandas' DtypeWarning).
        reader = pd.read_csv(handle, dtype=dtype, chunksize=chunk_size, low_memory=False)
        with reader:
            for chunk in reader:
                on_progress(handle.tell())
                yield chunk


def _csv_columns(path: Path) -> list[str]:
    with _reading(path):
        return [str(name) for name in pd.read_csv(path, dtype=object, nrows=0).columns]


def _arrow_to_frame(batch: pa.RecordBatch) -> pd.DataFrame:
    # Without the pandas metadata, index columns stay plain columns and batches convert alike.
    frame: pd.DataFrame = batch.replace_schema_metadata(None).to_pandas()
    return frame


def _parquet_batches(
    path: Path, *, chunk_size: int, on_progress: Callable[[int], None] = lambda done: None
) -> Iterator[pa.RecordBatch]:
    """The rows of a Parquet file in record batches; ``on_progress`` gets the rows read."""
    import pyarrow.parquet as pq

    with _reading(path), pq.ParquetFile(path) as parquet_file:
        done = 0
        for batch in parquet_file.iter_batches(batch_size=chunk_size):
            done += batch.num_rows
            on_progress(done)
            yield batch


def _parquet_schema(path: Path) -> pa.Schema:
    import pyarrow.parquet as pq

    with _reading(path), pq.ParquetFile(path) as parquet_file:
        return parquet_file.schema_arrow


def _frames(path: Path, *, file_format: TableFormat, chunk_size: int) -> Iterator[pd.DataFrame]:
    if file_format is TableFormat.CSV:
        yield from _csv_chunks(path, chunk_size=chunk_size, as_text=False)
    else:
        for batch in _parquet_batches(path, chunk_size=chunk_size):
            yield _arrow_to_frame(batch)


def _is_terminal(stream: TextIO) -> bool:
    return stream.isatty()


@contextlib.contextmanager
def _progress_bar(*, total: int, is_shown: bool) -> Iterator[Callable[[int], None]]:
    """A callback taking the units done so far, drawing a bar on stderr when ``is_shown``."""
    if not is_shown:
        yield lambda done: None
        return
    with click.progressbar(length=total, label="Scoring", file=sys.stderr) as bar:
        last = 0

        def advance(done: int) -> None:
            nonlocal last
            bar.update(done - last)
            last = done

        yield advance


@contextlib.contextmanager
def _replacing(destination: Path) -> Iterator[Path]:
    """A temporary path beside ``destination`` that becomes it only if the block succeeds.

    A failure, including Ctrl-C, removes the temporary file, so ``destination`` is never left
    half written and an existing one stays as it was.
    """
    partial = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.partial")
    try:
        yield partial
        partial.replace(destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _predict_csv(
    source: Path, partial: Path, *, chunk_size: int, show_progress: bool
) -> tuple[int, int]:
    from regression_model.batch import OUTPUT_COLUMNS, attach_scores, score_rows

    n_rows = n_errors = 0
    header = pd.DataFrame(columns=[*_csv_columns(source), *OUTPUT_COLUMNS])
    with _progress_bar(total=source.stat().st_size, is_shown=show_progress) as advance:
        # The file is parsed twice, in step, chunk for chunk: the model gets numbers typed as
        # pd.read_csv types them, which it validates much faster than text, and the output
        # gets the cells as text, unchanged and with the same dtypes in every chunk.
        cells = _csv_chunks(source, chunk_size=chunk_size, as_text=True, on_progress=advance)
        typed = _csv_chunks(source, chunk_size=chunk_size, as_text=False)
        # "x": the name was just drawn at random; never write into a file someone else made.
        with partial.open("x", newline="", encoding="utf-8") as out:
            # The header goes first, so that a file with no rows still gets one.
            header.to_csv(out, index=False)
            for cells_chunk, typed_chunk in zip(cells, typed, strict=True):
                scores = score_rows(input_data=typed_chunk)
                scored = attach_scores(input_data=cells_chunk, scores=scores)
                scored.to_csv(out, header=False, index=False)
                n_rows += len(cells_chunk)
                n_errors += scores.n_rows_with_errors
    return n_rows, n_errors


def _predict_parquet(
    source: Path, partial: Path, *, chunk_size: int, show_progress: bool
) -> tuple[int, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from regression_model.batch import ERROR_COLUMN, PREDICTION_COLUMN, score_rows

    schema = _parquet_schema(source)
    out_schema = schema.append(pa.field(PREDICTION_COLUMN, pa.float64())).append(
        pa.field(ERROR_COLUMN, pa.string())
    )
    with _reading(source), pq.ParquetFile(source) as parquet_file:
        total = parquet_file.metadata.num_rows
    n_rows = n_errors = 0
    with _progress_bar(total=total, is_shown=show_progress) as advance:
        with partial.open("xb") as out, pq.ParquetWriter(out, out_schema) as writer:
            for batch in _parquet_batches(source, chunk_size=chunk_size, on_progress=advance):
                scored = score_rows(input_data=_arrow_to_frame(batch))
                # The input's Arrow columns pass through untouched; a failed row's price is null.
                columns = [
                    *batch.columns,
                    pa.array(scored.prices, from_pandas=True),
                    pa.array(scored.errors, type=pa.string()),
                ]
                writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=out_schema))
                n_rows += batch.num_rows
                n_errors += scored.n_rows_with_errors
    return n_rows, n_errors


def _input_columns(path: Path, file_format: TableFormat) -> list[str]:
    if file_format is TableFormat.CSV:
        return _csv_columns(path)
    return list(_parquet_schema(path).names)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="regression-model")
def main() -> None:
    """Predict house sale prices in Ames, Iowa, from CSV or Parquet files."""


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    "output_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Where to write the scored rows; the same format as INPUT.",
)
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK_SIZE,
    show_default=True,
    help="Rows read, scored and written at a time; memory grows with it.",
)
def predict(input_path: Path, output_path: Path, overwrite: bool, chunk_size: int) -> None:
    """Score every row of INPUT (.csv or .parquet) into OUTPUT.

    OUTPUT holds every input column and row, in input order, plus `prediction` (the sale
    price in dollars, empty where the row has errors) and `error` (the row's problems, empty
    when it was scored).
    """
    file_format = _check_input(input_path)
    _check_output(output_path, input_format=file_format, overwrite=overwrite)
    from regression_model.batch import check_no_output_columns
    from regression_model.processing.data_manager import ModelLoadError

    try:
        check_no_output_columns(columns=_input_columns(input_path, file_format))
    except ValueError as error:
        raise UsageError(f"{input_path}: {error}") from error

    started = time.perf_counter()
    score = _predict_csv if file_format is TableFormat.CSV else _predict_parquet
    try:
        with _replacing(output_path) as partial:
            n_rows, n_errors = score(
                input_path, partial, chunk_size=chunk_size, show_progress=_is_terminal(sys.stderr)
            )
    except ModelLoadError as error:
        raise click.ClickException(_first_line(error)) from error
    except OSError as error:
        # Reading errors are UsageErrors already: what is left failed to write.
        raise UsageError(f"cannot write {output_path}: {_first_line(error)}") from error
    elapsed = time.perf_counter() - started
    click.echo(
        f"Scored {n_rows:,} rows ({n_errors:,} with errors) into {output_path} "
        f"in {elapsed:.1f} s."
    )


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--max-errors",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_ERRORS,
    show_default=True,
    help="How many of the first errors to list.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK_SIZE,
    show_default=True,
    help="Rows read and checked at a time.",
)
def validate(input_path: Path, max_errors: int, chunk_size: int) -> None:
    """Check every row of INPUT (.csv or .parquet) against the model's input schema.

    Prints the number of rows, valid and invalid rows, errors by column and the first
    errors by row (numbered from 0, the first row after the header) and column. Exits
    with 1 if any row is invalid.
    """
    from regression_model.config.core import get_config
    from regression_model.processing.validation import validate_records
    from regression_model.results import RowError

    file_format = _check_input(input_path)
    schema = get_config().model.inputs
    n_rows = n_invalid = 0
    errors_by_column: Counter[str] = Counter()
    first_errors: list[RowError] = []
    for chunk in _frames(input_path, file_format=file_format, chunk_size=chunk_size):
        validated = validate_records(records=chunk, schema=schema)
        errors_by_column.update(error.column or "(row)" for error in validated.errors)
        for error in validated.errors[: max_errors - len(first_errors)]:
            # Rows are numbered within the chunk: shift them to the whole file.
            first_errors.append(error.model_copy(update={"row": error.row + n_rows}))
        n_invalid += int((~validated.is_valid).sum())
        n_rows += len(chunk)

    click.echo(f"rows     {n_rows:>10,}")
    click.echo(f"valid    {n_rows - n_invalid:>10,}")
    click.echo(f"invalid  {n_invalid:>10,}")
    if errors_by_column:
        click.echo("errors by column:")
        for column, count in errors_by_column.most_common():
            click.echo(f"  {column:<20} {count:>10,}")
    if first_errors:
        total = errors_by_column.total()
        click.echo(f"first {len(first_errors)} of {total:,} errors:")
        for error in first_errors:
            click.echo(f"  row {error.row:<8} {error.column or '-':<16} {error.message}")
    if n_invalid:
        sys.exit(1)


@main.command()
def train() -> None:
    """Train the model on the packaged data and save it, as `tox -e train` does."""
    from regression_model.train_pipeline import run_training

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    model_path = run_training()
    click.echo(f"Saved the trained model to {model_path}")


@main.command()
@click.option("--host", help="Address to listen on [default: config.yml's serve.host, 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    help="Port to listen on [default: config.yml's serve.port, 8000].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes; each loads the model once.",
)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the model over HTTP: a page at /, the API under /v1, its docs at /docs.

    Needs the serve extra. Stops on SIGTERM or Ctrl-C after the requests in flight.
    """
    try:
        from regression_model.serve.server import run_server
    except ModuleNotFoundError as error:
        raise UsageError(
            f"`serve` needs the serve extra ({error.name} is missing): "
            "pip install 'ames-price-model[serve]'"
        ) from error
    run_server(host=host, port=port, workers=workers)


def _model_path() -> Path:
    from regression_model.config.core import TRAINED_MODEL_DIR, get_config
    from regression_model.processing.data_manager import artifact_name

    return TRAINED_MODEL_DIR / artifact_name(pipeline_name=get_config().app.pipeline_name)


def model_report() -> dict[str, Any]:
    """The package version, the model file, whether it matches its metadata, and the metadata.

    Raises
    ------
    click.ClickException
        If no model has been trained or its metadata cannot be read.
    """
    from regression_model.processing.data_manager import (
        ModelLoadError,
        file_sha256,
        load_metadata,
    )

    model_path = _model_path()
    if not model_path.is_file():
        raise click.ClickException(
            f"no trained model at {model_path}; train one with `regression-model train`"
        )
    try:
        metadata = load_metadata(model_path=model_path)
    except ModelLoadError as error:
        raise click.ClickException(_first_line(error)) from error
    return {
        "version": __version__,
        "model_file": str(model_path),
        "model_sha256_matches": file_sha256(model_path) == metadata.model_sha256,
        "metadata": metadata.model_dump(mode="json"),
    }


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def info(as_json: bool) -> None:
    """Show the version, the model file, its metadata and its metrics."""
    report = model_report()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    metadata = report["metadata"]
    integrity = "matches" if report["model_sha256_matches"] else "DOES NOT MATCH"
    libraries = ", ".join(f"{name} {version}" for name, version in metadata["versions"].items())
    click.echo(f"regression_model {report['version']}")
    click.echo(f"model file     {report['model_file']}")
    click.echo(f"model sha256   {metadata['model_sha256']} ({integrity} the file)")
    click.echo(f"trained on     {metadata['training_data_file']}")
    click.echo(f"libraries      {libraries}")
    click.echo("metrics")
    for name, value in metadata["metrics"].items():
        click.echo(f"  {name:<20} {value:>14.4f}")
