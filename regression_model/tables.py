"""Table files in and out through Arrow, a chunk of rows at a time, read ahead in a thread.

A CSV file is parsed once, every cell as text: the text goes back out unchanged, and only
the model's columns are turned into numbers, in Arrow, for scoring. A Parquet file is read
batch by batch with its Arrow types. In both, a background thread reads the next chunk
while the current one is scored.

The functions here raise Arrow's and the operating system's own errors; the command line
turns them into one-line messages.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import io
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

# pandas-stubs leave out this set, which pandas' readers use as their default missing values.
from pandas.io.parsers.readers import STR_NA_VALUES  # type: ignore[attr-defined]

# Bytes Arrow parses at a time: several hundred rows of house records. Chunks of
# --chunk-size rows are cut from these blocks, so this bounds the extra memory, not the chunk.
CSV_BLOCK_BYTES = 1 << 18
# Chunks read ahead of the one being scored: one overlaps reading and scoring; each holds
# --chunk-size rows, so memory stays bounded (measured: two only added memory).
READ_AHEAD_CHUNKS = 1
# Freed heap above this many bytes goes back to the system at once (glibc's M_TRIM_THRESHOLD,
# the value Dask gives its workers): chunk after chunk of Arrow and numpy buffers otherwise
# leave the heap fragmented, and peak memory creeps up with the length of the file.
TRIM_THRESHOLD_BYTES = 1 << 16
_M_TRIM_THRESHOLD = -1  # mallopt's parameter number, from glibc's malloc.h
# How often a blocked reader thread checks whether the consumer has gone.
_READER_POLL_SECONDS = 0.1
# The cells pd.read_csv reads as missing, so that the model sees what it saw before Arrow.
NULL_STRINGS = sorted(STR_NA_VALUES)
# Types tried, in order, for a model column read as text: as pd.read_csv infers them.
_NUMBER_TYPES = (pa.int64(), pa.float64())

# What Python's csv module (and so pandas' to_csv) quotes a cell for, as a pattern and as
# a lookup table of bytes (none of them occurs inside a multi-byte UTF-8 character).
_NEEDS_QUOTES = '[",\\r\\n]'
_IS_QUOTED_BYTE = np.zeros(256, dtype=bool)
_IS_QUOTED_BYTE[list(b'",\r\n')] = True
_QUOTE = '"'
_FIELD_SEPARATOR = ","
_LINE_TERMINATOR = "\n"

Chunk = TypeVar("Chunk")


def return_freed_memory_promptly() -> None:
    """Make this process give freed memory back to the system, for steady streaming memory.

    Arrow allocates through the C library's heap, which glibc is then told to trim beyond
    ``TRIM_THRESHOLD_BYTES``. Elsewhere (macOS, musl) only Arrow's allocator changes.
    """
    pa.set_memory_pool(pa.system_memory_pool())
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)


def _line_with_wrong_field_count(path: Path, *, n_fields: int) -> tuple[int, int] | None:
    """The first line whose row has other than ``n_fields`` fields, and its field count."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = csv.reader(handle)
        for row in rows:
            if row and len(row) != n_fields:
                return rows.line_num, len(row)
    return None


