"""The ``regression-model`` command line: score files, validate them, train, describe the model.

Run it as ``regression-model COMMAND`` or ``python -m regression_model COMMAND``.

Exit codes: 0 on success; 1 when the model or the config cannot be used, or ``validate`` finds
invalid rows; 2 when the command or its files are wrong (a missing, unreadable or malformed
file, a file without the model's columns, an output that exists without ``--overwrite``);
128 + the signal's number when a signal stops it (130 for Ctrl-C). Every failure prints one
line on stderr; ``--debug`` (or ``REGRESSION_MODEL_DEBUG=1``) shows the traceback instead.
docs/failures.md lists every case.

Files are read and written in chunks of ``--chunk-size`` rows, so memory does not grow with
the file, and a background thread reads the next chunk while one is scored
(regression_model/tables.py). A CSV file is parsed once, through Arrow, every cell as text:
the model sees its columns typed as ``pd.read_csv`` types them, and the output gets the cells
back unchanged, quoted only where they must be (cells pandas reads as missing, such as
``NA``, come back empty). A row with more or fewer fields than the header is refused. Parquet
columns pass through with their Arrow types.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TextIO, TypeVar

import click
import pandas as pd

from regression_model import __version__
from regression_model.errors import (
    EXIT_UNUSABLE,
    InputFileError,
    InterruptedRun,
    ModelLoadError,
    OutputFileError,
    RegressionModelError,
)

if sys.platform != "win32":
    import fcntl

# scikit-learn, the model and pyarrow are imported inside the commands that use them: loading
# them takes a second that `--help` and a mistyped file name should not cost.
if TYPE_CHECKING:
    import pyarrow as pa

    from regression_model.batch import ScoredRows
    from regression_model.processing.domain import TrainingDomain
    from regression_model.results import RowError, RowWarning

DEFAULT_CHUNK_SIZE = 10_000
# Far more rows than fit in memory at once, and far below the 64-bit counts pandas and Arrow
# keep: a larger value is a typo, refused in one line rather than overflowing inside pandas.
MAX_CHUNK_SIZE = 1_000_000_000
DEFAULT_MAX_ERRORS = 20
# Missing columns named in the one-line error: enough to see the pattern.
MISSING_COLUMNS_SHOWN = 5
DEBUG_ENVIRONMENT_VARIABLE = "REGRESSION_MODEL_DEBUG"
# Signals that stop `predict` the way Ctrl-C does: a terminal closing, a service manager.
_STOPPING_SIGNALS = ("SIGTERM", "SIGHUP")


class TableFormat(str, Enum):
    """The file formats the command line reads and writes, chosen by file extension."""

    CSV = "csv"
    PARQUET = "parquet"


_FORMAT_BY_SUFFIX = {
    ".csv": TableFormat.CSV,
    ".parquet": TableFormat.PARQUET,
    ".pq": TableFormat.PARQUET,
}


def table_format(path: Path, *, error: type[RegressionModelError] = InputFileError) -> TableFormat:
    """The format of a table file, from its extension.

    Raises
    ------
    InputFileError
        If the extension is not ``.csv``, ``.parquet`` or ``.pq`` (or ``error``, if given).
    """
    try:
        return _FORMAT_BY_SUFFIX[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(_FORMAT_BY_SUFFIX))
        raise error(
            f"{path}: unknown file type {path.suffix!r}; use one of {known}", culprit=path
        ) from None


def _check_input(path: Path) -> TableFormat:
    if not path.exists():
        raise InputFileError(f"input file {path} does not exist", culprit=path)
    if not path.is_file():
        raise InputFileError(f"input {path} is not a file", culprit=path)
    return table_format(path)


def _check_output(path: Path, *, input_format: TableFormat, overwrite: bool) -> None:
    if table_format(path, error=OutputFileError) is not input_format:
        raise OutputFileError(
            f"output {path} must be a {input_format.value} file, the same format as the input",
            culprit=path,
        )
    _check_writable(path, overwrite=overwrite)


def _check_writable(path: Path, *, overwrite: bool) -> None:
    if not path.parent.is_dir():
        raise OutputFileError(
            f"the output's directory {path.parent} does not exist", culprit=path.parent
        )
    if path.is_dir():
        raise OutputFileError(f"output {path} is a directory", culprit=path)
    if path.exists() and not overwrite:
        raise OutputFileError(
            f"output {path} already exists; pass --overwrite to replace it", culprit=path
        )


def _first_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror  # "No space left on device", without "[Errno 28]"
    lines = str(error).strip().splitlines()
    # pandas' parser: "Error tokenizing data. C error: Expected 80 fields in line 302, saw 81"
    field_count = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
    if field_count:
        expected, line, seen = field_count.groups()
        return f"line {line} has {seen} fields, the header has {expected}"
    return lines[0] if lines else type(error).__name__


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn any failure to read or parse ``path`` into a one-line InputFileError."""
    try:
        yield
    # pandas' and pyarrow's parse errors are ValueErrors, their I/O errors OSErrors.
    except (OSError, ValueError) as error:
        raise InputFileError(f"cannot read {path}: {_first_line(error)}", culprit=path) from error


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn a failure to write the output into a one-line OutputFileError naming ``path``."""
    try:
        yield
    except OSError as error:
        raise OutputFileError(f"cannot write {path}: {_first_line(error)}", culprit=path) from error


def _csv_text_chunks(
    path: Path,
    *,
    column_names: Sequence[str],
    chunk_size: int,
    on_progress: Callable[[int], None] = lambda done: None,
) -> Generator[pa.Table, None, None]:
    """``tables.csv_text_chunks``, its failures turned into one-line InputFileErrors."""
    from regression_model.tables import csv_text_chunks

    with _reading(path):
        yield from csv_text_chunks(
            path, column_names=column_names, chunk_size=chunk_size, on_progress=on_progress
        )


def _csv_columns(path: Path) -> list[str]:
    """The column names pandas reads, after checking what pandas would silently mend.

    pandas renames a repeated name (``GrLivArea.1``) and, when the first row is one field
    long, takes it for an index or drops the field: both are refused here. Longer rows
    further down fail in pandas' own parser, with their line.
    """
    with _reading(path), path.open(newline="", encoding="utf-8-sig") as handle:
        rows = (row for row in csv.reader(handle) if row)  # the readers skip blank lines too
        header = next(rows, None)
        if header is None:
            raise InputFileError(f"cannot read {path}: the file is empty", culprit=path)
        repeated = [name for name, count in Counter(header).items() if count > 1]
        if repeated:
            raise InputFileError(
                f"{path}: the column {repeated[0]!r} appears more than once in the header",
                culprit=path,
            )
        first_row = next(rows, None)
        if first_row is not None and len(first_row) > len(header):
            raise InputFileError(
                f"cannot read {path}: line 2 has {len(first_row)} fields, "
                f"the header has {len(header)}",
                culprit=path,
            )
    with _reading(path):
        names = pd.read_csv(path, dtype=object, nrows=0, index_col=False).columns
    return [str(name) for name in names]


def _model_columns() -> tuple[str, ...]:
    from regression_model.config.core import get_config

    return get_config().model.features


def _parquet_frame(table: pa.Table) -> pd.DataFrame:
    """The model's columns of a Parquet chunk, as pandas reads them (categoricals included)."""
    frame: pd.DataFrame = table.select(list(_model_columns())).to_pandas()
    return frame


