"""Turn raw records into the model's input frame, with an error for each bad cell.

This is the only code that renames, casts or rejects input columns. Checks run column-wise
over the whole batch, so one bad row costs no more than its own errors, and a good row in
the same batch is never held back.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from regression_model.config.core import InputSchema, NumericRule
from regression_model.processing.scoring import SMALL_COLUMN, Labels, column_arrays
from regression_model.results import ErrorKind, RowError, RowWarning

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]


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
    warnings : list of RowWarning
        Every reason to doubt a row that is still scored, ordered as ``errors``.
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
    warnings: list[RowWarning] = field(default_factory=list)
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
        return _mapping_to_frame(input_data)  # a mapping's keys cannot repeat
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
    if value is None or type(value) in (str, bytes, int, float, bool):
        return False  # a record's usual values, decided without an abstract-class check
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
    record = dict(data)
    frame = _simple_record_to_frame(record)
    return pd.DataFrame([record]) if frame is None else frame


_INT64 = np.iinfo(np.int64)


@functools.cache
def _text_dtype() -> Any:
    """The dtype pandas gives a column of Python strings (pandas 3: its "str" dtype)."""
    return pd.Series(["text"]).dtype


def _simple_record_to_frame(record: dict[Any, Any]) -> pd.DataFrame | None:
    """``pd.DataFrame([record])`` for a record of floats, ints and strings, built by block.

    pandas infers each column of a one-record frame on its own and builds an array per
    column, about 1.3 ms for a house on the benchmark machine, as much as the rest of a
    prediction. Here floats become one float64 block, ints one int64 block, and strings one
    array of pandas' text dtype, sliced per column; the frame is the same (the tests
    compare them). Any other record, or a pandas without the text dtype or
    ``create_dataframe_from_blocks``, returns None: the caller builds the frame as usual.
    """
    create = getattr(getattr(pd.api, "internals", None), "create_dataframe_from_blocks", None)
    text_dtype = _text_dtype()
    if not record or create is None or not isinstance(text_dtype, pd.StringDtype):
        return None
    positions: dict[type, list[int]] = {float: [], int: [], str: []}
    values: dict[type, list[Any]] = {float: [], int: [], str: []}
    for position, (key, value) in enumerate(record.items()):
        kind = type(value)  # exact types only: bool, numpy scalars and the rest go to pandas
        if type(key) is not str or kind not in positions:
            return None
        if kind is int and not _INT64.min <= value <= _INT64.max:
            return None
        positions[kind].append(position)
        values[kind].append(value)
    blocks: list[tuple[Any, npt.NDArray[np.intp]]] = []
    for kind, dtype in ((float, np.float64), (int, np.int64)):
        if values[kind]:
            block = np.array(values[kind], dtype=dtype).reshape(-1, 1)  # (columns, rows)
            blocks.append((block, np.array(positions[kind], dtype=np.intp)))
    if values[str]:
        texts = pd.array(values[str], dtype=text_dtype)
        for i, position in enumerate(positions[str]):
            blocks.append((texts[i : i + 1], np.array([position], dtype=np.intp)))
    columns = _column_index(tuple(record))
    frame: pd.DataFrame = create(blocks, index=pd.RangeIndex(1), columns=columns)
    return frame


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
    rules = [rule for rule in schema.numeric.values() for _ in rule.columns]
    is_checked_here = np.zeros(len(numeric_names), dtype=bool)
    for position, (name, rule) in enumerate(zip(numeric_names, rules)):
        raw = raw_arrays.get(name)
        if raw is None:
            numbers[:, position] = np.nan
            found.append(_missing_column(name, n_rows))
        elif isinstance(raw, np.ndarray) and raw.dtype.kind in "iuf":
            numbers[:, position] = raw
            is_checked_here[position] = True
        else:
            series = _raw_series(records, name)
            values, problems = _check_numeric(series, rule, is_required=name in required)
            numbers[:, position] = values.to_numpy()
            found.extend((name, mask, kind, raw, rule) for kind, mask in problems)
    found.extend(
        _check_number_block(numbers, is_checked_here, numeric_names, rules, raw_arrays, required)
    )

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
    frame = _frame_from_blocks(numbers, text, schema.features)
    return ValidatedRecords(frame=frame, errors=errors, is_valid=is_valid, labels=labels)


@functools.lru_cache(maxsize=8)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(list(names))  # an Index is immutable: frames may share it


def _frame_from_blocks(
    numbers: FloatArray, text: ObjectArray, names: tuple[str, ...]
) -> pd.DataFrame:
    """The frame of the numeric block, then the text block, without copying either.

    pandas' DataFrame constructor sorts arrays into blocks column by column (about 20 µs a
    column here); ``pandas.api.internals.create_dataframe_from_blocks`` takes the two blocks
    as they are. pandas before 3.0 lacks it, and gets the same frame by concatenation.
    """
    n_numbers = numbers.shape[1]
    columns = _column_index(names)
    create = getattr(getattr(pd.api, "internals", None), "create_dataframe_from_blocks", None)
    if create is None:
        return pd.concat(
            [
                pd.DataFrame(numbers, columns=columns[:n_numbers], copy=False),
                pd.DataFrame(text, columns=columns[n_numbers:], dtype=object, copy=False),
            ],
            axis=1,
        )
    # Blocks are (columns, rows): the transposes of the Fortran-ordered blocks, no copy.
    blocks = [
        (numbers.T, np.arange(n_numbers)),
        (text.T, np.arange(n_numbers, len(names))),
    ]
    frame: pd.DataFrame = create(blocks, index=pd.RangeIndex(len(numbers)), columns=columns)
    return frame


def _raw_series(records: pd.DataFrame, name: str) -> pd.Series:
    """One raw column as a Series indexed by row position, for the per-value checks."""
    return records[name].reset_index(drop=True)


def _check_number_block(
    block: FloatArray,
    is_checked_here: BoolArray,
    names: Sequence[str],
    rules: Sequence[NumericRule],
    raw_arrays: Mapping[str, Any],
    required: set[str],
) -> list[_Found]:
    """``_check_numeric``'s checks for every numeric-dtype column at once.

    ``block`` holds all numeric columns as float64, ``rules`` the rule of each; only the
    columns flagged in ``is_checked_here`` are checked (the others went through
    ``_check_numeric``). Each rule's bounds become a vector, so one comparison covers every
    column. The kinds are checked in ``_check_numeric``'s order, which is the order a cell's
    errors are listed in.
    """
    if not is_checked_here.any():
        return []
    minimum = np.array([rule.minimum for rule in rules])
    maximum = np.array([rule.maximum for rule in rules])
    is_infinite = np.isinf(block)
    all_positions = np.arange(len(names))
    # (kind, rows x columns mask, the block position of each mask column)
    masks: list[tuple[ErrorKind, BoolArray, npt.NDArray[np.intp]]] = []
    with np.errstate(invalid="ignore"):
        finite = np.where(is_infinite, np.nan, block) if is_infinite.any() else block
        masks.append((ErrorKind.NOT_FINITE, is_infinite, all_positions))
        masks.append(
            (ErrorKind.OUT_OF_RANGE, (finite < minimum) | (finite > maximum), all_positions)
        )
        whole = np.flatnonzero([rule.whole_numbers for rule in rules] & is_checked_here)
        if whole.size:
            some = finite[:, whole]
            masks.append((ErrorKind.NOT_WHOLE_NUMBER, np.isfinite(some) & (some % 1 != 0), whole))
    is_required = np.array([name in required for name in names])
    if is_required.any():
        masks.append((ErrorKind.MISSING_VALUE, np.isnan(block) & is_required, all_positions))
    found: list[_Found] = []
    for kind, mask, positions in masks:
        has_problem = mask.any(axis=0) & is_checked_here[positions]
        for column in np.flatnonzero(has_problem).tolist():
            position = positions[column]
            name = names[position]
            found.append((name, mask[:, column], kind, raw_arrays[name], rules[position]))
    return found


def _check_labels_by_value(
    raw: Any,
) -> tuple[Labels, ObjectArray | list[Any], list[tuple[ErrorKind, BoolArray]]] | None:
    """``_check_labels`` for all-text and numeric columns, one check per distinct value.

    The column is factorized once; blanks, integer codes and wrong types are decided for
    each distinct value, and the row masks gathered by code. The codes are returned too, so
    that scoring need not factorize the column again.

    Returns
    -------
    (Labels, labels as objects, list of (ErrorKind, mask)) or None
        The labels as codes (-1 where missing or wrong), as objects (NaN there) and the
        problems, ``MISSING_VALUE`` included whether or not the column is required; ``None``
        for a column of another kind (booleans, mixed types), which ``_check_labels`` checks.
    """
    is_numeric = isinstance(raw, np.ndarray) and raw.dtype.kind in "iuf"
    if not is_numeric and not _is_text_column(raw):
        return None
    if len(raw) <= SMALL_COLUMN:
        return _check_short_labels(raw, is_numeric=is_numeric)
    values: list[Any]
    if is_numeric:
        factorized = Labels.from_array(raw.astype(np.float64, copy=False))
        # Integer codes (MSSubClass) arrive as numbers, or as floats when a value is missing.
        is_wrong = [not (math.isfinite(value) and value % 1 == 0) for value in factorized.values]
        is_blank = [False] * len(is_wrong)
        values = [None if bad else str(int(v)) for v, bad in zip(factorized.values, is_wrong)]
    else:
        factorized = Labels.from_array(raw)
        values = factorized.values
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


def _check_short_labels(
    raw: Any, *, is_numeric: bool
) -> tuple[Labels, list[Any], list[tuple[ErrorKind, BoolArray]]]:
    """``_check_labels_by_value`` for a few rows, value by value in Python.

    For a handful of rows (a web request's one house) a dozen numpy calls per column cost
    more than the checks themselves; this gives the same labels, codes and masks.
    """
    index: dict[str, int] = {}
    codes: list[int] = []
    objects: list[Any] = []
    wrong: list[bool] = []
    # Numbers go through float64 first, as in _check_labels: str(int(v)) of the float.
    values = raw.astype(np.float64).tolist() if is_numeric else _short_values(raw)
    for value in values:
        if is_numeric:
            is_missing = math.isnan(value)
            is_wrong = not is_missing and not (math.isfinite(value) and value % 1 == 0)
            label = None if is_missing or is_wrong else str(int(value))
        else:
            # Empty or whitespace-only strings, which CSV and form input use for "no value".
            is_wrong = False
            label = value if isinstance(value, str) and value.strip() else None
        wrong.append(is_wrong)
        if label is None:
            codes.append(-1)
            objects.append(np.nan)
        else:
            codes.append(index.setdefault(label, len(index)))
            objects.append(value if not is_numeric else label)
    problems: list[tuple[ErrorKind, BoolArray]] = []
    if any(wrong):
        problems.append((ErrorKind.WRONG_TYPE, np.array(wrong)))
    if -1 in codes:
        is_missing_row = [code < 0 and not bad for code, bad in zip(codes, wrong)]
        if any(is_missing_row):
            problems.append((ErrorKind.MISSING_VALUE, np.array(is_missing_row)))
    return Labels(np.array(codes, dtype=np.intp), list(index)), objects, problems


def _short_values(raw: Any) -> list[Any]:
    """A short column's values as Python objects (a missing one may come back as None)."""
    if isinstance(raw.dtype, pd.StringDtype) and raw.dtype.storage == "pyarrow":
        # pyarrow converts in one call; iterating pandas' wrapper costs 4 times as much.
        values: list[Any] = raw.__arrow_array__().to_pylist()
        return values
    return list(raw)


def _is_text_column(raw: Any) -> bool:
    """Whether every present value is a ``str`` (pandas' string dtype, or text objects)."""
    if isinstance(raw, np.ndarray):
        return raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in (
            "string",
            "empty",
        )
    return isinstance(raw.dtype, pd.StringDtype)


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
