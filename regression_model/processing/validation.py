"""Turn raw records into the model's input frame, with an error for each bad cell and a
warning for each doubtful one.

This is the only code that renames, casts or rejects input columns. Each kind of rule has one
implementation, whatever the column's dtype: the numeric columns are read as one block of
numbers and the text columns as one block of labels, then the rules run over each block at
once. Values are read once per distinct value, not once per row, so one bad row costs no
more than its own errors, and a good row in the same batch is never held back.
"""

from __future__ import annotations

import functools
import math
import numbers
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from pandas.arrays import ArrowExtensionArray

from regression_model.array_types import BoolArray, CodeArray, FloatArray
from regression_model.config.core import InputSchema
from regression_model.processing.domain import TrainingDomain
from regression_model.results import ErrorKind, RowError, RowWarning, WarningKind

ObjectArray = npt.NDArray[np.object_]

# The private names of other libraries that the package uses (validation and scoring read
# columns through ``column_arrays``), each with the test that fails first when a release
# changes it. Everything else the package reads is public.
PRIVATE_NAMES: dict[str, str] = {
    "pandas.DataFrame._mgr.blocks (each Block's values and mgr_locs)": (
        "test_column_arrays_by_block_are_the_public_routes_arrays"
    ),
}

# A value echoed in a message is cut to this many characters: a megabyte pasted into a
# number field should not come back whole in every error.
SHOWN_VALUE_LENGTH = 40

# Columns up to this length are read value by value in Python (here and by the scorer): for a
# web request's one house, a dict is several times cheaper than pandas.factorize's fixed cost,
# and gives the same codes.
SMALL_COLUMN = 16

# (column, kind, the rows it applies to)
_Problem = tuple[str, ErrorKind, BoolArray]
# (column position, kind, the rows it applies to)
_Found = tuple[int, ErrorKind, BoolArray]
# (column position, the rows it applies to, kind, message)
_Note = tuple[int, BoolArray, WarningKind, str]


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
    warnings : list of RowWarning
        For valid rows only: every reason to doubt the row's price, ordered as ``errors``.
    """

    frame: pd.DataFrame
    errors: list[RowError]
    is_valid: BoolArray
    warnings: list[RowWarning]


def column_arrays(frame: pd.DataFrame) -> list[Any]:
    """The frame's columns as arrays, in order, without building a Series for each.

    ``frame[name]`` builds a Series per column, which for a one-row frame of 80 columns costs
    more than all the checks. pandas' private blocks (see ``PRIVATE_NAMES``) hold the columns
    a few at a time, a validated frame's in two blocks; the public route stays for a pandas
    without them.

    Returns
    -------
    list of ndarray or ExtensionArray
        One array per column, sharing memory with the frame: read it, never write to it.
    """
    arrays = _arrays_by_block(frame)
    if arrays is not None:
        return arrays
    return [frame.iloc[:, position].array for position in range(frame.shape[1])]


def _arrays_by_block(frame: pd.DataFrame) -> list[Any] | None:
    """``column_arrays`` from pandas' blocks, or None if this pandas has none to read."""
    blocks = getattr(getattr(frame, "_mgr", None), "blocks", None)
    if blocks is None:
        return None
    arrays: list[Any] = [None] * frame.shape[1]
    placed = 0
    for block in blocks:
        values, positions = block.values, block.mgr_locs.as_array.tolist()
        if values.ndim == 1:  # an extension array holds one column
            arrays[positions[0]] = values
        else:  # a row of the block per column
            for row, position in enumerate(positions):
                arrays[position] = values[row]
        placed += len(positions)
    return arrays if placed == len(arrays) else None


def to_frame(input_data: object) -> pd.DataFrame:
    """Turn any supported input into a DataFrame of its rows, in input order.

    A DataFrame is returned as it is: validation reads rows by position, never by index
    label, so a copy with a new index (a fixed cost per column) would buy nothing.

    Parameters
    ----------
    input_data : DataFrame, mapping or sequence of mappings
        A DataFrame, a list of record dicts, a single record dict (0-d numpy arrays count as
        scalars), or a dict of columns (lists, arrays or Series; Series are aligned on the
        index of the first one).

    Raises
    ------
    TypeError
        If ``input_data`` is not one of the supported table shapes.
    ValueError
        If a dict mixes scalar values and columns, its columns differ in length, or its
        Series hold different index labels.
    """
    if isinstance(input_data, pd.DataFrame):
        return input_data
    if isinstance(input_data, Mapping):
        return _mapping_to_frame(input_data)
    if isinstance(input_data, Sequence) and not isinstance(input_data, (str, bytes)):
        if not all(isinstance(record, Mapping) for record in input_data):
            raise TypeError("input_data as a sequence must hold one mapping (record) per row.")
        records = [_scalars(record) for record in input_data]
        frame = _simple_record_to_frame(records[0]) if len(records) == 1 else None
        if frame is not None:
            return frame
        # The index keeps a record with no keys as a row (every column missing), which
        # pd.DataFrame.from_records would drop.
        return pd.DataFrame(records, index=pd.RangeIndex(len(records)))
    raise TypeError(
        "input_data must be a pandas DataFrame, a record dict, a dict of column lists or a "
        f"list of record dicts, not {type(input_data).__name__}."
    )