def _parquet_batches(
    path: Path, *, chunk_size: int, on_progress: Callable[[int], None] = lambda done: None
) -> Generator[pa.RecordBatch, None, None]:
    """``tables.parquet_batches``, its failures turned into one-line InputFileErrors."""
    from regression_model.tables import parquet_batches

    with _reading(path):
        yield from parquet_batches(path, chunk_size=chunk_size, on_progress=on_progress)


def _parquet_schema(path: Path) -> pa.Schema:
    import pyarrow.parquet as pq

    with _reading(path), pq.ParquetFile(path) as parquet_file:
        schema: pa.Schema = parquet_file.schema_arrow
    repeated = [name for name, count in Counter(schema.names).items() if count > 1]
    if repeated:
        raise InputFileError(
            f"{path}: the column {repeated[0]!r} appears more than once", culprit=path
        )
    return schema


def _scoring_chunks(
    path: Path,
    *,
    file_format: TableFormat,
    chunk_size: int,
    on_progress: Callable[[int], None] = lambda done: None,
) -> Generator[tuple[pa.Table, pd.DataFrame], None, None]:
    """Each chunk of ``path`` as it is written back, and its model columns typed for scoring.

    Both are made here so that ``read_ahead`` runs the typing in its thread too: Arrow's
    casts release the GIL, so they overlap the scoring of the chunk before.
    """
    import pyarrow as pa

    from regression_model.tables import model_frame

    if file_format is TableFormat.CSV:
        names = _csv_columns(path)
        for table in _csv_text_chunks(
            path, column_names=names, chunk_size=chunk_size, on_progress=on_progress
        ):
            yield table, model_frame(table, columns=_model_columns())
    else:
        for batch in _parquet_batches(path, chunk_size=chunk_size, on_progress=on_progress):
            table = pa.Table.from_batches([batch])
            yield table, _parquet_frame(table)


