"""Score with a fitted pipeline's learned values, without its per-step DataFrame overhead.

``compile_pipeline(pipeline)`` turns a fitted scikit-learn ``Pipeline`` into a
``PipelineScorer`` whose ``predict`` returns the pipeline's own predictions. The fitted
pipeline stays the truth: nothing is refitted, and ``tests/test_scoring.py`` checks the two
agree to a relative 1e-9 on every row of train.csv and test.csv.

Why it is faster
----------------
``Pipeline.predict`` copies the whole DataFrame in every step, and feature-engine's encoders
map each row's label through a Python dict. Between the scorer's steps the data is a
``Table``: the frame's columns as numpy arrays, by name and in order. A text column is held
as ``Labels``, integer codes into the column's distinct labels, found once when the table is
built; a step that works label by label (impute, group rare labels, encode, map) then works
on the few distinct labels and gathers its result by code. Numeric steps are numpy
expressions over whole columns, and a linear model is one matrix-vector product.

The registry, and the fallback that keeps it correct
----------------------------------------------------
``TRANSFORMERS`` and ``ESTIMATORS`` map a fitted step's class (by import path, so that
building the registry imports nothing) to a function that reads the step's learned
attributes and returns a vectorised function of the table. A class is matched exactly, never
by inheritance, since a subclass may change what ``transform`` does. A step whose class is
not registered runs its own ``transform`` on a DataFrame built from the table, and an
unregistered final estimator runs its own ``predict``; so does a compiled step that meets
input it was not compiled for (it raises ``NotCompiled`` before changing anything). The
scorer is therefore correct for any pipeline; only its speed depends on the registry.

What the scorer assumes, and where it may differ
------------------------------------------------
- Each row is transformed on its own, as every fitted transformer here does: large batches
  are scored 8,192 rows at a time, so a step computing across rows would see only a chunk.
- A text column's missing values (None, NaN, ``pd.NA``) are one code, -1, as ``isna`` sees
  them. Two transformers tell None from NaN (feature-engine's
  ``RareLabelEncoder(missing_values="ignore")`` groups None as rare, scikit-learn's
  ``SimpleImputer`` leaves None in an object column); the scorer treats None as NaN there.
  Validated frames only ever hold NaN.
- Where the pipeline raises on bad data inside (NaN reaching an encoder that refuses it,
  infinity reaching a scaler, NaN reaching a linear model), the scorer raises ``ValueError``
  too, not always in the same words.
- Numbers an encoder produces are float64 in the table, where pandas may hold int64; only
  a step running its own ``transform`` could tell.

Extending it for a new fitted class::

    @compiles("my_package.module.MyTransformer")
    def _compile_my_transformer(step: Any) -> StepFunction:
        shift = float(step.shift_)  # read what fit learned, once
        names_in = _names_in(step)

        def run(state: State) -> State:
            table = _expect_table(state, names_in)
            return table.replace({"x": table.numeric("x") + shift})

        return run

and add the class to the per-step checks in ``tests/test_scoring.py``.
"""

from __future__ import annotations

import functools
import importlib
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
CodeArray: TypeAlias = npt.NDArray[np.intp]
AnyArray: TypeAlias = npt.NDArray[Any]

# Columns up to this length are factorized with a Python dict (and validated value by value):
# for a handful of rows that is several times cheaper than pandas.factorize's fixed cost,
# and both give the same codes for the same labels.
SMALL_COLUMN = 16

# A batch is scored this many rows at a time: enough that per-column costs are spread thin,
# few enough that a chunk's model matrix (rows x features x 8 bytes) stays small.
CHUNK_ROWS = 8192

_NA_MESSAGE = (
    "Some of the variables in the dataset contain NaN. Check and remove those before using "
    "this transformer."
)
_OPTIONAL_NA_MESSAGE = (
    "Some of the variables in the dataset contain NaN. Check and remove those before using "
    "this transformer or set the parameter `missing_values='ignore'` when initialising this "
    "transformer."
)
_INF_MESSAGE = (
    "Some of the variables to transform contain inf values. Check and remove those before "
    "using this transformer."
)


class NotCompiled(Exception):
    """A compiled step met input it was not built for; the fitted step must run instead."""


def column_arrays(frame: pd.DataFrame) -> list[Any]:
    """The frame's columns as arrays, in order, without building a Series for each.

    ``frame[name]`` builds a Series, about 20 µs per column on the benchmark machine: for
    a one-row frame of 80 columns that costs more than all the arithmetic. pandas' own
    ``DataFrame._iter_column_arrays`` reads the blocks directly; it is private (present
    since pandas 1.3), so the public route is kept for a pandas that drops it.

    Returns
    -------
    list of ndarray or ExtensionArray
        One array per column, sharing memory with the frame: read it, never write to it.
    """
    iterate = getattr(frame, "_iter_column_arrays", None)
    if callable(iterate):
        return list(iterate())
    return [frame.iloc[:, position].array for position in range(frame.shape[1])]


def _is_missing_label(value: object) -> bool:
    if isinstance(value, str):
        return False
    if isinstance(value, float):
        return math.isnan(value)
    # None, pd.NA, NaT, np.datetime64("NaT")...: what pandas.factorize treats as missing.
    scalar: Any = value  # a list gives an array, which is not True: not missing
    return value is None or pd.isna(scalar) is True


def missing_entry(mapping: Mapping[Any, Any]) -> Any:
    """What ``Series.map(mapping)`` gives a missing value: the entry of a NaN key, or NaN."""
    return next((v for k, v in mapping.items() if _is_missing_label(k)), np.nan)