def _scalar(value: object) -> object:
    return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value


def _scalars(record: Mapping[Any, Any]) -> dict[Any, Any]:
    return {key: _scalar(value) for key, value in record.items()}


def _is_column_values(value: object) -> bool:
    if value is None or type(value) in (str, bytes, int, float, bool):
        return False  # a record's usual values, decided without an abstract-class check
    return isinstance(value, (Sequence, np.ndarray, pd.Series)) and not isinstance(
        value, (str, bytes)
    )


def _mapping_to_frame(data: Mapping[Any, Any]) -> pd.DataFrame:
    record = _scalars(data)
    are_columns = [_is_column_values(value) for value in record.values()]
    if all(are_columns) and record:
        lengths = {len(values) for values in record.values()}
        if len(lengths) > 1:
            raise ValueError(f"column lists in input_data differ in length: {sorted(lengths)}")
        return pd.DataFrame(_aligned_columns(record))
    if any(are_columns):
        raise ValueError(
            "input_data mixes scalar values and lists: pass one record (all scalars) or a "
            "dict of column lists (all lists)."
        )
    frame = _simple_record_to_frame(record)
    return pd.DataFrame([record]) if frame is None else frame


def _aligned_columns(columns: dict[Any, Any]) -> dict[Any, Any]:
    """Columns by position, with every Series put in the order of the first Series' index.

    ``pd.DataFrame`` of Series aligns them by index too; here the row order is the first
    Series' and a Series whose index holds other labels is refused, since guessing which
    rows belong together would mix houses.
    """
    series = [values for values in columns.values() if isinstance(values, pd.Series)]
    if not series:
        return {key: list(values) for key, values in columns.items()}
    index = series[0].index
    aligned: dict[Any, Any] = {}
    for key, values in columns.items():
        if not isinstance(values, pd.Series):
            aligned[key] = list(values)
        elif values.index.equals(index):
            aligned[key] = values.array
        elif index.is_unique and values.index.is_unique and set(values.index) == set(index):
            aligned[key] = values.reindex(index).array
        else:
            raise ValueError(
                f"the Series in input_data hold different index labels ({key!r} differs from "
                "the first Series): give them the same index, or pass lists."
            )
    return aligned


_INT64 = np.iinfo(np.int64)


def _simple_record_to_frame(record: dict[Any, Any]) -> pd.DataFrame | None:
    """``pd.DataFrame([record])`` for a record of floats, ints, strings and None, by block.

    pandas infers each column of a one-record frame on its own and builds an array per
    column, as much time as the rest of a prediction. Here floats become one float64 block,
    ints one int64 block and strings one object block: the values pandas would hold, with
    text as objects rather than an array per column (the tests compare them). Any other
    record, or a pandas without ``create_dataframe_from_blocks``, returns None: the caller
    builds the frame as usual.
    """
    create = getattr(getattr(pd.api, "internals", None), "create_dataframe_from_blocks", None)
    if not record or create is None:
        return None
    positions: dict[type, list[int]] = {float: [], int: [], str: []}
    values: dict[type, list[Any]] = {float: [], int: [], str: []}
    for position, (key, value) in enumerate(record.items()):
        # Exact types only: bool, numpy scalars and the rest go to pandas. None joins the
        # object block, as pandas holds a lone None (nearly every real house has one).
        kind = str if value is None else type(value)
        if type(key) is not str or kind not in positions:
            return None
        if kind is int and not _INT64.min <= value <= _INT64.max:
            return None
        positions[kind].append(position)
        values[kind].append(value)
    blocks = [
        (np.array(values[kind], dtype=dtype).reshape(-1, 1), np.array(positions[kind]))
        for kind, dtype in ((float, np.float64), (int, np.int64), (str, object))
        if values[kind]
    ]  # each block is (columns, rows)
    frame: pd.DataFrame = create(
        blocks, index=pd.RangeIndex(1), columns=_column_index(tuple(record))
    )
    return frame


