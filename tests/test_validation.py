"""Validation: raw records become the model's input frame plus an error per bad cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from regression_model.config.core import Config, InputSchema
from regression_model.processing.validation import to_frame, validate_records
from regression_model.results import ErrorKind


@pytest.fixture(scope="module")
def schema(config: Config) -> InputSchema:
    return config.model.inputs


class TestToFrame:
    """to_frame turns each supported input shape into a frame indexed by row position."""

    def test_single_record_becomes_one_row(self) -> None:
        frame = to_frame({"LotArea": 8450, "Neighborhood": "NAmes"})
        expected = pd.DataFrame({"LotArea": [8450], "Neighborhood": ["NAmes"]})
        pd.testing.assert_frame_equal(frame, expected)

    @pytest.mark.parametrize(
        "columns",
        [
            {"LotArea": [1, 2], "Street": ["Pave", "Grvl"]},
            {"LotArea": (1, 2), "Street": ("Pave", "Grvl")},
            {"LotArea": np.array([1, 2]), "Street": np.array(["Pave", "Grvl"], dtype=object)},
            {"LotArea": pd.Series([1, 2], index=[7, 9]), "Street": pd.Series(["Pave", "Grvl"])},
        ],
        ids=["lists", "tuples", "arrays", "series-with-other-index"],
    )
    def test_dict_of_columns_becomes_rows_in_order(self, columns: dict[str, object]) -> None:
        frame = to_frame(columns)
        assert frame["LotArea"].tolist() == [1, 2]
        assert frame["Street"].tolist() == ["Pave", "Grvl"]
        assert list(frame.index) == [0, 1]

    def test_frame_index_is_replaced_by_position(self) -> None:
        frame = to_frame(pd.DataFrame({"LotArea": [1, 2]}, index=["b", "a"]))
        assert list(frame.index) == [0, 1]

    def test_repeated_column_names_raise(self) -> None:
        frame = pd.DataFrame([[1, 2]], columns=["LotArea", "LotArea"])
        with pytest.raises(ValueError, match="repeated column names: \\['LotArea'\\]"):
            to_frame(frame)

    def test_sequence_of_non_records_raises_type_error(self) -> None:
        with pytest.raises(TypeError, match="one mapping"):
            to_frame([{"LotArea": 1}, "LotArea=2"])


def test_frame_holds_exactly_the_features_with_model_dtypes(
    raw_records: pd.DataFrame, schema: InputSchema
) -> None:
    # Given raw records with an Id and text columns read by pandas
    # When they are validated
    validated = validate_records(records=raw_records, schema=schema)

    # Then the frame has the schema's columns, numbers as float64 and labels as objects
    assert list(validated.frame.columns) == list(schema.features)
    assert list(validated.frame.index) == list(range(len(raw_records)))
    assert (validated.frame[list(schema.numeric_columns)].dtypes == "float64").all()
    assert (validated.frame[list(schema.categorical)].dtypes == object).all()
    assert validated.frame["MSSubClass"].iloc[0] == "20"
    assert validated.is_valid.all() and validated.errors == []


def test_input_frame_is_not_changed(raw_records: pd.DataFrame, schema: InputSchema) -> None:
    # Given records with bad values
    raw_records.loc[0, "LotArea"] = -1
    before = raw_records.copy()

    # When they are validated
    validate_records(records=raw_records, schema=schema)

    # Then the caller's frame is untouched
    pd.testing.assert_frame_equal(raw_records, before)


def test_text_and_object_columns_validate_alike(
    raw_records: pd.DataFrame, schema: InputSchema
) -> None:
    """Check that pandas' string dtype and plain object columns give the same frame."""
    as_objects = raw_records.astype(
        {col: object for col in raw_records.columns if raw_records[col].dtype != "int64"}
    )
    as_strings = raw_records.astype({col: "string" for col in schema.categorical})

    frames = [validate_records(records=r, schema=schema).frame for r in (as_objects, as_strings)]

    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_bad_cells_become_missing_and_errors_are_ordered(
    raw_records: pd.DataFrame, schema: InputSchema
) -> None:
    # Given bad values scattered over rows and columns, in no particular order
    records = raw_records.head(4).astype({"GrLivArea": object, "Street": object})
    records.loc[3, "GrLivArea"] = "huge"
    records.loc[1, "Street"] = 7.5
    records.loc[1, "LotArea"] = -3

    # When they are validated
    validated = validate_records(records=records, schema=schema)

    # Then the errors are sorted by row, then schema column order, and the cells are NaN
    assert [(e.row, e.column, e.kind) for e in validated.errors] == [
        (1, "LotArea", ErrorKind.OUT_OF_RANGE),
        (1, "Street", ErrorKind.WRONG_TYPE),
        (3, "GrLivArea", ErrorKind.NOT_A_NUMBER),
    ]
    assert validated.is_valid.tolist() == [True, False, True, False]
    assert validated.frame.loc[[1, 3], ["LotArea", "Street", "GrLivArea"]].isna().sum().sum() == 3


@pytest.mark.parametrize("blank", ["", "  ", None, np.nan], ids=["empty", "spaces", "none", "nan"])
def test_blank_optional_label_is_missing_not_an_error(
    raw_records: pd.DataFrame, schema: InputSchema, blank: object
) -> None:
    records = raw_records.head(2).assign(Alley=pd.Series([blank, "Pave"], dtype=object))

    validated = validate_records(records=records, schema=schema)

    assert validated.errors == []
    assert validated.frame["Alley"].isna().tolist() == [True, False]


def test_error_message_names_the_value_and_the_allowed_range(
    raw_records: pd.DataFrame, schema: InputSchema
) -> None:
    records = raw_records.head(1).copy()
    records.loc[0, "GarageYrBlt"] = 2207.0

    (error,) = validate_records(records=records, schema=schema).errors

    assert error.message == "GarageYrBlt must be between 1800 and 2100, got 2207.0"


@given(
    row=st.integers(0, 9),
    column=st.sampled_from(["LotArea", "GrLivArea", "MasVnrArea", "PoolArea", "3SsnPorch"]),
    area=st.floats(max_value=-1e-6, allow_infinity=False, allow_nan=False),
)
def test_any_negative_area_is_an_out_of_range_error_for_its_row(
    test_records: pd.DataFrame, schema: InputSchema, row: int, column: str, area: float
) -> None:
    # Given ten valid houses, one of which has a negative area
    records = test_records.head(10).astype({column: "float64"})
    records.loc[row, column] = area

    # When they are validated
    validated = validate_records(records=records, schema=schema)

    # Then that row alone has an out-of-range error for that column
    assert [(e.row, e.column, e.kind) for e in validated.errors] == [
        (row, column, ErrorKind.OUT_OF_RANGE)
    ]
    assert validated.is_valid.sum() == 9
