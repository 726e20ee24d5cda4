"""read_ahead: a reader thread that hands chunks to the consumer, and stops with it."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Generator

import pyarrow as pa
import pytest

from regression_model.tables import read_ahead, write_csv_rows


def test_items_arrive_in_order_and_a_reader_failure_is_raised_where_it_happened() -> None:
    # Given a source that yields two items and then fails
    def source() -> Generator[int, None, None]:
        yield 1
        yield 2
        raise OSError("disk gone")

    # When its items are read ahead
    consumed = read_ahead(source())

    # Then the consumer gets both items, then the reader's error
    assert [next(consumed), next(consumed)] == [1, 2]
    with pytest.raises(OSError, match="disk gone"):
        next(consumed)


def test_stopping_early_closes_the_source() -> None:
    # Given a source that notes when it is closed
    closed = []

    def source() -> Generator[int, None, None]:
        try:
            yield from range(1_000)
        finally:
            closed.append(True)

    # When the consumer takes one item and stops
    consumed = read_ahead(source())
    next(consumed)
    consumed.close()

    # Then the reader has stopped and closed the source
    assert closed == [True]


def test_a_consumer_finalized_in_the_reader_thread_stops_without_error() -> None:
    # Given a consumer that the reader thread itself closes once the first item is taken, as
    # the garbage collector may do with an abandoned consumer
    consumer: list[Generator[int, None, None]] = []
    taken, tried = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def source() -> Generator[int, None, None]:
        yield 1
        taken.wait(timeout=10)
        try:
            consumer[0].close()
        except BaseException as error:
            failures.append(error)
        tried.set()
        yield 2

    consumer.append(read_ahead(source()))

    # When the consumer takes the first item and the reader closes it
    assert next(consumer[0]) == 1
    taken.set()
    assert tried.wait(timeout=10)

    # Then closing from the reader thread raised nothing (it cannot wait for itself)
    assert failures == []


@pytest.mark.parametrize(
    "cells",
    [
        ["plain", "text"],
        ["a,b", "plain"],
        ['say "hi"', "plain"],
        ["two\nlines", "plain"],
        ["carriage\rreturn", "plain"],
        ["Ünïcødé, with a comma", "ß"],
        [None, ""],
    ],
)
@pytest.mark.parametrize("skip", [0, 1])
def test_csv_rows_quote_a_cell_only_where_pythons_csv_module_does(
    cells: list[str | None], skip: int
) -> None:
    # Given a table of text cells, maybe a slice that starts inside its buffers
    table = pa.table({"first": cells, "second": list(reversed(cells))}).slice(skip)

    # When its rows are written
    written = io.BytesIO()
    write_csv_rows(written, table)

    # Then they read as Python's csv module writes them, a missing cell empty, but for the
    # line ends: a carriage return is quoted as that module quotes it in its own "\r\n"
    # dialect, so that no reader takes it for the end of a line
    expected = io.StringIO()
    rows = zip(*(column.to_pylist() for column in table.columns))
    csv.writer(expected).writerows(["" if cell is None else cell for cell in row] for row in rows)
    assert written.getvalue().decode("utf-8") == expected.getvalue().replace("\r\n", "\n")
