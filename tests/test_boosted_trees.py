"""The boosted trees: XGBoost's predictor and the numpy walk agree bit for bit, always."""

from __future__ import annotations

import copy
import functools
import logging
import pickle
import subprocess
import sys
import threading
import weakref
from typing import Any

import numpy as np
import pandas as pd
import pytest

from regression_model import predict
from regression_model.config.core import Config
from regression_model.predict import THREADS_VARIABLE, scoring_threads
from regression_model.processing import boosted_trees
from regression_model.processing.boosted_trees import WALK_MAX_ROWS, XGBoostTreesRegressor
from regression_model.processing.residual_trim import predicting_estimator
from regression_model.processing.scoring import CHUNK_ROWS, chunk_bounds
from regression_model.processing.validation import validate_records


def _shipped_trees() -> XGBoostTreesRegressor:
    blend = predict._trained_model().pipeline[-1].regressor_.regressor_
    members = [predicting_estimator(member) for member in blend.estimators_]
    return next(m for m in members if isinstance(m, XGBoostTreesRegressor))


def _model_matrix(records: pd.DataFrame, config: Config) -> Any:
    """What the shipped model's trees see for every valid row of ``records``, as float32."""
    model = predict._trained_model()
    validated = validate_records(records=records, schema=config.model.inputs, domain=model.domain)
    matrix = model.pipeline[:-1].transform(validated.frame[validated.is_valid])
    return np.ascontiguousarray(matrix, dtype=np.float32)


@pytest.fixture()
def trees_without_xgboost(monkeypatch: pytest.MonkeyPatch) -> XGBoostTreesRegressor:
    """A fresh copy of the shipped trees, in a process where ``import xgboost`` fails.

    The shipped trees load their booster first, so that they still score with XGBoost.
    """
    assert _shipped_trees()._loaded_booster() is not None
    monkeypatch.setitem(sys.modules, "xgboost", None)  # makes the import raise ImportError
    trees: XGBoostTreesRegressor = pickle.loads(pickle.dumps(_shipped_trees()))
    return trees


@pytest.mark.parametrize("records_fixture", ["train_records", "test_records"])
def test_the_walk_gives_xgboosts_predictions_bit_for_bit_on_every_shipped_row(
    config: Config, records_fixture: str, request: pytest.FixtureRequest
) -> None:
    # Given the shipped trees and the model matrix of every valid row of a shipped dataset
    trees = _shipped_trees()
    matrix = _model_matrix(request.getfixturevalue(records_fixture), config)
    assert len(matrix) > WALK_MAX_ROWS  # so that score() asks XGBoost

    # When XGBoost's predictor and the numpy walk score them
    by_xgboost = trees.score(matrix)
    by_walk = trees.walk(matrix)

    # Then every price is the same to the last bit
    assert np.array_equal(by_xgboost, by_walk)


def test_missing_values_go_the_way_xgboost_sends_them() -> None:
    # Given trees fitted on data with missing values, and rows with them in every column
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 4))
    features[rng.random(features.shape) < 0.2] = np.nan
    target = np.nansum(features, axis=1)
    trees = XGBoostTreesRegressor(n_estimators=30, max_depth=3).fit(features, target)
    rows = np.ascontiguousarray(features, dtype=np.float32)

    # When XGBoost and the walk score them
    # Then they agree bit for bit
    assert np.array_equal(trees.score(rows), trees.walk(rows))


def test_a_row_walks_alike_alone_or_beside_rows_with_missing_values() -> None:
    """Check the walk that skips default ways (no missing value) against the one that
    follows them, row by row."""
    # Given trees fitted with missing values, and rows of which only some miss a value
    rng = np.random.default_rng(1)
    features = rng.normal(size=(200, 4))
    features[rng.random(features.shape) < 0.2] = np.nan
    trees = XGBoostTreesRegressor(n_estimators=30, max_depth=3).fit(
        features, np.nansum(features, axis=1)
    )
    rows = np.ascontiguousarray(features[:WALK_MAX_ROWS], dtype=np.float32)
    rows[0] = 0.5  # a row with no missing value, walked beside rows that have some
    assert np.isnan(rows[1:]).any()

    # When they are walked together, and each alone
    together = trees.walk(rows)
    alone = [trees.walk(rows[[position]])[0] for position in range(len(rows))]

    # Then each row gets the same price, which is XGBoost's, and the layout is not pickled
    assert np.array_equal(together, alone)
    assert np.array_equal(together, trees._loaded_booster().inplace_predict(rows))
    assert "_layout" in trees.__dict__ and "_layout" not in trees.__getstate__()


