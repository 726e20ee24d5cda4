"""Turn raw records into the model's input frame, with an error for each bad cell.

This is the only code that renames, casts or rejects input columns. Checks run column-wise
over the whole batch, so one bad row costs no more than its own errors, and a good row in
the same batch is never held back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict

from regression_model.config.core import InputSchema, NumericRule
from regression_model.processing.scoring import SMALL_COLUMN, Labels, column_arrays

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]


class ErrorKind(str, Enum):
    """Why a row gets no prediction."""

    MISSING_COLUMN = "missing_column"
    MISSING_VALUE = "missing_value"
    NOT_A_NUMBER = "not_a_number"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    NOT_WHOLE_NUMBER = "not_whole_number"
    WRONG_TYPE = "wrong_type"
    PREDICTION_FAILED = "prediction_failed"


class RowError(BaseModel):
    """One reason why the input row at position ``row`` gets no prediction."""

    model_config = ConfigDict(frozen=True)

    row: int
    column: str | None
    kind: ErrorKind
    message: str


# (column, rows that break a rule, the rule broken, the raw values, the numeric rule)
_Found = tuple[str, BoolArray, ErrorKind, Any, "NumericRule | None"]
_MISSING = ErrorKind.MISSING_VALUE


@dataclass(frozen=True)
class ValidatedRecords:
    """The outcome of validation.

    Attributes
    ----------
    frame : DataFrame
        One row per input row, in input order (index ``0..n-1``), holding exactly the
        model's feature columns: numeric columns as float64 and text labels as object.
        Bad cells hold NaN.
    errors : list of RowError
        Every problem found, ordered by row, then by the schema's column order.
    is_valid : ndarray of bool
        ``True`` for rows with no error: the rows the pipeline may score.
    labels : dict of str to Labels
        The text columns that validation factorized, as integer codes (-1 where the frame
        holds NaN) into their labels: scoring reads these instead of factorizing the
        frame's columns again. Columns checked value by value are absent.
    """

    frame: pd.DataFrame
    errors: list[RowError]
    is_valid: BoolArray
    labels: Mapping[str, Labels] = field(default_factory=dict, compare=False, repr=False)


def to_frame(input_data: object) -> pd.DataFrame:
    """Turn any supported input into a DataFrame whose index is the row position.

    Parameters
    ----------
    input_data : DataFrame, mapping or sequence of mappings
        A DataFrame, a list of record dicts, a single record dict, or a dict of column lists.

    Raises
    ------
    TypeError
        If ``input_data`` is not one of the supported table shapes.
    ValueError
        If a dict mixes scalar values and column lists, or column names repeat.
    """
    if isinstance(input_data, pd.DataFrame):
        frame = input_data.reset_index(drop=True)
    elif isinstance(input_data, Mapping):
        frame = _mapping_to_frame(input_data)
    elif isinstance(input_data, Sequence) and not isinstance(input_data, (str, bytes)):
        if not all(isinstance(record, Mapping) for record in input_data):
            raise TypeError("input_data as a sequence must hold one mapping (record) per row.")
        frame = pd.DataFrame.from_records(list(input_data))
    else:
        raise TypeError(
            "input_data must be a pandas DataFrame, a record dict, a dict of column lists or a "
            f"list of record dicts, not {type(input_data).__name__}."
        )
    if frame.columns.has_duplicates:
        duplicated = sorted({str(col) for col in frame.columns[frame.columns.duplicated()]})
        raise ValueError(f"input_data has repeated column names: {duplicated}")
    return frame


def _is_column_values(value: object) -> bool:
    return isinstance(value, (Sequence, np.ndarray, pd.Series)) and not isinstance(
        value, (str, bytes)
    )


def _mapping_to_frame(data: Mapping[Any, Any]) -> pd.DataFrame:
    are_columns = [_is_column_values(value) for value in data.values()]
    if all(are_columns) and data:
        lengths = {len(values) for values in data.values()}
        if len(lengths) > 1:
            raise ValueError(f"column lists in input_data differ in length: {sorted(lengths)}")
        return pd.DataFrame({key: list(values) for key, values in data.items()})
    if any(are_columns):
        raise ValueError(
            "input_data mixes scalar values and lists: pass one record (all scalars) or a "
            "dict of column lists (all lists)."
        )
    return pd.DataFrame([dict(data)])


def validate_records(*, records: pd.DataFrame, schema: InputSchema) -> ValidatedRecords:
    """Check every feature column of ``records`` against the input schema.

    Parameters
    ----------
    records : DataFrame
        Raw input, one row per record; extra columns are ignored.
    schema : InputSchema
        The columns the model needs and the values they may hold.

    Returns
    -------
    ValidatedRecords
        The model's input frame, the errors and which rows are valid.
    """
    n_rows = len(records)
    # Every check below is positional, on arrays; only the rare mixed-type column goes
    # through a Series (see _raw_series).
    raw_arrays = dict(zip(records.columns.tolist(), column_arrays(records)))
    required = set(schema.required)
    found: list[_Found] = []

    numeric_names = schema.numeric_columns
    # Fortran order: each column is contiguous, and the block becomes the frame's float
    # block without a copy.
    numbers = np.empty((n_rows, len(numeric_names)), dtype=np.float64, order="F")
    start = 0
    for rule in schema.numeric.values():
        stop = start + len(rule.columns)
        is_checked_here = np.zeros(stop - start, dtype=bool)
        for position, name in enumerate(rule.columns, start):
            raw = raw_arrays.get(name)
            if raw is None:
                numbers[:, position] = np.nan
                found.append(_missing_column(name, n_rows))
            elif isinstance(raw, np.ndarray) and raw.dtype.kind in "iuf":
                numbers[:, position] = raw
                is_checked_here[position - start] = True
            else:
                series = _raw_series(records, name)
                values, problems = _check_numeric(series, rule, is_required=name in required)
                numbers[:, position] = values.to_numpy()
                found.extend((name, mask, kind, raw, rule) for kind, mask in problems)
        found.extend(
            _check_number_block(numbers[:, start:stop], is_checked_here, rule, raw_arrays, required)
        )
        start = stop

    text = np.empty((n_rows, len(schema.categorical)), dtype=object, order="F")
    labels: dict[str, Labels] = {}
    for position, name in enumerate(schema.categorical):
        raw = raw_arrays.get(name)
        if raw is None:
            text[:, position] = np.nan
            found.append(_missing_column(name, n_rows))
            continue
        checked = _check_labels_by_value(raw)
        if checked is None:
            series = _raw_series(records, name)
            slow_labels, problems = _check_labels(series, is_required=name in required)
            text[:, position] = slow_labels.to_numpy()
        else:
            labels[name], objects, problems = checked
            text[:, position] = objects
            if name not in required:
                problems = [(kind, mask) for kind, mask in problems if kind is not _MISSING]
        found.extend((name, mask, kind, raw, None) for kind, mask in problems)

    is_valid = np.ones(n_rows, dtype=bool)
    errors: list[RowError] = []
    numeric_position = {name: i for i, name in enumerate(numeric_names)}
    text_position = {name: i for i, name in enumerate(schema.categorical)}
    for name, mask, kind, raw, broken_rule in found:
        is_valid &= ~mask
        for row in np.flatnonzero(mask).tolist():
            value = None if raw is None else raw[row]
            message = _describe(kind, name, value, broken_rule)
            # Every field is typed by construction here: skip pydantic's per-error checks.
            errors.append(
                RowError.model_construct(row=row, column=name, kind=kind, message=message)
            )
        if name in numeric_position:
            numbers[mask, numeric_position[name]] = np.nan
        else:
            text[mask, text_position[name]] = np.nan
            if name in labels:
                labels[name] = Labels(np.where(mask, -1, labels[name].codes), labels[name].values)
    column_order = {name: i for i, name in enumerate(schema.features)}
    errors.sort(key=lambda error: (error.row, column_order.get(error.column or "", -1)))
    frame = pd.concat(
        [
            pd.DataFrame(numbers, columns=list(numeric_names), copy=False),
            pd.DataFrame(text, columns=list(schema.categorical), dtype=object, copy=False),
        ],
        axis=1,
    )
    return ValidatedRecords(frame=frame, errors=errors, is_valid=is_valid, labels=labels)


def _raw_series(records: pd.DataFrame, name: str) -> pd.Series:
    """One raw column as a Series indexed by row position, for the per-value checks."""
    return records[name].reset_index(drop=True)


def _check_number_block(
    block: FloatArray,
    is_checked_here: BoolArray,
    rule: NumericRule,
    raw_arrays: Mapping[str, Any],
    required: set[str],
) -> list[_Found]:
    """The numeric rule's checks for all of its numeric-dtype columns at once.

    ``block`` holds the rule's columns as float64; only those flagged in
    ``is_checked_here`` are checked (the others went through ``_check_numeric``). The kinds
    are checked in ``_check_numeric``'s order, which is the order a cell's errors are listed.
    """
    if not is_checked_here.any():
        return []
    names = rule.columns
    is_infinite = np.isinf(block)
    with np.errstate(invalid="ignore"):
        finite = np.where(is_infinite, np.nan, block) if is_infinite.any() else block
        masks = [
            (ErrorKind.NOT_FINITE, is_infinite),
            (ErrorKind.OUT_OF_RANGE, (finite < rule.minimum) | (finite > rule.maximum)),
        ]
        if rule.whole_numbers:
            masks.append((ErrorKind.NOT_WHOLE_NUMBER, np.isfinite(finite) & (finite % 1 != 0)))
    is_required = np.array([name in required for name in names])
    if is_required.any():
        masks.append((ErrorKind.MISSING_VALUE, np.isnan(block) & is_required))
    found: list[_Found] = []
    for kind, mask in masks:
        for position in np.flatnonzero(mask.any(axis=0) & is_checked_here).tolist():
            name = names[position]
            found.append((name, mask[:, position], kind, raw_arrays[name], rule))
    return found


def _check_labels_by_value(
    raw: Any,
) -> tuple[Labels, ObjectArray, list[tuple[ErrorKind, BoolArray]]] | None:
    """``_check_labels`` for all-text and numeric columns, one check per distinct value.

    The column is factorized once; blanks, integer codes and wrong types are decided for
    each distinct value, and the row masks gathered by code. The codes are returned too, so
    that scoring need not factorize the column again.

    Returns
    -------
    (Labels, ndarray of object, list of (ErrorKind, mask)) or None
        The labels as codes (-1 where missing or wrong), as objects (NaN there) and the
        problems, ``MISSING_VALUE`` included whether or not the column is required; ``None``
        for a column of another kind (booleans, mixed types), which ``_check_labels`` checks.
    """
    values: list[Any]
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "iuf":
        factorized = Labels.from_array(raw.astype(np.float64, copy=False))
        # Integer codes (MSSubClass) arrive as numbers, or as floats when a value is missing.
        is_wrong = [not (math.isfinite(value) and value % 1 == 0) for value in factorized.values]
        is_blank = [False] * len(is_wrong)
        values = [None if bad else str(int(v)) for v, bad in zip(factorized.values, is_wrong)]
    else:
        text = _factorize_text(raw)
        if text is None:
            return None
        factorized, values = text, text.values
        is_wrong = [False] * len(values)
        # Empty or whitespace-only strings, which CSV and form input use for "no value".
        is_blank = [not value.strip() for value in values]
    codes = factorized.codes
    problems: list[tuple[ErrorKind, BoolArray]] = []
    # Code -1 (missing) picks the trailing False of each per-value flag list.
    is_missing = codes < 0
    if any(is_blank):
        is_missing |= np.array([*is_blank, False])[codes]
    is_unusable = is_missing
    if any(is_wrong):
        is_wrong_type = np.array([*is_wrong, False])[codes]
        problems.append((ErrorKind.WRONG_TYPE, is_wrong_type))
        is_unusable = is_missing | is_wrong_type
    if is_missing.any():
        problems.append((ErrorKind.MISSING_VALUE, is_missing))
    if is_unusable.any():
        codes = np.where(is_unusable, -1, codes)
    objects = np.empty(len(values) + 1, dtype=object)
    objects[:-1] = values
    objects[-1] = np.nan
    # Code -1 (missing, blank or wrong) picks the trailing NaN.
    return Labels(codes, list(values)), objects[codes], problems


def _factorize_text(raw: Any) -> Labels | None:
    """Codes of a column whose present values are all ``str``; ``None`` if one is not."""
    if isinstance(raw, np.ndarray):
        if raw.dtype != object:
            return None
        if pd.api.types.infer_dtype(raw, skipna=True) not in ("string", "empty"):
            return None
        return Labels.from_array(raw)
    if not isinstance(raw.dtype, pd.StringDtype):
        return None
    if len(raw) <= SMALL_COLUMN:
        raw = np.asarray(raw, dtype=object)  # a short column factorizes faster in Python
    return Labels.from_array(raw)


def _missing_column(
    name: str, n_rows: int
) -> tuple[str, BoolArray, ErrorKind, pd.Series | None, NumericRule | None]:
    return name, np.ones(n_rows, dtype=bool), ErrorKind.MISSING_COLUMN, None, None


def _is_all_text(raw: pd.Series) -> bool:
    """Whether every present value is a str, decided without a Python call per value."""
    if isinstance(raw.dtype, pd.StringDtype):
        return True
    return raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty")


def _blank_text(raw: pd.Series) -> BoolArray:
    """Empty or whitespace-only strings, which CSV and form input use for "no value"."""
    if _is_all_text(raw):
        # Strip each distinct label once, not each row: columns hold few distinct labels.
        labels = pd.unique(raw.dropna())
        blanks = [label for label in labels if not label.strip()]
        return np.asarray(raw.isin(blanks), dtype=bool) if blanks else np.zeros(len(raw), bool)
    if raw.dtype == object:
        return np.asarray(raw.map(lambda v: isinstance(v, str) and not v.strip()), dtype=bool)
    return np.zeros(len(raw), dtype=bool)


def _check_numeric(
    raw: pd.Series, rule: NumericRule, *, is_required: bool
) -> tuple[pd.Series, list[tuple[ErrorKind, BoolArray]]]:
    problems: list[tuple[ErrorKind, BoolArray]] = []
    is_missing = np.asarray(raw.isna(), dtype=bool) | _blank_text(raw)
    if pd.api.types.is_bool_dtype(raw.dtype):
        problems.append((ErrorKind.WRONG_TYPE, ~is_missing))
        values = pd.Series(np.nan, index=raw.index, dtype="float64")
    elif pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.astype("float64")
    else:
        is_wrong_type = np.asarray(raw.map(_is_wrong_numeric_type), dtype=bool) & ~is_missing
        problems.append((ErrorKind.WRONG_TYPE, is_wrong_type))
        coerced = pd.to_numeric(raw.where(~(is_wrong_type | is_missing)), errors="coerce")
        values = coerced.astype("float64")
        problems.append(
            (
                ErrorKind.NOT_A_NUMBER,
                np.asarray(values.isna(), dtype=bool) & ~is_missing & ~is_wrong_type,
            )
        )
    array = values.to_numpy()
    is_infinite = np.isinf(array)
    finite = np.where(is_infinite, np.nan, array)
    with np.errstate(invalid="ignore"):
        problems.append((ErrorKind.NOT_FINITE, is_infinite))
        problems.append((ErrorKind.OUT_OF_RANGE, (finite < rule.minimum) | (finite > rule.maximum)))
        if rule.whole_numbers:
            problems.append((ErrorKind.NOT_WHOLE_NUMBER, np.isfinite(finite) & (finite % 1 != 0)))
    if is_required:
        problems.append((ErrorKind.MISSING_VALUE, is_missing))
    return values, [(kind, mask) for kind, mask in problems if mask.any()]


def _is_wrong_numeric_type(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, (str, int, float, np.number))


def _check_labels(
    raw: pd.Series, *, is_required: bool
) -> tuple[pd.Series, list[tuple[ErrorKind, BoolArray]]]:
    problems: list[tuple[ErrorKind, BoolArray]] = []
    is_missing = np.asarray(raw.isna(), dtype=bool) | _blank_text(raw)
    if pd.api.types.is_bool_dtype(raw.dtype):
        is_wrong_type = ~is_missing
        labels = pd.Series(np.nan, index=raw.index, dtype="object")
    elif pd.api.types.is_numeric_dtype(raw.dtype):
        # Integer codes (MSSubClass) arrive as numbers, or as floats when a value is missing.
        array = raw.to_numpy(dtype="float64", na_value=np.nan)
        is_wrong_type = ~is_missing & ~(np.isfinite(array) & (array % 1 == 0))
        labels = pd.Series(
            [None if bad else str(int(v)) for v, bad in zip(array, is_wrong_type | is_missing)],
            index=raw.index,
            dtype="object",
        )
    elif _is_all_text(raw):
        is_wrong_type = np.zeros(len(raw), dtype=bool)
        labels = raw.astype("object")
    else:
        is_text = np.asarray(raw.map(type) == str, dtype=bool)
        is_code = np.asarray(raw.map(_is_integer_code), dtype=bool)
        is_wrong_type = ~is_missing & ~is_text & ~is_code
        labels = raw.astype("object").where(is_text & ~is_missing)
        labels[is_code] = raw[is_code].map(lambda v: str(int(v)))
    problems.append((ErrorKind.WRONG_TYPE, is_wrong_type))
    labels = labels.where(~is_missing, np.nan).astype("object")
    if is_required:
        problems.append((ErrorKind.MISSING_VALUE, is_missing))
    return labels, [(kind, mask) for kind, mask in problems if mask.any()]


def _is_integer_code(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and bool(np.isfinite(value)) and value % 1 == 0


def _describe(kind: ErrorKind, column: str, value: object, rule: NumericRule | None) -> str:
    if isinstance(value, np.generic):
        value = value.item()  # show 2207.0, not np.float64(2207.0)
    if kind is ErrorKind.OUT_OF_RANGE and rule is not None:
        return f"{column} must be between {rule.minimum:g} and {rule.maximum:g}, got {value!r}"
    messages = {
        ErrorKind.MISSING_COLUMN: f"required column {column!r} is missing from the input",
        ErrorKind.MISSING_VALUE: f"{column} is required but has no value",
        ErrorKind.NOT_A_NUMBER: f"{column} must be a number, got {value!r}",
        ErrorKind.NOT_FINITE: f"{column} must be a finite number, got {value!r}",
        ErrorKind.NOT_WHOLE_NUMBER: f"{column} must be a whole number, got {value!r}",
        ErrorKind.WRONG_TYPE: f"{column} has a value of the wrong type: {value!r}",
    }
    return messages[kind]
