"""Validation: raw records become the model's input frame plus an error per bad cell."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from regression_model.config.core import Config, InputSchema, load_config
from regression_model.processing import validation
from regression_model.processing.domain import TrainingDomain
from regression_model.processing.validation import (
    PRIVATE_NAMES,
    column_arrays,
    to_frame,
    validate_records,
)
from regression_model.results import ErrorKind, WarningKind


@pytest.fixture(scope="module")
def schema(config: Config) -> InputSchema:
    return config.model.inputs


class TestToFrame:
    """to_frame turns each supported input shape into a frame of its rows, in input order."""

    def test_single_record_becomes_one_row(self) -> None:
        frame = to_frame({"LotArea": 8450, "Neighborhood": "NAmes"})
        expected = pd.DataFrame({"LotArea": [8450], "Neighborhood": ["NAmes"]}, dtype=object)
        pd.testing.assert_frame_equal(frame, expected.astype({"LotArea": np.int64}))

    @pytest.mark.parametrize(
        "columns",
        [
            {"LotArea": [1, 2], "Street": ["Pave", "Grvl"]},
            {"LotArea": (1, 2), "Street": ("Pave", "Grvl")},
            {"LotArea": np.array([1, 2]), "Street": np.array(["Pave", "Grvl"], dtype=object)},
            {"LotArea": pd.Series([1, 2], index=[7, 9]), "Street": ["Pave", "Grvl"]},
            {
                "LotArea": pd.Series([1, 2], index=["b", "a"]),
                "Street": pd.Series(["Pave", "Grvl"], index=["b", "a"]),
            },
        ],
        ids=["lists", "tuples", "arrays", "series-and-list", "series-with-same-index"],
    )
    def test_dict_of_columns_becomes_rows_in_order(self, columns: dict[str, object]) -> None:
        frame = to_frame(columns)
        assert frame["LotArea"].tolist() == [1, 2]
        assert frame["Street"].tolist() == ["Pave", "Grvl"]
        assert list(frame.index) == [0, 1]

    def test_frame_index_is_never_read(self, schema: InputSchema) -> None:
        # Given a frame indexed by labels, its second row with a bad value
        records = pd.DataFrame({"LotArea": [8450, -1]}, index=["b", "a"])

        # When it is validated
        validated = validate_records(records=to_frame(records), schema=schema)

        # Then rows are counted by position, and the frame is indexed the same way
        assert list(validated.frame.index) == [0, 1]
        assert [(e.row, e.kind) for e in validated.errors if e.column == "LotArea"] == [
            (1, ErrorKind.OUT_OF_RANGE)
        ]

    def test_columns_of_different_lengths_raise(self) -> None:
        with pytest.raises(
            ValueError, match=r"^column lists in input_data differ in length: \[1, 2\]$"
        ):
            to_frame({"LotArea": [1, 2], "Street": ["Pave"]})

    def test_scalars_mixed_with_columns_raise(self) -> None:
        message = (
            r"^input_data mixes scalar values and lists: pass one record \(all scalars\) or a "
            r"dict of column lists \(all lists\)\.$"
        )
        with pytest.raises(ValueError, match=message):
            to_frame({"LotArea": [1, 2], "Street": "Pave"})

    @pytest.mark.parametrize(
        ("input_data", "type_name"), [("LotArea=1", "str"), (b"LotArea=1", "bytes"), (42, "int")]
    )
    def test_input_that_is_no_table_raises_type_error_naming_its_type(
        self, input_data: object, type_name: str
    ) -> None:
        message = (
            r"^input_data must be a pandas DataFrame, a record dict, a dict of column lists or "
            rf"a list of record dicts, not {type_name}\.$"
        )
        with pytest.raises(TypeError, match=message):
            to_frame(input_data)

    def test_repeated_model_column_raises(self, schema: InputSchema) -> None:
        frame = pd.DataFrame([[1, 2]], columns=["LotArea", "LotArea"])
        with pytest.raises(ValueError, match="repeated column names: \\['LotArea'\\]"):
            validate_records(records=to_frame(frame), schema=schema)

    def test_repeated_extra_column_is_ignored(
        self, raw_records: pd.DataFrame, schema: InputSchema
    ) -> None:
        """Non-regression test for #10: extra columns are ignored, repeated or not."""
        # Given a batch with the extra column "Id" twice
        records = pd.concat([raw_records, raw_records[["Id"]]], axis=1)

        # When it is validated
        validated = validate_records(records=to_frame(records), schema=schema)

        # Then it validates exactly as without the repeat
        expected = validate_records(records=raw_records, schema=schema)
        pd.testing.assert_frame_equal(validated.frame, expected.frame)
        assert validated.errors == expected.errors

    def test_series_with_different_index_labels_raise(self) -> None:
        """Non-regression test for #10: Series are never combined by position."""
        columns = {"LotArea": pd.Series([1, 2], index=[7, 9]), "Street": pd.Series(["a", "b"])}
        message = (
            r"^the Series in input_data hold different index labels \('Street' differs from the "
            r"first Series\): give them the same index, or pass lists\.$"
        )
        with pytest.raises(ValueError, match=message):
            to_frame(columns)

    def test_series_sharing_an_index_with_repeated_labels_keep_their_rows(self) -> None:
        # Given two columns of the same houses, under one index that repeats a label
        index = pd.Index([7, 7, 9])
        columns = {
            "LotArea": pd.Series([100, 200, 300], index=index),
            "Street": pd.Series(["Pave", "Grvl", "Pave"], index=index),
        }

        # When they become a frame
        frame = to_frame(columns)

        # Then the rows are taken as they stand: the shared index leaves nothing to align
        assert frame.to_dict(orient="records") == [
            {"LotArea": 100, "Street": "Pave"},
            {"LotArea": 200, "Street": "Grvl"},
            {"LotArea": 300, "Street": "Pave"},
        ]

    def test_series_in_different_orders_are_aligned_by_index(self) -> None:
        """Non-regression test for #10: a dict of Series mixed houses by position."""
        # Given two columns of the same two houses, in different orders
        columns = {
            "LotArea": pd.Series([100, 200], index=["a", "b"]),
            "Street": pd.Series(["Grvl", "Pave"], index=["b", "a"]),
        }

        # When they become a frame
        frame = to_frame(columns)

        # Then each house keeps its own values, in the first Series' order
        assert frame.to_dict(orient="records") == [
            {"LotArea": 100, "Street": "Pave"},
            {"LotArea": 200, "Street": "Grvl"},
        ]

    def test_zero_dimensional_arrays_are_scalars(self) -> None:
        """Non-regression test for #10: a dict of 0-d arrays raised TypeError."""
        frame = to_frame({"LotArea": np.array(8450), "Street": np.array("Pave")})
        assert frame.to_dict(orient="records") == [{"LotArea": 8450, "Street": "Pave"}]

    @pytest.mark.parametrize(
        "records", [[{}], [{}, {"LotArea": 1}], {}], ids=["one-empty", "empty-first", "empty-dict"]
    )
    def test_empty_record_is_a_row(self, records: Any) -> None:
        """Check that a record with no values is a row (whose every column is missing)."""
        frame = to_frame(records)
        assert len(frame) == (1 if isinstance(records, dict) else len(records))

    def test_sequence_of_non_records_raises_type_error(self) -> None:
        message = r"^input_data as a sequence must hold one mapping \(record\) per row\.$"
        with pytest.raises(TypeError, match=message):
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