def test_training_twice_gives_the_same_trees_byte_for_byte(
    training_sample: tuple[pd.DataFrame, pd.Series], fitted_pipeline: Any
) -> None:
    # Given the sample's model matrix and target
    features, target = training_sample
    matrix = fitted_pipeline[:-1].transform(features)

    # When the trees are trained on it twice
    first, second = (
        XGBoostTreesRegressor(n_estimators=50, subsample=0.8, colsample_bytree=0.5).fit(
            matrix, np.log(target)
        )
        for _ in range(2)
    )

    # Then the boosters are identical
    assert first.booster_ == second.booster_


def test_without_xgboost_the_trees_score_in_numpy_with_one_warning_and_the_same_prices(
    trees_without_xgboost: XGBoostTreesRegressor,
    config: Config,
    test_records: pd.DataFrame,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given the model matrix of test.csv, and what the shipped trees (with XGBoost) give
    matrix = _model_matrix(test_records, config)
    expected = _shipped_trees().score(matrix)

    # When trees that cannot load XGBoost score it twice
    with caplog.at_level(logging.WARNING, logger=boosted_trees.__name__):
        first = trees_without_xgboost.score(matrix)
        second = trees_without_xgboost.score(matrix)

    # Then the prices are XGBoost's bit for bit, and one warning said why
    assert np.array_equal(first, expected) and np.array_equal(second, expected)
    assert len(caplog.records) == 1
    assert (
        caplog.records[0]
        .getMessage()
        .startswith("XGBoost could not load the boosted trees (ModuleNotFoundError")
    )


def test_a_pickled_model_scores_one_house_without_importing_xgboost(
    test_records: pd.DataFrame,
) -> None:
    # Given a new interpreter
    code = (
        "import sys, pandas as pd\n"
        "from regression_model.predict import make_prediction\n"
        "from regression_model.config.core import DATASET_DIR\n"
        "houses = pd.read_csv(DATASET_DIR / 'test.csv').head(1)\n"
        "result = make_prediction(input_data=houses)\n"
        "print(result.predictions[0] is not None, 'xgboost' in sys.modules)\n"
    )

    # When it loads the model and prices one house
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    # Then it priced it, and never imported XGBoost
    assert completed.stdout.split() == ["True", "False"]


def test_one_thread_or_two_give_the_same_result_to_the_last_bit(
    test_records: pd.DataFrame,
) -> None:
    """One thread does all the work; with two, the caller prepares chunks the others price."""
    # Given a batch of several chunks, with rows that have errors and warnings
    houses = pd.concat([test_records] * (2 * CHUNK_ROWS // len(test_records) + 1))
    assert len(houses) > 2 * CHUNK_ROWS

    # When it is scored, with intervals, on one thread and on two
    one = predict.make_prediction(input_data=houses, interval=0.9, threads=1)
    two = predict.make_prediction(input_data=houses, interval=0.9, threads=2)

    # Then every price, range, error and warning is the same, at the same row
    assert one.errors and one.warnings
    assert one == two


@pytest.mark.parametrize(
    ("n_rows", "threads", "schedule"),
    [
        (1, 2, "caller"),  # one house: no thread is started
        (CHUNK_ROWS, 2, "caller"),
        (3 * CHUNK_ROWS, 1, "caller"),
        (CHUNK_ROWS + 1, 2, "a chunk each"),  # as many chunks as threads
        (3 * CHUNK_ROWS, 3, "a chunk each"),
        (3 * CHUNK_ROWS, 2, "pipeline"),
        (6 * CHUNK_ROWS, 3, "pipeline"),
    ],
)
def test_where_a_batchs_chunks_are_prepared_and_priced(
    monkeypatch: pytest.MonkeyPatch,
    test_records: pd.DataFrame,
    n_rows: int,
    threads: int,
    schedule: str,
) -> None:
    # Given a batch, and a note of the thread each chunk is prepared and priced on
    houses = pd.concat([test_records] * (n_rows // len(test_records) + 1)).head(n_rows)
    threads_of: dict[str, list[threading.Thread]] = {"prepared": [], "priced": []}
    for stage in threads_of:
        work = getattr(predict, f"_{stage}")

        def noted(*args: Any, _work: Any = work, _seen: Any = threads_of[stage], **kw: Any) -> Any:
            _seen.append(threading.current_thread())
            return _work(*args, **kw)

        monkeypatch.setattr(predict, f"_{stage}", functools.wraps(work)(noted))

    # When it is priced
    result = predict.make_prediction(input_data=houses, threads=threads)

    # Then each chunk was prepared and priced once, on at most the threads asked for: all
    # on the caller; or each chunk on a pool thread of its own; or prepared by the caller
    # and priced by the pool, the caller helping
    assert len(result.predictions) == n_rows
    n_chunks = len(chunk_bounds(n_rows)) - 1
    prepared, priced = threads_of["prepared"], threads_of["priced"]
    assert len(prepared) == len(priced) == n_chunks
    caller = threading.current_thread()
    if schedule == "caller":
        assert set(prepared) == set(priced) == {caller}
    elif schedule == "a chunk each":
        assert caller not in prepared and set(prepared) == set(priced)
        assert len(set(prepared)) <= threads
    else:
        assert set(prepared) == {caller}
        assert 1 <= len(set(priced) - {caller}) <= threads - 1


def test_a_pipelined_batch_holds_only_a_few_chunks_at_once(
    monkeypatch: pytest.MonkeyPatch, test_records: pd.DataFrame
) -> None:
    """A prepared chunk holds its model matrix: it must be let go of once it is priced."""
    # Given a batch of many chunks, and a count of the prepared chunks still alive
    houses = pd.concat([test_records] * (8 * CHUNK_ROWS // len(test_records) + 1))
    made: list[weakref.ref[Any]] = []
    most_alive = []
    prepare = predict._prepared

    def prepared(*args: Any, **kwargs: Any) -> Any:
        found = prepare(*args, **kwargs)
        made.append(weakref.ref(found))
        most_alive.append(sum(chunk() is not None for chunk in made))
        return found

    monkeypatch.setattr(predict, "_prepared", prepared)

    # When it is priced on two threads
    result = predict.make_prediction(input_data=houses, threads=2)

    # Then at most a few chunks were alive at once, however many there were
    assert len(result.predictions) == len(houses)
    assert len(most_alive) == len(chunk_bounds(len(houses))) - 1 >= 8
    assert max(most_alive) <= 4


def test_a_batch_cut_elsewhere_gives_each_row_the_same_result(
    test_records: pd.DataFrame,
) -> None:
    # Given a batch of several chunks, and a cut that is no chunk boundary
    houses = pd.concat([test_records] * (2 * CHUNK_ROWS // len(test_records) + 1))
    cut = 1001

    # When the whole is scored, and the rows before and after the cut apart
    whole = predict.make_prediction(input_data=houses, interval=0.9, threads=2)
    head = predict.make_prediction(input_data=houses.iloc[:cut], interval=0.9)
    tail = predict.make_prediction(input_data=houses.iloc[cut:], interval=0.9, threads=2)

    # Then each row's price, range, errors and warnings are those it gets in its piece
    assert whole.predictions == head.predictions + tail.predictions
    assert whole.lower == (head.lower or []) + (tail.lower or [])
    assert whole.upper == (head.upper or []) + (tail.upper or [])
    for found in ("errors", "warnings"):
        pieces = [(item.row, item.message) for item in getattr(head, found)] + [
            (item.row + cut, item.message) for item in getattr(tail, found)
        ]
        assert [(item.row, item.message) for item in getattr(whole, found)] == pieces


@pytest.mark.parametrize(
    ("threads", "environment", "expected"),
    [
        (3, None, 3),
        (1, "4", 1),
        (None, "2", 2),
        (None, " 2 ", 2),
    ],
)
def test_the_thread_count_comes_from_the_call_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, threads: int | None, environment: str | None, expected: int
) -> None:
    # Given the environment's setting, or none
    if environment is None:
        monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(THREADS_VARIABLE, environment)

    # When the thread count is decided
    # Then the call's count wins, then the environment's
    assert scoring_threads(threads) == expected


def test_without_a_setting_every_usable_core_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    assert scoring_threads() == len(__import__("os").sched_getaffinity(0))


@pytest.mark.parametrize(
    ("threads", "environment", "message"),
    [
        (0, None, "threads=0: the thread count must be a whole number of at least 1"),
        (-2, None, "threads=-2: the thread count must be a whole number of at least 1"),
        (True, None, "threads=True: the thread count must be a whole number of at least 1"),
        (
            None,
            "many",
            f"{THREADS_VARIABLE}='many': the thread count must be a whole number of at least 1",
        ),
        (
            None,
            "0",
            f"{THREADS_VARIABLE}='0': the thread count must be a whole number of at least 1",
        ),
    ],
)
def test_a_thread_count_below_one_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, threads: Any, environment: str | None, message: str
) -> None:
    if environment is not None:
        monkeypatch.setenv(THREADS_VARIABLE, environment)
    with pytest.raises(ValueError, match=f"^{message.replace('(', '.').replace(')', '.')}$"):
        scoring_threads(threads)


def test_make_prediction_refuses_a_bad_thread_count_before_scoring(
    raw_records: pd.DataFrame,
) -> None:
    with pytest.raises(ValueError, match="thread count"):
        predict.make_prediction(input_data=raw_records, threads=0)


def test_a_deep_copy_of_loaded_trees_scores_as_the_original(test_records: pd.DataFrame) -> None:
    # Given shipped trees whose booster is loaded, and a deep copy of them
    trees = _shipped_trees()
    matrix = np.zeros((WALK_MAX_ROWS + 1, trees.n_features_in_), dtype=np.float32)
    trees.score(matrix)
    duplicate = copy.deepcopy(trees)

    # When both score
    # Then they agree
    assert np.array_equal(duplicate.score(matrix), trees.score(matrix))