@dataclass(frozen=True)
class _SchemaLayout:
    """What validation reads from a schema on every call, worked out once per schema."""

    numeric_names: tuple[str, ...]
    features: tuple[str, ...]
    feature_set: frozenset[str]
    required: frozenset[str]
    numeric_position: dict[str, int]
    text_position: dict[str, int]
    column_order: dict[str, int]
    minimum: FloatArray
    maximum: FloatArray
    is_whole_rule: BoolArray
    consistent: CodeArray  # each consistency rule's column, as a numeric position
    at_least: CodeArray  # and the column it must be at least

    @classmethod
    def of(cls, schema: InputSchema) -> _SchemaLayout:
        numeric_names = schema.numeric_columns
        rules = [rule for rule in schema.numeric.values() for _ in rule.columns]
        position = {name: i for i, name in enumerate(numeric_names)}
        return cls(
            numeric_names=numeric_names,
            features=schema.features,
            feature_set=frozenset(schema.features),
            required=frozenset(schema.required),
            numeric_position=position,
            text_position={name: i for i, name in enumerate(schema.categorical)},
            column_order={name: i for i, name in enumerate(schema.features)},
            minimum=np.array([rule.minimum for rule in rules]),
            maximum=np.array([rule.maximum for rule in rules]),
            is_whole_rule=np.array([rule.whole_numbers for rule in rules], dtype=bool),
            consistent=np.array([position[r.column] for r in schema.consistency], dtype=np.intp),
            at_least=np.array([position[r.at_least] for r in schema.consistency], dtype=np.intp),
        )


@dataclass(frozen=True)
class _DomainLayout:
    """The numeric ranges of a domain as arrays in the schema's column order."""

    lower: FloatArray
    upper: FloatArray

    @classmethod
    def of(cls, domain: TrainingDomain, numeric_position: Mapping[str, int]) -> _DomainLayout:
        lower = np.full(len(numeric_position), -np.inf)
        upper = np.full(len(numeric_position), np.inf)
        for name, allowed in domain.numeric.items():
            lower[numeric_position[name]] = allowed.minimum
            upper[numeric_position[name]] = allowed.maximum
        return cls(lower=lower, upper=upper)


# The layouts of the schemas and domains in use, by object: both are frozen, and each entry
# holds its object, so that an id is never reused while its entry is here.
_LAYOUTS: dict[tuple[int, ...], tuple[tuple[object, ...], Any]] = {}
_MAX_LAYOUTS = 16


def _schema_layout(schema: InputSchema) -> _SchemaLayout:
    layout: _SchemaLayout = _cached_layout((schema,), lambda: _SchemaLayout.of(schema))
    return layout


def _domain_layout(domain: TrainingDomain, schema: InputSchema) -> _DomainLayout:
    position = _schema_layout(schema).numeric_position
    layout: _DomainLayout = _cached_layout(
        (domain, schema), lambda: _DomainLayout.of(domain, position)
    )
    return layout


def _cached_layout(objects: tuple[object, ...], build: Callable[[], Any]) -> Any:
    key = tuple(map(id, objects))
    found = _LAYOUTS.get(key)
    if found is None or any(a is not b for a, b in zip(found[0], objects)):
        if len(_LAYOUTS) >= _MAX_LAYOUTS:
            _LAYOUTS.clear()  # tests make schemas by the hundred; a model uses one
        found = (objects, build())
        _LAYOUTS[key] = found
    return found[1]


