"""Score tables of houses: one chunk of a file at a time, or a Dask DataFrame on a cluster.

``score_frame`` is the one place where a table becomes a ``prediction``, an ``error`` and a
``warning`` column. The command line streams files through it chunk by chunk, and
``predict_dask`` maps it over the partitions of a Dask DataFrame, so both score exactly as
``make_prediction`` does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from regression_model.predict import make_prediction
from regression_model.results import RowError, RowWarning

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pyarrow as pa

PREDICTION_COLUMN = "prediction"
ERROR_COLUMN = "error"
WARNING_COLUMN = "warning"
# Nullable string columns, NA where a row has no message. Not object: Dask cannot infer an
# Arrow type from an object column's meta, so to_parquet would fail on the scored frame.
MESSAGE_DTYPE = pd.StringDtype()
OUTPUT_COLUMNS = (PREDICTION_COLUMN, ERROR_COLUMN, WARNING_COLUMN)
# Added after OUTPUT_COLUMNS when a prediction interval is asked for.
LOWER_COLUMN = "lower"
UPPER_COLUMN = "upper"
INTERVAL_COLUMNS = (LOWER_COLUMN, UPPER_COLUMN)
# Added last when an explanation is asked for: the row's largest contributions in words.
EXPLANATION_COLUMN = "explanation"
# Joins the messages of a row with more than one error (or warning) into its one cell.
MESSAGE_SEPARATOR = "; "


@dataclass(frozen=True)
class ScoredRows:
    """The outcome of scoring a table, one entry per input row, in input order.

    Attributes
    ----------
    prices : ndarray of float64
        The predicted sale price in dollars, NaN where the row has errors.
    errors : list of str or None
        The row's error messages joined with ``"; "``, or ``None`` when it was scored.
    warnings : list of str or None
        The row's warnings joined with ``"; "``, or ``None`` when it has none.
    lower, upper : ndarray of float64 or None
        Each row's prediction interval in dollars, NaN where the row has errors; ``None``
        when no interval was asked for.
    explanations : list of str or None, or None
        Each priced row's largest contributions in words, joined with ``"; "``; ``None``
        where the row has errors. ``None`` when no explanation was asked for.
    """

    prices: npt.NDArray[np.float64]
    errors: list[str | None]
    warnings: list[str | None]
    lower: npt.NDArray[np.float64] | None = None
    upper: npt.NDArray[np.float64] | None = None
    explanations: list[str | None] | None = None

    @property
    def n_rows_with_errors(self) -> int:
        return sum(error is not None for error in self.errors)


def output_columns(*, has_interval: bool = False, has_explanation: bool = False) -> tuple[str, ...]:
    """The columns scoring adds: ``OUTPUT_COLUMNS``, ``lower`` and ``upper``, ``explanation``.

    The last three only when an interval, or an explanation, is asked for.
    """
    interval = INTERVAL_COLUMNS if has_interval else ()
    explanation = (EXPLANATION_COLUMN,) if has_explanation else ()
    return (*OUTPUT_COLUMNS, *interval, *explanation)


def check_no_output_columns(
    *, columns: Iterable[object], has_interval: bool = False, has_explanation: bool = False
) -> None:
    """Refuse input that already has a column the scored output would overwrite.

    Raises
    ------
    ValueError
        If ``columns`` holds ``prediction``, ``error`` or ``warning`` (or, with
        ``has_interval``, ``lower`` or ``upper``; with ``has_explanation``, ``explanation``).
    """
    added = output_columns(has_interval=has_interval, has_explanation=has_explanation)
    clashes = [name for name in added if name in set(columns)]
    if clashes:
        raise ValueError(
            f"the input already has the column(s) {clashes} that scoring adds; rename them first"
        )


def score_rows(
    *,
    input_data: pd.DataFrame,
    interval: float | None = None,
    explain: bool = False,
    explain_top: int | None = None,
) -> ScoredRows:
    """Score every row of a table: a price or the reasons there is none.

    Parameters
    ----------
    input_data : DataFrame
        Raw house records, as for ``make_prediction``; extra columns are ignored.
    interval : float, default=None
        A calibrated prediction-interval level, as for ``make_prediction``.
    explain, explain_top : bool, int or None
        Explain each priced row, as for ``make_prediction``.

    Returns
    -------
    ScoredRows
        Prices and joined error and warning messages, aligned by position with ``input_data``.
    """
    result = make_prediction(
        input_data=input_data,
        interval=interval,
        explain=explain,
        explain_top=explain_top,
    )
    # numpy turns None into NaN when asked for floats.
    prices = np.array(result.predictions, dtype=np.float64)
    return ScoredRows(
        prices=prices,
        errors=_joined_by_row(result.errors, n_rows=len(prices)),
        warnings=_joined_by_row(result.warnings, n_rows=len(prices)),
        lower=None if result.lower is None else np.array(result.lower, dtype=np.float64),
        upper=None if result.upper is None else np.array(result.upper, dtype=np.float64),
        explanations=(
            None
            if result.explanations is None
            else [
                None if found is None else MESSAGE_SEPARATOR.join(found.top)
                for found in result.explanations
            ]
        ),
    )


def _joined_by_row(found: Iterable[RowError | RowWarning], *, n_rows: int) -> list[str | None]:
    """Each row's messages joined into one cell, ``None`` for a row with none."""
    messages: defaultdict[int, list[str]] = defaultdict(list)
    for item in found:
        messages[item.row].append(item.message)
    cells: list[str | None] = [None] * n_rows
    for row, row_messages in messages.items():
        cells[row] = MESSAGE_SEPARATOR.join(row_messages)
    return cells