@dataclass(frozen=True)
class Labels:
    """A text (or any non-numeric) column as integer codes into its distinct labels.

    Attributes
    ----------
    codes : ndarray of intp
        For each row, the position of its label in ``values``; -1 where the value is missing.
    values : list
        The label of each code. After a step maps labels, two codes may share a label.
    """

    codes: CodeArray
    values: list[Any]

    @classmethod
    def from_array(cls, array: Any) -> Labels:
        """Factorize a column once: pandas' hash table for long columns, a dict for short."""
        if isinstance(array, np.ndarray) and len(array) <= SMALL_COLUMN:
            index: dict[Any, int] = {}
            codes = [
                -1 if _is_missing_label(value) else index.setdefault(value, len(index))
                for value in array.tolist()
            ]
            return cls(np.array(codes, dtype=np.intp), list(index))
        codes_, uniques = pd.factorize(array)
        return cls(codes_.astype(np.intp, copy=False), list(uniques))

    @property
    def has_missing(self) -> bool:
        codes = self.codes
        if len(codes) <= SMALL_COLUMN:
            return -1 in codes.tolist()  # cheaper than a numpy reduction for a few rows
        return bool((codes < 0).any())

    def fill_missing(self, label: Any) -> Labels:
        if not self.has_missing:
            return self
        codes = np.where(self.codes < 0, len(self.values), self.codes)
        return Labels(codes, [*self.values, label])

    def lookup(self, mapping: Mapping[Any, Any], on_missing: Any = None) -> FloatArray:
        """Numbers from ``mapping``, as ``Series.map`` gives them: NaN for a label not in it.

        A missing value gets ``on_missing``; by default, the mapping's entry for a NaN key
        if it has one, else NaN (pass ``missing_entry(mapping)``, found once, when calling
        this for every batch).
        """
        if on_missing is None:
            on_missing = missing_entry(mapping)
        numbers = [mapping.get(value, np.nan) for value in self.values]
        numbers.append(on_missing)
        # Code -1 (missing) picks the last entry, the value for a missing label.
        return np.asarray(numbers, dtype=np.float64)[self.codes]

    def to_objects(self) -> AnyArray:
        """The labels as an object array, NaN where missing."""
        objects = np.empty(len(self.values) + 1, dtype=object)
        objects[:-1] = self.values
        objects[-1] = np.nan
        result: AnyArray = objects[self.codes]
        return result

    def take(self, rows: BoolArray) -> Labels:
        return Labels(self.codes[rows], self.values)


Column: TypeAlias = "AnyArray | Labels"


def _is_numeric(column: object) -> bool:
    return isinstance(column, np.ndarray) and column.dtype.kind in "biuf"


def _to_column(array: Any) -> Column:
    if isinstance(array, np.ndarray):
        if array.dtype.kind in "biuf":
            return array
        if array.dtype == object:
            return Labels.from_array(array)
        return array  # datetimes and the like: only a fitted step's own transform reads them
    if isinstance(array.dtype, (pd.StringDtype, pd.CategoricalDtype)):
        return Labels.from_array(array)
    if pd.api.types.is_numeric_dtype(array.dtype) and not pd.api.types.is_bool_dtype(array.dtype):
        # Nullable Int64/Float64: the missing entries become NaN, as numpy sees them.
        return np.asarray(array.to_numpy(dtype=np.float64, na_value=np.nan))
    return np.asarray(array, dtype=object)


class Table:
    """What a DataFrame holds between pipeline steps: named columns of equal length, in order.

    A numeric column is an ndarray; a text column is ``Labels``. Steps never write into a
    column: they build new arrays and a new table, so a table handed to a step is unchanged
    if that step gives up with ``NotCompiled``.

    Parameters
    ----------
    columns : dict of str to ndarray or Labels
        The columns, in frame order.
    n_rows : int
        The number of rows.
    """

    __slots__ = ("columns", "n_rows", "_names")

    def __init__(self, columns: dict[str, Column], n_rows: int) -> None:
        self.columns = columns
        self.n_rows = n_rows
        self._names: tuple[str, ...] | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, labels: Mapping[str, Labels] | None = None) -> Table:
        """The frame's columns; those in ``labels`` are taken from there, already factorized."""
        known = labels or {}
        columns = {
            name: known[name] if name in known else _to_column(array)
            for name, array in zip(frame.columns.tolist(), column_arrays(frame))
        }
        return cls(columns, len(frame))

    @property
    def names(self) -> tuple[str, ...]:
        if self._names is None:  # every step compares them: build the tuple once
            self._names = tuple(self.columns)
        return self._names

    def numeric(self, name: str) -> AnyArray:
        """A numeric column; a text column here means the step was compiled for other data."""
        column = self.columns[name]
        if not _is_numeric(column):
            raise NotCompiled(f"column {name!r} is not numeric")
        assert isinstance(column, np.ndarray)
        return column

    def labels(self, name: str) -> Labels:
        """A column as labels; a numeric column is factorized (feature-engine's ignore_format)."""
        column = self.columns[name]
        if isinstance(column, Labels):
            return column
        if not _is_numeric(column):
            raise NotCompiled(f"column {name!r} holds neither labels nor numbers")
        return Labels.from_array(column)

    def replace(self, updates: Mapping[str, Column]) -> Table:
        """A new table: existing names keep their position, new names are appended."""
        columns = dict(self.columns)
        columns.update(updates)
        return Table(columns, self.n_rows)

    def drop(self, names: Iterable[str]) -> Table:
        dropped = set(names)
        columns = {name: col for name, col in self.columns.items() if name not in dropped}
        return Table(columns, self.n_rows)

    def slice(self, start: int, stop: int) -> Table:
        """Rows ``start`` to ``stop`` (exclusive), as views."""
        stop = min(stop, self.n_rows)
        columns: dict[str, Column] = {
            name: (
                Labels(col.codes[start:stop], col.values)
                if isinstance(col, Labels)
                else col[start:stop]
            )
            for name, col in self.columns.items()
        }
        return Table(columns, max(stop - start, 0))

    def take(self, rows: BoolArray) -> Table:
        columns: dict[str, Column] = {
            name: col.take(rows) if isinstance(col, Labels) else col[rows]
            for name, col in self.columns.items()
        }
        return Table(columns, int(np.count_nonzero(rows)))

    def to_matrix(self, names: Sequence[str]) -> FloatArray:
        """The named numeric columns as one float64 matrix, in that order."""
        columns = [self.columns[name] for name in names]
        ndarray = np.ndarray  # _is_numeric, inlined: this runs once per column per chunk
        if not all(type(c) is ndarray and c.dtype.kind in "biuf" for c in columns):
            raise NotCompiled("a column of the matrix is not numeric")
        # One C loop over the columns; the transpose is Fortran-ordered, column by column.
        matrix: FloatArray = np.array(columns, dtype=np.float64).reshape(len(names), -1).T
        return matrix

    def to_frame(self) -> pd.DataFrame:
        """The table as the DataFrame a fitted step expects; labels become objects."""
        data = {
            name: col.to_objects() if isinstance(col, Labels) else col
            for name, col in self.columns.items()
        }
        return pd.DataFrame(data, index=pd.RangeIndex(self.n_rows))