def _frames(path: Path, *, file_format: TableFormat, chunk_size: int) -> Iterator[pd.DataFrame]:
    """The model's columns of ``path``, chunk by chunk, typed as for scoring."""
    from regression_model.tables import read_ahead

    chunks = _scoring_chunks(path, file_format=file_format, chunk_size=chunk_size)
    for _, frame in read_ahead(chunks):
        yield frame


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


_PARTIAL_TOKEN_BYTES = 4


def _partial_pattern(destination: Path) -> re.Pattern[str]:
    """The names `_replacing` gives its temporary files for ``destination``."""
    hex_digits = 2 * _PARTIAL_TOKEN_BYTES
    return re.compile(rf"\.{re.escape(destination.name)}\.[0-9a-f]{{{hex_digits}}}\.partial")


def _remove_stale_partials(destination: Path) -> None:
    """Remove temporary files an earlier, killed run left beside ``destination``.

    A running writer holds a lock on its temporary file until it is renamed, and the
    kernel drops the lock when a process dies, however it dies: so a file whose lock can
    be taken is stale, and a live run's file is left alone.
    """
    if sys.platform == "win32":
        return
    pattern = _partial_pattern(destination)
    for candidate in destination.parent.glob(f".{glob.escape(destination.name)}.*.partial"):
        if not pattern.fullmatch(candidate.name):
            continue
        try:
            descriptor = os.open(candidate, os.O_RDONLY)
        except OSError:  # gone already, or not ours to open
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live writer holds it
            continue
        else:
            candidate.unlink(missing_ok=True)
        finally:
            os.close(descriptor)


def _hold_lock(descriptor: int) -> None:
    if sys.platform != "win32":
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


@contextlib.contextmanager
def _replacing(destination: Path, *, overwrite: bool) -> Iterator[Path]:
    """A new, empty temporary file beside ``destination`` that becomes it if the block succeeds.

    A failure, including Ctrl-C, removes the temporary file, so ``destination`` is never
    left half written and an existing one stays as it was. Without ``overwrite``, the
    destination is created exclusively: if another run created it meanwhile, this one fails
    with OutputFileError instead of replacing it.
    """
    partial = destination.with_name(
        f".{destination.name}.{secrets.token_hex(_PARTIAL_TOKEN_BYTES)}.partial"
    )
    with _writing(destination):
        # O_EXCL: the name was just drawn at random; never write into a file someone else made.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        _hold_lock(descriptor)
        yield partial
        with _writing(destination):
            _publish(partial, destination, overwrite=overwrite)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        os.close(descriptor)


def _publish(partial: Path, destination: Path, *, overwrite: bool) -> None:
    if overwrite:
        partial.replace(destination)
        return
    taken = OutputFileError(
        f"output {destination} was created by another run while this one wrote it; "
        "pass --overwrite to replace it",
        culprit=destination,
    )
    try:
        # A hard link fails if the destination exists, where a rename would replace it.
        os.link(partial, destination)
    except FileExistsError:
        raise taken from None
    except OSError:
        # No hard links on this file system (some network and FAT ones): check, then rename.
        if destination.exists():
            raise taken from None
        partial.replace(destination)
    else:
        partial.unlink()


