"""Score with the fitted pipeline's learned values, without its per-step DataFrame overhead.

``compile_pipeline(pipeline)`` turns the fitted pipeline that ``regression_model.pipeline``
builds into a ``PipelineScorer`` whose ``predict`` gives the pipeline's own predictions. The
fitted pipeline stays the truth: nothing is refitted, and ``tests/test_scoring.py`` checks
the two agree to a relative 1e-9 on every row of train.csv and test.csv.

Why it is faster
----------------
``Pipeline.predict`` copies the whole DataFrame in every step, and its encoders map each
row's label through a Python dict. Between the scorer's steps the data is a ``Table``: the
frame's columns as numpy arrays, by name and in order. A text column is held as ``Labels``,
integer codes into the column's distinct labels, found once per chunk of rows; a step that
works label by label (impute, group rare labels, encode, map) works on the few distinct
labels and gathers its result by code. Numeric steps are numpy expressions over columns.

What is compiled, and the fallback that keeps it correct
--------------------------------------------------------
Only the step classes that ``pipeline.py`` builds have a compiled form: ``_compilers()``
maps each class object (matched exactly, never by inheritance: a subclass may change what
``transform`` does) to a function that reads the fitted step's public attributes once and
returns a vectorised function. Our own transformers' arithmetic is the very function their
``transform`` calls (``processing/features.py``). Everything else runs its own ``transform``
or ``predict``:

- a step whose class has no compiled form;
- a step whose compiler raises, whatever the reason (a library release renaming what it
  reads, say): one warning naming the step is logged when the pipeline is compiled;
- a compiled step meeting input it was not compiled for (other columns, a missing value
  where the step refuses one, non-finite numbers): it raises ``NotCompiled`` before changing
  anything, and the fitted step runs instead, raising its library's own errors.

Reproducible prices
-------------------
A row's price depends on that row alone, bit for bit, whatever the batch, the chunk
(``CHUNK_ROWS``) or the frame around it: every compiled step works element by element, and
every sum over a row's terms (the linear models, the trees, the blend) is added left to
right by ``weighted_row_sums``, never by BLAS or a pairwise reduction whose order depends on the
array's shape. Logs and exponentials run on contiguous arrays only, so numpy takes one code
path for them however many rows there are.

What the scorer assumes
-----------------------
- Each row is transformed on its own, as every fitted step here does: large batches are
  scored ``CHUNK_ROWS`` rows at a time.
- A text column's missing values (None, NaN, ``pd.NA``) are one code, -1, as ``isna`` sees
  them; validated frames only ever hold NaN.
- The scaler's output goes to the regressor as a matrix, whatever ``set_output`` says: the
  numbers, and so the predictions, are the same.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, cast

import numpy as np
import pandas as pd

from regression_model.array_types import AnyArray, BoolArray, CodeArray, FloatArray
from regression_model.processing.arithmetic import (
    clip_to_range,
    map_labels,
    presence_flags,
    weighted_sum,
    years_before,
)
from regression_model.processing.validation import SMALL_COLUMN, column_arrays, is_missing

if TYPE_CHECKING:
    from regression_model.processing.boosted_trees import XGBoostTreesRegressor

_LOGGER = logging.getLogger(__name__)

# A batch is scored at most this many rows at a time: enough that per-column costs are spread
# thin, few enough that a chunk's model matrix (rows x features x 8 bytes) stays small.
CHUNK_ROWS = 8192

# Up to this many rows, gradient boosting walks its trees in numpy, skipping scikit-learn's
# per-call input checks; for more rows scikit-learn's compiled loop is faster. Both add the
# trees' values in the same order, so the switch never changes a price.
TREE_WALK_MAX_ROWS = 8


def chunk_bounds(n_rows: int) -> list[int]:
    """Where the chunks of a batch of ``n_rows`` start, and the last one stops.

    The fewest chunks of at most ``CHUNK_ROWS`` rows, of equal size, so that threads scoring
    them finish together (10,000 rows: 0, 5,000, 10,000).
    """
    bounds: list[int] = np.linspace(0, n_rows, -(-n_rows // CHUNK_ROWS) + 1).astype(int).tolist()
    return bounds


class NotCompiled(Exception):
    """A compiled step met input it was not built for; the fitted step must run instead."""


class Labels(NamedTuple):
    """A text (or any non-numeric) column as integer codes into its distinct labels.

    Immutable, like a frozen dataclass, and made several times per column in every chunk:
    a named tuple is the cheapest such object to make.

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
        """Factorize a column: pandas' hash table for long columns, a dict for short."""
        return cls.from_arrays([array])[0]

    @classmethod
    def from_arrays(cls, arrays: Sequence[Any]) -> list[Labels]:
        """Factorize columns, each on its own, as ``from_array`` does.

        The short numpy columns (a web request's house) share one Python pass and one array
        of codes: per column, a numpy call would cost more than reading its values.
        """
        found: list[Labels | None] = []
        short: list[list[Any]] = []  # each short column's values, in order
        for array in arrays:
            is_short = isinstance(array, np.ndarray) and len(array) <= SMALL_COLUMN
            found.append(None if is_short else cls._factorized(array))
            if is_short:
                short.append(array.tolist())
        if not short:
            return [labels for labels in found if labels is not None]
        codes: list[int] = []
        distinct: list[list[Any]] = []
        for values in short:
            index: dict[Any, int] = {}
            codes.extend(
                # A label is nearly always text, which is never missing: skip the call.
                (
                    -1
                    if type(value) is not str and is_missing(value)
                    else index.setdefault(value, len(index))
                )
                for value in values
            )
            distinct.append(list(index))
        by_column = iter(np.array(codes, dtype=np.intp).reshape(len(short), len(short[0])))
        made = iter(distinct)
        return [cls(next(by_column), next(made)) if labels is None else labels for labels in found]

    @classmethod
    def _factorized(cls, array: Any) -> Labels:
        codes, uniques = pd.factorize(array)
        return cls(codes.astype(np.intp, copy=False), list(uniques))

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

    def to_objects(self) -> AnyArray:
        """The labels as an object array, NaN where missing."""
        objects = np.empty(len(self.values) + 1, dtype=object)
        objects[:-1] = self.values
        objects[-1] = np.nan
        result: AnyArray = objects[self.codes]
        return result