State: TypeAlias = "Table | AnyArray"
StepFunction: TypeAlias = Callable[[State], State]
EstimatorFunction: TypeAlias = Callable[[State], FloatArray]

# A compiler may return None: this fitted instance has no compiled form (say, an option the
# compiler does not handle), and the step runs its own transform.
TransformerCompiler: TypeAlias = Callable[[Any], "StepFunction | None"]
EstimatorCompiler: TypeAlias = Callable[[Any], "EstimatorFunction | None"]
TRANSFORMERS: dict[str, TransformerCompiler] = {}
ESTIMATORS: dict[str, EstimatorCompiler] = {}


def class_path(obj: object) -> str:
    """The import path of an object's class, the registry's key."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def compiles(*class_paths: str) -> Callable[[TransformerCompiler], TransformerCompiler]:
    """Register a transformer compiler for the classes at ``class_paths``."""

    def register(compiler: TransformerCompiler) -> TransformerCompiler:
        for path in class_paths:
            TRANSFORMERS[path] = compiler
        return compiler

    return register


def compiles_estimator(*class_paths: str) -> Callable[[EstimatorCompiler], EstimatorCompiler]:
    """Register a final-estimator compiler for the classes at ``class_paths``."""

    def register(compiler: EstimatorCompiler) -> EstimatorCompiler:
        for path in class_paths:
            ESTIMATORS[path] = compiler
        return compiler

    return register


# ---------------------------------------------------------------------------------------
# Running fitted steps: the fallback, and the checks that decide when it is needed.
# ---------------------------------------------------------------------------------------


def _as_step_input(state: State) -> pd.DataFrame | AnyArray:
    return state.to_frame() if isinstance(state, Table) else state


def _from_step_output(output: Any) -> State:
    if isinstance(output, pd.DataFrame):
        return Table.from_frame(output)
    return np.asarray(output)


def run_fitted_transform(step: Any, state: State) -> State:
    """Run a fitted step's own ``transform`` on the DataFrame (or array) the table stands for."""
    return _from_step_output(step.transform(_as_step_input(state)))


def _names_in(step: Any) -> tuple[str, ...] | None:
    names = getattr(step, "feature_names_in_", None)
    return None if names is None else tuple(names)


def _expect_table(state: State, names_in: tuple[str, ...] | None) -> Table:
    """The state as a table with exactly the columns, in order, that the step was fitted on.

    Anything else (an array, other or reordered columns) is left to the fitted step, which
    reorders, converts or raises as it would inside the pipeline.
    """
    if not isinstance(state, Table):
        raise NotCompiled("array input")
    if names_in is None or state.names != names_in:
        raise NotCompiled("columns differ from those seen in fit")
    return state


def _expect_matrix(state: State, step: Any, *, is_written: bool) -> FloatArray:
    """The float64 matrix a scikit-learn step would make from the state.

    A table becomes a new matrix. An array is copied only if the step writes to it
    (``is_written``): it may be the caller's, or another step's output still in use.
    """
    names_in = _names_in(step)
    if isinstance(state, Table):
        if names_in is None or state.names != names_in:
            raise NotCompiled("columns differ from those seen in fit")
        return state.to_matrix(names_in)
    if names_in is not None or state.ndim != 2 or state.shape[1] != step.n_features_in_:
        raise NotCompiled("array does not match the fit")
    if state.dtype.kind not in "biuf":
        raise NotCompiled("non-numeric array")
    if is_written:
        return np.array(state, dtype=np.float64, order="F")
    return np.asarray(state, dtype=np.float64)


def _has_nan(column: AnyArray) -> bool:
    if column.dtype.kind != "f":
        return False  # integers and booleans hold no NaN
    if len(column) <= SMALL_COLUMN:
        return any(value != value for value in column.tolist())  # NaN alone is not itself
    return bool(np.isnan(column).any())


def _fill_nan(column: AnyArray, value: Any) -> AnyArray:
    if not _has_nan(column):
        return column
    filled = column.copy()
    filled[np.isnan(column)] = value
    return filled


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def _check_no_missing(columns: Iterable[Column], message: str) -> None:
    for column in columns:
        has_missing = (
            column.has_missing if isinstance(column, Labels) else bool(pd.isna(column).any())
        )
        if has_missing:
            raise ValueError(message)


def _check_finite_numbers(table: Table, names: Sequence[str]) -> list[AnyArray]:
    """feature-engine's numerical-transformer checks: no NaN, then no infinity."""
    columns = [table.numeric(name) for name in names]
    if any(_has_nan(column) for column in columns):
        raise ValueError(_NA_MESSAGE)
    floats = [column for column in columns if column.dtype.kind == "f"]
    if floats and np.isinf(np.array(floats)).any():
        raise ValueError(_INF_MESSAGE)
    return columns


# ---------------------------------------------------------------------------------------
# feature-engine imputers
# ---------------------------------------------------------------------------------------


@compiles("feature_engine.imputation.categorical.CategoricalImputer")
def _compile_categorical_imputer(step: Any) -> StepFunction:
    fills = dict(step.imputer_dict_)
    names_in = _names_in(step)
    return_object = bool(step.return_object)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        updates: dict[str, Column] = {}
        for name, fill in fills.items():
            column = table.columns[name]
            if isinstance(column, Labels):
                updates[name] = column.fill_missing(fill)
            elif _is_numeric(column) and _is_number(fill) and not return_object:
                assert isinstance(column, np.ndarray)
                updates[name] = _fill_nan(column, fill)
            else:
                raise NotCompiled("numbers stored as objects, or filled with text")
        return table.replace(updates)

    return run