def test_a_rows_errors_follow_the_schema_column_order_not_the_order_found(
    raw_records: pd.DataFrame, schema: InputSchema
) -> None:
    # Given a house with a frontage out of range (a rule, checked after reading) and a lot
    # area that is no number (found while reading), the frontage coming first in the schema
    records = raw_records.head(1).astype({"LotArea": object})
    records.loc[0, "LotFrontage"] = -5.0
    records.loc[0, "LotArea"] = "big"
    features = list(schema.features)
    assert features.index("LotFrontage") < features.index("LotArea")

    # When it is validated
    validated = validate_records(records=records, schema=schema)

    # Then its errors are in the schema's column order
    assert [(e.row, e.column, e.kind) for e in validated.errors] == [
        (0, "LotFrontage", ErrorKind.OUT_OF_RANGE),
        (0, "LotArea", ErrorKind.NOT_A_NUMBER),
    ]


@pytest.mark.parametrize("blank", ["", "  ", None, np.nan], ids=["empty", "spaces", "none", "nan"])
def test_blank_optional_label_is_missing_not_an_error(
    raw_records: pd.DataFrame, schema: InputSchema, blank: object
) -> None:
    records = raw_records.head(2).assign(Alley=pd.Series([blank, "Pave"], dtype=object))

    validated = validate_records(records=records, schema=schema)

    assert validated.errors == []
    assert validated.frame["Alley"].isna().tolist() == [True, False]
    # NaN, not None: the pipeline's imputers fill NaN only
    missing = validated.frame["Alley"].iloc[0]
    assert isinstance(missing, float) and np.isnan(missing)


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