Column: TypeAlias = "AnyArray | Labels"


_NUMBERS = frozenset("biuf")  # the dtype kinds a numeric column may have


def _is_numeric(column: object) -> bool:
    return isinstance(column, np.ndarray) and column.dtype.kind in _NUMBERS


def _is_text(array: Any) -> bool:
    """Whether an extension array (not a numpy array) enters a table as labels."""
    return isinstance(array.dtype, (pd.StringDtype, pd.CategoricalDtype))


def _to_column(array: Any) -> Column:
    """An extension array that is not text (``_is_text``), as a table holds it."""
    if pd.api.types.is_numeric_dtype(array.dtype) and not pd.api.types.is_bool_dtype(array.dtype):
        # Nullable Int64/Float64: the missing entries become NaN, as numpy sees them.
        return np.asarray(array.to_numpy(dtype=np.float64, na_value=np.nan))
    return np.asarray(array, dtype=object)


class Table:
    """What a DataFrame holds between pipeline steps: named columns of equal length, in order.

    A numeric column is an ndarray; a text column is ``Labels``. Steps never write into a
    column: they build new arrays and a new table, so a table handed to a step is unchanged
    if that step gives up with ``NotCompiled``.

    The last columns may be held as one block (``with_stacked``), as the one-hot encoder
    makes them: the scaler then takes them as they are, instead of splitting a few hundred
    columns apart and stacking them again.

    Parameters
    ----------
    columns : dict of str to ndarray or Labels
        The columns, in frame order.
    n_rows : int
        The number of rows.
    """

    # Plain slots, and no __getattr__ here: steps read a table's attributes column by
    # column, and CPython reads plain slots fastest. Only _StackedTable reads columns lazily.
    __slots__ = ("columns", "n_rows", "_head", "_names", "_stacked")

    def __init__(self, columns: dict[str, Column], n_rows: int) -> None:
        self.columns = columns
        self._head = columns  # the columns before the stacked ones: all of them here
        self.n_rows = n_rows
        self._names: tuple[str, ...] | None = None
        self._stacked: tuple[tuple[str, ...], FloatArray] | None = None

    @classmethod
    def from_arrays(cls, names: Sequence[str], arrays: Sequence[Any], n_rows: int) -> Table:
        """Columns from raw arrays: numbers stay arrays, text is factorized into labels."""
        # A numpy array is text if it holds objects, and enters as it is otherwise (numbers;
        # datetimes and the like, which only a fitted step's own transform reads).
        is_numpy = [isinstance(array, np.ndarray) for array in arrays]
        is_text = [
            array.dtype.kind == "O" if numpy else _is_text(array)
            for array, numpy in zip(arrays, is_numpy)
        ]
        labels = iter(Labels.from_arrays([a for a, text in zip(arrays, is_text) if text]))
        columns: dict[str, Column] = {
            name: next(labels) if text else array if numpy else _to_column(array)
            for name, array, text, numpy in zip(names, arrays, is_text, is_numpy)
        }
        return cls(columns, n_rows)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Table:
        return cls.from_arrays(frame.columns.tolist(), column_arrays(frame), len(frame))

    @property
    def names(self) -> tuple[str, ...]:
        if self._names is None:  # every step compares them: build the tuple once
            stacked = () if self._stacked is None else self._stacked[0]
            self._names = tuple(self._head) + stacked
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

    def block(self, names: Sequence[str]) -> FloatArray:
        """The named numeric columns as one new float64 array, a row per column, C-ordered."""
        if self._stacked is not None:
            names = tuple(names)
            stacked_names, stacked = self._stacked
            split = len(names) - len(stacked_names)
            if split >= 0 and names[split:] == stacked_names:
                try:
                    head = [self._head[name] for name in names[:split]]
                except KeyError:  # a stacked column among the first names too
                    pass
                else:
                    return np.concatenate([_numeric_block(head, self.n_rows), stacked])
        columns = self.columns
        return _numeric_block([columns[name] for name in names], self.n_rows)

    def to_matrix(self, names: Sequence[str]) -> FloatArray:
        """The named numeric columns as a new rows-by-columns matrix (Fortran-ordered)."""
        return self.block(names).T

    def take(self, positions: CodeArray) -> Table:
        """A new table of the rows at ``positions``, in that order."""
        columns: dict[str, Column] = {
            name: (
                Labels(column.codes[positions], column.values)
                if isinstance(column, Labels)
                else column[positions]
            )
            for name, column in self._head.items()
        }
        stacked = self._stacked
        if stacked is not None:
            stacked = (stacked[0], stacked[1][:, positions])
        return _table(columns, len(positions), stacked)

    def replace(self, updates: Mapping[str, Column]) -> Table:
        """A new table: existing names keep their position, new names are appended."""
        if not updates:
            return self  # tables are never written to: nothing changed, nothing to copy
        is_in_place = self._head.keys() >= updates.keys()
        columns = dict(self._head if is_in_place else self.columns)
        columns.update(updates)
        table = _table(columns, self.n_rows, self._stacked)
        if is_in_place:
            table._names = self._names  # same names, same order
        return table

    def drop(self, names: Iterable[str]) -> Table:
        dropped = set(names)
        stacked = self._stacked
        if stacked is not None and not dropped.isdisjoint(stacked[0]):
            stacked = None
        kept = self._head if stacked is not None else self.columns
        columns = {name: col for name, col in kept.items() if name not in dropped}
        return _table(columns, self.n_rows, stacked)

    def with_stacked(self, names: Sequence[str], block: FloatArray) -> Table:
        """A new table with the rows of ``block`` appended as the columns ``names``."""
        return _StackedTable(dict(self.columns), self.n_rows, (tuple(names), block))

    def to_frame(self) -> pd.DataFrame:
        """The table as the DataFrame a fitted step expects; labels become objects."""
        data = {
            name: col.to_objects() if isinstance(col, Labels) else col
            for name, col in self.columns.items()
        }
        return pd.DataFrame(data, index=pd.RangeIndex(self.n_rows))