def validate_records(
    *, records: pd.DataFrame, schema: InputSchema, domain: TrainingDomain | None = None
) -> ValidatedRecords:
    """Check every feature column of ``records`` against the input schema.

    Parameters
    ----------
    records : DataFrame
        Raw input, one row per record; extra columns are ignored.
    schema : InputSchema
        The columns the model needs, the values they may hold and the rules between them.
    domain : TrainingDomain, default=None
        What the model saw in training. With it, labels are matched to the known ones
        whatever their case, and rows outside the domain get warnings; training, which
        learns the domain, validates without it.

    Returns
    -------
    ValidatedRecords
        The model's input frame, the errors, which rows are valid, and the warnings.

    Raises
    ------
    ValueError
        If one of the model's columns appears more than once in ``records``.
    """
    _check_model_columns_are_unique(records.columns, schema)
    layout = _schema_layout(schema)
    n_rows = len(records)
    raw_arrays = dict(zip(records.columns.tolist(), column_arrays(records)))
    required = layout.required

    # A missing column reads as all missing values; its error is that it is missing.
    missing_columns = layout.feature_set - raw_arrays.keys()
    all_missing = np.full(n_rows, np.nan)

    def columns_of(names: Sequence[str]) -> list[Any]:
        return [raw_arrays.get(name, all_missing) for name in names]

    def keep(names: Sequence[str], found: list[_Found]) -> list[_Problem]:
        return [
            (names[position], kind, mask)
            for position, kind, mask in found
            # A missing value is an error only in a column that must have one.
            if (kind is not ErrorKind.MISSING_VALUE or names[position] in required)
            and names[position] not in missing_columns
        ]

    numeric_names = layout.numeric_names
    numbers, found = read_numbers(columns_of(numeric_names), n_rows=n_rows)
    problems = keep(numeric_names, found)
    problems.extend(check_number_rules(numbers, schema))
    text, found, notes = read_labels(
        columns_of(schema.categorical),
        names=schema.categorical,
        known=None if domain is None else domain.labels,
        n_rows=n_rows,
    )
    problems.extend(keep(schema.categorical, found))
    if missing_columns:
        problems.extend(
            (name, ErrorKind.MISSING_COLUMN, np.ones(n_rows, dtype=bool))
            for name in layout.features
            if name in missing_columns
        )

    is_valid = np.ones(n_rows, dtype=bool)
    errors: list[RowError] = []
    numeric_position, text_position = layout.numeric_position, layout.text_position
    for name, kind, mask in problems:
        is_valid &= ~mask
        raw = raw_arrays.get(name)
        for row in np.flatnonzero(mask).tolist():
            value = None if raw is None else raw[row]
            message = describe_error(kind, name, value, schema)
            # Every field is typed by construction here: skip pydantic's per-error checks.
            errors.append(
                RowError.model_construct(row=row, column=name, kind=kind, message=message)
            )
        if name in numeric_position:
            numbers[mask, numeric_position[name]] = np.nan
        else:
            text[mask, text_position[name]] = np.nan
    column_order = layout.column_order

    warnings = [
        _warning(row, schema.categorical[position], kind, message)
        for position, mask, kind, message in notes
        for row in np.flatnonzero(mask & is_valid).tolist()
    ]
    warnings.extend(_number_warnings(numbers, is_valid, schema, domain))

    def by_row_then_column(found: RowError | RowWarning) -> tuple[int, int]:
        return found.row, column_order.get(found.column or "", -1)

    errors.sort(key=by_row_then_column)
    warnings.sort(key=by_row_then_column)
    frame = _frame_from_blocks(numbers, text, layout.features)
    return ValidatedRecords(frame=frame, errors=errors, is_valid=is_valid, warnings=warnings)


def _check_model_columns_are_unique(columns: pd.Index, schema: InputSchema) -> None:
    if not columns.has_duplicates:
        return
    features = set(schema.features)
    repeated = sorted({str(name) for name in columns[columns.duplicated()] if name in features})
    if repeated:
        raise ValueError(f"input_data has repeated column names: {repeated}")


# Reading values -------------------------------------------------------------------------


def _as_numbers(raw: Any) -> FloatArray | None:
    """A column of a numeric dtype as float64, NaN where missing; None for any other dtype.

    Extension arrays (sparse, nullable, Arrow-backed) count by the kind of value they hold.
    """
    if raw.dtype.kind not in "iuf":
        return None
    if isinstance(raw, np.ndarray):
        return raw.astype(np.float64, copy=False)
    numbers: FloatArray = raw.to_numpy(dtype=np.float64, na_value=np.nan)
    return numbers


@dataclass(frozen=True)
class _Boolean:
    """A bool, kept apart from the number it equals (``True == 1``): never a valid value."""

    value: bool


# What pandas.api.types.infer_dtype says of object columns that cannot mix bools and numbers.
_UNMIXED = frozenset({"string", "empty", "integer", "floating", "mixed-integer-float", "boolean"})