class _Stopped(KeyboardInterrupt):
    """A stopping signal, raised where Python was when it arrived, as Ctrl-C would be."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal_number)
        self.signal_number = signal_number


def _raise_stopped(signal_number: int, frame: FrameType | None) -> NoReturn:
    raise _Stopped(signal_number)


@contextlib.contextmanager
def _signals_stop_like_ctrl_c() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise as Ctrl-C does, so cleanup code runs."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; signals reach only it anyway
        return
    numbers = [getattr(signal, name) for name in _STOPPING_SIGNALS if hasattr(signal, name)]
    previous = {number: signal.signal(number, _raise_stopped) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _scored_ahead(
    chunks: Iterable[tuple[pa.Table, pd.DataFrame]],
    *,
    interval: float | None,
    explain: bool = False,
    explain_top: int | None = None,
) -> Iterator[tuple[pa.Table, ScoredRows]]:
    """Each chunk with its scores, scored by a background thread one chunk ahead.

    Reading (a thread of its own, ``read_ahead``), scoring and writing (the caller) then
    overlap: the writer's Arrow code and most of scoring release the GIL.
    """
    from regression_model.batch import score_rows
    from regression_model.tables import read_ahead

    def scored() -> Generator[tuple[pa.Table, ScoredRows], None, None]:
        for table, frame in chunks:
            yield table, score_rows(
                input_data=frame, interval=interval, explain=explain, explain_top=explain_top
            )

    return read_ahead(scored())


def _predict_csv(
    source: Path,
    partial: Path,
    *,
    output: Path,
    chunk_size: int,
    show_progress: bool,
    interval: float | None = None,
    explain: bool = False,
    explain_top: int | None = None,
) -> tuple[int, int]:
    from regression_model.batch import attach_scores_to_table, scored_schema
    from regression_model.tables import read_ahead, write_csv_header, write_csv_rows

    names = _csv_columns(source)
    n_rows = n_errors = 0
    with _progress_bar(total=source.stat().st_size, is_shown=show_progress) as advance:
        # The file is parsed once, every cell as text: the text is written back as it was
        # read, and only the model's columns become numbers, for scoring.
        chunks = read_ahead(
            _scoring_chunks(
                source, file_format=TableFormat.CSV, chunk_size=chunk_size, on_progress=advance
            )
        )
        with _writing(output):
            out = partial.open("wb")
        with out:
            # The header goes first, so that a file with no rows still gets one.
            out_schema = scored_schema(
                schema=_text_schema(names),
                has_interval=interval is not None,
                has_explanation=explain,
            )
            with _writing(output):
                write_csv_header(out, column_names=out_schema.names)
            for table, scores in _scored_ahead(
                chunks, interval=interval, explain=explain, explain_top=explain_top
            ):
                with _writing(output):
                    write_csv_rows(out, attach_scores_to_table(table=table, scores=scores))
                n_rows += table.num_rows
                n_errors += scores.n_rows_with_errors
            with _writing(output):
                out.flush()
    return n_rows, n_errors


def _text_schema(names: Sequence[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(name, pa.string()) for name in names])


def _predict_parquet(
    source: Path,
    partial: Path,
    *,
    output: Path,
    chunk_size: int,
    show_progress: bool,
    interval: float | None = None,
    explain: bool = False,
    explain_top: int | None = None,
) -> tuple[int, int]:
    import pyarrow.parquet as pq

    from regression_model.batch import attach_scores_to_table, scored_schema
    from regression_model.tables import read_ahead

    out_schema = scored_schema(
        schema=_parquet_schema(source),
        has_interval=interval is not None,
        has_explanation=explain,
    )
    with _reading(source), pq.ParquetFile(source) as parquet_file:
        total = parquet_file.metadata.num_rows
    n_rows = n_errors = 0
    with _progress_bar(total=total, is_shown=show_progress) as advance:
        with _writing(output):
            writer = pq.ParquetWriter(partial, out_schema)
        try:
            chunks = read_ahead(
                _scoring_chunks(
                    source,
                    file_format=TableFormat.PARQUET,
                    chunk_size=chunk_size,
                    on_progress=advance,
                )
            )
            for table, scores in _scored_ahead(
                chunks, interval=interval, explain=explain, explain_top=explain_top
            ):
                # The input's Arrow columns pass through untouched; a failed row's price is null.
                with _writing(output):
                    writer.write_table(attach_scores_to_table(table=table, scores=scores))
                n_rows += table.num_rows
                n_errors += scores.n_rows_with_errors
        finally:
            # Closing writes the footer; after a failure the file is removed anyway.
            with _writing(output):
                writer.close()
    return n_rows, n_errors


def _input_columns(path: Path, file_format: TableFormat) -> list[str]:
    if file_format is TableFormat.CSV:
        return _csv_columns(path)
    return list(_parquet_schema(path).names)


def _check_columns(
    path: Path,
    columns: Sequence[str],
    *,
    has_interval: bool = False,
    has_explanation: bool = False,
) -> None:
    """Refuse a file the model cannot read: one lacking a required column, or clashing.

    Raises
    ------
    InputFileError
        If the file lacks any of the model's columns (the first few are named), or already
        has a column that scoring adds.
    """
    from regression_model.batch import check_no_output_columns

    try:
        check_no_output_columns(
            columns=columns, has_interval=has_interval, has_explanation=has_explanation
        )
    except ValueError as error:
        raise InputFileError(f"{path}: {error}", culprit=path) from error
    _check_model_columns(path, columns)


def _check_model_columns(path: Path, columns: Sequence[str]) -> None:
    """Refuse a file lacking any of the model's columns, naming the first few."""
    from regression_model.config.core import get_config

    present = set(columns)
    missing = [name for name in get_config().model.features if name not in present]
    if missing:
        shown = ", ".join(missing[:MISSING_COLUMNS_SHOWN])
        more = len(missing) - MISSING_COLUMNS_SHOWN
        listed = f"{shown} and {more} more" if more > 0 else shown
        noun = "column" if len(missing) == 1 else "columns"
        raise InputFileError(
            f"{path} is missing {len(missing)} required {noun}: {listed}", culprit=path
        )