def score_frame(*, input_data: pd.DataFrame) -> pd.DataFrame:
    """Add a ``prediction``, an ``error`` and a ``warning`` column to a table of houses.

    Parameters
    ----------
    input_data : DataFrame
        Raw house records, as for ``make_prediction``.

    Returns
    -------
    DataFrame
        Every input column and the input index, unchanged and in order, then
        ``prediction`` (float64, the sale price in dollars, NaN where the row has errors)
        ``error`` (string: the row's messages joined with ``"; "``, NA when scored) and
        ``warning`` (string: the row's warnings joined the same way, NA when it has none).

    Raises
    ------
    ValueError
        If ``input_data`` already has a ``prediction``, ``error`` or ``warning`` column.

    Examples
    --------
    >>> from regression_model.config.core import get_config
    >>> from regression_model.processing.data_manager import load_dataset
    >>> houses = load_dataset(file_name=get_config().app.test_data_file).head(3)
    >>> scored = score_frame(input_data=houses)
    >>> list(scored.columns[-3:]), len(scored)
    (['prediction', 'error', 'warning'], 3)
    >>> bool(scored["error"].isna().all())
    True
    """
    check_no_output_columns(columns=input_data.columns)
    return attach_scores(input_data=input_data, scores=score_rows(input_data=input_data))


def attach_scores(*, input_data: pd.DataFrame, scores: ScoredRows) -> pd.DataFrame:
    """``input_data`` with ``scores`` as its ``prediction``, ``error`` and ``warning`` columns.

    Parameters
    ----------
    input_data : DataFrame
        The rows that were scored, or another view of them with the same rows in the same
        order (the command line attaches the scores to the CSV's cells as text).
    scores : ScoredRows
        The outcome of ``score_rows``, aligned with ``input_data`` by position.

    Returns
    -------
    DataFrame
        As described in ``score_frame``, then ``lower`` and ``upper`` (float64, NaN where
        the row has errors) when ``scores`` holds an interval.
    """
    intervals = (
        {}
        if scores.lower is None or scores.upper is None
        else {
            LOWER_COLUMN: pd.Series(scores.lower, index=input_data.index),
            UPPER_COLUMN: pd.Series(scores.upper, index=input_data.index),
        }
    )
    return input_data.assign(
        **{
            PREDICTION_COLUMN: pd.Series(scores.prices, index=input_data.index),
            ERROR_COLUMN: pd.Series(scores.errors, index=input_data.index, dtype=MESSAGE_DTYPE),
            WARNING_COLUMN: pd.Series(scores.warnings, index=input_data.index, dtype=MESSAGE_DTYPE),
            **intervals,
        }
    )


