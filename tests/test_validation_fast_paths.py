"""Validation's shortcuts for speed give exactly what the plain pandas route gives.

tests/test_validation.py pins validation's behaviour; this file pins that each shortcut taken
for speed (a one-record frame built by blocks, labels checked value by value for a few rows,
the output frame assembled from two blocks) is indistinguishable from the route it replaces.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from regression_model.config.core import Config, InputSchema
from regression_model.processing import validation
from regression_model.processing.validation import (
    SMALL_COLUMN,
    _simple_record_to_frame,
    to_frame,
    validate_records,
)
from regression_model.results import PredictionResult

INT64 = np.iinfo(np.int64)


@pytest.fixture(scope="module")
def schema(config: Config) -> InputSchema:
    return config.model.inputs


scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
    st.sampled_from([np.float64(1.5), np.int64(7), np.str_("Pave"), pd.NA, [1, 2]]),
)


@given(record=st.dictionaries(st.sampled_from(["LotArea", "Street", "a", "b", "c"]), scalars))
def test_one_record_frame_holds_what_pandas_holds(record: dict[str, Any]) -> None:
    """Check the block-built one-record frame against ``pd.DataFrame([record])``."""
    # A list is a column, not a record value: to_frame rejects the mix
    assume(not any(isinstance(value, list) for value in record.values()))
    # Text may be objects rather than pandas' text dtype: the values are the same
    pd.testing.assert_frame_equal(to_frame(record), pd.DataFrame([record]), check_dtype=False)


@pytest.mark.parametrize(
    "value",
    [INT64.min, INT64.max, INT64.min - 1, INT64.max + 1],
    ids=["lowest-int64", "highest-int64", "below-int64", "above-int64"],
)
def test_one_record_of_ints_at_and_past_int64_equals_pandas_own(value: int) -> None:
    record = {"LotArea": value, "Street": "Pave"}
    # Text may be objects rather than pandas' text dtype: the values are the same
    pd.testing.assert_frame_equal(to_frame(record), pd.DataFrame([record]), check_dtype=False)


def test_one_record_of_floats_ints_and_text_takes_the_block_built_route() -> None:
    """Check that the shortcut is taken at all: otherwise the equalities above prove nothing."""
    record = {"LotArea": 8450, "LotFrontage": 65.0, "Street": "Pave", "Alley": "Grvl"}
    frame = _simple_record_to_frame(record)
    assert frame is not None
    pd.testing.assert_frame_equal(frame, pd.DataFrame([record]), check_dtype=False)


def test_one_record_of_a_house_validates_as_pandas_frame(
    test_records: pd.DataFrame, schema: InputSchema
) -> None:
    # Given a house as a record dict of Python floats, ints and strings, with a bad value
    record: dict[str, Any] = test_records.to_dict(orient="records")[0]  # type: ignore[assignment]
    record["Street"] = 7.5

    # When it becomes a frame by blocks, and by pandas
    frame = to_frame(record)
    by_pandas = pd.DataFrame([record])

    # Then text is one object block, numbers keep their dtypes, and both validate alike
    assert frame["Neighborhood"].dtype == object and frame["LotArea"].dtype == np.int64
    ours, theirs = (validate_records(records=f, schema=schema) for f in (frame, by_pandas))
    pd.testing.assert_frame_equal(ours.frame, theirs.frame)
    assert ours.errors == theirs.errors and ours.errors[0].column == "Street"


label_values = st.one_of(
    st.sampled_from(["Pave", "Grvl", "", "   ", " Pave "]),
    st.text(max_size=3),
    st.none(),
    st.just(np.nan),
    # A bool among the whole numbers it equals (True == 1) must stay the wrong type
    st.booleans(),
    st.integers(0, 2),
)
code_values = st.one_of(
    st.sampled_from([20.0, 60.0, 20.5, np.inf, -np.inf, np.nan, 1e20, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True),
)


@given(
    text=st.lists(label_values, min_size=1, max_size=6),
    codes=st.lists(code_values, min_size=1, max_size=6),
    as_string_dtype=st.booleans(),
)
def test_few_rows_and_many_rows_validate_alike(
    test_records: pd.DataFrame,
    schema: InputSchema,
    text: list[Any],
    codes: list[float],
    as_string_dtype: bool,
) -> None:
    """Check labels checked value by value (few rows) against the vectorised route."""
    # Given a few houses with arbitrary labels in a text column and a code column
    n = min(len(text), len(codes))
    few = test_records.head(n).reset_index(drop=True)
    few["Street"] = pd.Series(text[:n], dtype="string" if as_string_dtype else object)
    few["MSSubClass"] = np.array(codes[:n], dtype=np.float64)
    many = pd.concat([few] * (SMALL_COLUMN // n + 1), ignore_index=True)
    assert len(few) <= SMALL_COLUMN < len(many)

    # When both are validated
    short, long = (validate_records(records=r, schema=schema) for r in (few, many))

    # Then the few rows come out exactly as the same rows among many
    pd.testing.assert_frame_equal(short.frame, long.frame.head(n))
    assert short.is_valid.tolist() == long.is_valid[:n].tolist()
    assert [(e.row, e.column, e.kind, e.message) for e in short.errors] == [
        (e.row, e.column, e.kind, e.message) for e in long.errors if e.row < n
    ]


def test_frame_from_blocks_equals_concatenation(
    monkeypatch: pytest.MonkeyPatch, raw_records: pd.DataFrame, schema: InputSchema
) -> None:
    """Check the two-block frame against the concatenation used without pandas' API for it."""
    by_blocks = validate_records(records=raw_records, schema=schema).frame
    monkeypatch.delattr("pandas.api.internals.create_dataframe_from_blocks")
    by_concat = validate_records(records=raw_records, schema=schema).frame
    pd.testing.assert_frame_equal(by_blocks, by_concat)