def _boundary_cases() -> list[Any]:
    """For every numeric rule group: its bounds, one step past each, and a half past a whole
    number where the group takes whole numbers; each as a number and as text."""
    cases = []
    for group, rule in load_config().model.inputs.numeric.items():
        column = rule.columns[0]
        step = 1.0 if rule.whole_numbers else 0.5
        values: list[tuple[float, ErrorKind | None]] = [
            (rule.minimum, None),
            (rule.maximum, None),
            (rule.minimum - step, ErrorKind.OUT_OF_RANGE),
            (rule.maximum + step, ErrorKind.OUT_OF_RANGE),
        ]
        if rule.whole_numbers:
            values.append((rule.minimum + 0.5, ErrorKind.NOT_WHOLE_NUMBER))
        for value, expected in values:
            for shown, raw in (("number", value), ("text", f" {value} ")):
                cases.append(pytest.param(column, raw, expected, id=f"{group}-{value}-{shown}"))
    return cases


@pytest.mark.parametrize(("column", "value", "expected"), _boundary_cases())
def test_every_numeric_rule_holds_at_its_bound_and_breaks_one_step_past(
    raw_records: pd.DataFrame,
    schema: InputSchema,
    column: str,
    value: Any,
    expected: ErrorKind | None,
) -> None:
    # Given one house with the value, as a number or as text, in its column
    records = raw_records.head(1).astype({column: object})
    records.loc[0, column] = value

    # When it is validated
    validated = validate_records(records=records, schema=schema)

    # Then the value passes at the bound and breaks exactly the rule one step past it
    assert [error.kind for error in validated.errors] == ([] if expected is None else [expected])


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        (True, ErrorKind.WRONG_TYPE, "GrLivArea has a value of the wrong type: True"),
        (1 + 2j, ErrorKind.WRONG_TYPE, "GrLivArea has a value of the wrong type: (1+2j)"),
        (
            pd.Timestamp("2020-01-01"),
            ErrorKind.WRONG_TYPE,
            "GrLivArea has a value of the wrong type: Timestamp('2020-01-01 00:00:00')",
        ),
        ("big", ErrorKind.NOT_A_NUMBER, "GrLivArea must be a number, got 'big'"),
        ("nan", ErrorKind.NOT_A_NUMBER, "GrLivArea must be a number, got 'nan'"),
        ("inf", ErrorKind.NOT_FINITE, "GrLivArea must be a finite number, got 'inf'"),
        (None, ErrorKind.MISSING_VALUE, "GrLivArea must have a value"),
        ("  ", ErrorKind.MISSING_VALUE, "GrLivArea must have a value"),
        (
            10**400,
            ErrorKind.OUT_OF_RANGE,
            "GrLivArea must be between 0 and 250000, got 1000000000000000000000000000000000000000"
            "… (401 characters)",
        ),
        (
            "9" * 10**6,
            ErrorKind.OUT_OF_RANGE,
            "GrLivArea must be between 0 and 250000, got '999999999999999999999999999999999999999"
            "… (1,000,002 characters)",
        ),
        (
            "-" + "9" * 400,
            ErrorKind.OUT_OF_RANGE,
            "GrLivArea must be between 0 and 250000, got '-99999999999999999999999999999999999999"
            "… (403 characters)",
        ),
        # A value shown in exactly SHOWN_VALUE_LENGTH characters (quotes included) is whole.
        ("x" * 38, ErrorKind.NOT_A_NUMBER, "GrLivArea must be a number, got '" + "x" * 38 + "'"),
    ],
    ids=[
        "bool",
        "complex",
        "datetime",
        "text",
        "nan-text",
        "inf-text",
        "none",
        "blank",
        "int-beyond-float",
        "megabyte-text",
        "negative-digits-beyond-float",
        "text-of-the-longest-shown-length",
    ],
)
def test_unreadable_number_is_one_error_with_a_short_message(
    schema: InputSchema, test_records: pd.DataFrame, value: object, kind: ErrorKind, message: str
) -> None:
    """Non-regression test for #10: each of these raised, was scored, or got two errors."""
    # Given a house whose living area is the value
    record = {**test_records.iloc[0].to_dict(), "GrLivArea": value}

    # When it is validated
    validated = validate_records(records=to_frame(record), schema=schema)

    # Then it gets exactly one error, whose message is short
    assert [(e.kind, e.message) for e in validated.errors] == [(kind, message)]


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("20.0", "20"),
        ("45.0", "45"),
        (" 60.0 ", "60"),
        ("60", "60"),
        ("20.5", "20.5"),
        ("1e3", "1e3"),
        ("inf", "inf"),
    ],
)
def test_a_code_written_as_text_is_read_as_the_code(
    schema: InputSchema, test_records: pd.DataFrame, written: str, read: str
) -> None:
    """Check that "20.0" is the code 20, while other text stays as written."""
    record = {**test_records.iloc[0].to_dict(), "MSSubClass": written}
    validated = validate_records(records=to_frame(record), schema=schema)
    assert validated.frame["MSSubClass"].tolist() == [read]