def _bools_apart(values: ObjectArray) -> ObjectArray:
    """``values`` with each bool wrapped, where bools may sit among numbers they equal."""
    if pd.api.types.infer_dtype(values, skipna=True) in _UNMIXED:
        return values
    is_bool = np.array([isinstance(value, (bool, np.bool_)) for value in values], dtype=bool)
    if not is_bool.any():
        return values
    apart = values.copy()
    apart[is_bool] = [_Boolean(bool(value)) for value in values[is_bool]]
    return apart


def _distinct(
    columns: Sequence[Any], n_rows: int
) -> tuple[CodeArray, list[Any], list[Sequence[int]]]:
    """The distinct values of some columns, and where each row's value is among them.

    Returns
    -------
    codes : ndarray of intp, shape (n_columns, n_rows)
        For each column and row, the position of its value in ``values``; -1 where the
        value is missing.
    values : list
        The distinct values, each to be read once however many rows hold it.
    by_column : list of sequence of int
        The codes each column holds, -1 aside.
    """
    if n_rows <= SMALL_COLUMN:
        # A few rows (a web request's house): one pass in Python over every column's
        # values beats pandas' fixed cost per column.
        values = [value for column in columns for value in _python_values(column)]
        codes, distinct = _distinct_in_python(values)
        codes = codes.reshape(len(columns), n_rows)
        by_column: list[Sequence[int]] = [
            sorted({code for code in column_codes if code >= 0}) for column_codes in codes.tolist()
        ]
        return codes, distinct, by_column
    columns = [_as_value_array(column) for column in columns]
    all_codes = np.empty((len(columns), n_rows), dtype=np.intp)
    distinct = []
    by_column = []
    for position, column in enumerate(columns):
        codes, found = _factorize(column)
        all_codes[position] = np.where(codes < 0, -1, codes + len(distinct))
        by_column.append(range(len(distinct), len(distinct) + len(found)))
        distinct.extend(found)
    return all_codes, distinct, by_column


def _as_value_array(raw: Any) -> Any:
    """A column as a numpy array, or as the extension array that keeps its values apart
    (Arrow text, categorical; dates, which numpy would list as integers)."""
    if isinstance(raw, pd.arrays.NumpyExtensionArray):
        raw = raw.to_numpy()
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "mM":
        return pd.array(raw)
    return raw


def _python_values(raw: Any) -> list[Any]:
    """A column's values as Python objects, as ``_as_value_array`` reads them."""
    if isinstance(raw, ArrowExtensionArray):  # first: a CSV's text columns, read as they are
        # Arrow's own conversion (nulls become None): a third of the cost of iterating.
        values: list[Any] = pa.array(raw).to_pylist()
        return values
    column = _as_value_array(raw)
    if isinstance(column, np.ndarray):
        listed: list[Any] = column.tolist()
        return listed
    return list(column)


def _factorize(column: Any) -> tuple[CodeArray, list[Any]]:
    """``pandas.factorize`` with bools kept apart from the numbers they equal; an extension
    array (Arrow text, categorical) factorizes itself, far faster than hashing objects."""
    try:
        codes, uniques = pd.factorize(_bools_apart(column) if column.dtype == object else column)
    except (TypeError, NotImplementedError):  # lists in cells, Arrow lists: value by value
        return _distinct_in_python(column.tolist())
    return codes.astype(np.intp, copy=False), [_scalar(value) for value in uniques]


def _distinct_in_python(values: list[Any]) -> tuple[CodeArray, list[Any]]:
    """Codes and distinct values of a list, by a dict: bools apart, unhashables one by one."""
    index: dict[Any, int] = {}
    codes: list[int] = []
    uniques: list[Any] = []
    for value in values:
        if type(value) is not str:  # text, the usual value, is neither missing nor a bool
            if is_missing(value):
                codes.append(-1)
                continue
            if isinstance(value, (bool, np.bool_)):
                value = _Boolean(bool(value))
        try:
            code = index.setdefault(value, len(uniques))
        except TypeError:  # unhashable: a label of its own
            code = len(uniques)
        if code == len(uniques):
            uniques.append(_scalar(value))
        codes.append(code)
    return np.array(codes, dtype=np.intp), uniques


def is_missing(value: object) -> bool:
    """None, NaN, pd.NA, NaT: what pandas.factorize treats as missing."""
    if isinstance(value, str):
        return False
    if isinstance(value, float):
        return math.isnan(value)
    scalar: Any = value  # a list in a cell gives an array, which is not True: a value
    return value is None or pd.isna(scalar) is True