def attach_scores_to_table(*, table: pa.Table, scores: ScoredRows) -> pa.Table:
    """``table`` with ``scores`` as its last columns, as ``attach_scores`` adds them.

    Parameters
    ----------
    table : pyarrow.Table
        The rows that were scored, in the order they were scored.
    scores : ScoredRows
        The outcome of ``score_rows``, aligned with ``table`` by position.

    Returns
    -------
    pyarrow.Table
        Every column of ``table``, untouched, then ``prediction`` (float64, null where the
        row has errors), ``error`` and ``warning`` (strings, null when there are none), then
        ``lower`` and ``upper`` (float64, null where the row has errors) if ``scores`` has
        an interval, then ``explanation`` (string, null where the row has errors) if it has
        explanations.
    """
    import pyarrow as pa

    columns = {
        PREDICTION_COLUMN: pa.array(scores.prices, type=pa.float64(), from_pandas=True),
        ERROR_COLUMN: pa.array(scores.errors, type=pa.string()),
        WARNING_COLUMN: pa.array(scores.warnings, type=pa.string()),
    }
    if scores.lower is not None and scores.upper is not None:
        columns[LOWER_COLUMN] = pa.array(scores.lower, type=pa.float64(), from_pandas=True)
        columns[UPPER_COLUMN] = pa.array(scores.upper, type=pa.float64(), from_pandas=True)
    if scores.explanations is not None:
        columns[EXPLANATION_COLUMN] = pa.array(scores.explanations, type=pa.string())
    for name, column in columns.items():
        table = table.append_column(name, column)
    return table


def scored_schema(
    *, schema: pa.Schema, has_interval: bool = False, has_explanation: bool = False
) -> pa.Schema:
    """The schema ``attach_scores_to_table`` gives a table with ``schema``."""
    interval = np.empty(0) if has_interval else None
    no_scores = ScoredRows(
        prices=np.empty(0),
        errors=[],
        warnings=[],
        lower=interval,
        upper=interval,
        explanations=[] if has_explanation else None,
    )
    scored: pa.Schema = attach_scores_to_table(table=schema.empty_table(), scores=no_scores).schema
    return scored


def _score_partition(partition: pd.DataFrame) -> pd.DataFrame:
    """``score_frame`` with the positional signature ``map_partitions`` calls."""
    return score_frame(input_data=partition)


def predict_dask(*, input_data: dd.DataFrame) -> dd.DataFrame:
    """Score a Dask DataFrame partition by partition, lazily.

    Each partition is scored by ``score_frame`` in the worker that holds it. The trained
    pipeline is loaded once per worker process, on its first partition, and reused.

    Parameters
    ----------
    input_data : dask.dataframe.DataFrame
        Raw house records, as for ``make_prediction``.

    Returns
    -------
    dask.dataframe.DataFrame
        The input's columns, index and partitions, plus ``prediction`` (float64),
        ``error`` and ``warning`` (strings) as in ``score_frame``. Nothing runs until it is
        computed.

    Raises
    ------
    ImportError
        If Dask is not installed (``pip install 'ames-price-model[dask]'``).
    ValueError
        If ``input_data`` already has a ``prediction``, ``error`` or ``warning`` column.

    Examples
    --------
    >>> import dask.dataframe as dd  # doctest: +SKIP
    >>> scored = predict_dask(input_data=dd.read_parquet("houses/"))  # doctest: +SKIP
    >>> scored.to_parquet("scored/")  # doctest: +SKIP
    """
    try:
        # make_meta is documented under dask.dataframe.utils, which re-exports it untyped.
        from dask.dataframe.utils import make_meta  # type: ignore[attr-defined]
    except ImportError as error:
        raise ImportError(
            "predict_dask needs Dask: pip install 'ames-price-model[dask]'"
        ) from error
    check_no_output_columns(columns=input_data.columns)
    # The meta is the empty frame score_frame returns, so Dask knows the output's columns
    # and dtypes without scoring anything.
    meta = make_meta(input_data).assign(  # type: ignore[no-untyped-call]
        **{
            PREDICTION_COLUMN: pd.Series(dtype="float64"),
            ERROR_COLUMN: pd.Series(dtype=MESSAGE_DTYPE),
            WARNING_COLUMN: pd.Series(dtype=MESSAGE_DTYPE),
        }
    )
    scored: dd.DataFrame = input_data.map_partitions(  # type: ignore[no-untyped-call]
        _score_partition, meta=meta
    )
    return scored