@compiles(
    "feature_engine.imputation.mean_median.MeanMedianImputer",
    "feature_engine.imputation.arbitrary_number.ArbitraryNumberImputer",
    "feature_engine.imputation.end_tail.EndTailImputer",
)
def _compile_number_imputer(step: Any) -> StepFunction:
    fills = dict(step.imputer_dict_)
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        return table.replace(
            {name: _fill_nan(table.numeric(name), fill) for name, fill in fills.items()}
        )

    return run


@compiles("feature_engine.imputation.missing_indicator.AddMissingIndicator")
def _compile_missing_indicator(step: Any) -> StepFunction:
    variables = list(step.variables_)
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        updates: dict[str, Column] = {}
        for name in variables:
            column = table.columns[name]
            if isinstance(column, Labels):
                is_missing = column.codes < 0
            elif _is_numeric(column):
                assert isinstance(column, np.ndarray)
                is_missing = np.isnan(column) if column.dtype.kind == "f" else column != column
            else:
                raise NotCompiled("indicator of a column that is neither labels nor numbers")
            updates[f"{name}_na"] = is_missing.astype(np.int8)
        if any(new_name in table.columns for new_name in updates):
            raise NotCompiled("an indicator's name is taken")  # pandas would repeat the name
        return table.replace(updates)

    return run


# ---------------------------------------------------------------------------------------
# feature-engine encoders
# ---------------------------------------------------------------------------------------


@compiles("feature_engine.encoding.rare_label.RareLabelEncoder")
def _compile_rare_label_encoder(step: Any) -> StepFunction:
    frequent = {name: set(labels) for name, labels in step.encoder_dict_.items()}
    replace_with = step.replace_with
    is_missing_an_error = step.missing_values == "raise"
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        columns = {name: table.labels(name) for name in frequent}
        if is_missing_an_error:
            _check_no_missing(columns.values(), _OPTIONAL_NA_MESSAGE)
        updates: dict[str, Column] = {}
        for name, column in columns.items():
            keep = frequent[name]
            # A missing value keeps its code -1: feature-engine's isin() lists NaN as kept.
            updates[name] = Labels(
                column.codes,
                [label if label in keep else replace_with for label in column.values],
            )
        return table.replace(updates)

    return run


@compiles(
    "feature_engine.encoding.ordinal.OrdinalEncoder",
    "feature_engine.encoding.count_frequency.CountFrequencyEncoder",
    "feature_engine.encoding.mean_encoding.MeanEncoder",
)
def _compile_mapping_encoder(step: Any) -> StepFunction:
    mappings = {name: dict(mapping) for name, mapping in step.encoder_dict_.items()}
    on_missing = {name: missing_entry(mapping) for name, mapping in mappings.items()}
    variables = list(step.variables_)
    unseen = step.unseen
    unseen_code = getattr(step, "_unseen", np.nan)  # what fit chose for unseen="encode"
    is_missing_an_error = step.missing_values == "raise"
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        columns = {name: table.labels(name) for name in {*variables, *mappings}}
        if is_missing_an_error:
            _check_no_missing((columns[name] for name in variables), _OPTIONAL_NA_MESSAGE)
        encoded = {
            name: columns[name].lookup(mapping, on_missing[name])
            for name, mapping in mappings.items()
        }
        if unseen == "encode":
            encoded = {name: _fill_nan(numbers, unseen_code) for name, numbers in encoded.items()}
        else:
            with_nan = [name for name, numbers in encoded.items() if np.isnan(numbers).any()]
            if with_nan:
                message = (
                    "During the encoding, NaN values were introduced in the feature(s) "
                    f"{', '.join(with_nan)}."
                )
                if unseen == "raise":
                    raise ValueError(message)
                warnings.warn(message, UserWarning, stacklevel=2)
        return table.replace(dict(encoded))

    return run


def _first_equal(label: Any, categories: Sequence[Any]) -> int | None:
    return next((j for j, category in enumerate(categories) if bool(label == category)), None)


class _OneHot:
    """One-hot rows for labels: each distinct label is placed once, rows gathered by code.

    Parameters
    ----------
    categories : sequence
        The categories, in output column order.
    dtype : numpy dtype
        The output's dtype.
    place : callable
        The position of a label among the categories, or None if it is none of them.
    on_missing : int or None, default=None
        The position of a missing value, or None (no category is set).
    """

    def __init__(
        self,
        categories: Sequence[Any],
        dtype: Any,
        place: Callable[[Any], int | None],
        on_missing: int | None = None,
    ) -> None:
        self.n_categories = len(categories)
        # Row j is category j; the extra last row, all zeros, is for "none of them".
        self._rows = np.vstack(
            [np.eye(self.n_categories, dtype=dtype), np.zeros((1, self.n_categories), dtype)]
        )
        self._place = place
        self._on_missing = self.n_categories if on_missing is None else on_missing

    def positions(self, labels: Labels) -> CodeArray:
        """Each row's category position; ``n_categories`` where it has none."""
        placed = [self._place(value) for value in labels.values]
        index = [self.n_categories if j is None else j for j in placed]
        index.append(self._on_missing)  # code -1 picks this last entry
        positions: CodeArray = np.asarray(index, dtype=np.intp)[labels.codes]
        return positions

    def encode(self, labels: Labels, positions: CodeArray | None = None) -> AnyArray:
        """The one-hot matrix, rows by columns: one fancy index, not one pass per category."""
        rows: AnyArray = self._rows[self.positions(labels) if positions is None else positions]
        return rows