class _StackedTable(Table):
    """A table whose last columns are held as one block, a row of the block per column.

    Reading ``columns`` splits the block into its rows, once; ``block`` and ``names`` never
    need to.
    """

    __slots__ = ()

    def __init__(
        self,
        columns: dict[str, Column],
        n_rows: int,
        stacked: tuple[tuple[str, ...], FloatArray],
    ) -> None:
        self._head = columns
        self.n_rows = n_rows
        self._names = None
        self._stacked = stacked

    # The base class's slot, read lazily here; tables are never written to.
    @property
    def columns(self) -> dict[str, Column]:  # type: ignore[override]
        if self._stacked is not None:
            stacked_names, block = self._stacked
            self._head = {**self._head, **dict(zip(stacked_names, block))}
            self._stacked = None
        return self._head


def _table(
    columns: dict[str, Column],
    n_rows: int,
    stacked: tuple[tuple[str, ...], FloatArray] | None,
) -> Table:
    return Table(columns, n_rows) if stacked is None else _StackedTable(columns, n_rows, stacked)


def _numeric_block(columns: list[Column], n_rows: int) -> FloatArray:
    """Numeric columns as one new float64 array, a row per column, C-ordered."""
    # _is_numeric over every column, in two set operations rather than a call per column
    if set(map(type, columns)) - {np.ndarray}:
        raise NotCompiled("a column of the block is not numeric")
    arrays = cast("list[AnyArray]", columns)
    if not {array.dtype.kind for array in arrays} <= _NUMBERS:
        raise NotCompiled("a column of the block is not numeric")
    block: FloatArray = np.array(arrays, dtype=np.float64).reshape(len(arrays), n_rows)
    return block


State: TypeAlias = "Table | FloatArray"
StepFunction: TypeAlias = Callable[[State], State]
# A compiled estimator takes the model matrix, rows by features, and never writes to it.
EstimatorFunction: TypeAlias = Callable[[FloatArray], FloatArray]
# A compiler returns None when this fitted instance has options it does not handle. An
# estimator's compiler also gets the pipeline step's name, for the estimators it holds.
TransformerCompiler: TypeAlias = Callable[[Any], "StepFunction | None"]
EstimatorCompiler: TypeAlias = Callable[[Any, str], "EstimatorFunction | None"]


# Up to this many rows, weighted_row_sums adds a row's terms with one numpy call; for more,
# it adds them column by column, which costs a call per column but no rows-by-terms copy.
ACCUMULATE_MAX_ROWS = 256


def weighted_row_sums(
    *, matrix: FloatArray, weights: FloatArray, columns: Sequence[int] | None = None
) -> FloatArray:
    """For each row, the sum of ``matrix[row, columns[i]] * weights[i]``, added in order of i.

    Floating-point addition is not associative, so the order of the additions decides the
    last bits of a sum. Both ways below add each row's terms first to last, so a row's sum
    is the same, bit for bit, whatever the number of rows; a matrix product or ``sum`` would
    let BLAS or numpy's pairwise summation choose the order by the array's shape.

    Parameters
    ----------
    matrix : ndarray of float64
        Rows by columns.
    weights : ndarray of float64
        One weight per column used.
    columns : sequence of int, default=None
        The columns used, in order; all of them by default.

    Returns
    -------
    ndarray of float64
        One contiguous sum per row.
    """
    used = list(range(matrix.shape[1])) if columns is None else list(columns)
    if not used:
        return np.zeros(len(matrix))
    if len(matrix) <= ACCUMULATE_MAX_ROWS:
        # np.add.accumulate is sequential by definition: term 0, then + term 1, ...
        terms = matrix[:, used] * weights
        return np.ascontiguousarray(np.add.accumulate(terms, axis=1)[:, -1])
    total: FloatArray = matrix[:, used[0]] * weights[0]
    for column, weight in zip(used[1:], weights[1:]):
        total += matrix[:, column] * weight
    return total


