"""Batch scoring: score_frame on pandas chunks and predict_dask on a Dask cluster."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from regression_model import predict
from regression_model.batch import (
    ERROR_COLUMN,
    OUTPUT_COLUMNS,
    PREDICTION_COLUMN,
    WARNING_COLUMN,
    predict_dask,
    score_frame,
)
from regression_model.config.core import Config
from regression_model.predict import make_prediction
from regression_model.processing import data_manager
from regression_model.results import PredictionResult, RowError, RowWarning

# Rows and partitions of the dataset the cluster scores: enough rows that partitions
# interleave across both workers, few enough to stay well under a minute on two cores.
CLUSTER_ROWS = 200_000
CLUSTER_PARTITIONS = 8


def _prices(result: PredictionResult) -> npt.NDArray[np.float64]:
    return np.array(result.predictions, dtype=np.float64)


def _error_cells(errors: pd.Series) -> list[str | None]:
    """The error column as plain values: the messages, or None where the row was scored."""
    return [None if pd.isna(cell) else str(cell) for cell in errors]


def _joined(found: list[RowError] | list[RowWarning], n_rows: int) -> list[str | None]:
    """The cell make_prediction's errors (or warnings) should give each row."""
    messages: list[list[str]] = [[] for _ in range(n_rows)]
    for item in found:
        messages[item.row].append(item.message)
    return ["; ".join(row) if row else None for row in messages]


def test_score_frame_keeps_every_input_column_index_and_row_and_adds_outputs(
    raw_records: pd.DataFrame,
) -> None:
    # Given records under a shuffled, non-default index, one row with two bad values and one
    # with two values outside the training range
    records = raw_records.set_index(pd.Index(np.arange(len(raw_records))[::-1] * 10))
    records.loc[records.index[3], ["GrLivArea", "OverallQual"]] = [-5, 0]
    records.loc[records.index[5], ["GrLivArea", "1stFlrSF"]] = [9000, 9000]

    # When the frame is scored
    scored = score_frame(input_data=records)

    # Then the input comes back unchanged, then the three new columns
    assert list(scored.columns) == [*records.columns, *OUTPUT_COLUMNS]
    pd.testing.assert_frame_equal(scored[records.columns], records)
    # ... and each row's price and error are make_prediction's for that row
    expected = make_prediction(input_data=records)
    np.testing.assert_allclose(scored[PREDICTION_COLUMN].to_numpy(), _prices(expected), rtol=1e-9)
    assert _error_cells(scored[ERROR_COLUMN]) == _joined(expected.errors, len(records))
    assert _error_cells(scored[WARNING_COLUMN]) == _joined(expected.warnings, len(records))
    assert scored[ERROR_COLUMN].iloc[3].count("; ") == 1
    assert scored[WARNING_COLUMN].iloc[5].count("; ") == 1
    assert scored[PREDICTION_COLUMN].dtype == np.float64
    assert scored[ERROR_COLUMN].dtype == scored[WARNING_COLUMN].dtype == pd.StringDtype()


def test_score_frame_does_not_change_its_input(raw_records: pd.DataFrame) -> None:
    # Given a frame and a copy of it
    before = raw_records.copy()

    # When it is scored
    score_frame(input_data=raw_records)

    # Then the caller's frame is as it was
    pd.testing.assert_frame_equal(raw_records, before)


@pytest.mark.parametrize("column", OUTPUT_COLUMNS)
def test_score_frame_refuses_input_that_has_an_output_column(
    raw_records: pd.DataFrame, column: str
) -> None:
    # Given input that already has a column scoring would add
    records = raw_records.assign(**{column: 1.0})

    # When it is scored, then scoring refuses rather than overwrite the column
    with pytest.raises(ValueError, match=f"already has the column.*'{column}'"):
        score_frame(input_data=records)