@compiles("feature_engine.encoding.one_hot.OneHotEncoder")
def _compile_one_hot_encoder(step: Any) -> StepFunction | None:
    categories = {name: list(step.encoder_dict_[name]) for name in step.variables_}
    if any(len(set(found)) != len(found) for found in categories.values()):
        return None  # categories equal to each other (1 and True): leave == to pandas
    names_in = _names_in(step)

    # feature-engine compares with ==: a label matches the first category equal to it.
    encoders = {
        name: _OneHot(found, np.int64, functools.partial(_first_equal, categories=found))
        for name, found in categories.items()
    }

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        columns = {name: table.labels(name) for name in categories}
        _check_no_missing(columns.values(), _NA_MESSAGE)
        dummies: dict[str, Column] = {}
        for name, column in columns.items():
            rows = encoders[name].encode(column)
            dummies.update(zip([f"{name}_{category}" for category in categories[name]], rows.T))
        remaining = table.drop(categories)
        if any(dummy in remaining.columns for dummy in dummies) or len(dummies) != sum(
            map(len, categories.values())
        ):
            raise NotCompiled("a dummy column's name is taken")  # pandas would repeat it
        return remaining.replace(dummies)

    return run


@compiles("feature_engine.wrappers.wrappers.SklearnTransformerWrapper")
def _compile_sklearn_transformer_wrapper(step: Any) -> StepFunction | None:
    """feature-engine's wrapper around a scikit-learn transformer, for the ones handled here.

    The wrapper hands the wrapped transformer ``X[variables_]``: a OneHotEncoder's columns
    are appended after the ones the wrapper keeps, a SimpleImputer's replace its variables.
    Other wrapped transformers run their own transform.
    """
    wrapped = step.transformer_
    if _transform_output(wrapped) != "default":
        return None
    compile_wrapped = _WRAPPED.get(class_path(wrapped))
    if compile_wrapped is None:
        return None
    return compile_wrapped(wrapped, list(step.variables_), _names_in(step))


def _compile_wrapped_simple_imputer(
    imputer: Any, variables: list[str], names_in: tuple[str, ...] | None
) -> StepFunction | None:
    fills = list(imputer.statistics_)
    if (
        not _is_missing_label(imputer.missing_values)
        or imputer.add_indicator
        or any(_is_missing_label(fill) for fill in fills)  # an all-missing column, dropped
    ):
        return None

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        updates: dict[str, Column] = {}
        for name, fill in zip(variables, fills):
            column = table.columns[name]
            if isinstance(column, Labels):
                updates[name] = column.fill_missing(fill)
            elif _is_numeric(column) and _is_number(fill):
                assert isinstance(column, np.ndarray)
                updates[name] = _fill_nan(column, fill)
            else:
                raise NotCompiled("numbers filled with text")
        return table.replace(updates)

    return run


def _compile_wrapped_one_hot_encoder(
    encoder: Any, variables: list[str], names_in: tuple[str, ...] | None
) -> StepFunction | None:
    """scikit-learn's OneHotEncoder, dense and dropping nothing."""
    if (
        encoder.sparse_output
        or encoder.drop is not None
        or getattr(encoder, "_infrequent_enabled", True)
        or encoder.handle_unknown not in ("ignore", "error")
    ):
        return None
    names_out = [str(name) for name in encoder.get_feature_names_out(variables)]
    categories = [list(found) for found in encoder.categories_]
    if len(names_out) != sum(map(len, categories)):
        return None
    encoders = []
    for found in categories:
        # scikit-learn looks labels up in a dict of its categories, NaN (kept last) aside.
        places = {value: j for j, value in enumerate(found) if not _is_missing_label(value)}
        on_missing = next((j for j, value in enumerate(found) if _is_missing_label(value)), None)
        encoders.append(_OneHot(found, encoder.dtype, places.get, on_missing))
    is_unknown_an_error = encoder.handle_unknown == "error"
    names_by_variable = []
    start = 0
    for found in categories:
        names_by_variable.append(names_out[start : start + len(found)])
        start += len(found)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        dummies: dict[str, Column] = {}
        for variable, one_hot, names in zip(variables, encoders, names_by_variable):
            labels = table.labels(variable)
            positions = one_hot.positions(labels)
            if is_unknown_an_error and (positions == one_hot.n_categories).any():
                raise NotCompiled("unknown category")  # the encoder words the error
            dummies.update(zip(names, one_hot.encode(labels, positions).T))
        remaining = table.drop(variables)
        if any(name in remaining.columns for name in dummies):
            raise NotCompiled("a dummy column's name is taken")
        return remaining.replace(dummies)

    return run


_WRAPPED: dict[str, Callable[[Any, list[str], "tuple[str, ...] | None"], "StepFunction | None"]] = {
    "sklearn.impute._base.SimpleImputer": _compile_wrapped_simple_imputer,
    "sklearn.preprocessing._encoders.OneHotEncoder": _compile_wrapped_one_hot_encoder,
}


# ---------------------------------------------------------------------------------------
# feature-engine creation, numerical transformations and selection
# ---------------------------------------------------------------------------------------

# Row-wise reductions that DataFrame.agg(name, axis=1) computes as the numpy reduction of
# the same name when no value is missing (missing_values="raise" guarantees that).
_ROW_REDUCTIONS: dict[str, Callable[..., AnyArray]] = {
    "sum": np.sum,
    "prod": np.prod,
    "mean": np.mean,
    "min": np.min,
    "max": np.max,
}


@compiles("feature_engine.creation.math_features.MathFeatures")
def _compile_math_features(step: Any) -> StepFunction | None:
    reduce = _ROW_REDUCTIONS.get(step.func) if isinstance(step.func, str) else None
    if reduce is None or step.missing_values != "raise":
        return None
    new_names = step._get_new_features_name()
    if step.variables is None or len(new_names) != 1:
        return None
    variables, new_name = list(step.variables), new_names[0]
    drops_original = bool(step.drop_original)
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        columns = _check_finite_numbers(table, variables)
        if new_name in table.columns:
            raise NotCompiled("the new column's name is taken")
        combined = reduce(np.column_stack(columns), axis=1)
        result = table.replace({new_name: combined})
        return result.drop(variables) if drops_original else result

    return run