def _problems_by_column(verdicts: Sequence[ErrorKind | None], codes: CodeArray) -> list[_Found]:
    """For each column (a row of ``codes``), the rows of each kind of problem, from each
    distinct value's verdict; code -1, a missing value, is ``MISSING_VALUE``."""
    found_kinds = set(verdicts)
    if (codes < 0).any():
        found_kinds.add(ErrorKind.MISSING_VALUE)
    problems: list[_Found] = []
    for kind, is_missing in _KINDS_AND_MISSING:
        if kind in found_kinds:
            is_kind = np.array([*(verdict is kind for verdict in verdicts), is_missing])[codes]
            problems.extend(
                (position, kind, is_kind[position])
                for position in np.flatnonzero(is_kind.any(axis=1)).tolist()
            )
    return problems


# Each kind, in declaration order, with whether a missing value (code -1) is of that kind.
_KINDS_AND_MISSING = tuple((kind, kind is ErrorKind.MISSING_VALUE) for kind in ErrorKind)


def read_numbers(columns: Sequence[Any], *, n_rows: int) -> tuple[FloatArray, list[_Found]]:
    """Read columns as numbers, whatever their dtypes.

    Numbers pass as they are; text is stripped and parsed; booleans, complex numbers,
    dates and other objects are the wrong type; an integer beyond float range (as a number
    or as digits) is kept as the largest float of its sign, so the range rule reports it.

    Returns
    -------
    numbers : ndarray of float64, shape (n_rows, n_columns), Fortran-ordered
        NaN where a cell is missing or cannot be read. Each column is contiguous, and the
        block becomes the validated frame's float block without a copy.
    problems : list of (column position, ErrorKind, mask)
        ``MISSING_VALUE`` (whether or not the column must have a value), ``WRONG_TYPE``
        and ``NOT_A_NUMBER``, each with the rows it applies to.
    """
    read_as_numbers = [_as_numbers(column) for column in columns]
    as_text = [position for position, found in enumerate(read_as_numbers) if found is None]
    unread = np.full(n_rows, np.nan)  # for now, where a column of text goes
    # Every column in one call; the transpose of the (columns, rows) block is Fortran-ordered.
    numbers = (
        np.array(
            [unread if found is None else found for found in read_as_numbers], dtype=np.float64
        )
        .reshape(len(columns), n_rows)
        .T
    )
    problems: list[_Found] = []
    if as_text:
        codes, distinct, _ = _distinct([columns[position] for position in as_text], n_rows)
        read = [_read_number(value) for value in distinct]
        numbers[:, as_text] = np.array([number for number, _ in read] + [np.nan])[codes].T
        problems = [
            (as_text[position], kind, mask)
            for position, kind, mask in _problems_by_column([verdict for _, verdict in read], codes)
        ]
    # A NaN among numbers is a missing value; one read from text already has its verdict.
    is_missing = np.isnan(numbers)
    is_missing[:, as_text] = False
    problems.extend(
        (position, ErrorKind.MISSING_VALUE, is_missing[:, position])
        for position in np.flatnonzero(is_missing.any(axis=0)).tolist()
    )
    return numbers, problems


def _read_number(value: object) -> tuple[float, ErrorKind | None]:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan, ErrorKind.MISSING_VALUE
        try:
            number = float(text)
        except ValueError:
            return math.nan, ErrorKind.NOT_A_NUMBER
        if math.isinf(number) and text.lstrip("+-").isdigit():
            return math.copysign(sys.float_info.max, number), None  # digits beyond floats
        return (math.nan, ErrorKind.NOT_A_NUMBER) if math.isnan(number) else (number, None)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return math.nan, ErrorKind.WRONG_TYPE
    if isinstance(value, int) and abs(value) > sys.float_info.max:
        # Beyond float range: the largest float of its sign, so the range rule reports it.
        return (sys.float_info.max if value > 0 else -sys.float_info.max), None
    return float(value), None