# ---------------------------------------------------------------------------------------
# Running fitted steps: the fallback, and the checks that decide when it is needed.
# ---------------------------------------------------------------------------------------


def _as_step_input(state: State) -> pd.DataFrame | FloatArray:
    return state.to_frame() if isinstance(state, Table) else state


def run_fitted_transform(step: Any, state: State) -> State:
    """Run a fitted step's own ``transform`` on the DataFrame (or array) the table stands for."""
    output = step.transform(_as_step_input(state))
    if isinstance(output, pd.DataFrame):
        return Table.from_frame(output)
    return np.asarray(output, dtype=np.float64)


def _names_in(step: Any) -> tuple[str, ...]:
    return tuple(step.feature_names_in_)


def _expect_table(state: State, names_in: tuple[str, ...]) -> Table:
    """The state as a table with exactly the columns, in order, that the step was fitted on.

    Anything else (an array, other or reordered columns) is left to the fitted step, which
    reorders, converts or raises as it would inside the pipeline.
    """
    if not isinstance(state, Table) or state.names != names_in:
        raise NotCompiled("columns differ from those seen in fit")
    return state


def _expect_finite(values: AnyArray) -> None:
    if not np.isfinite(values).all():
        raise NotCompiled("a missing or infinite number: the fitted step decides")


def _compile_guarded(compile_step: Callable[[], Any] | None, fitted: Any, step_name: str) -> Any:
    """What ``compile_step()`` builds for ``fitted``, or None if it raises."""
    if compile_step is None:
        return None
    try:
        return compile_step()
    except Exception as error:  # whatever a library release changed, score without it
        _LOGGER.warning(
            "Step %r (%s) runs its own transform or predict: building its compiled form "
            "failed with %s: %s",
            step_name,
            type(fitted).__name__,
            type(error).__name__,
            error,
        )
        return None


# ---------------------------------------------------------------------------------------
# Imputers, encoders and transformations from feature-engine and scikit-learn
# ---------------------------------------------------------------------------------------


def _fill_missing_labels(table: Table, fills: Mapping[str, Any]) -> Table:
    updates: dict[str, Column] = {}
    for name, fill in fills.items():
        column = table.columns[name]
        if not isinstance(column, Labels):
            raise NotCompiled("a label imputer met numbers")
        filled = column.fill_missing(fill)
        if filled is not column:  # most columns miss nothing, and stay as they are
            updates[name] = filled
    return table.replace(updates)


def _compile_categorical_imputer(step: Any) -> StepFunction | None:
    if step.return_object:
        return None
    fills = dict(step.imputer_dict_)
    names_in = _names_in(step)

    def run(state: State) -> State:
        return _fill_missing_labels(_expect_table(state, names_in), fills)

    return run


def _compile_mean_median_imputer(step: Any) -> StepFunction:
    variables = list(step.imputer_dict_)
    fills = np.array([float(step.imputer_dict_[name]) for name in variables])[:, np.newaxis]
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        columns = [table.numeric(name) for name in variables]
        if any(column.dtype.kind == "f" and column.dtype != np.float64 for column in columns):
            raise NotCompiled("narrow floats: the fitted step decides their dtype")
        # Every column in one call; a whole-number column has nothing to fill and keeps its
        # dtype, as in the fitted step.
        block = table.block(variables)
        filled = np.where(np.isnan(block), fills, block)
        updates: dict[str, Column] = {
            name: values
            for name, values, column in zip(variables, filled, columns)
            if column.dtype.kind == "f"
        }
        return table.replace(updates)

    return run


def _compile_rare_label_encoder(step: Any) -> StepFunction:
    frequent = {name: set(labels) for name, labels in step.encoder_dict_.items()}
    replace_with = step.replace_with
    is_missing_refused = step.missing_values == "raise"
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        updates: dict[str, Column] = {}
        for name, keep in frequent.items():
            column = table.labels(name)
            if is_missing_refused and column.has_missing:
                raise NotCompiled("a missing label the encoder refuses")
            # A missing value keeps its code -1: feature-engine keeps it as it is.
            kept = [label if label in keep else replace_with for label in column.values]
            if kept != column.values:
                updates[name] = Labels(column.codes, kept)
            elif column is not table.columns[name]:  # numbers read as labels
                updates[name] = column
        return table.replace(updates)

    return run


def _compile_math_features(step: Any) -> StepFunction | None:
    """feature-engine's ``MathFeatures`` with ``func="prod"``: one new column, a product."""
    names_in = _names_in(step)
    new_names = [str(name) for name in step.get_feature_names_out()][len(names_in) :]
    if step.func != "prod" or step.missing_values != "raise" or len(new_names) != 1:
        return None
    if step.drop_original:
        return None
    variables, new_name = list(step.variables_), new_names[0]

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        factors = [table.numeric(name).astype(np.float64, copy=False) for name in variables]
        product = factors[0]
        for factor in factors[1:]:  # left to right, as the reduction over a row does
            product = product * factor
        _expect_finite(product)
        return table.replace({new_name: product})

    return run