def test_score_frame_of_no_rows_has_the_output_columns(raw_records: pd.DataFrame) -> None:
    # Given a frame with the columns but no rows
    empty = raw_records.head(0)

    # When it is scored
    scored = score_frame(input_data=empty)

    # Then it is empty, with the output columns and dtypes
    assert len(scored) == 0
    assert list(scored.columns) == [*empty.columns, *OUTPUT_COLUMNS]
    assert scored[PREDICTION_COLUMN].dtype == np.float64


def test_predict_dask_without_dask_says_how_to_install_it(
    raw_records: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a Python where Dask cannot be imported
    monkeypatch.setitem(sys.modules, "dask.dataframe.utils", None)

    # When predict_dask is called, then the error names the extra to install
    with pytest.raises(ImportError, match=r"ames-price-model\[dask\]"):
        predict_dask(input_data=raw_records)  # type: ignore[arg-type]


def test_predict_dask_meta_matches_the_computed_frame(raw_records: pd.DataFrame) -> None:
    """Check that the lazy frame's declared columns and dtypes are those it computes."""
    dd = pytest.importorskip("dask.dataframe")

    # Given a small Dask DataFrame in three partitions
    ddf = dd.from_pandas(raw_records, npartitions=3)

    # When it is scored lazily, then computed on the local scheduler
    scored = predict_dask(input_data=ddf)
    computed = scored.compute(scheduler="synchronous")  # type: ignore[no-untyped-call]

    # Then the declared dtypes are the computed ones, and the rows match make_prediction
    pd.testing.assert_series_equal(scored.dtypes, computed.dtypes)
    assert scored.npartitions == 3
    expected = make_prediction(input_data=raw_records)
    np.testing.assert_allclose(computed[PREDICTION_COLUMN].to_numpy(), _prices(expected))


def test_predict_dask_on_categorical_columns_matches_make_prediction(
    config: Config, raw_records: pd.DataFrame
) -> None:
    """Check that Dask partitions of pandas categoricals score as the plain frame does.

    Non-regression test for #10: categorical columns reached the model as they came.
    """
    dd = pytest.importorskip("dask.dataframe")

    # Given the records with every text column of the model as a pandas categorical
    text_columns = [name for name in config.model.features if raw_records[name].dtype == "str"]
    categorical = raw_records.astype({name: "category" for name in text_columns})
    ddf = dd.from_pandas(categorical, npartitions=3)

    # When it is scored on the local scheduler
    lazy = predict_dask(input_data=ddf)
    scored = lazy.compute(scheduler="synchronous")  # type: ignore[no-untyped-call]

    # Then every row gets the price and the errors make_prediction gives the plain records
    expected = make_prediction(input_data=raw_records)
    assert text_columns
    np.testing.assert_allclose(scored[PREDICTION_COLUMN].to_numpy(), _prices(expected), rtol=1e-12)
    assert _error_cells(scored[ERROR_COLUMN]) == _joined(expected.errors, len(raw_records))


def test_predict_dask_loads_the_model_once_however_many_partitions(
    raw_records: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check that partitions reuse the process's loaded model instead of loading their own."""
    dd = pytest.importorskip("dask.dataframe")

    # Given a process that has not loaded the model, and a frame in five partitions
    loads: list[str] = []
    real_load_pipeline = data_manager.load_pipeline

    def counted_load_pipeline(*, pipeline_name: str) -> Any:
        loads.append(pipeline_name)
        return real_load_pipeline(pipeline_name=pipeline_name)

    monkeypatch.setattr("regression_model.predict.load_pipeline", counted_load_pipeline)
    predict._load_trained_model.cache_clear()
    ddf = dd.from_pandas(raw_records, npartitions=5)

    # When every partition is scored in this process
    try:
        lazy = predict_dask(input_data=ddf)
        lazy.compute(scheduler="synchronous")  # type: ignore[no-untyped-call]
    finally:
        predict._load_trained_model.cache_clear()

    # Then the model was loaded once
    assert len(loads) == 1


# Dask's Parquet writer still passes inplace=True to DataFrame.set_index/reset_index, which
# pandas 3.1 deprecates (a Pandas4Warning, a DeprecationWarning); nothing of ours does.
@pytest.mark.filterwarnings(
    r"ignore:The inplace keyword in DataFrame\.\w+ is deprecated:DeprecationWarning"
)
def test_predict_dask_output_writes_to_parquet(raw_records: pd.DataFrame, tmp_path: Path) -> None:
    """Check that a batch job can write the scored frame as Parquet, which needs a typed meta.

    Non-regression test: an object-dtype error column made Dask's to_parquet fail.
    """
    dd = pytest.importorskip("dask.dataframe")

    # Given a scored Dask DataFrame with one bad row
    records = raw_records.copy()
    records.loc[4, "GrLivArea"] = -5
    scored = predict_dask(input_data=dd.from_pandas(records, npartitions=2))

    # When it is written as Parquet on the local scheduler
    scored.to_parquet(  # type: ignore[no-untyped-call]
        tmp_path / "scored", compute_kwargs={"scheduler": "synchronous"}
    )

    # Then reading it back gives the prices and the one error
    written = pd.read_parquet(tmp_path / "scored")
    expected = make_prediction(input_data=records)
    np.testing.assert_allclose(written[PREDICTION_COLUMN].to_numpy(), _prices(expected))
    assert _error_cells(written[ERROR_COLUMN]) == _joined(expected.errors, len(records))


def _cluster_dataset(test_records: pd.DataFrame, directory: Path) -> pd.DataFrame:
    """Write test.csv, repeated to ``CLUSTER_ROWS`` rows with bad rows mixed in, as Parquet.

    Every row gets its own Id and LotArea, so that any row scored out of place changes a
    price. Returns the whole dataset, as the partitions hold it.
    """
    n_copies = -(-CLUSTER_ROWS // len(test_records))
    data = pd.concat([test_records] * n_copies, ignore_index=True)
    positions = np.arange(len(data))
    data["Id"] = positions
    data["LotArea"] = data["LotArea"] + positions % 1000
    data.loc[positions % 997 == 5, "GrLivArea"] = -5
    data.loc[positions % 1499 == 7, "OverallQual"] = 0
    data.loc[positions % 1999 == 11, "Neighborhood"] = None
    directory.mkdir()
    for part, rows in enumerate(np.array_split(positions, CLUSTER_PARTITIONS)):
        data.iloc[rows].to_parquet(directory / f"part-{part:03d}.parquet", index=False)
    return data


def test_predict_dask_on_a_two_worker_cluster_matches_make_prediction_row_for_row(
    test_records: pd.DataFrame, tmp_path: Path
) -> None:
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    from regression_model.predict import _load_trained_model

    # Given a Parquet dataset of 200,000+ rows in 8 partitions, some rows bad
    data = _cluster_dataset(test_records, tmp_path / "houses")
    assert len(data) >= CLUSTER_ROWS

    # When a two-process cluster scores it
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        ddf = dd.read_parquet(tmp_path / "houses")
        future = client.compute(predict_dask(input_data=ddf))
        # Score the reference in memory while the workers run: the three share two cores.
        expected = make_prediction(input_data=data)
        scored = future.result()
        pipeline_loads: dict[str, Any] = client.run(_load_trained_model.cache_info)

    # Then every row is there, in order, with make_prediction's price and errors
    assert len(scored) == len(data)
    np.testing.assert_array_equal(scored["Id"].to_numpy(), data["Id"].to_numpy())
    np.testing.assert_allclose(scored[PREDICTION_COLUMN].to_numpy(), _prices(expected), rtol=1e-9)
    assert _error_cells(scored[ERROR_COLUMN]) == _joined(expected.errors, len(data))
    assert scored[ERROR_COLUMN].notna().sum() > 300
    # ... and both workers scored, each loading the model once
    assert [info.misses for info in pipeline_loads.values()] == [1, 1]