def read_labels(
    columns: Sequence[Any],
    *,
    names: Sequence[str],
    known: Mapping[str, Sequence[str]] | None,
    n_rows: int,
) -> tuple[ObjectArray, list[_Found], list[_Note]]:
    """Read columns as text labels, whatever their dtypes.

    Text is stripped of surrounding whitespace; a whole number (``MSSubClass`` codes) becomes
    its digits; anything else is the wrong type. Given the ``known`` labels of a column, a
    label that matches one of them but for case, or a number written with decimals
    (``"20.0"``), becomes that label, with a note; a label matching none gets a note too.

    Returns
    -------
    labels : ndarray of object, shape (n_rows, n_columns), Fortran-ordered
        Each cell's label, NaN where missing or unreadable.
    problems : list of (column position, ErrorKind, mask)
        ``MISSING_VALUE`` (whether or not the column must have a value) and ``WRONG_TYPE``.
    notes : list of (column position, mask, WarningKind, message)
        Labels read as a known label they differ from, and labels never seen in training.
    """
    codes, distinct, by_column = _distinct(columns, n_rows)
    read = [
        (
            _read_short_text(value)
            if type(value) is str and len(value) <= SHOWN_VALUE_LENGTH
            # Anything else is read anew: a long text would take cache memory for nothing.
            else _read_label(value)
        )
        for value in distinct
    ]
    # A blank or unreadable label is missing: NaN, as pandas and the pipeline's imputers mean it.
    by_code = np.empty(len(read) + 1, dtype=object)
    by_code[:] = [np.nan if label is None else label for label, _ in read] + [np.nan]
    labels = by_code[codes]  # a row per column, for now
    notes: list[_Note] = []
    matchers = _label_matchers(known, tuple(names))
    for position, codes_in in enumerate(by_column):
        matcher = matchers[position]
        if matcher is None:
            continue
        for code in codes_in:
            label, value = read[code][0], distinct[code]
            if label is None:
                continue
            match = matcher.get(label) or matcher.get(label.casefold())
            # A number (MSSubClass 20) is its label; text must be spelled as the known label.
            if match == (value if isinstance(value, str) else label):
                continue  # the common case: a known label, as written
            rows = codes[position] == code
            if match is None:
                message = f"{names[position]} {_shown(value)} was never seen in training"
                notes.append((position, rows, WarningKind.UNSEEN_LABEL, message))
                continue
            message = f"{names[position]} {_shown(value)} was read as {match!r}"
            notes.append((position, rows, WarningKind.LABEL_NORMALISED, message))
            labels[position, rows] = match
    return labels.T, _problems_by_column([verdict for _, verdict in read], codes), notes


def _label_matchers(
    known: Mapping[str, Sequence[str]] | None, names: tuple[str, ...]
) -> list[dict[str, str] | None]:
    """Each column's ``_label_matcher``, None where its labels are not known; once per domain."""
    if known is None:
        return [None] * len(names)

    def build() -> list[dict[str, str] | None]:
        return [
            None if known.get(name) is None else _label_matcher(tuple(known[name]))
            for name in names
        ]

    matchers: list[dict[str, str] | None] = _cached_layout((known, names), build)
    return matchers


# Labels repeat from request to request: read each short one once.
@functools.lru_cache(maxsize=4096)
def _read_short_text(text: str) -> tuple[str | None, ErrorKind | None]:
    return _read_label(text)


@functools.lru_cache(maxsize=128)
def _label_matcher(known: tuple[str, ...]) -> dict[str, str]:
    """Each known label under its own spelling and its case-folded one."""
    matcher = {label.casefold(): label for label in known}
    matcher.update({label: label for label in known})
    return matcher


def _read_label(value: object) -> tuple[str | None, ErrorKind | None]:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None, ErrorKind.MISSING_VALUE
        number, problem = _read_number(text)
        # "20.0" is the code 20; "1e3" or "inf" stay text, as written.
        is_code = problem is None and math.isfinite(number) and number % 1 == 0 and "." in text
        return (str(int(number)) if is_code else text), None
    number, problem = _read_number(value)
    if problem is not None or not (math.isfinite(number) and number % 1 == 0):
        return None, ErrorKind.WRONG_TYPE
    return str(int(number)), None


# Rules ------------------------------------------------------------------------------------


def check_number_rules(numbers: FloatArray, schema: InputSchema) -> list[_Problem]:
    """Every numeric rule of the schema over the block of every numeric column at once.

    ``numbers`` holds the schema's numeric columns in order, as read by ``read_numbers``.
    A value is finite, inside its group's bounds (inclusive), and whole where the group
    says so; NaN breaks no rule here.
    """
    layout = _schema_layout(schema)
    names = layout.numeric_names
    minimum, maximum, is_whole_rule = layout.minimum, layout.maximum, layout.is_whole_rule
    with np.errstate(invalid="ignore"):
        is_finite = np.isfinite(numbers)
        masks = [
            (ErrorKind.NOT_FINITE, np.isinf(numbers)),
            (ErrorKind.OUT_OF_RANGE, is_finite & ((numbers < minimum) | (numbers > maximum))),
            # trunc, not % 1: the same answer for finite numbers, in a tenth of the time
            (
                ErrorKind.NOT_WHOLE_NUMBER,
                is_finite & is_whole_rule & (np.trunc(numbers) != numbers),
            ),
        ]
    return [
        (names[position], kind, mask[:, position])
        for kind, mask in masks
        for position in np.flatnonzero(mask.any(axis=0)).tolist()
    ]