def _compile_log_cp_transformer(step: Any) -> StepFunction | None:
    if step.base != "e":
        return None
    variables = list(step.variables_)
    offsets = step.C_  # one number, or one per variable
    shifts = [offsets[name] if isinstance(offsets, Mapping) else offsets for name in variables]
    offset_column = np.array(shifts, dtype=np.float64).reshape(-1, 1)
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        # One row of the block per variable; contiguous, so np.log takes one code path.
        shifted = table.block(variables) + offset_column
        _expect_finite(shifted)
        if (shifted <= 0).any():
            raise NotCompiled("no log of zero or below: the fitted step raises")
        return table.replace(dict(zip(variables, np.log(shifted))))

    return run


def _compile_robust_scaler(step: Any) -> StepFunction:
    center = np.asarray(step.center_, dtype=np.float64) if step.with_centering else None
    scale = np.asarray(step.scale_, dtype=np.float64) if step.with_scaling else None
    names_in = _names_in(step)
    n_features = int(step.n_features_in_)

    def run(state: State) -> State:
        matrix = _expect_table(state, names_in).to_matrix(names_in)
        if matrix.shape[1] != n_features or np.isinf(matrix).any():
            raise NotCompiled("infinity, which the scaler refuses")
        if center is not None:
            matrix -= center
        if scale is not None:
            matrix /= scale
        return matrix

    return run


class _OneHot:
    """One-hot columns for several label columns at once: one fancy index for all of them.

    Each column's distinct labels are placed once, then every row's ones are set in a single
    assignment, whatever the number of columns.

    Parameters
    ----------
    categories : sequence of sequence
        Each label column's categories, in output column order; NaN, if there, is the
        missing values'.
    """

    def __init__(self, categories: Sequence[Sequence[Any]]) -> None:
        self.n_columns = sum(len(found) for found in categories)
        # scikit-learn looks labels up in a dict of its categories, NaN (kept last) aside.
        # An unknown label (or NaN unseen in fit) gets no category: it points at an extra
        # output column that is dropped, so its row stays all zeros.
        self._places: list[dict[Any, int]] = []
        self._on_missing: list[int] = []
        start = 0
        for found in categories:
            self._places.append(
                {value: start + j for j, value in enumerate(found) if not is_missing(value)}
            )
            self._on_missing.append(
                next((start + j for j, value in enumerate(found) if is_missing(value)), -1)
            )
            start += len(found)

    def encode(self, columns: Sequence[Labels], n_rows: int) -> FloatArray:
        """The one-hot block: a row per output column (C-ordered), a column per row."""
        none = self.n_columns  # the extra output column
        # Each column's part of the lookup starts with its missing value's place, for code -1.
        lookup: list[int] = []
        starts: list[int] = []
        for labels, places, on_missing in zip(columns, self._places, self._on_missing):
            starts.append(len(lookup) + 1)
            lookup.append(none if on_missing < 0 else on_missing)
            lookup.extend([places.get(value, none) for value in labels.values])
        codes = np.array([labels.codes for labels in columns], dtype=np.intp)
        codes = codes.reshape(len(columns), n_rows)
        codes += np.array(starts, dtype=np.intp)[:, np.newaxis]
        block = np.zeros((none + 1, n_rows))
        block[np.asarray(lookup, dtype=np.intp)[codes], np.arange(n_rows)] = 1.0
        ones: FloatArray = block[:none]
        return ones


def _compile_wrapped_one_hot_encoder(
    encoder: Any, variables: list[str], names_in: tuple[str, ...]
) -> StepFunction | None:
    """scikit-learn's OneHotEncoder: dense, float64, unknown labels ignored, nothing dropped."""
    if (
        encoder.sparse_output
        or encoder.drop is not None
        or encoder.min_frequency is not None
        or encoder.max_categories is not None
        or encoder.handle_unknown != "ignore"
        or np.dtype(encoder.dtype) != np.float64
    ):
        return None
    categories = [list(found) for found in encoder.categories_]
    names_out = tuple(str(name) for name in encoder.get_feature_names_out(variables))
    if len(names_out) != sum(map(len, categories)):
        return None
    one_hot = _OneHot(categories)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        ones = one_hot.encode([table.labels(variable) for variable in variables], table.n_rows)
        remaining = table.drop(variables)
        if not remaining.columns.keys().isdisjoint(names_out):
            raise NotCompiled("a dummy column's name is taken")  # pandas would repeat it
        return remaining.with_stacked(names_out, ones)

    return run


def _compile_wrapped_simple_imputer(
    imputer: Any, variables: list[str], names_in: tuple[str, ...]
) -> StepFunction | None:
    """scikit-learn's SimpleImputer filling missing labels (``most_frequent``)."""
    fills = list(imputer.statistics_)
    if (
        not is_missing(imputer.missing_values)
        or imputer.add_indicator
        or any(is_missing(fill) or not isinstance(fill, str) for fill in fills)
    ):
        return None
    by_variable = dict(zip(variables, fills))

    def run(state: State) -> State:
        return _fill_missing_labels(_expect_table(state, names_in), by_variable)

    return run