def test_a_missing_number_is_an_error_only_where_a_value_is_required(
    test_records: pd.DataFrame, schema: InputSchema
) -> None:
    # Given many houses, one missing its (required) living area and another its (optional)
    # frontage, both in float columns
    records = test_records.head(40).reset_index(drop=True)
    records["GrLivArea"] = records["GrLivArea"].astype(float)
    records.loc[1, "GrLivArea"] = np.nan
    records.loc[2, "LotFrontage"] = np.nan

    # When they are validated
    validated = validate_records(records=records, schema=schema)

    # Then only the missing living area is an error, in its row and column
    assert "GrLivArea" in schema.required and "LotFrontage" not in schema.required
    assert [(e.row, e.column, e.kind) for e in validated.errors] == [
        (1, "GrLivArea", ErrorKind.MISSING_VALUE)
    ]


def test_every_unseen_label_gets_a_warning_whatever_comes_before_it(
    test_records: pd.DataFrame, schema: InputSchema, fitted_domain: TrainingDomain
) -> None:
    # Given houses whose street is a known label, a blank, a label never seen, then a known
    # label in other case
    records = test_records.head(4).reset_index(drop=True)
    records["Street"] = ["Pave", "  ", "Unheard", "pave"]

    # When they are validated against what the model saw in training
    validated = validate_records(records=records, schema=schema, domain=fitted_domain)

    # Then the unseen label and the one read as a known label are flagged, each in its row
    assert [(w.row, w.kind) for w in validated.warnings if w.column == "Street"] == [
        (2, WarningKind.UNSEEN_LABEL),
        (3, WarningKind.LABEL_NORMALISED),
    ]