def _count(n: int, noun: str) -> str:
    """``1 row``, ``2 rows``: English, not ``1 rows``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


class _CommandGroup(click.Group):
    """The command group: every failure ends in one line on stderr and its exit code.

    The group's ``--debug`` flag (or ``REGRESSION_MODEL_DEBUG=1``) lets the traceback
    through instead, for whoever needs to see where a failure came from.
    """

    is_debug = False

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> NoReturn:
        extra.pop("standalone_mode", None)
        self.is_debug = os.environ.get(DEBUG_ENVIRONMENT_VARIABLE, "") not in ("", "0")
        try:
            result = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.ClickException as error:
            # Click's usage errors would print the usage and a hint first: one line instead.
            _fail(error.format_message(), error.exit_code)
        except click.Abort:
            _fail("interrupted", 128 + signal.SIGINT)
        except RegressionModelError as error:
            if self.is_debug:
                raise
            _fail(str(error), error.exit_status)
        except Exception as error:
            if self.is_debug:
                raise
            # A bug, not a mistake of the user's: say so, and how to see more.
            _fail(
                f"unexpected {type(error).__name__}: {_first_line(error)} "
                "(run with --debug for the traceback)",
                EXIT_UNUSABLE,
            )
        sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, exit_code: int) -> NoReturn:
    click.echo(f"Error: {' '.join(message.split())}", err=True)
    sys.exit(exit_code)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value and isinstance(ctx.command, _CommandGroup):
        ctx.command.is_debug = True
    return value


@click.group(cls=_CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="regression-model")
@click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    callback=_set_debug,
    help=f"Show the traceback of a failure (or set {DEBUG_ENVIRONMENT_VARIABLE}=1).",
)
def main() -> None:
    """Predict house sale prices in Ames, Iowa, from CSV or Parquet files."""


_CHUNK_SIZE = click.IntRange(min=1, max=MAX_CHUNK_SIZE)


def _chunk_size_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The ``--chunk-size`` option every command that reads a file in chunks takes."""
    return click.option(
        "--chunk-size",
        type=_CHUNK_SIZE,
        default=DEFAULT_CHUNK_SIZE,
        show_default=True,
        help=help_text,
    )


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
@_chunk_size_option("Rows read, scored and written at a time; memory grows with it.")
@click.option(
    "--interval",
    type=float,
    default=None,
    help="Add `lower` and `upper`: each price's range at this calibrated level (e.g. 0.9).",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Add `explanation`: why each house got its price, its largest parts in words.",
)
@click.option(
    "--explain-top",
    type=click.IntRange(min=1),
    default=None,
    help="How many columns --explain puts in words  [default: config.yml's explain.top_columns]",
)
def predict(
    input_path: Path,
    output_path: Path,
    overwrite: bool,
    chunk_size: int,
    interval: float | None,
    explain: bool,
    explain_top: int | None,
) -> None:
    """Score every row of INPUT (.csv or .parquet) into OUTPUT.

    OUTPUT holds every input column and row, in input order, plus `prediction` (the sale
    price in dollars, empty where the row has errors), `error` (the row's problems, empty
    when it was scored) and `warning` (why a priced row may be off, empty when none); with
    --interval, also `lower` and `upper`, the ends of the price's range; with --explain,
    `explanation`, the columns that moved the price most ("OverallQual 9: +18%").
    OUTPUT appears only when complete: a failed or interrupted run (Ctrl-C, SIGTERM,
    SIGHUP) leaves no file behind.
    """
    file_format = _check_input(input_path)
    _check_output(output_path, input_format=file_format, overwrite=overwrite)
    if interval is not None:
        _check_interval_level(interval)
    if explain_top is not None and not explain:
        raise click.BadParameter("needs --explain", param_hint="'--explain-top'")
    _check_columns(
        input_path,
        _input_columns(input_path, file_format),
        has_interval=interval is not None,
        has_explanation=explain,
    )

    from regression_model.tables import return_freed_memory_promptly

    return_freed_memory_promptly()
    started = time.perf_counter()
    score = _predict_csv if file_format is TableFormat.CSV else _predict_parquet
    try:
        with _signals_stop_like_ctrl_c():
            _remove_stale_partials(output_path)
            with _replacing(output_path, overwrite=overwrite) as partial:
                n_rows, n_errors = score(
                    input_path,
                    partial,
                    output=output_path,
                    chunk_size=chunk_size,
                    show_progress=_is_terminal(sys.stderr),
                    interval=interval,
                    explain=explain,
                    explain_top=explain_top,
                )
    except KeyboardInterrupt as interrupt:
        number = getattr(interrupt, "signal_number", signal.SIGINT)
        kept = "left as it was" if output_path.exists() else "not written"
        raise InterruptedRun(
            f"interrupted by {signal.Signals(number).name}; {output_path} was {kept}",
            signal_number=number,
        ) from interrupt
    elapsed = time.perf_counter() - started
    click.echo(
        f"Scored {_count(n_rows, 'row')} ({n_errors:,} with errors) into {output_path} "
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
@_chunk_size_option("Rows read and checked at a time.")
def validate(input_path: Path, max_errors: int, chunk_size: int) -> None:
    """Check every row of INPUT (.csv or .parquet) against the model's input schema.

    Prints the number of rows, valid and invalid rows, errors by column and the first
    errors by row (numbered from 0, the first row after the header) and column; then, apart,
    the warnings: rows that would be priced but lie outside what the trained model saw (its
    training ranges and labels, when a model is trained) or whose fields contradict each
    other. Exits with 1 if any row is invalid, and with 2 if the file lacks a required column.
    """
    from regression_model.config.core import get_config
    from regression_model.processing.validation import validate_records
    from regression_model.results import RowError, RowWarning  # noqa: F811 - used at run time

    file_format = _check_input(input_path)
    _check_columns(input_path, _input_columns(input_path, file_format))
    schema = get_config().model.inputs
    domain = _trained_domain()
    n_rows = n_invalid = 0
    errors = _Tally[RowError](by="column", key=lambda error: error.column or "(row)")
    warnings = _Tally[RowWarning](by="kind", key=lambda warning: warning.kind.value)
    for chunk in _frames(input_path, file_format=file_format, chunk_size=chunk_size):
        validated = validate_records(records=chunk, schema=schema, domain=domain)
        errors.add(validated.errors, first_row=n_rows, limit=max_errors)
        warnings.add(validated.warnings, first_row=n_rows, limit=max_errors)
        n_invalid += int((~validated.is_valid).sum())
        n_rows += len(chunk)

    click.echo(f"rows     {n_rows:>10,}")
    click.echo(f"valid    {n_rows - n_invalid:>10,}")
    click.echo(f"invalid  {n_invalid:>10,}")
    errors.echo("errors")
    if domain is None:
        click.echo("warnings: no trained model, so no training ranges or labels to check against")
    warnings.echo("warnings")
    if n_invalid:
        sys.exit(1)


_Found = TypeVar("_Found", "RowError", "RowWarning")


class _Tally(Generic[_Found]):
    """Errors or warnings of a file read in chunks: counts by ``key`` and the first few."""

    def __init__(self, *, by: str, key: Callable[[_Found], str]) -> None:
        self.by = by
        self.key: Callable[[_Found], str] = key
        self.counts: Counter[str] = Counter()
        self.first: list[_Found] = []

    def add(self, found: Sequence[_Found], *, first_row: int, limit: int) -> None:
        self.counts.update(self.key(item) for item in found)
        for item in found[: limit - len(self.first)]:
            # Rows are numbered within the chunk: shift them to the whole file.
            self.first.append(item.model_copy(update={"row": item.row + first_row}))

    def echo(self, name: str) -> None:
        if not self.counts:
            return
        click.echo(f"{name} by {self.by}:")
        for group, count in self.counts.most_common():
            click.echo(f"  {group:<24} {count:>6,}")
        if self.first:
            click.echo(f"first {len(self.first)} of {self.counts.total():,} {name}:")
            for item in self.first:
                click.echo(f"  row {item.row:<8} {item.column or '-':<16} {item.message}")


def _trained_domain() -> TrainingDomain | None:
    """The trained model's domain, or None where no usable model is trained."""
    from regression_model.processing.data_manager import load_metadata

    try:
        return load_metadata(model_path=_model_path()).domain
    except ModelLoadError:
        return None


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path),
    help="Also write the report as an HTML page, with a chart per column that moved.",
)
@click.option("--overwrite", is_flag=True, help="Replace the --html file if it exists.")
@_chunk_size_option("Rows read and counted at a time.")
def drift(
    input_path: Path, as_json: bool, html_path: Path | None, overwrite: bool, chunk_size: int
) -> None:
    """Compare the columns of INPUT (.csv or .parquet) with the rows the model was trained on.

    Prints one line per input column, the most drifted first: its population stability
    index against the training profile, the share of its values outside the training range
    (for labels: never seen in training), the missing and invalid shares, and the verdict
    (limits in config.yml, `drift:`). Exits with 1 if any column has drifted.
    """
    from regression_model.drift import drift_counter, report_lines
    from regression_model.drift_html import render_html

    file_format = _check_input(input_path)
    _check_model_columns(input_path, _input_columns(input_path, file_format))
    if html_path is not None:
        _check_writable(html_path, overwrite=overwrite)
    counter = drift_counter()
    for chunk in _frames(input_path, file_format=file_format, chunk_size=chunk_size):
        counter.add(chunk)
    if counter.rows == 0:
        raise InputFileError(f"{input_path} has no rows to compare", culprit=input_path)
    report = counter.report()
    click.echo(report.model_dump_json(indent=2) if as_json else "\n".join(report_lines(report)))
    if html_path is not None:
        with _replacing(html_path, overwrite=overwrite) as partial, _writing(html_path):
            partial.write_text(render_html(report=report, source=input_path.name), "utf-8")
    if report.has_drifted:
        sys.exit(1)