def _compile_sklearn_transformer_wrapper(step: Any) -> StepFunction | None:
    """feature-engine's wrapper around the scikit-learn transformers the pipeline wraps.

    The wrapper hands the wrapped transformer ``X[variables_]``: a OneHotEncoder's columns
    are appended after the ones the wrapper keeps, a SimpleImputer's replace its variables.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    wrapped = step.transformer_
    compilers = {
        OneHotEncoder: _compile_wrapped_one_hot_encoder,
        SimpleImputer: _compile_wrapped_simple_imputer,
    }
    compile_wrapped = compilers.get(type(wrapped))
    if compile_wrapped is None:
        return None
    return compile_wrapped(wrapped, list(step.variables_), _names_in(step))


# ---------------------------------------------------------------------------------------
# This package's transformers: the arithmetic is features.py's own
# ---------------------------------------------------------------------------------------


def _compile_range_capper(step: Any) -> StepFunction:
    variables = list(step.variables_)
    lower = np.array([step.lower_[name] for name in variables], dtype=np.float64)[:, None]
    upper = np.array([step.upper_[name] for name in variables], dtype=np.float64)[:, None]
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        # All columns in one call: a row of the block per column, each held to its range.
        capped = clip_to_range(table.block(variables), lower, upper)
        return table.replace(dict(zip(variables, capped)))

    return run


def _compile_temporal_variable_transformer(step: Any) -> StepFunction:
    variables = list(step.variables_)
    reference_name = step.reference_variable
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        reference = table.numeric(reference_name)  # read once, before any column changes
        return table.replace(
            {
                name: years_before(reference=reference, years=table.numeric(name))
                for name in variables
            }
        )

    return run


def _compile_mapper(step: Any) -> StepFunction:
    variables = list(step.variables_)
    mapping = dict(step.mappings_)
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        updates: dict[str, Column] = {}
        for name in variables:
            labels = table.labels(name)
            updates[name] = map_labels(codes=labels.codes, labels=labels.values, mapping=mapping)
        return table.replace(updates)

    return run


def _compile_weighted_sums(step: Any) -> StepFunction:
    sums = {name: dict(weights) for name, weights in step.sums_.items()}
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        updates: dict[str, Column] = {}
        for name, weights in sums.items():
            terms = [
                (table.numeric(column).astype(np.float64, copy=False), weight)
                for column, weight in weights.items()
            ]
            updates[name] = weighted_sum(terms=terms)
        return table.replace(updates)

    return run


def _compile_presence_flags(step: Any) -> StepFunction:
    flags, sources = list(step.flags_), list(step.flags_.values())
    names_in = _names_in(step)

    def run(state: State) -> State:
        table = _expect_table(state, names_in)
        return table.replace(dict(zip(flags, presence_flags(values=table.block(sources)))))

    return run


# ---------------------------------------------------------------------------------------
# Final estimators: the model matrix in, one float64 prediction per row out
# ---------------------------------------------------------------------------------------


def _compile_linear_model(model: Any, step_name: str) -> EstimatorFunction | None:
    coef = np.asarray(model.coef_, dtype=np.float64)
    if coef.ndim != 1:
        return None  # several targets: leave them to the model
    intercept = float(model.intercept_)
    n_features = int(model.n_features_in_)
    used = np.flatnonzero(coef).tolist()  # a zero coefficient adds nothing to a finite row
    weights = coef[used]

    def run(matrix: FloatArray) -> FloatArray:
        if matrix.shape[1] != n_features:
            raise NotCompiled("the matrix is not what fit saw")
        _expect_finite(matrix)  # scikit-learn refuses NaN and infinity in its own words
        prediction: FloatArray = (
            weighted_row_sums(matrix=matrix, weights=weights, columns=used) + intercept
        )
        return prediction

    return run


def _compile_gradient_boosting(model: Any, step_name: str) -> EstimatorFunction | None:
    """Gradient-boosted trees for a few rows: all trees walked level by level at once.

    scikit-learn starts every row at the initial model's constant prediction and adds
    ``learning_rate * leaf value`` tree by tree; ``weighted_row_sums`` adds the same terms in
    the same order, so the walk gives scikit-learn's predictions bit for bit.
    """
    from sklearn.dummy import DummyRegressor

    stages = model.estimators_
    n_features = int(model.n_features_in_)
    if stages.ndim != 2 or stages.shape[1] != 1 or type(model.init_) is not DummyRegressor:
        return None  # several outputs, or an initial model that depends on X
    start = float(np.asarray(model.init_.predict(np.zeros((1, n_features)))).ravel()[0])
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
    # The start counts once; each tree's leaf value counts learning_rate times.
    weights = np.array([1.0] + [float(model.learning_rate)] * len(trees))

    def run(matrix: FloatArray) -> FloatArray:
        if len(matrix) > TREE_WALK_MAX_ROWS or matrix.shape[1] != n_features:
            raise NotCompiled("enough rows for scikit-learn's own loop")
        _expect_finite(matrix)
        # The trees compare float32 features (scikit-learn's dtype) with float64 thresholds.
        features = matrix.astype(np.float32)
        rows = np.arange(len(features))[:, np.newaxis]
        node = np.broadcast_to(roots, (len(features), len(roots)))
        for _ in range(depth):
            goes_left = features[rows, feature[node]] <= threshold[node]
            child = np.where(goes_left, left[node], right[node])
            node = np.where(child < 0, node, child)  # a leaf stays where it is
        terms = np.column_stack([np.full(len(features), start), value[node]])
        return weighted_row_sums(matrix=terms, weights=weights)

    return run


def _compile_xgboost_trees(model: XGBoostTreesRegressor, step_name: str) -> EstimatorFunction:
    """The trees' own scoring, without ``predict``'s per-call input checks."""
    n_features = int(model.n_features_in_)

    def run(matrix: FloatArray) -> FloatArray:
        if matrix.shape[1] != n_features:
            raise NotCompiled("the matrix is not what fit saw")
        return model.score(np.ascontiguousarray(matrix, dtype=np.float32))

    return run


def _compile_residual_trimmed_regressor(model: Any, step_name: str) -> EstimatorFunction:
    """The second fit's compiled form: trimming happens in ``fit`` only."""
    return compile_estimator(model.regressor_, step_name=step_name)