# ---------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------


@compiles(
    "feature_engine.transformation.log.LogTransformer",
    "feature_engine.transformation.log.LogCpTransformer",
)
def _compile_log_transformer(step: Any) -> StepFunction:
    variables = list(step.variables_)
    offsets = getattr(step, "C_", 0)  # LogCpTransformer: a number, or one per variable
    # DataFrame + dict aligns on column names: a variable the dict lacks gets NaN.
    shifts = [
        offsets.get(name, np.nan) if isinstance(offsets, Mapping) else offsets for name in variables
    ]
    offsets_column = np.array(shifts, dtype=np.float64).reshape(-1, 1)
    log = np.log if step.base == "e" else np.log10
    has_offset = hasattr(step, "C_")
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        columns = _check_finite_numbers(table, variables)
        # All variables at once: one row of the block per variable.
        shifted = np.array(columns, dtype=np.float64).reshape(len(columns), -1) + offsets_column
        if (shifted <= 0).any():
            raise ValueError(
                "Some variables contain zero or negative values after adding constant C, "
                "can't apply log."
                if has_offset
                else "Some variables contain zero or negative values, can't apply log"
            )
        return table.replace(dict(zip(variables, log(shifted))))

    return run


@compiles("feature_engine.transformation.power.PowerTransformer")
def _compile_power_transformer(step: Any) -> StepFunction:
    variables = list(step.variables_)
    exponent = step.exp
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        columns = _check_finite_numbers(table, variables)
        updates: dict[str, Column] = {
            name: np.power(column.astype(np.float64), exponent)
            for name, column in zip(variables, columns)
        }
        return table.replace(updates)

    return run


@compiles("feature_engine.transformation.yeojohnson.YeoJohnsonTransformer")
def _compile_yeo_johnson_transformer(step: Any) -> StepFunction:
    # The formula feature-engine itself calls; imported here, as only this step needs scipy.
    stats: Any = importlib.import_module("scipy.stats")

    lambdas = dict(step.lambda_dict_)
    variables = list(step.variables_)
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        columns = _check_finite_numbers(table, variables)
        updates: dict[str, Column] = {
            name: np.asarray(stats.yeojohnson(column, lmbda=lambdas[name]))
            for name, column in zip(variables, columns)
        }
        return table.replace(updates)

    return run


@compiles(
    "feature_engine.selection.drop_features.DropFeatures",
    "feature_engine.selection.drop_constant_features.DropConstantFeatures",
    "feature_engine.selection.drop_duplicate_features.DropDuplicateFeatures",
    "feature_engine.selection.drop_correlated_features.DropCorrelatedFeatures",
    "feature_engine.selection.smart_correlation_selection.SmartCorrelatedSelection",
)
def _compile_drop_features(step: Any) -> StepFunction:
    dropped = list(step.features_to_drop_)
    names_in = _names_in(step)

    def run(state: State) -> State:
        return _expect_table(state, names_in).drop(dropped)

    return run


# ---------------------------------------------------------------------------------------
# This package's transformers (regression_model.processing.features)
# ---------------------------------------------------------------------------------------


@compiles("regression_model.processing.features.TemporalVariableTransformer")
def _compile_temporal_variable_transformer(step: Any) -> StepFunction:
    variables = list(step.variables_)
    reference_name = step.reference_variable
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        reference = table.numeric(reference_name)  # read once, before any column changes
        return table.replace({name: reference - table.numeric(name) for name in variables})

    return run


@compiles("regression_model.processing.features.Mapper")
def _compile_mapper(step: Any) -> StepFunction:
    variables = list(step.variables_)
    mappings = dict(step.mappings_)
    on_missing = missing_entry(mappings)
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        return table.replace(
            {name: table.labels(name).lookup(mappings, on_missing) for name in variables}
        )

    return run


@compiles("regression_model.processing.features.WeightedSums")
def _compile_weighted_sums(step: Any) -> StepFunction:
    sums = {name: dict(weights) for name, weights in step.sums_.items()}
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        updates: dict[str, Column] = {}
        for name, weights in sums.items():
            total: AnyArray = np.zeros(table.n_rows)
            for column, weight in weights.items():  # in the transformer's order of terms
                total = total + weight * table.numeric(column).astype(np.float64)
            updates[name] = total
        return table.replace(updates)

    return run


@compiles("regression_model.processing.features.PresenceFlags")
def _compile_presence_flags(step: Any) -> StepFunction:
    flags = dict(step.flags_)
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        updates: dict[str, Column] = {}
        for name, column in flags.items():
            values = table.numeric(column).astype(np.float64)
            updates[name] = np.where(np.isnan(values), np.nan, (values > 0).astype(np.float64))
        return table.replace(updates)

    return run


# ---------------------------------------------------------------------------------------
# scikit-learn scalers: float64 matrix in, matrix (or a table, with pandas output) out
# ---------------------------------------------------------------------------------------


def _scaler(step: Any, scale: Callable[[FloatArray], None]) -> StepFunction:
    """A scikit-learn scaler: NaN passes, infinity raises, then ``scale`` works in place."""
    names_out: list[str] | None = None

    def run(state: State) -> State:
        nonlocal names_out
        output = _transform_output(step)
        if output not in ("default", "pandas"):
            raise NotCompiled(f"{output} output")
        matrix = _expect_matrix(state, step, is_written=True)
        if np.isinf(matrix).any():
            raise ValueError("Input X contains infinity or a value too large for dtype('float64').")
        scale(matrix)
        if output == "default":
            return matrix
        if names_out is None:
            names_out = [str(name) for name in step.get_feature_names_out()]
        columns: dict[str, Column] = {name: matrix[:, i] for i, name in enumerate(names_out)}
        return Table(columns, matrix.shape[0])

    return run


def _transform_output(step: Any) -> str:
    """Where ``set_output`` sends this step's transform: "default", "pandas" or "polars"."""
    import sklearn

    configured = getattr(step, "_sklearn_output_config", {}).get("transform")
    return str(configured or sklearn.get_config()["transform_output"])


