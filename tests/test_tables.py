"""read_ahead: a reader thread that hands chunks to the consumer, and stops with it."""

from __future__ import annotations

import threading
from collections.abc import Generator

import pytest

from regression_model.tables import read_ahead


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