def csv_text_chunks(
    path: Path,
    *,
    column_names: Sequence[str],
    chunk_size: int,
    on_progress: Callable[[int], None] = lambda done: None,
) -> Generator[pa.Table, None, None]:
    """The rows of a CSV file as tables of ``chunk_size`` rows, every cell as text.

    Parameters
    ----------
    path : Path
        A CSV file with a header row.
    column_names : sequence of str
        The names to give its columns, in order (the header row is skipped).
    chunk_size : int
        Rows per table; the last one may have fewer.
    on_progress : callable, default=no-op
        Called with the bytes read so far after each table.

    Yields
    ------
    pyarrow.Table
        String columns, null where ``pd.read_csv`` reads a cell as missing (``NA``, empty).
    """
    # use_threads=False: the reader thread already parses while the model scores, and on two
    # cores Arrow's own parsing threads would only compete with the scoring.
    read_options = pa_csv.ReadOptions(
        column_names=list(column_names),
        skip_rows=1,
        block_size=CSV_BLOCK_BYTES,
        use_threads=False,
    )
    # newlines_in_values: a quoted cell may span lines, as pd.read_csv allows.
    parse_options = pa_csv.ParseOptions(newlines_in_values=True)
    convert_options = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in column_names},
        null_values=NULL_STRINGS,
        strings_can_be_null=True,
    )
    with pa.OSFile(str(path), "rb") as source:
        try:
            # Opening parses the first block already: a bad row there fails here.
            reader = pa_csv.open_csv(
                source,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
            for table in in_chunks_of(reader, schema=reader.schema, chunk_size=chunk_size):
                on_progress(source.tell())
                yield table
        except pa.ArrowInvalid as error:
            # Arrow's parser, parsing blocks in parallel, cannot tell which line is wrong:
            # look for it, once the file is known to hold one.
            found = _line_with_wrong_field_count(path, n_fields=len(column_names))
            if found is None:
                raise
            line, n_found = found
            raise ValueError(
                f"line {line} has {n_found} fields, the header has {len(column_names)}"
            ) from error


def in_chunks_of(
    batches: Iterable[pa.RecordBatch], *, schema: pa.Schema, chunk_size: int
) -> Iterator[pa.Table]:
    """The rows of ``batches`` regrouped into tables of exactly ``chunk_size`` rows."""
    pending: list[pa.RecordBatch] = []
    n_pending = 0
    for batch in batches:
        pending.append(batch)
        n_pending += batch.num_rows
        while n_pending >= chunk_size:
            table = pa.Table.from_batches(pending, schema=schema)
            yield table.slice(0, chunk_size)
            rest = table.slice(chunk_size)
            pending, n_pending = rest.to_batches(), rest.num_rows
    if n_pending:
        yield pa.Table.from_batches(pending, schema=schema)


def _as_numbers_if_they_are(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A text column as integers or floats when every cell parses as one, else unchanged."""
    for number_type in _NUMBER_TYPES:
        with contextlib.suppress(pa.ArrowInvalid):
            numbers: pa.ChunkedArray = pc.cast(column, number_type)
            return numbers
    return column


def model_frame(table: pa.Table, *, columns: Sequence[str]) -> pd.DataFrame:
    """The model's ``columns`` of a table of text cells, typed as ``pd.read_csv`` types them.

    A column whose every cell is a whole number becomes int64 (float64 if some are missing),
    one whose every cell is a number float64, and any other stays text, so that validation
    reports the cells that are not numbers, as it does for a file ``pd.read_csv`` read.
    """
    typed = pa.table([_as_numbers_if_they_are(table.column(name)) for name in columns], columns)
    frame: pd.DataFrame = typed.to_pandas()
    return frame


def write_csv_header(handle: BinaryIO, *, column_names: Sequence[str]) -> None:
    """The header row, quoted only where a name needs it, as pandas writes it."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(column_names)
    handle.write(text.getvalue().encode("utf-8"))


def _csv_cells(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as CSV cells: text quoted only where it must be, as Python's csv module does."""
    text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    # Most columns hold no such byte at all: one pass over the text's bytes settles it,
    # several times faster than matching the pattern cell by cell.
    if any(_has_quoted_byte(chunk) for chunk in text.chunks):
        needs_quotes = pc.match_substring_regex(text, _NEEDS_QUOTES)
        doubled = pc.replace_substring(text, _QUOTE, _QUOTE * 2)
        quoted = pc.binary_join_element_wise(_QUOTE, doubled, _QUOTE, "")
        text = pc.if_else(needs_quotes, quoted, text)
    # A missing cell is written empty, as pandas writes NaN.
    cells: pa.ChunkedArray = pc.fill_null(text, "")
    return cells


def _has_quoted_byte(chunk: pa.StringArray) -> bool:
    """Whether a byte that makes a cell quoted lies among the chunk's cells' bytes."""
    _, offsets_buffer, data = chunk.buffers()
    if data is None:  # no text at all: every cell is missing or empty
        return False
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)
    first, last = offsets[chunk.offset], offsets[chunk.offset + len(chunk)]
    return bool(_IS_QUOTED_BYTE[np.frombuffer(data, dtype=np.uint8)[first:last]].any())


def write_csv_rows(handle: BinaryIO, table: pa.Table) -> None:
    """The rows of ``table`` as CSV lines, no header, the way pandas' ``to_csv`` writes them.

    Arrow's own CSV writer quotes every text cell; this writes a cell in quotes only where
    it holds a comma, a quote or a line break, so that text comes back as it was read.
    """
    if table.num_rows == 0:
        return
    cells = [_csv_cells(column) for column in table.columns]
    lines = pc.binary_join_element_wise(*cells, _FIELD_SEPARATOR)
    lines = pc.binary_join_element_wise(lines, pa.scalar(""), _LINE_TERMINATOR)
    for chunk in lines.chunks:
        # The lines lie back to back in the array's data buffer: write them without a copy.
        offset_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        _, offsets_buffer, data = chunk.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=offset_type)
        first, last = offsets[chunk.offset], offsets[chunk.offset + len(chunk)]
        handle.write(memoryview(data)[first:last])


def parquet_batches(
    path: Path, *, chunk_size: int, on_progress: Callable[[int], None] = lambda done: None
) -> Generator[pa.RecordBatch, None, None]:
    """The rows of a Parquet file in record batches; ``on_progress`` gets the rows read."""
    with pq.ParquetFile(path) as parquet_file:
        done = 0
        for batch in parquet_file.iter_batches(batch_size=chunk_size):
            done += batch.num_rows
            on_progress(done)
            yield batch


class _End:
    """What the reader thread puts in the queue after the last chunk, with its failure."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def read_ahead(
    chunks: Generator[Chunk, None, None], *, depth: int = READ_AHEAD_CHUNKS
) -> Generator[Chunk, None, None]:
    """The items of ``chunks``, produced by a background thread up to ``depth`` ahead.

    Reading the next chunk (Arrow parses and decompresses without the GIL) then overlaps
    scoring the current one. A failure in the reader is raised here, at the chunk where it
    happened; when the consumer stops early the reader stops too and closes ``chunks``.
    """
    handoff: queue.Queue[Chunk | _End] = queue.Queue(maxsize=depth)
    has_stopped = threading.Event()

    def put(item: Chunk | _End) -> bool:
        while not has_stopped.is_set():
            try:
                handoff.put(item, timeout=_READER_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        with contextlib.closing(chunks):
            try:
                for chunk in chunks:
                    if not put(chunk):
                        return
            except BaseException as error:  # re-raised in the consumer's thread
                put(_End(error))
                return
        put(_End(None))

    reader = threading.Thread(target=produce, name="regression-model-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = handoff.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        has_stopped.set()
        # An abandoned generator is finalized by the garbage collector, in whichever thread
        # runs it: maybe the reader itself, which cannot wait for itself to end.
        if threading.current_thread() is not reader:
            reader.join()