def _compile_voting_regressor(model: Any, step_name: str) -> EstimatorFunction:
    members = [compile_estimator(member, step_name=step_name) for member in model.estimators_]
    weights = np.array(
        [
            1.0 if model.weights is None else float(model.weights[position])
            for position, (_, member) in enumerate(model.estimators)
            if member != "drop"
        ]
    )
    total_weight = float(weights.sum())

    def run(matrix: FloatArray) -> FloatArray:
        predictions = np.column_stack([predict(matrix) for predict in members])
        average: FloatArray = weighted_row_sums(matrix=predictions, weights=weights) / total_weight
        return average

    return run


def _compile_transformed_target_regressor(model: Any, step_name: str) -> EstimatorFunction | None:
    """The regressor's prediction through ``inverse_func`` (func/inverse_func form only)."""
    if model.transformer is not None or model.inverse_func is None:
        return None
    regress = compile_estimator(model.regressor_, step_name=step_name)
    inverse = model.inverse_func

    def run(matrix: FloatArray) -> FloatArray:
        prediction = regress(matrix)
        _expect_finite(prediction)  # scikit-learn's transformer refuses it in its own words
        result: FloatArray = np.asarray(inverse(np.ascontiguousarray(prediction)), np.float64)
        return result

    return run


def _compile_price_band_regressor(model: Any, step_name: str) -> EstimatorFunction:
    regress = compile_estimator(model.regressor_, step_name=step_name)
    lower, upper = float(model.lower_), float(model.upper_)

    def run(matrix: FloatArray) -> FloatArray:
        banded: FloatArray = clip_to_range(regress(matrix), lower, upper)
        return banded

    return run


# The step classes, the libraries' and ours, are imported in these two functions, on first
# use, so that importing this module (and regression_model.predict) loads no scikit-learn.


@functools.cache
def _transformer_compilers() -> dict[type, TransformerCompiler]:
    """Every transformer class ``pipeline.py`` builds, by class object, with its compiler."""
    from feature_engine.creation import MathFeatures
    from feature_engine.encoding import RareLabelEncoder
    from feature_engine.imputation import CategoricalImputer, MeanMedianImputer
    from feature_engine.transformation import LogCpTransformer
    from feature_engine.wrappers import SklearnTransformerWrapper
    from sklearn.preprocessing import RobustScaler

    from regression_model.processing.features import (
        Mapper,
        PresenceFlags,
        RangeCapper,
        TemporalVariableTransformer,
        WeightedSums,
    )

    return {
        RangeCapper: _compile_range_capper,
        CategoricalImputer: _compile_categorical_imputer,
        SklearnTransformerWrapper: _compile_sklearn_transformer_wrapper,
        MeanMedianImputer: _compile_mean_median_imputer,
        TemporalVariableTransformer: _compile_temporal_variable_transformer,
        Mapper: _compile_mapper,
        WeightedSums: _compile_weighted_sums,
        MathFeatures: _compile_math_features,
        PresenceFlags: _compile_presence_flags,
        LogCpTransformer: _compile_log_cp_transformer,
        RareLabelEncoder: _compile_rare_label_encoder,
        RobustScaler: _compile_robust_scaler,
    }


@functools.cache
def _estimator_compilers() -> dict[type, EstimatorCompiler]:
    """Every estimator class ``pipeline.py`` builds that has a compiled form, by class object.

    ``HistGradientBoostingRegressor`` has none: its fitted trees are private state, and its
    own ``predict`` on the model matrix is fast.
    """
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import GradientBoostingRegressor, VotingRegressor
    from sklearn.linear_model import ElasticNet, Lasso

    from regression_model.processing.boosted_trees import XGBoostTreesRegressor
    from regression_model.processing.price_band import PriceBandRegressor
    from regression_model.processing.residual_trim import ResidualTrimmedRegressor

    return {
        PriceBandRegressor: _compile_price_band_regressor,
        ResidualTrimmedRegressor: _compile_residual_trimmed_regressor,
        TransformedTargetRegressor: _compile_transformed_target_regressor,
        VotingRegressor: _compile_voting_regressor,
        Lasso: _compile_linear_model,
        ElasticNet: _compile_linear_model,
        GradientBoostingRegressor: _compile_gradient_boosting,
        XGBoostTreesRegressor: _compile_xgboost_trees,
    }