@compiles("sklearn.preprocessing._data.MinMaxScaler")
def _compile_min_max_scaler(step: Any) -> StepFunction:
    multiplier, offset = np.asarray(step.scale_), np.asarray(step.min_)
    low, high = step.feature_range
    clip = bool(step.clip)

    def scale(matrix: FloatArray) -> None:
        matrix *= multiplier
        matrix += offset
        if clip:
            np.clip(matrix, low, high, out=matrix)

    return _scaler(step, scale)


@compiles("sklearn.preprocessing._data.StandardScaler")
def _compile_standard_scaler(step: Any) -> StepFunction:
    return _center_and_divide(
        step,
        center=np.asarray(step.mean_) if step.with_mean else None,
        divisor=np.asarray(step.scale_) if step.with_std else None,
    )


@compiles("sklearn.preprocessing._data.RobustScaler")
def _compile_robust_scaler(step: Any) -> StepFunction:
    return _center_and_divide(
        step,
        center=np.asarray(step.center_) if step.with_centering else None,
        divisor=np.asarray(step.scale_) if step.with_scaling else None,
    )


def _center_and_divide(
    step: Any, *, center: FloatArray | None, divisor: FloatArray | None
) -> StepFunction:
    def scale(matrix: FloatArray) -> None:
        if center is not None:
            matrix -= center
        if divisor is not None:
            matrix /= divisor

    return _scaler(step, scale)


# ---------------------------------------------------------------------------------------
# Final estimators
# ---------------------------------------------------------------------------------------


def _run_fitted_predict(estimator: Any) -> EstimatorFunction:
    """An estimator without a compiled form predicts from what the pipeline would pass it."""

    def run(state: State) -> FloatArray:
        return np.asarray(estimator.predict(_as_step_input(state)), dtype=np.float64)

    return run


def compile_estimator(estimator: Any) -> EstimatorFunction:
    """The registered compiled form of a fitted estimator, else its own ``predict``."""
    compiler = ESTIMATORS.get(class_path(estimator))
    compiled = None if compiler is None else compiler(estimator)
    fallback = _run_fitted_predict(estimator)
    if compiled is None:
        return fallback

    def run(state: State) -> FloatArray:
        try:
            return compiled(state)
        except NotCompiled:
            return fallback(state)

    return run


@compiles_estimator(
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.linear_model._ridge.RidgeCV",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.LassoCV",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
    "sklearn.linear_model._coordinate_descent.ElasticNetCV",
)
def _compile_linear_model(estimator: Any) -> EstimatorFunction | None:
    coef = np.asarray(estimator.coef_, dtype=np.float64)
    intercept = estimator.intercept_
    if coef.ndim != 1:
        return None  # several targets: leave them to the model

    def run(state: State) -> FloatArray:
        matrix = _expect_matrix(state, estimator, is_written=False)
        # scikit-learn's check_array rejects NaN and infinity before predicting.
        if not np.isfinite(matrix).all():
            raise ValueError("Input X contains NaN or infinity.")
        prediction: FloatArray = matrix @ coef + intercept
        return prediction

    return run


@compiles_estimator("sklearn.compose._target.TransformedTargetRegressor")
def _compile_transformed_target_regressor(estimator: Any) -> EstimatorFunction:
    from sklearn.preprocessing import FunctionTransformer

    regress = compile_estimator(estimator.regressor_)
    transformer = estimator.transformer_
    squeeze = getattr(estimator, "_training_dim", 1) == 1

    def inverse(prediction: FloatArray) -> Any:
        if type(transformer) is not FunctionTransformer:
            return transformer.inverse_transform(prediction)
        if transformer.validate and not np.isfinite(prediction).all():
            raise ValueError("Input contains NaN or infinity.")  # its check_array's verdict
        function = transformer.inverse_func
        if function is None:
            return prediction
        return function(prediction, **(transformer.inv_kw_args or {}))

    def run(state: State) -> FloatArray:
        prediction = regress(state)
        if prediction.ndim == 1:
            prediction = prediction.reshape(-1, 1)
        result = np.asarray(inverse(prediction))
        if squeeze and result.ndim == 2 and result.shape[1] == 1:
            result = result.squeeze(axis=1)
        return result.astype(np.float64, copy=False)

    return run


# Up to this many rows, gradient boosting walks its trees in numpy: a web request's one
# house then skips scikit-learn's per-call checks (about 0.5 ms for 1,000 trees here). For
# more rows, scikit-learn's compiled loop over rows is faster, and runs instead.
TREE_WALK_MAX_ROWS = 8


@compiles_estimator("sklearn.ensemble._gb.GradientBoostingRegressor")
def _compile_gradient_boosting(estimator: Any) -> EstimatorFunction | None:
    """Gradient-boosted trees for a few rows: all trees walked level by level at once."""
    stages = estimator.estimators_
    init = estimator.init_
    if stages.ndim != 2 or stages.shape[1] != 1:
        return None
    if not (init == "zero" or class_path(init) == "sklearn.dummy.DummyRegressor"):
        return None  # an initial model that depends on X: leave it to the estimator
    n_features = estimator.n_features_in_
    # What the initial model predicts is a constant; the estimator computes it for us.
    start = np.asarray(
        estimator._raw_predict_init(np.zeros((1, n_features), dtype=np.float32)), np.float64
    ).ravel()[0]
    trees = [stage.tree_ for stage in stages[:, 0]]
    offsets = np.cumsum([0] + [tree.node_count for tree in trees])[:-1]
    roots = offsets.astype(np.intp)
    # All trees' nodes in one set of arrays; children become indices into them (-1: leaf).
    left = np.concatenate(
        [np.where(t.children_left < 0, -1, t.children_left + o) for t, o in zip(trees, offsets)]
    ).astype(np.intp)
    right = np.concatenate(
        [np.where(t.children_right < 0, -1, t.children_right + o) for t, o in zip(trees, offsets)]
    ).astype(np.intp)
    feature = np.concatenate([np.maximum(t.feature, 0) for t in trees]).astype(np.intp)
    threshold = np.concatenate([t.threshold for t in trees])
    value = np.concatenate([t.value[:, 0, 0] for t in trees])
    depth = max(tree.max_depth for tree in trees)
    learning_rate = float(estimator.learning_rate)

    def run(state: State) -> FloatArray:
        if isinstance(state, Table) or len(state) > TREE_WALK_MAX_ROWS:
            raise NotCompiled("a table, or enough rows for scikit-learn's own loop")
        matrix = _expect_matrix(state, estimator, is_written=False)
        if not np.isfinite(matrix).all():
            raise NotCompiled("non-finite input")  # scikit-learn words the error
        # The trees compare float32 features (scikit-learn's dtype) with float64 thresholds.
        features = matrix.astype(np.float32)
        rows = np.arange(len(features))[:, np.newaxis]
        node = np.broadcast_to(roots, (len(features), len(roots)))
        for _ in range(depth):
            goes_left = features[rows, feature[node]] <= threshold[node]
            child = np.where(goes_left, left[node], right[node])
            node = np.where(child < 0, node, child)  # a leaf stays where it is
        prediction: FloatArray = start + (learning_rate * value[node]).sum(axis=1)
        return prediction

    return run