@main.command()
def train() -> None:
    """Train the model on the packaged data and save it, as `tox -e train` does."""
    from regression_model.train_pipeline import run_training

    # Progress goes to stdout: stderr holds only the one line of a failure.
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout
    )
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
        # click's usage error: one line on stderr and exit 2, like any mistake in the call.
        raise click.UsageError(
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
    ModelNotFoundError
        If no model exists for this version; the message says what to do.
    ModelLoadError
        If the model or its metadata cannot be read.
    """
    from regression_model.config.core import get_config
    from regression_model.processing.data_manager import load_metadata, model_file, model_sha256

    model_path = model_file(
        pipeline_name=get_config().app.pipeline_name, model_dir=_model_path().parent
    )
    metadata = load_metadata(model_path=model_path)
    return {
        "version": __version__,
        "model_file": str(model_path),
        "model_sha256_matches": model_sha256(model_path) == metadata.model_sha256,
        "model_version_matches": metadata.package_version == __version__,
        "metadata": metadata.model_dump(mode="json"),
    }


# How `info` shows a metric, by the end of its name; the rest are ratios and log errors.
_MONEY_METRIC_SUFFIX = "_rmse"
_SECONDS_METRIC_SUFFIX = "_seconds"


def format_metric(name: str, value: float) -> str:
    """A metric as a person reads it: counts whole, dollars with separators.

    Examples
    --------
    >>> format_metric("training_rows", 1458), format_metric("holdout_rmse", 21873.4)
    ('1,458', '$21,873')
    >>> format_metric("holdout_r2", 0.91234), format_metric("training_seconds", 31.27)
    ('0.9123', '31.3 s')
    """
    if name.endswith(_MONEY_METRIC_SUFFIX):
        return f"${value:,.0f}"
    if name.endswith(_SECONDS_METRIC_SUFFIX):
        return f"{value:,.1f} s"
    # Metadata written before counts were kept as integers holds them as 5.0.
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.4f}"


def _echo_domain(domain: dict[str, Any]) -> None:
    """The model's domain: its price band, and the range of each number it saw in training."""
    price = domain["price"]
    click.echo(f"price band     ${price['minimum']:,.0f} to ${price['maximum']:,.0f}")
    click.echo("training range (a value outside is priced at the nearest end, with a warning)")
    for name, allowed in domain["numeric"].items():
        click.echo(f"  {name:<20} {allowed['minimum']:>10g} to {allowed['maximum']:g}")
    n_labels = sum(len(labels) for labels in domain["labels"].values())
    click.echo(f"known labels   {n_labels:,} in {len(domain['labels'])} text columns")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def info(as_json: bool) -> None:
    """Show the version, the model file, its metadata and its metrics.

    Exits with 1 if the model file does not match the sha256 or the version in its metadata.
    """
    report = model_report()
    metadata = report["metadata"]
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        integrity = "matches" if report["model_sha256_matches"] else "DOES NOT MATCH"
        libraries = ", ".join(f"{name} {version}" for name, version in metadata["versions"].items())
        click.echo(f"regression_model {report['version']}")
        click.echo(f"model file     {report['model_file']}")
        click.echo(f"model sha256   {metadata['model_sha256']} ({integrity} the file)")
        click.echo(f"trained by     version {metadata['package_version']}")
        click.echo(f"trained on     {metadata['training_data_file']}")
        click.echo(f"libraries      {libraries}")
        click.echo("metrics")
        for name, value in metadata["metrics"].items():
            click.echo(f"  {name:<20} {format_metric(name, value):>14}")
        _echo_domain(metadata["domain"])
        _echo_intervals(metadata.get("intervals"))
    model_path = Path(report["model_file"])
    if not report["model_sha256_matches"]:
        raise ModelLoadError(
            f"{model_path.name} does not match the sha256 in its metadata; "
            "the file is corrupt or was replaced",
            culprit=model_path,
        )
    if not report["model_version_matches"]:
        raise ModelLoadError(
            f"{model_path.name} was trained by version {metadata['package_version']}, "
            f"this is version {__version__}",
            culprit=model_path,
        )


# --- Prediction intervals (issue 16): the level check for `predict`, the lines for `info`. ---


def _check_interval_level(level: float) -> None:
    """Refuse a level training did not calibrate, before any row is read or written."""
    from regression_model.processing.data_manager import load_metadata
    from regression_model.processing.intervals import calibrated_level

    try:
        calibrated_level(load_metadata(model_path=_model_path()).intervals, level)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--interval'") from error


def _echo_intervals(intervals: dict[str, Any] | None) -> None:
    """The calibrated levels, with the coverage and width measured on held-out rows."""
    if intervals is None:
        click.echo("prediction intervals  none (the model was saved without them)")
        return
    click.echo(f"prediction intervals (measured on {intervals['held_out_rows']:,} held-out rows)")
    click.echo(f"  {'level':<8} {'coverage':>10} {'median width':>14}")
    for level in intervals["levels"]:
        click.echo(
            f"  {level['level']:<8g} {level['coverage']:>10.1%} "
            f"{level['median_relative_width']:>13.1%}"
        )