def compiled_classes() -> frozenset[type]:
    """The step classes that have a compiled form."""
    return frozenset([*_transformer_compilers(), *_estimator_compilers()])


def compile_estimator(estimator: Any, *, step_name: str) -> EstimatorFunction:
    """The compiled form of a fitted estimator, falling back to its own ``predict``.

    Parameters
    ----------
    estimator : estimator
        A fitted regressor.
    step_name : str
        The pipeline step it belongs to, for the warning if its compiler fails.

    Returns
    -------
    callable
        Predictions from the model matrix, rows by features.
    """
    compiler = _estimator_compilers().get(type(estimator))
    compiled = _compile_guarded(
        None if compiler is None else functools.partial(compiler, estimator, step_name),
        estimator,
        step_name,
    )

    def fallback(matrix: FloatArray) -> FloatArray:
        return np.asarray(estimator.predict(matrix), dtype=np.float64)

    if compiled is None:
        return fallback

    def run(matrix: FloatArray) -> FloatArray:
        try:
            prediction: FloatArray = compiled(matrix)
            return prediction
        except NotCompiled:
            return fallback(matrix)

    return run


# ---------------------------------------------------------------------------------------
# The scorer
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledStep:
    """One pipeline step: the fitted step and, if it has one, its compiled form."""

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
    fallback_steps : list of str
        The steps that run their own ``transform`` or ``predict``.
    """

    def __init__(
        self,
        steps: tuple[CompiledStep, ...],
        estimator: Any,
        estimate: EstimatorFunction,
        fallback_steps: list[str],
    ) -> None:
        self.steps = steps
        self._estimator = estimator
        self._estimate = estimate
        self.fallback_steps = fallback_steps

    def predict(self, frame: pd.DataFrame, *, rows: BoolArray | None = None) -> FloatArray:
        """The fitted pipeline's ``predict(frame)``, or ``predict(frame[rows])``.

        Parameters
        ----------
        frame : DataFrame
            Validated records, as ``validate_records`` returns them.
        rows : ndarray of bool, default=None
            Which rows to score. Selecting them here, after the columns are arrays, saves a
            DataFrame copy.

        Returns
        -------
        ndarray of float64
            One prediction per (selected) row.
        """
        n_rows = len(frame)
        if n_rows <= CHUNK_ROWS:
            return self.estimate(self.transform(frame, rows=rows))
        # Rows are scored independently, so a large batch goes through in chunks: the
        # widest intermediate (the model matrix) then takes memory for one chunk only.
        bounds = chunk_bounds(n_rows)
        return np.concatenate(
            [
                self.estimate(
                    self.transform(
                        frame.iloc[start:stop], rows=None if rows is None else rows[start:stop]
                    )
                )
                for start, stop in zip(bounds[:-1], bounds[1:])
            ]
        )

    def transform(self, frame: pd.DataFrame, *, rows: BoolArray | None = None) -> State:
        """The estimator's input for ``frame`` (or ``frame[rows]``): every step but the last.

        ``predict`` is ``estimate(transform(...))``, a chunk at a time. Apart, the two halves
        can run on different threads: this one holds the GIL for much of its time, the
        trees in ``estimate`` hardly at all. It does not chunk: its result, the model
        matrix, takes memory for all the rows it is given.
        """
        table = Table.from_arrays(frame.columns.tolist(), column_arrays(frame), len(frame))
        if rows is not None and not rows.all():
            # Selected after factorizing: copying codes is cheaper than copying objects.
            table = table.take(np.flatnonzero(rows))
        state: State = table
        if table.n_rows:
            for step in self.steps:
                state = step(state)
        return state

    def estimate(self, state: State) -> FloatArray:
        """The last step's predictions for what ``transform`` gave."""
        if isinstance(state, Table):
            if not state.n_rows:
                return np.empty(0)
            return np.asarray(self._estimator.predict(state.to_frame()), dtype=np.float64)
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
        Predicts as ``pipeline.predict`` does; compiled step classes run compiled, the
        others run their own ``transform`` and ``predict``.

    Examples
    --------
    >>> scorer = compile_pipeline(fitted_pipeline)  # doctest: +SKIP
    >>> scorer.predict(validated_frame)  # doctest: +SKIP
    array([208500.3, ...])
    """
    *transformers, (estimator_name, estimator) = pipeline.steps
    steps = tuple(
        CompiledStep(name, step, _compile_transformer(step, name))
        for name, step in transformers
        if step is not None and step != "passthrough"
    )
    estimate = compile_estimator(estimator, step_name=estimator_name)
    fallback_steps = [step.name for step in steps if step.compiled is None]
    if type(estimator) not in _estimator_compilers():
        fallback_steps.append(estimator_name)
    return PipelineScorer(steps, estimator, estimate, fallback_steps)


def _compile_transformer(step: Any, step_name: str) -> StepFunction | None:
    compiler = _transformer_compilers().get(type(step))
    compiled: StepFunction | None = _compile_guarded(
        None if compiler is None else functools.partial(compiler, step), step, step_name
    )
    return compiled