@compiles_estimator("sklearn.ensemble._voting.VotingRegressor")
def _compile_voting_regressor(estimator: Any) -> EstimatorFunction:
    members = [compile_estimator(member) for member in estimator.estimators_]
    weights = (
        None
        if estimator.weights is None
        else [
            weight
            for (_, member), weight in zip(estimator.estimators, estimator.weights)
            if member != "drop"
        ]
    )

    def run(state: State) -> FloatArray:
        predictions = np.asarray([predict(state) for predict in members]).T
        return np.asarray(np.average(predictions, axis=1, weights=weights), dtype=np.float64)

    return run


# ---------------------------------------------------------------------------------------
# The scorer
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledStep:
    """One pipeline step: the fitted step and, if its class is registered, its compiled form."""

    name: str
    fitted: Any
    compiled: StepFunction | None

    def __call__(self, state: State) -> State:
        if self.compiled is not None:
            try:
                return self.compiled(state)
            except NotCompiled:
                pass
        return run_fitted_transform(self.fitted, state)


class PipelineScorer:
    """A fitted pipeline, compiled for scoring: same predictions, a fraction of the time.

    Build it with ``compile_pipeline``.

    Attributes
    ----------
    steps : tuple of CompiledStep
        The transformers, in pipeline order.
    estimator_name : str
        The name of the final step.
    """

    def __init__(
        self, steps: tuple[CompiledStep, ...], estimator_name: str, estimate: EstimatorFunction
    ) -> None:
        self.steps = steps
        self.estimator_name = estimator_name
        self._estimate = estimate

    @property
    def fallback_steps(self) -> list[str]:
        """Names of the steps that run their own ``transform`` (no compiled form)."""
        return [step.name for step in self.steps if step.compiled is None]

    def predict(
        self,
        X: pd.DataFrame | AnyArray,
        *,
        rows: BoolArray | None = None,
        labels: Mapping[str, Labels] | None = None,
    ) -> FloatArray:
        """The fitted pipeline's ``predict(X)``, or ``predict(X[rows])`` when ``rows`` is given.

        Parameters
        ----------
        X : DataFrame or ndarray
            What the pipeline takes.
        rows : ndarray of bool, default=None
            Which rows to score. Selecting them here, after the columns are arrays, saves a
            DataFrame copy.
        labels : dict of str to Labels, default=None
            Text columns of ``X`` already factorized, e.g. by validation, which has to find
            each column's distinct labels anyway. Each must hold exactly the labels of
            ``X``'s column of that name, all rows included.

        Returns
        -------
        ndarray of float64
            One prediction per (selected) row.
        """
        data: State = Table.from_frame(X, labels) if isinstance(X, pd.DataFrame) else np.asarray(X)
        n_rows = data.n_rows if isinstance(data, Table) else len(data)
        if n_rows <= CHUNK_ROWS:
            return self._predict_chunk(data, rows)
        # Rows are scored independently, so a large batch goes through in chunks: the
        # widest intermediate (the model matrix) then takes memory for one chunk only.
        chunks = []
        for start in range(0, n_rows, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, n_rows)
            chunk = data.slice(start, stop) if isinstance(data, Table) else data[start:stop]
            chunks.append(self._predict_chunk(chunk, None if rows is None else rows[start:stop]))
        return np.concatenate(chunks)

    def _predict_chunk(self, state: State, rows: BoolArray | None) -> FloatArray:
        if rows is not None and not rows.all():
            if not rows.any():
                return np.empty(0)
            state = state.take(rows) if isinstance(state, Table) else state[rows]
        for step in self.steps:
            state = step(state)
        return self._estimate(state)


def compile_pipeline(pipeline: Any) -> PipelineScorer:
    """Compile a fitted ``Pipeline`` into a ``PipelineScorer``.

    Parameters
    ----------
    pipeline : Pipeline
        A fitted scikit-learn pipeline whose last step predicts.

    Returns
    -------
    PipelineScorer
        Predicts as ``pipeline.predict`` does; registered step classes run compiled, the
        others run their own ``transform`` and ``predict``.

    Examples
    --------
    >>> scorer = compile_pipeline(fitted_pipeline)  # doctest: +SKIP
    >>> scorer.predict(validated_frame)  # doctest: +SKIP
    array([208500.3, ...])
    """
    *transformers, (estimator_name, estimator) = pipeline.steps
    steps = tuple(
        CompiledStep(name, step, _compile_transformer(step))
        for name, step in transformers
        if step is not None and step != "passthrough"
    )
    return PipelineScorer(steps, estimator_name, compile_estimator(estimator))


def _compile_transformer(step: Any) -> StepFunction | None:
    compiler = TRANSFORMERS.get(class_path(step))
    return None if compiler is None else compiler(step)