@pytest.mark.parametrize("side", ["below", "above"])
def test_a_value_beyond_the_training_range_is_warned_with_the_bound_it_is_priced_at(
    test_records: pd.DataFrame, schema: InputSchema, fitted_domain: TrainingDomain, side: str
) -> None:
    # Given a house whose lot area is half the smallest, or 1,000 sq ft over the largest, in
    # training (and inside what validation accepts)
    allowed = fitted_domain.numeric["LotArea"]
    bound = allowed.minimum if side == "below" else allowed.maximum
    area = bound / 2 if side == "below" else bound + 1000
    records = test_records.head(1).reset_index(drop=True).assign(LotArea=area)

    # When it is validated against what the model saw in training
    validated = validate_records(records=records, schema=schema, domain=fitted_domain)

    # Then it gets one warning naming the value, the side and the bound
    message = f"LotArea {area:g} is {side} the training range (priced as {bound:g})"
    assert [(w.column, w.message) for w in validated.warnings] == [("LotArea", message)]


def test_a_count_that_is_not_whole_is_one_error_naming_the_value(
    schema: InputSchema, test_records: pd.DataFrame
) -> None:
    record = {**test_records.iloc[0].to_dict(), "Fireplaces": 1.5}
    validated = validate_records(records=to_frame(record), schema=schema)
    assert [(e.kind, e.message) for e in validated.errors] == [
        (ErrorKind.NOT_WHOLE_NUMBER, "Fireplaces must be a whole number, got 1.5")
    ]


def _as_dtype(series: pd.Series, dtype: Any) -> pd.Series:
    if dtype == "sparse":
        return series.astype(pd.SparseDtype("float64", np.nan))
    return series.astype(dtype)


@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        ("GrLivArea", "sparse"),
        ("GrLivArea", "Int64"),
        ("GrLivArea", "Float64"),
        ("LotArea", "int64[pyarrow]"),
        ("LotFrontage", "double[pyarrow]"),
        ("MSZoning", "category"),
        ("MSSubClass", "category"),
        ("MSZoning", "string[pyarrow]"),
        ("MSZoning", "large_string[pyarrow]"),
        ("GrLivArea", "category"),
    ],
)
def test_any_dtype_of_valid_values_validates_as_plain_values(
    raw_records: pd.DataFrame, schema: InputSchema, column: str, dtype: str
) -> None:
    """Non-regression test for #10: categorical and sparse columns raised."""
    # Given the same houses with one column in another dtype
    records = raw_records.copy()
    records[column] = _as_dtype(records[column], dtype)

    # When both are validated
    validated = validate_records(records=records, schema=schema)

    # Then the model's input frame is the same
    expected = validate_records(records=raw_records, schema=schema)
    pd.testing.assert_frame_equal(validated.frame, expected.frame)
    assert validated.errors == expected.errors


@pytest.mark.parametrize(
    ("values", "dtype"),
    [([1 + 0j, 2 + 0j], "complex128"), (["2010-01-01", None], "datetime64[ns]")],
    ids=["complex", "datetime"],
)
def test_column_of_a_wrong_dtype_is_one_error_per_present_cell(
    raw_records: pd.DataFrame, schema: InputSchema, values: list[Any], dtype: Any
) -> None:
    # Given two houses whose sale year is of a dtype that holds no plain numbers
    records = raw_records.head(2).copy()
    records["YrSold"] = pd.Series(values).astype(dtype)

    # When they are validated
    validated = validate_records(records=records, schema=schema)

    # Then each present cell is one wrong-type error, and a missing one must have a value
    kinds = [(error.row, error.kind) for error in validated.errors]
    assert kinds[0] == (0, ErrorKind.WRONG_TYPE)
    assert kinds[1] == (1, ErrorKind.WRONG_TYPE if values[1] else ErrorKind.MISSING_VALUE)
    assert len(kinds) == 2


