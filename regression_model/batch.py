"""Score tables of houses: one chunk of a file at a time, or a Dask DataFrame on a cluster.

``score_frame`` is the one place where a table becomes a ``prediction`` and an ``error``
column. The command line streams files through it chunk by chunk, and ``predict_dask`` maps it
over the partitions of a Dask DataFrame, so both score exactly as ``make_prediction`` does.
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

if TYPE_CHECKING:
    import dask.dataframe as dd

PREDICTION_COLUMN = "prediction"
ERROR_COLUMN = "error"
# A nullable string column, NA where a row was scored. Not object: Dask cannot infer an Arrow
# type from an object column's meta, so to_parquet would fail on the scored frame.
ERROR_DTYPE = pd.StringDtype()
OUTPUT_COLUMNS = (PREDICTION_COLUMN, ERROR_COLUMN)
# Joins the messages of a row with more than one error into its one error cell.
ERROR_SEPARATOR = "; "


@dataclass(frozen=True)
class ScoredRows:
    """The outcome of scoring a table, one entry per input row, in input order.

    Attributes
    ----------
    prices : ndarray of float64
        The predicted sale price in dollars, NaN where the row has errors.
    errors : list of str or None
        The row's error messages joined with ``"; "``, or ``None`` when it was scored.
    """

    prices: npt.NDArray[np.float64]
    errors: list[str | None]

    @property
    def n_rows_with_errors(self) -> int:
        return sum(error is not None for error in self.errors)


def check_no_output_columns(*, columns: Iterable[object]) -> None:
    """Refuse input that already has a column the scored output would overwrite.

    Raises
    ------
    ValueError
        If ``columns`` holds ``prediction`` or ``error``.
    """
    clashes = [name for name in OUTPUT_COLUMNS if name in set(columns)]
    if clashes:
        raise ValueError(
            f"the input already has the column(s) {clashes} that scoring adds; rename them first"
        )


def score_rows(*, input_data: pd.DataFrame) -> ScoredRows:
    """Score every row of a table: a price or the reasons there is none.

    Parameters
    ----------
    input_data : DataFrame
        Raw house records, as for ``make_prediction``; extra columns are ignored.

    Returns
    -------
    ScoredRows
        Prices and joined error messages, aligned by position with ``input_data``.
    """
    result = make_prediction(input_data=input_data)
    # numpy turns None into NaN when asked for floats.
    prices = np.array(result.predictions, dtype=np.float64)
    messages: defaultdict[int, list[str]] = defaultdict(list)
    for error in result.errors:
        messages[error.row].append(error.message)
    errors: list[str | None] = [None] * len(prices)
    for row, row_messages in messages.items():
        errors[row] = ERROR_SEPARATOR.join(row_messages)
    return ScoredRows(prices=prices, errors=errors)


def score_frame(*, input_data: pd.DataFrame) -> pd.DataFrame:
    """Add a ``prediction`` and an ``error`` column to a table of houses.

    Parameters
    ----------
    input_data : DataFrame
        Raw house records, as for ``make_prediction``.

    Returns
    -------
    DataFrame
        Every input column and the input index, unchanged and in order, then
        ``prediction`` (float64, the sale price in dollars, NaN where the row has errors)
        and ``error`` (string: the row's messages joined with ``"; "``, NA when scored).

    Raises
    ------
    ValueError
        If ``input_data`` already has a ``prediction`` or ``error`` column.

    Examples
    --------
    >>> from regression_model.config.core import get_config
    >>> from regression_model.processing.data_manager import load_dataset
    >>> houses = load_dataset(file_name=get_config().app.test_data_file).head(3)
    >>> scored = score_frame(input_data=houses)
    >>> list(scored.columns[-2:]), len(scored)
    (['prediction', 'error'], 3)
    >>> bool(scored["error"].isna().all())
    True
    """
    check_no_output_columns(columns=input_data.columns)
    return attach_scores(input_data=input_data, scores=score_rows(input_data=input_data))


def attach_scores(*, input_data: pd.DataFrame, scores: ScoredRows) -> pd.DataFrame:
    """``input_data`` with ``scores`` as its ``prediction`` and ``error`` columns.

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
        As described in ``score_frame``.
    """
    return input_data.assign(
        **{
            PREDICTION_COLUMN: pd.Series(scores.prices, index=input_data.index),
            ERROR_COLUMN: pd.Series(scores.errors, index=input_data.index, dtype=ERROR_DTYPE),
        }
    )


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
        The input's columns, index and partitions, plus ``prediction`` (float64) and
        ``error`` (string) as in ``score_frame``. Nothing runs until it is computed.

    Raises
    ------
    ImportError
        If Dask is not installed (``pip install 'ames-price-model[dask]'``).
    ValueError
        If ``input_data`` already has a ``prediction`` or ``error`` column.

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
            ERROR_COLUMN: pd.Series(dtype=ERROR_DTYPE),
        }
    )
    scored: dd.DataFrame = input_data.map_partitions(  # type: ignore[no-untyped-call]
        _score_partition, meta=meta
    )
    return scored