def _number_warnings(
    numbers: FloatArray, is_valid: BoolArray, schema: InputSchema, domain: TrainingDomain | None
) -> list[RowWarning]:
    """Warnings for valid rows: fields that disagree, values outside the training range."""
    layout = _schema_layout(schema)
    names = layout.numeric_names
    warnings: list[RowWarning] = []
    with np.errstate(invalid="ignore"):
        # Every rule at once, then the rows of the few rules broken.
        is_below = numbers[:, layout.consistent] < numbers[:, layout.at_least]
        for position in np.flatnonzero(is_below.any(axis=0)).tolist():
            rule = schema.consistency[position]
            values = numbers[:, layout.consistent[position]]
            bound = numbers[:, layout.at_least[position]]
            for row in np.flatnonzero(is_valid & is_below[:, position]).tolist():
                message = (
                    f"{rule.column} ({values[row]:g}) is below {rule.at_least} ({bound[row]:g})"
                )
                warnings.append(_warning(row, rule.column, WarningKind.CONTRADICTION, message))
        if domain is None:
            return warnings
        # Every column's range at once, then the rows of the few columns beyond it: a
        # two-dimensional nonzero would cost more than all the comparisons.
        ranges = _domain_layout(domain, schema)
        lower, upper = ranges.lower, ranges.upper
        for side, limits, is_beyond in (
            ("below", lower, numbers < lower),
            ("above", upper, numbers > upper),
        ):
            for column in np.flatnonzero(is_beyond.any(axis=0)).tolist():
                values, name = numbers[:, column], names[column]
                for row in np.flatnonzero(is_beyond[:, column] & is_valid).tolist():
                    message = (
                        f"{name} {values[row]:g} is {side} the training range "
                        f"(priced as {limits[column]:g})"
                    )
                    warnings.append(
                        _warning(row, name, WarningKind.OUTSIDE_TRAINING_RANGE, message)
                    )
    return warnings


def _warning(row: int, column: str | None, kind: WarningKind, message: str) -> RowWarning:
    return RowWarning.model_construct(row=row, column=column, kind=kind, message=message)


# The validated frame ----------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(list(names))  # an Index is immutable: frames may share it


def _frame_from_blocks(
    numbers: FloatArray, text: ObjectArray, names: tuple[str, ...]
) -> pd.DataFrame:
    """The frame of the numeric block, then the text block, without copying either.

    pandas' DataFrame constructor sorts arrays into blocks column by column;
    ``pandas.api.internals.create_dataframe_from_blocks`` takes the two blocks as they are.
    pandas before 3.0 lacks it, and gets the same frame by concatenation.
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


# Messages ---------------------------------------------------------------------------------


def _shown(value: object) -> str:
    """``repr(value)``, cut to a readable length."""
    if isinstance(value, np.generic):
        value = value.item()  # show 2207.0, not np.float64(2207.0)
    text = repr(value)
    if len(text) > SHOWN_VALUE_LENGTH:
        return f"{text[:SHOWN_VALUE_LENGTH]}… ({len(text):,} characters)"
    return text


def describe_error(kind: ErrorKind, column: str, value: object, schema: InputSchema) -> str:
    """The message of one error, in the package's words."""
    if kind is ErrorKind.OUT_OF_RANGE:
        rule = next(rule for rule in schema.numeric.values() if column in rule.columns)
        return (
            f"{column} must be between {rule.minimum:g} and {rule.maximum:g}, got {_shown(value)}"
        )
    messages = {
        ErrorKind.MISSING_COLUMN: f"required column {column!r} is missing from the input",
        ErrorKind.MISSING_VALUE: f"{column} must have a value",
        ErrorKind.NOT_A_NUMBER: f"{column} must be a number, got {_shown(value)}",
        ErrorKind.NOT_FINITE: f"{column} must be a finite number, got {_shown(value)}",
        ErrorKind.NOT_WHOLE_NUMBER: f"{column} must be a whole number, got {_shown(value)}",
        ErrorKind.WRONG_TYPE: f"{column} has a value of the wrong type: {_shown(value)}",
    }
    return messages[kind]