@pytest.mark.parametrize("n_rows", [2, 40], ids=["few-rows", "many-rows"])
@pytest.mark.parametrize(
    "arrow_type",
    [pa.list_(pa.int64()), pa.struct([("area", pa.int64())])],
    ids=["list", "struct"],
)
def test_arrow_values_that_cannot_be_hashed_are_each_the_wrong_type(
    test_records: pd.DataFrame, schema: InputSchema, arrow_type: pa.DataType, n_rows: int
) -> None:
    # Given houses whose street and lot area are Arrow lists or structs
    records = test_records.head(n_rows).reset_index(drop=True)
    value: Any = [1] if pa.types.is_list(arrow_type) else {"area": 1}
    for column in ("Street", "LotArea"):
        records[column] = pd.Series([value] * n_rows, dtype=pd.ArrowDtype(arrow_type))

    # When they are validated
    validated = validate_records(records=records, schema=schema)

    # Then every cell of both columns is a wrong-type error, and no row is valid
    wrong = [(e.row, e.column) for e in validated.errors if e.kind is ErrorKind.WRONG_TYPE]
    assert len(wrong) == 2 * n_rows and not validated.is_valid.any()


@pytest.mark.parametrize("n_rows", [2, 40], ids=["few-rows", "many-rows"])
def test_a_bool_is_the_wrong_type_even_beside_the_number_it_equals(
    test_records: pd.DataFrame, schema: InputSchema, n_rows: int
) -> None:
    """Check that False and 0 (equal in Python) are told apart in one column."""
    # Given houses whose porch area alternates between False and 0
    records = test_records.head(n_rows).astype({"OpenPorchSF": object}).reset_index(drop=True)
    records["OpenPorchSF"] = [False, 0] * (n_rows // 2)

    # When they are validated
    validated = validate_records(records=records, schema=schema)

    # Then every False is a wrong-type error and every 0 is valid
    assert validated.is_valid.tolist() == [False, True] * (n_rows // 2)
    assert {error.kind for error in validated.errors} == {ErrorKind.WRONG_TYPE}


def test_private_names_each_name_an_existing_test() -> None:
    assert set(PRIVATE_NAMES.values()) <= set(globals())


def _frames_of_every_block_kind(raw_records: pd.DataFrame, schema: InputSchema) -> list[Any]:
    mixed = pd.DataFrame(
        {
            "when": pd.date_range("2020-01-01", periods=3, tz="UTC"),
            "kind": pd.Categorical(["x", "y", "x"]),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "a": [1.0, 2.0, 3.0],
            "b": [4.0, 5.0, 6.0],
        }
    )
    repeated = mixed.set_axis(["a", "b", "a", "c", "b"], axis=1)
    return [
        raw_records,  # as read from CSV: a block per column
        raw_records.iloc[[3]],
        validate_records(records=raw_records, schema=schema).frame,  # two 2-D blocks
        mixed,
        repeated,
        mixed.iloc[[0, 2], [4, 0, 3]],
        pd.DataFrame(index=range(2)),
    ]


def test_column_arrays_by_block_are_the_public_routes_arrays(
    raw_records: pd.DataFrame, schema: InputSchema
) -> None:
    """Check the arrays read from pandas' private blocks against its public columns."""
    for frame in _frames_of_every_block_kind(raw_records, schema):
        by_block = column_arrays(frame)
        public = [frame.iloc[:, position].array for position in range(frame.shape[1])]
        assert len(by_block) == len(public) == frame.shape[1]
        for got, want in zip(by_block, public):
            assert pd.Series(got).equals(pd.Series(want))


def test_column_arrays_by_block_gives_way_where_pandas_has_no_blocks() -> None:
    assert validation._arrays_by_block(pd.DataFrame.__new__(pd.DataFrame)) is None


def test_column_arrays_has_a_public_fallback(
    monkeypatch: pytest.MonkeyPatch, raw_records: pd.DataFrame, schema: InputSchema
) -> None:
    """Check that reading columns works if pandas drops the blocks it keeps them in."""
    frames = _frames_of_every_block_kind(raw_records, schema)
    fast = [column_arrays(frame) for frame in frames]
    monkeypatch.setattr(validation, "_arrays_by_block", lambda frame: None)
    for frame, arrays in zip(frames, fast):
        slow = column_arrays(frame)
        assert len(arrays) == len(slow) == frame.shape[1]
        for a, b in zip(arrays, slow):
            assert pd.Series(a).equals(pd.Series(b))


def test_validation_through_the_public_column_reader_is_the_same(
    monkeypatch: pytest.MonkeyPatch, raw_records: pd.DataFrame, schema: InputSchema
) -> None:
    """Check the public route's arrays (pandas' NumPy-backed extension arrays) validate alike."""
    fast = validate_records(records=raw_records, schema=schema)
    monkeypatch.setattr(validation, "_arrays_by_block", lambda frame: None)
    slow = validate_records(records=raw_records, schema=schema)
    pd.testing.assert_frame_equal(slow.frame, fast.frame)
    assert slow.errors == fast.errors


@pytest.mark.parametrize("n_rows", [2, 40], ids=["few-rows", "many-rows"])
@pytest.mark.parametrize("unit", ["datetime64[ns]", "timedelta64[ns]"], ids=["dates", "durations"])
def test_a_column_of_times_is_the_wrong_type_not_numbers(
    test_records: pd.DataFrame, schema: InputSchema, n_rows: int, unit: str
) -> None:
    """Check that numpy's datetime64 and timedelta64, which list as integers, are refused."""
    records = test_records.head(n_rows).reset_index(drop=True)
    records["GrLivArea"] = np.arange(1, n_rows + 1).astype(unit)
    validated = validate_records(records=records, schema=schema)
    wrong = [e.row for e in validated.errors if e.column == "GrLivArea"]
    assert wrong == list(range(n_rows))
    assert {e.kind for e in validated.errors if e.column == "GrLivArea"} == {ErrorKind.WRONG_TYPE}


def test_each_schema_and_domain_is_applied_by_its_own_rules_when_several_are_in_use(
    raw_records: pd.DataFrame, schema: InputSchema
) -> None:
    """Check that what validation works out once per schema and domain never crosses over."""
    # Given the schema, and a copy whose areas must be under 100 square feet
    areas = schema.numeric["areas"].model_copy(update={"maximum": 100.0})
    strict = schema.model_copy(update={"numeric": {**schema.numeric, "areas": areas}})
    # and two domains, one of which holds every LotArea below the one house's
    house = raw_records.head(1)
    lot_area = float(house["LotArea"].iloc[0])
    wide, narrow = (
        TrainingDomain.model_validate(
            {
                "numeric": {"LotArea": {"minimum": 0.0, "maximum": maximum}},
                "labels": {},
                "price": {"minimum": 1.0, "maximum": 2.0},
            }
        )
        for maximum in (lot_area + 1, lot_area - 1)
    )

    # When the house is validated under each, in turn, twice over
    outcomes = [
        validate_records(records=house, schema=rules, domain=domain)
        for _ in range(2)
        for rules, domain in ((schema, wide), (strict, narrow))
    ]

    # Then each schema and domain gives its own verdict every time
    verdicts = [
        (
            bool(outcome.is_valid[0]),
            any(w.kind is WarningKind.OUTSIDE_TRAINING_RANGE for w in outcome.warnings),
        )
        for outcome in outcomes
    ]
    assert verdicts == [(True, False), (False, False)] * 2
    assert [
        bool(validate_records(records=house, schema=schema, domain=domain).warnings)
        for domain in (wide, narrow)
    ] == [False, True]