def test_frame_from_blocks_is_the_route_taken(
    monkeypatch: pytest.MonkeyPatch, raw_records: pd.DataFrame, schema: InputSchema
) -> None:
    """Check that the shortcut is taken at all: otherwise the comparison above proves nothing."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the frame was concatenated")

    monkeypatch.setattr(pd, "concat", refuse)
    validated = validate_records(records=raw_records, schema=schema)
    assert validated.frame.shape == (len(raw_records), len(schema.features))


def test_result_counts_a_nan_price_as_a_price() -> None:
    """Check the numpy row check: NaN is a (bad) price, None is no price."""
    error = {"row": 0, "column": None, "kind": "missing_value", "message": "x"}
    result = PredictionResult(predictions=[None, float("nan")], errors=[error], version="1")
    nan_price = result.predictions[1]
    assert result.predictions[0] is None and nan_price is not None and np.isnan(nan_price)
    with pytest.raises(ValueError, match=r"not both or neither: \[0, 1\]"):
        PredictionResult(
            predictions=[None, float("nan")], errors=[{**error, "row": 1}], version="1"
        )


@pytest.mark.parametrize(
    "as_input",
    [lambda record: record, lambda record: [record]],
    ids=["record-dict", "list-of-one-record"],
)
def test_one_house_with_missing_values_takes_the_block_built_route(
    test_records: pd.DataFrame, as_input: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that a house with None in it (nearly every real one) skips pandas' inference."""
    # Given a house of test.csv as a record, with its missing values as None
    record = test_records.iloc[0].to_dict()
    record = {key: None if pd.isna(value) else value for key, value in record.items()}
    assert any(value is None for value in record.values())
    built_by_blocks: list[bool] = []
    block_route = validation._simple_record_to_frame

    def spy(values: dict[Any, Any]) -> pd.DataFrame | None:
        frame = block_route(values)
        built_by_blocks.append(frame is not None)
        return frame

    monkeypatch.setattr(validation, "_simple_record_to_frame", spy)

    # When it becomes a frame
    frame = to_frame(as_input(record))

    # Then the block-built route made it, and it holds what pandas' frame would hold
    assert built_by_blocks == [True]
    pd.testing.assert_frame_equal(frame, pd.DataFrame([record]), check_dtype=False)
