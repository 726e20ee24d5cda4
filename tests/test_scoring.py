"""The compiled scorer: the fitted pipeline's predictions, step by step and end to end."""

from __future__ import annotations

import copy
import functools
import logging
import re
from collections.abc import Callable
from typing import Any, get_args
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from feature_engine.creation import MathFeatures
from feature_engine.encoding import RareLabelEncoder
from feature_engine.imputation import CategoricalImputer, MeanMedianImputer
from feature_engine.transformation import LogCpTransformer
from feature_engine.wrappers import SklearnTransformerWrapper
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    VotingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, RobustScaler

from regression_model import predict
from regression_model.config.core import Config, ModelSettings, SingleEstimator
from regression_model.pipeline import build_pipeline
from regression_model.processing import scoring
from regression_model.processing.boosted_trees import XGBoostTreesRegressor
from regression_model.processing.domain import PRICE_BAND
from regression_model.processing.features import (
    Mapper,
    PresenceFlags,
    RangeCapper,
    TemporalVariableTransformer,
    WeightedSums,
)
from regression_model.processing.price_band import PriceBandRegressor
from regression_model.processing.residual_trim import (
    ResidualTrimmedRegressor,
    predicting_estimator,
)
from regression_model.processing.scoring import (
    TREE_WALK_MAX_ROWS,
    CompiledStep,
    Labels,
    PipelineScorer,
    Table,
    compile_estimator,
    compile_pipeline,
    compiled_classes,
    weighted_row_sums,
)
from regression_model.processing.validation import ValidatedRecords, to_frame, validate_records

# The bar: the scorer gives the fitted pipeline's predictions to a relative 1e-9.
RTOL = 1e-9

# test.csv's row with the garage built in 2207, which validation rejects.
INVALID_TEST_ROW = 1132


@pytest.fixture()
def scorer(fitted_pipeline: Pipeline) -> PipelineScorer:
    """The sample pipeline compiled anew for each test (a few milliseconds).

    Compiling inside each test that scores, rather than once for a module, is what lets
    mutation testing (docs/mutation-testing.md) see every one of those tests exercise the
    compilers: it judges a change to a function by the tests during which that function ran.
    Tests under ``@given`` call ``compile_pipeline`` themselves, as Hypothesis refuses
    function-scoped fixtures.
    """
    return compile_pipeline(fitted_pipeline)


def _validated(records: pd.DataFrame, config: Config) -> ValidatedRecords:
    return validate_records(records=records, schema=config.model.inputs)


# ---------------------------------------------------------------------------------------
# End to end: the scorer against the pipeline it was compiled from
# ---------------------------------------------------------------------------------------


def test_every_step_of_the_fitted_pipeline_runs_compiled(
    scorer: PipelineScorer, config: Config, test_records: pd.DataFrame
) -> None:
    # Given the compiled sample pipeline, which found a compiled form for every step
    assert scorer.fallback_steps == []
    houses = _validated(test_records.head(20), config).frame

    # When it scores valid houses, with the fallback to a step's own transform made to fail
    with mock.patch.object(scoring, "run_fitted_transform", side_effect=AssertionError):
        prices = scorer.predict(houses)

    # Then every step ran compiled: no step gave up on the houses it was compiled for
    assert len(prices) == len(houses)


@pytest.mark.parametrize("records_fixture", ["train_records", "test_records"])
def test_scorer_matches_pipeline_on_every_valid_row(
    fitted_pipeline: Pipeline,
    scorer: PipelineScorer,
    config: Config,
    records_fixture: str,
    request: pytest.FixtureRequest,
) -> None:
    # Given every row of a shipped dataset, validated as make_prediction does
    records: pd.DataFrame = request.getfixturevalue(records_fixture)
    validated = _validated(records, config)
    assert validated.is_valid.sum() >= len(records) - 1  # test.csv's year 2207

    # When the pipeline and the scorer (selecting rows, or given only valid rows) predict
    expected = fitted_pipeline.predict(validated.frame[validated.is_valid])
    selected = scorer.predict(validated.frame, rows=validated.is_valid)
    from_frame = scorer.predict(validated.frame[validated.is_valid])

    # Then all three agree on every row
    np.testing.assert_allclose(selected, expected, rtol=RTOL)
    np.testing.assert_allclose(from_frame, expected, rtol=RTOL)


@pytest.mark.parametrize("records_fixture", ["train_records", "test_records"])
def test_shipped_model_scores_as_its_pipeline_on_every_valid_row(
    config: Config, records_fixture: str, request: pytest.FixtureRequest
) -> None:
    """The sample pipeline above has fewer trees; the shipped model has the configured ones."""
    # Given the shipped model, with its scorer, and every row of a shipped dataset
    model = predict._trained_model()
    records: pd.DataFrame = request.getfixturevalue(records_fixture)
    validated = validate_records(records=records, schema=config.model.inputs, domain=model.domain)

    # When its pipeline and its scorer predict the valid rows
    expected = model.pipeline.predict(validated.frame[validated.is_valid])
    scored = model.scorer.predict(validated.frame, rows=validated.is_valid)

    # Then they agree on every row, with no step left to its own transform
    assert model.scorer.fallback_steps == []
    np.testing.assert_allclose(scored, expected, rtol=RTOL)


def test_scorer_matches_pipeline_on_rows_with_missing_labels(
    fitted_pipeline: Pipeline, scorer: PipelineScorer, config: Config, test_records: pd.DataFrame
) -> None:
    """Check every optional text column left empty: once per row, and all in one row."""
    # Given one house per optional text column with that label missing, and one with all
    schema = config.model.inputs
    optional = [name for name in schema.categorical if name not in schema.required]
    houses = test_records.iloc[: len(optional) + 1].copy()
    for row, name in zip(houses.index, optional):
        houses.loc[row, name] = np.nan
    houses.loc[houses.index[-1], optional] = np.nan
    validated = _validated(houses, config)
    assert validated.is_valid.all()

    # When the pipeline and the scorer predict
    expected = fitted_pipeline.predict(validated.frame)

    # Then they agree
    np.testing.assert_allclose(scorer.predict(validated.frame), expected, rtol=RTOL)


def test_reordered_columns_are_refused_as_the_pipeline_refuses_them(
    fitted_pipeline: Pipeline, scorer: PipelineScorer, config: Config, test_records: pd.DataFrame
) -> None:
    """Check that a step meeting columns in another order runs the fitted step, which raises."""
    # Given validated houses whose columns come in reverse order
    frame = _validated(test_records.head(40), config).frame
    reversed_frame = frame[frame.columns[::-1]]

    # When both predict
    # Then both refuse: the first step checks the columns against those seen in fit
    with pytest.raises(ValueError, match="feature names should match"):
        fitted_pipeline.predict(reversed_frame)
    with pytest.raises(ValueError, match="feature names should match"):
        scorer.predict(reversed_frame)


def _valid_value(config: Config, train_records: pd.DataFrame, name: str) -> st.SearchStrategy[Any]:
    """Values that validation accepts for column ``name``, missing ones where allowed."""
    schema = config.model.inputs
    is_optional = name not in schema.required
    missing = [st.none(), st.just(np.nan)] if is_optional else []
    for rule in schema.numeric.values():
        if name in rule.columns:
            low, high = int(rule.minimum), int(rule.maximum)
            numbers: st.SearchStrategy[Any] = (
                st.integers(low, high)
                if rule.whole_numbers
                else st.floats(rule.minimum, rule.maximum, allow_nan=False)
            )
            return st.one_of(numbers, *missing)
    known = sorted({str(label) for label in train_records[name].dropna()})
    unseen = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl", min_size=1, max_size=5)
    blanks = [st.sampled_from(["", "  "])] if is_optional else []
    return st.one_of(st.sampled_from(known), unseen, *missing, *blanks)


@settings(max_examples=40)
@given(data=st.data())
def test_scorer_matches_pipeline_on_generated_valid_rows(
    fitted_pipeline: Pipeline,
    config: Config,
    test_records: pd.DataFrame,
    train_records: pd.DataFrame,
    data: st.DataObject,
) -> None:
    # Given up to 40 valid houses (around the 16-row switch between the two ways to find
    # labels), each with a few values replaced by any value the schema allows
    features = list(config.model.features)
    positions = data.draw(
        st.lists(
            st.integers(0, len(test_records) - 1).filter(lambda p: p != INVALID_TEST_ROW),
            min_size=1,
            max_size=40,
        )
    )
    rows = test_records.iloc[positions]
    records: list[dict[str, Any]] = rows.to_dict(orient="records")  # type: ignore[assignment]
    for record in records:
        for name in data.draw(st.lists(st.sampled_from(features), max_size=6), label="columns"):
            record[name] = data.draw(_valid_value(config, train_records, name), label=name)
    frame = pd.DataFrame.from_records(records, columns=list(test_records.columns))
    validated = _validated(frame, config)
    assert validated.errors == []

    # When the pipeline and the scorer predict
    expected = fitted_pipeline.predict(validated.frame)

    # Then they agree
    got = compile_pipeline(fitted_pipeline).predict(validated.frame, rows=validated.is_valid)
    np.testing.assert_allclose(got, expected, rtol=RTOL)


# ---------------------------------------------------------------------------------------
# Bit-reproducibility: a row's price never depends on the rows around it
# ---------------------------------------------------------------------------------------

MAX_BATCH = 20_000


@pytest.fixture(scope="module")
def large_batch(fitted_pipeline: Pipeline, config: Config, test_records: pd.DataFrame) -> Any:
    """test.csv's valid rows repeated to 20,000, validated, and their prices in one call."""
    validated = _validated(test_records, config)
    valid = validated.frame[validated.is_valid]
    copies = -(-MAX_BATCH // len(valid))
    frame = pd.concat([valid] * copies, ignore_index=True).head(MAX_BATCH)
    return frame, compile_pipeline(fitted_pipeline).predict(frame)


@settings(max_examples=12)
@given(
    size=st.integers(1, MAX_BATCH),
    start=st.integers(0, MAX_BATCH - 1),
    chunk_rows=st.integers(1, 2 * scoring.CHUNK_ROWS),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_row_gets_the_same_price_bit_for_bit_whatever_the_batch(
    fitted_pipeline: Pipeline,
    large_batch: tuple[pd.DataFrame, Any],
    size: int,
    start: int,
    chunk_rows: int,
    seed: int,
) -> None:
    """Non-regression test for #10: prices differed by about 1e-14 with the batch size."""
    # Given a slice of any size and place of a large batch, scored in chunks of any size,
    # with a random half of its rows selected
    frame, prices = large_batch
    assume(start + size <= MAX_BATCH)
    assume(size / chunk_rows <= 200)  # keep the example cheap: at most 200 chunks
    rows = np.random.default_rng(seed).random(size) < 0.5
    scorer = compile_pipeline(fitted_pipeline)

    # When the slice is scored on its own
    with mock.patch.object(scoring, "CHUNK_ROWS", chunk_rows):
        whole = scorer.predict(frame.iloc[start : start + size])
        selected = scorer.predict(frame.iloc[start : start + size], rows=rows)

    # Then every row has exactly the price it had in the full batch
    assert np.array_equal(whole, prices[start : start + size])
    assert np.array_equal(selected, prices[start : start + size][rows])


def test_weighted_row_sums_of_no_terms_are_zero_for_every_row() -> None:
    sums = weighted_row_sums(matrix=np.ones((3, 2)), weights=np.array([]), columns=[])
    assert sums.tolist() == [0.0, 0.0, 0.0]


def test_weighted_row_sums_add_left_to_right_however_many_rows() -> None:
    """Check both ways of summing (one call for few rows, a call per column for many)."""
    # Given rows of terms spanning many orders of magnitude, where the order of additions
    # changes the last bits
    rng = np.random.default_rng(5)
    matrix = rng.normal(size=(2 * scoring.ACCUMULATE_MAX_ROWS, 60)) * 10.0 ** rng.integers(
        -8, 8, size=60
    )
    weights = rng.normal(size=40)
    columns = rng.choice(60, size=40, replace=False).tolist()

    # When the sums are taken for all rows at once and for each row alone
    together = weighted_row_sums(matrix=matrix, weights=weights, columns=columns)
    alone = [
        weighted_row_sums(matrix=matrix[i : i + 1], weights=weights, columns=columns)[0]
        for i in range(len(matrix))
    ]

    # Then they are identical, and each is the left-to-right sum of its row's terms
    assert np.array_equal(together, alone)
    row = matrix[7, columns] * weights
    assert together[7] == functools.reduce(lambda total, term: total + term, row.tolist())


def test_every_house_alone_gets_its_batch_price_bit_for_bit(
    fitted_pipeline: Pipeline, scorer: PipelineScorer, config: Config, test_records: pd.DataFrame
) -> None:
    """Check single rows, validated one by one as a web request is, short-column path too."""
    # Given 200 houses of test.csv, priced in one batch
    rows = test_records.iloc[:200]
    batch = _validated(rows, config).frame
    in_batch = scorer.predict(batch)

    # When each is validated and scored alone
    alone = [scorer.predict(_validated(rows.iloc[[i]], config).frame)[0] for i in range(len(rows))]

    # Then each gets its batch price exactly, and that is the pipeline's price
    assert np.array_equal(alone, in_batch)
    np.testing.assert_allclose(in_batch, fitted_pipeline.predict(batch), rtol=RTOL)


def test_records_and_frames_give_the_same_prices_bit_for_bit(
    scorer: PipelineScorer, config: Config, test_records: pd.DataFrame
) -> None:
    # Given 30 houses as a DataFrame and as a list of record dicts
    houses = test_records.head(30)
    records: list[dict[str, Any]] = houses.to_dict(orient="records")  # type: ignore[assignment]

    # When both are validated and scored
    from_frame = scorer.predict(_validated(to_frame(houses), config).frame)
    from_records = scorer.predict(_validated(to_frame(records), config).frame)

    # Then the prices are identical
    assert np.array_equal(from_frame, from_records)


# ---------------------------------------------------------------------------------------
# What is compiled: exactly the classes pipeline.py builds
# ---------------------------------------------------------------------------------------

# Estimators pipeline.py builds without a compiled form, and why.
UNCOMPILED = {HistGradientBoostingRegressor: "its fitted trees are private state"}


def _nested(estimator: Any) -> list[Any]:
    """An estimator and every estimator inside it, unfitted or fitted."""
    inner = getattr(estimator, "regressor", None)
    members = [member for _, member in getattr(estimator, "estimators", [])]
    children = [child for child in [inner, *members] if child is not None]
    return [estimator, *[found for child in children for found in _nested(child)]]


def _settings_for(config: Config, estimator: str) -> ModelSettings:
    return config.model.model_copy(update={"estimator": estimator})


@pytest.mark.parametrize("estimator", [*get_args(SingleEstimator), "blend"])
def test_every_class_the_pipeline_builds_has_a_compiled_form(
    config: Config, estimator: str
) -> None:
    # Given the pipeline built for each configured estimator
    pipeline = build_pipeline(_settings_for(config, estimator))

    # When its steps, and the estimators inside its final step, are listed
    *transformers, (_, final) = pipeline.steps
    built = {type(step) for _, step in transformers} | {type(e) for e in _nested(final)}

    # Then each has a compiled form, except the few documented
    assert built - compiled_classes() <= set(UNCOMPILED)


def test_the_scorer_compiles_no_class_the_pipeline_never_builds(config: Config) -> None:
    built: set[type] = set()
    for estimator in get_args(SingleEstimator):
        *transformers, (_, final) = build_pipeline(_settings_for(config, estimator)).steps
        built |= {type(step) for _, step in transformers} | {type(e) for e in _nested(final)}
    built |= {VotingRegressor}  # the blend's
    assert compiled_classes() == built - set(UNCOMPILED)


@pytest.mark.parametrize(
    ("estimator", "sizes"),
    [
        ("lasso", {}),
        ("elastic_net", {}),
        ("gradient_boosting", {"gradient_boosting": {"n_estimators": 40}}),
        ("xgboost", {"xgboost": {"n_estimators": 40}}),
        ("hist_gradient_boosting", {"hist_gradient_boosting": {"max_iter": 40}}),
    ],
)
def test_scorer_matches_pipeline_for_every_configurable_estimator(
    config: Config,
    train_records: pd.DataFrame,
    test_records: pd.DataFrame,
    estimator: str,
    sizes: dict[str, dict[str, int]],
) -> None:
    # Given the pipeline with each estimator (fewer trees, to keep it quick), fitted
    settings_ = _settings_for(config, estimator)
    smaller = {
        name: getattr(settings_, name).model_copy(update=update) for name, update in sizes.items()
    }
    settings_ = settings_.model_copy(update=smaller)
    sample = train_records.sample(n=400, random_state=config.model.random_state)
    target = sample[config.model.target].reset_index(drop=True)
    pipeline = build_pipeline(settings_).fit(_validated(sample, config).frame, target)
    houses = _validated(test_records.head(100), config).frame

    # When it is compiled and scores
    scorer = compile_pipeline(pipeline)

    # Then every step runs compiled and the prices are the pipeline's, in one batch or alone
    assert scorer.fallback_steps == []
    np.testing.assert_allclose(scorer.predict(houses), pipeline.predict(houses), rtol=RTOL)
    np.testing.assert_allclose(
        scorer.predict(houses.head(1)), pipeline.predict(houses.head(1)), rtol=RTOL
    )


# ---------------------------------------------------------------------------------------
# The fallbacks: unknown steps, failed compilers, input a compiled step was not built for
# ---------------------------------------------------------------------------------------


class _ScaleColumn(TransformerMixin, BaseEstimator):
    """A step without a compiled form: multiplies one column by a factor."""

    def __init__(self, column: str = "LotArea", factor: float = 1.5) -> None:
        self.column = column
        self.factor = factor

    def fit(self, X: pd.DataFrame, y: Any = None) -> _ScaleColumn:
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        frame = X.copy()
        frame[self.column] = frame[self.column] * self.factor
        return frame


def _double_frontage(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(LotFrontage=frame["LotFrontage"] * 2.0)


def _stretch_as_objects(matrix: Any) -> Any:
    """The model matrix a little wider, as Python objects (which the model converts)."""
    return np.asarray(np.asarray(matrix, dtype=np.float64) * 1.1, dtype=object)


# Where the unknown step goes: after the first two steps the state is a table; just before
# the model (after the scaler) it is the model matrix.
AFTER_TWO_STEPS, BEFORE_THE_MODEL = 2, -1


@pytest.mark.parametrize(
    ("make_step", "position"),
    [
        (lambda: _ScaleColumn(), AFTER_TWO_STEPS),
        (lambda: FunctionTransformer(_double_frontage), AFTER_TWO_STEPS),
        (lambda: FunctionTransformer(_stretch_as_objects), BEFORE_THE_MODEL),
    ],
    ids=["custom-class", "function-transformer", "on-the-model-matrix"],
)
def test_unknown_steps_run_their_own_transform(
    fitted_pipeline: Pipeline,
    config: Config,
    test_records: pd.DataFrame,
    make_step: Callable[[], Any],
    position: int,
) -> None:
    # Given the pipeline with a step of no compiled class among its steps
    validated = _validated(test_records.head(60), config)
    steps = list(fitted_pipeline.steps)
    head = Pipeline(steps[:position])
    step = make_step().fit(head.transform(validated.frame))
    steps.insert(position, ("unknown", step))
    pipeline = Pipeline(steps)

    # When it is compiled
    scorer = compile_pipeline(pipeline)

    # Then that step falls back, and the predictions still match, including the change
    assert scorer.fallback_steps == ["unknown"]
    expected = pipeline.predict(validated.frame)
    np.testing.assert_allclose(scorer.predict(validated.frame), expected, rtol=RTOL)
    assert not np.allclose(expected, fitted_pipeline.predict(validated.frame), rtol=1e-6)


def test_unknown_final_estimator_runs_its_own_predict(
    fitted_pipeline: Pipeline, config: Config, train_records: pd.DataFrame
) -> None:
    # Given the pipeline's transformers followed by an estimator of no compiled class
    validated = _validated(train_records.head(300), config)
    transformers = Pipeline(fitted_pipeline.steps[:-1])
    neighbours = KNeighborsRegressor(n_neighbors=3).fit(
        transformers.transform(validated.frame), train_records[config.model.target].head(300)
    )
    pipeline = Pipeline([*fitted_pipeline.steps[:-1], ("neighbours", neighbours)])

    # When it is compiled and scores
    scorer = compile_pipeline(pipeline)

    # Then it gives the estimator's own predictions
    assert scorer.fallback_steps == ["neighbours"]
    np.testing.assert_allclose(
        scorer.predict(validated.frame), pipeline.predict(validated.frame), rtol=RTOL
    )


def _boosted_trees(pipeline: Pipeline) -> Any:
    blend = pipeline[-1].regressor_.regressor_
    members = [predicting_estimator(member) for member in blend.estimators_]
    return next(m for m in members if isinstance(m, XGBoostTreesRegressor))


@pytest.mark.parametrize(
    ("find_step", "step_name", "class_name"),
    [
        (lambda pipeline: pipeline.named_steps["scale"], "scale", "RobustScaler"),
        (_boosted_trees, PRICE_BAND, "XGBoostTreesRegressor"),
    ],
    ids=["scaler", "boosted-trees-in-the-blend"],
)
def test_a_failing_compiler_logs_one_warning_and_the_step_runs_its_own_code(
    fitted_pipeline: Pipeline,
    config: Config,
    test_records: pd.DataFrame,
    caplog: pytest.LogCaptureFixture,
    find_step: Callable[[Pipeline], Any],
    step_name: str,
    class_name: str,
) -> None:
    """Check the guard: a library release that renames what a compiler reads costs speed only."""
    # Given a fitted pipeline one of whose fitted steps lacks an attribute its compiler reads
    # (and its own transform or predict does without)
    pipeline = copy.deepcopy(fitted_pipeline)
    del find_step(pipeline).n_features_in_
    houses = _validated(test_records.head(50), config).frame

    # When it is compiled
    with caplog.at_level(logging.WARNING, logger=scoring.__name__):
        scorer = compile_pipeline(pipeline)

    # Then one warning names the step, and the prices are still the pipeline's
    assert len(caplog.records) == 1
    warning = (
        rf"Step {re.escape(repr(step_name))} \({class_name}\) runs its own transform or predict: "
        rf"building its compiled form failed with AttributeError: .*'n_features_in_'.*"
    )
    assert re.fullmatch(warning, caplog.records[0].getMessage()), caplog.records[0].getMessage()
    expected = fitted_pipeline.predict(houses)
    np.testing.assert_allclose(scorer.predict(houses), expected, rtol=RTOL)


# ---------------------------------------------------------------------------------------
# Each compiled step against its own transform, on tricky inputs
# ---------------------------------------------------------------------------------------


def _compiled_only(step: Any) -> Callable[[Any], Any]:
    """The step's compiled form, without the fallback: it must exist and handle the input."""
    compiled = scoring._compile_transformer(step, "step")
    assert compiled is not None, f"{type(step).__name__} was expected to compile"
    return compiled


def _frame_of(state: Any) -> pd.DataFrame:
    assert isinstance(state, Table)
    return state.to_frame()


def _assert_compiled_matches(step: Any, X: pd.DataFrame) -> None:
    """The compiled step's output equals the step's own transform: same columns, values."""
    expected = step.transform(X)
    output = _compiled_only(step)(Table.from_frame(X))
    if not isinstance(output, Table):
        np.testing.assert_array_equal(output, np.asarray(expected, dtype=np.float64))
        return
    got = output.to_frame()
    assert list(got.columns) == list(expected.columns)
    for name in expected.columns:
        want, have = expected[name], got[name]
        if pd.api.types.is_numeric_dtype(want.dtype):
            np.testing.assert_array_equal(
                have.to_numpy(np.float64), want.to_numpy(np.float64), err_msg=name
            )
        else:
            assert have.isna().tolist() == want.isna().tolist(), name
            assert have.dropna().tolist() == want.dropna().tolist(), name


def _assert_both_raise(step: Any, X: pd.DataFrame) -> None:
    """The step refuses ``X``; so does the compiled step, by leaving it to the step."""
    with pytest.raises(ValueError) as raised:
        step.transform(X)
    with pytest.raises(ValueError, match=str(raised.value)[:20]):
        CompiledStep("step", step, _compiled_only(step))(Table.from_frame(X))


@pytest.fixture()
def labels_frame() -> pd.DataFrame:
    """Text with missing values (None and NaN), a rare label and, at transform, unseen ones."""
    return pd.DataFrame(
        {
            "Street": pd.Series(
                ["Pave", "Pave", None, "Grvl", "Pave", np.nan, "Pave"], dtype=object
            ),
            "Alley": pd.Series(["A", "B", "A", "A", "B", "A", "C"], dtype=object),
            "Area": [1.0, np.nan, 3.0, 4.0, np.nan, 6.0, 7.0],
            "Count": [1, 2, 3, 4, 5, 6, 7],
        }
    )


def _with_unseen(frame: pd.DataFrame) -> pd.DataFrame:
    changed = frame.copy()
    changed.loc[0, "Alley"] = "Unheard"
    changed.loc[1, "Street"] = "Gravelish"
    return changed


@pytest.mark.parametrize("method", ["missing", "frequent"])
def test_categorical_imputer_fills_missing_labels(labels_frame: pd.DataFrame, method: str) -> None:
    step = CategoricalImputer(imputation_method=method, variables=["Street"]).fit(labels_frame)
    _assert_compiled_matches(step, _with_unseen(labels_frame))


@pytest.mark.parametrize("rows", [[2], [0], list(range(7)) * 6], ids=["one-missing", "one", "long"])
def test_categorical_imputer_fills_only_the_columns_missing_labels(
    labels_frame: pd.DataFrame, rows: list[int]
) -> None:
    """Check the one look for missing labels over every column, at any number of rows."""
    step = CategoricalImputer(imputation_method="missing", variables=["Street", "Alley"])
    X = labels_frame.iloc[rows].reset_index(drop=True)
    _assert_compiled_matches(step.fit(labels_frame), X)


def test_median_imputer_fills_missing_numbers(labels_frame: pd.DataFrame) -> None:
    step = MeanMedianImputer(imputation_method="median", variables=["Area", "Count"])
    _assert_compiled_matches(step.fit(labels_frame), labels_frame)


def test_median_imputer_leaves_narrow_floats_to_the_fitted_step(labels_frame: pd.DataFrame) -> None:
    """Check that a float32 column, whose dtype the fitted step decides, is not compiled."""
    frame = labels_frame.astype({"Area": np.float32})
    step = MeanMedianImputer(imputation_method="median", variables=["Area", "Count"]).fit(frame)
    with pytest.raises(scoring.NotCompiled):
        _compiled_only(step)(Table.from_frame(frame))
    filled = _frame_of(CompiledStep("impute", step, _compiled_only(step))(Table.from_frame(frame)))
    numbers = ["Area", "Count"]
    pd.testing.assert_frame_equal(filled[numbers], step.transform(frame)[numbers])


def test_rare_label_encoder_groups_rare_and_unseen_labels(labels_frame: pd.DataFrame) -> None:
    frame = labels_frame.assign(Street=labels_frame["Street"].fillna("Pave"))
    step = RareLabelEncoder(tol=0.2, n_categories=1, variables=["Street", "Alley"]).fit(frame)
    _assert_compiled_matches(step, _with_unseen(frame))


def test_rare_label_encoder_keeps_columns_whose_labels_are_all_frequent() -> None:
    # Given an encoder whose one column has only frequent labels, beside one with a rare label
    frame = pd.DataFrame(
        {
            "Street": pd.Series(["Pave", "Grvl"] * 5, dtype=object),
            "Alley": pd.Series(["A"] * 9 + ["B"], dtype=object),
        }
    )
    step = RareLabelEncoder(tol=0.2, n_categories=1, variables=["Street", "Alley"]).fit(frame)

    # When it meets them again: Then only the rare label is grouped, as feature-engine does
    _assert_compiled_matches(step, frame)
    # And numbers read as labels, none of them rare, become labels all the same
    codes = pd.DataFrame({"Code": [20.0, 60.0] * 5})
    by_code = RareLabelEncoder(tol=0.2, n_categories=1, variables=["Code"], ignore_format=True)
    _assert_compiled_matches(by_code.fit(codes), codes)
    assert _frame_of(_compiled_only(step)(Table.from_frame(frame)))["Alley"].iloc[-1] == "Rare"


def test_rare_label_encoder_groups_numbers_as_labels_when_told_to() -> None:
    """Check numeric codes read as labels, as feature-engine's ignore_format does."""
    codes = pd.DataFrame({"Code": [20.0, 60.0, 20.0, 20.0, 60.0, 90.0] * 3})
    step = RareLabelEncoder(tol=0.2, n_categories=1, variables=["Code"], ignore_format=True)
    _assert_compiled_matches(step.fit(codes), codes.assign(Code=[20.0, 90.0, 75.0] * 6))


def test_rare_label_encoder_keeps_missing_when_told_to(labels_frame: pd.DataFrame) -> None:
    # NaN only: feature-engine's isin([nan]) misses None and groups it as rare, while the
    # scorer treats every missing value alike; validated frames only ever hold NaN.
    frame = labels_frame.assign(Street=labels_frame["Street"].fillna(np.nan))
    step = RareLabelEncoder(tol=0.2, n_categories=1, variables=["Street"], missing_values="ignore")
    _assert_compiled_matches(step.fit(frame), _with_unseen(frame))


def test_rare_label_encoder_refuses_missing_labels_as_feature_engine_does(
    labels_frame: pd.DataFrame,
) -> None:
    frame = labels_frame.assign(Street=labels_frame["Street"].fillna("Pave"))
    step = RareLabelEncoder(tol=0.2, n_categories=1, variables=["Street"]).fit(frame)
    _assert_both_raise(step, labels_frame)


def test_sklearn_simple_imputer_in_a_wrapper_fills_labels(labels_frame: pd.DataFrame) -> None:
    frame = labels_frame.assign(Street=labels_frame["Street"].fillna(np.nan))
    step = SklearnTransformerWrapper(
        SimpleImputer(strategy="most_frequent"), variables=["Street", "Alley"]
    ).fit(frame)
    _assert_compiled_matches(step, _with_unseen(frame))


@pytest.mark.parametrize(
    "street_at_fit",
    [["Pave", "Grvl"], ["Pave", np.nan]],
    ids=["missing-unseen-in-fit", "missing-seen-in-fit"],
)
def test_sklearn_one_hot_encoder_in_a_wrapper_on_unseen_and_missing_labels(
    street_at_fit: list[Any],
) -> None:
    """Check that a missing label gets no category (or its own), never the first one."""
    # Given the encoder fitted with or without a missing label
    fit_on = pd.DataFrame({"Street": pd.Series(street_at_fit * 2, dtype=object), "Area": 1.0})
    step = SklearnTransformerWrapper(
        OneHotEncoder(handle_unknown="ignore", sparse_output=False), variables=["Street"]
    ).fit(fit_on)

    # When it meets known, unseen and missing labels
    X = pd.DataFrame(
        {"Street": pd.Series(["Grvl", np.nan, "Unheard", "Pave"], dtype=object), "Area": 2.0}
    )

    # Then the compiled form gives the encoder's own columns, bit for bit
    _assert_compiled_matches(step, X)


@pytest.mark.parametrize("n_rows", [1, 4, 40], ids=["one-row", "short", "long"])
def test_sklearn_one_hot_encoder_encodes_several_columns_at_once(n_rows: int) -> None:
    """Check the one fancy index over every label column, however many rows it covers."""
    # Given an encoder over two label columns, one fitted with a missing label
    fit_on = pd.DataFrame(
        {
            "Street": pd.Series(["Pave", "Grvl", np.nan, "Pave"], dtype=object),
            "Area": 1.0,
            "Alley": pd.Series(["A", "B", "C", "A"], dtype=object),
        }
    )
    step = SklearnTransformerWrapper(
        OneHotEncoder(handle_unknown="ignore", sparse_output=False), variables=["Street", "Alley"]
    ).fit(fit_on)

    # When it meets known, unseen and missing labels in both columns
    X = pd.DataFrame(
        {
            "Street": pd.Series((["Grvl", np.nan, "Unheard", "Pave"] * 10)[:n_rows], dtype=object),
            "Area": 2.0,
            "Alley": pd.Series((["C", "Z", "A", np.nan, "B"] * 8)[:n_rows], dtype=object),
        }
    )

    # Then the compiled form gives the encoder's own columns, bit for bit
    _assert_compiled_matches(step, X)


@pytest.mark.parametrize("offset", [1, "auto"], ids=["C=1", "C=auto"])
def test_log_cp_transformer(offset: Any) -> None:
    frame = pd.DataFrame({"Count": [1, 2, 3, 10], "Shift": [0.0, 0.5, 2.0, 7.25]})
    step = LogCpTransformer(variables=["Count", "Shift"], C=offset).fit(frame)
    _assert_compiled_matches(step, frame)


@pytest.mark.parametrize(
    "count",
    [[1.0, -1.0, 3.0], [1.0, -5.0, 3.0], [1.0, np.nan, 3.0], [1.0, np.inf, 3.0]],
    ids=["zero-after-C", "negative-after-C", "missing", "infinite"],
)
def test_log_cp_transformer_refuses_what_feature_engine_refuses(count: list[float]) -> None:
    """Check that log(0) never becomes -inf silently: the step's own error is raised."""
    log = LogCpTransformer(variables=["Count"], C=1).fit(pd.DataFrame({"Count": [1.0, 2.0]}))
    _assert_both_raise(log, pd.DataFrame({"Count": count}))


def test_math_features_product() -> None:
    frame = pd.DataFrame({"A": [1.0, 2.5, 3.0], "B": [4, 5, 6], "C": [0.5, 0.25, 2.0]})
    step = MathFeatures(variables=["A", "B", "C"], func="prod", new_variables_names=["New"])
    _assert_compiled_matches(step.fit(frame), frame)


def test_math_features_refuses_missing_numbers_as_feature_engine_does() -> None:
    frame = pd.DataFrame({"A": [1.0, 2.5], "B": [4.0, 5.0]})
    step = MathFeatures(variables=["A", "B"], func="prod").fit(frame)
    _assert_both_raise(step, frame.assign(A=[1.0, np.nan]))


def _numbers() -> pd.DataFrame:
    return pd.DataFrame({"A": [1.0, 2.5, 3.0], "B": [4.0, 5.0, 6.0]})


def _streets(streets: list[Any]) -> pd.DataFrame:
    return pd.DataFrame({"Street": pd.Series(streets, dtype=object), "Area": 1.0})


def _wrapped_imputer(**options: Any) -> SklearnTransformerWrapper:
    return SklearnTransformerWrapper(SimpleImputer(**options), variables=["Street"])


def _wrapped_one_hot(**options: Any) -> SklearnTransformerWrapper:
    encoder = OneHotEncoder(**{"handle_unknown": "ignore", "sparse_output": False, **options})
    return SklearnTransformerWrapper(encoder, variables=["Street"])


# OneHotEncoder options the compiled form leaves to the encoder, even where (as here, with no
# rare category) they happen to change nothing. feature-engine's wrapper refuses sparse output.
ONE_HOT_OPTIONS_NOT_COMPILED: dict[str, dict[str, Any]] = {
    "unknown-label-error": {"handle_unknown": "error"},
    "unknown-label-infrequent": {"handle_unknown": "infrequent_if_exist"},
    "integer-dummies": {"dtype": np.int64},
    "min-frequency": {"min_frequency": 1},
    "max-categories": {"max_categories": 10},
    "drop-first": {"drop": "first"},
}


@pytest.mark.parametrize(
    ("step", "X"),
    [
        (MathFeatures(variables=["A", "B"], func="sum"), _numbers()),
        (MathFeatures(variables=["A", "B"], func=["prod", "sum"]), _numbers()),
        (
            MathFeatures(variables=["A", "B"], func="prod", missing_values="ignore"),
            _numbers().assign(A=[1.0, np.nan, 3.0]),
        ),
        (
            _wrapped_imputer(strategy="most_frequent", missing_values="?"),
            _streets(["Pave", "?", "Grvl", "Pave", "Grvl"]),
        ),
        (
            _wrapped_imputer(strategy="constant", fill_value=0),
            _streets(["Pave", "?", np.nan, "Pave", "Grvl"]),
        ),
        *[
            (_wrapped_one_hot(**options), _streets(["Pave", "Grvl", "Pave", "Grvl"]))
            for options in ONE_HOT_OPTIONS_NOT_COMPILED.values()
        ],
    ],
    ids=[
        "sum",
        "two-functions",
        "missing-ignored",
        "other-missing-marker",
        "number-fill",
        *ONE_HOT_OPTIONS_NOT_COMPILED,
    ],
)
def test_step_options_without_a_compiled_form_run_their_own_transform(
    step: Any, X: pd.DataFrame
) -> None:
    # Given a step of a compiled class with options its compiled form does not implement
    step.fit(X)

    # When it is compiled and transforms
    compiled = scoring._compile_transformer(step, "step")
    output = _frame_of(CompiledStep("step", step, compiled)(Table.from_frame(X)))

    # Then it has no compiled form, and its output is its own transform's
    assert compiled is None
    pd.testing.assert_frame_equal(output, step.transform(X), check_dtype=False)


@pytest.mark.parametrize(
    "options",
    [{}, {"with_centering": False}, {"with_scaling": False}],
    ids=["centre-and-scale", "scale-only", "centre-only"],
)
def test_robust_scaler_keeps_missing_numbers(options: dict[str, bool]) -> None:
    frame = pd.DataFrame({"A": [1.0, 2.0, 0.0, 8.0], "B": [3, 1, 4, 1]})
    step = RobustScaler(**options).fit(frame)
    _assert_compiled_matches(step, frame.assign(A=[1.0, 20.0, np.nan, -8.0]))


def test_robust_scaler_refuses_infinity_as_scikit_learn_does() -> None:
    frame = pd.DataFrame({"A": [1.0, 2.0, 0.0, 8.0], "B": [3.0, 1.0, 4.0, 1.0]})
    step = RobustScaler().fit(frame)
    _assert_both_raise(step, frame.assign(A=[1.0, np.inf, 0.0, 8.0]))


def test_our_transformers_compile_to_their_own_arithmetic(labels_frame: pd.DataFrame) -> None:
    years = pd.DataFrame(
        {"YearBuilt": [2000.0, np.nan, 1950.0], "YrSold": [2008.0, 2009.0, 2010.0]}
    )
    temporal = TemporalVariableTransformer(variables=("YearBuilt",), reference_variable="YrSold")
    _assert_compiled_matches(temporal.fit(years), years)
    # An unmapped label and a missing value both become NaN.
    mapper = Mapper(variables=("Alley", "Street"), mappings={"A": 1, "B": 2, "Pave": 3})
    _assert_compiled_matches(mapper.fit(labels_frame), labels_frame)
    sums = WeightedSums(sums={"Total": {"Area": 1.0, "Count": 0.5}, "Twice": {"Count": 2.0}})
    _assert_compiled_matches(sums.fit(labels_frame), labels_frame)
    flags = PresenceFlags(flags={"HasArea": "Area"})
    _assert_compiled_matches(flags.fit(labels_frame), labels_frame.assign(Area=np.arange(7) - 3.0))
    capper = RangeCapper(variables=("Area", "Count"), margin=0.1).fit(labels_frame)
    wild = labels_frame.assign(Area=[-1e9, np.nan, np.inf, 3.0, 1e9, 5.0, -np.inf])
    _assert_compiled_matches(capper, wild)


# ---------------------------------------------------------------------------------------
# Compiled estimators against their own predict
# ---------------------------------------------------------------------------------------


def _regression_data(seed: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 4))
    y = np.exp(X @ np.array([0.5, -0.2, 0.1, 0.0]) + 10 + rng.normal(scale=0.1, size=200))
    return X, y


@pytest.mark.parametrize(
    "estimator",
    [
        Lasso(alpha=0.01),
        ElasticNet(alpha=0.01),
        GradientBoostingRegressor(n_estimators=30),
        TransformedTargetRegressor(regressor=Lasso(alpha=0.01), func=np.log, inverse_func=np.exp),
        VotingRegressor(
            [("lasso", Lasso(alpha=0.01)), ("trees", GradientBoostingRegressor(n_estimators=10))],
            weights=[2, 1],
        ),
        VotingRegressor([("lasso", Lasso()), ("net", ElasticNet()), ("gone", "drop")]),
        PriceBandRegressor(regressor=Lasso(alpha=0.01), margin=0.1),
        ResidualTrimmedRegressor(regressor=Lasso(alpha=0.01), threshold=2.0),
    ],
    ids=[
        "lasso",
        "elastic-net",
        "boosting",
        "log-target",
        "voting",
        "voting-drop",
        "band",
        "trimmed",
    ],
)
def test_compiled_estimators_match_their_predict(estimator: Any) -> None:
    # Given a fitted estimator
    X, y = _regression_data(0)
    estimator.fit(X, y)
    compiled = compile_estimator(estimator, step_name="model")

    expected = estimator.predict(X)

    # When it predicts for all rows, and for each row alone
    batch = compiled(X)
    with mock.patch.object(estimator, "predict", wraps=estimator.predict) as own_predict:
        alone = np.array([compiled(X[i : i + 1])[0] for i in range(len(X))])

    # Then it gives the estimator's own predictions, and each row's alone as in the batch,
    # without calling the estimator's predict for a row alone: the compiled form did the work
    assert type(estimator) in compiled_classes()
    np.testing.assert_allclose(batch, expected, rtol=RTOL)
    assert np.array_equal(alone, batch)
    assert not own_predict.called


def test_compiled_price_band_holds_both_ends_as_the_band_does() -> None:
    # Given a band around a line fitted on prices from 100 to 300
    X, y = np.array([[1.0], [2.0], [3.0]]), np.array([100.0, 200.0, 300.0])
    band = PriceBandRegressor(regressor=LinearRegression(), margin=0.1).fit(X, y)

    # When the compiled band predicts far below, inside and far above the training inputs
    got = compile_estimator(band, step_name="model")(np.array([[-100.0], [1.5], [100.0]]))

    # Then it holds both ends as the band's own predict does
    assert got.tolist() == pytest.approx([90.0, 150.0, 330.0])


def test_passthrough_and_none_steps_are_skipped_as_the_pipeline_skips_them() -> None:
    # Given a pipeline with a step that is "passthrough" and one that is None
    X, y = _regression_data(5)
    frame = pd.DataFrame(X, columns=["A", "B", "C", "D"])
    pipeline = Pipeline(
        [("skip", "passthrough"), ("scale", RobustScaler()), ("gone", None), ("model", Lasso())]
    ).fit(frame, y)

    # When it is compiled and scores
    scorer = compile_pipeline(pipeline)

    # Then only the scaler is a step, compiled, and the prices are the pipeline's
    assert [step.name for step in scorer.steps] == ["scale"]
    assert scorer.fallback_steps == []
    np.testing.assert_allclose(scorer.predict(frame), pipeline.predict(frame), rtol=RTOL)


def test_a_pipeline_whose_steps_end_in_a_table_is_scored_by_its_estimator() -> None:
    """Check the scorer without a step that makes the model matrix: the estimator gets a frame."""
    # Given a pipeline of an imputer and a linear model, with no scaler between them
    X, y = _regression_data(4)
    frame = pd.DataFrame(X, columns=["A", "B", "C", "D"]).assign(
        A=lambda f: f["A"].where(f["B"] > 0)
    )
    pipeline = Pipeline(
        [("impute", MeanMedianImputer(variables=["A"])), ("model", Lasso(alpha=0.01))]
    ).fit(frame, y)

    # When it is compiled and scores
    scorer = compile_pipeline(pipeline)

    # Then the imputer runs compiled and the model predicts from the table as a frame
    assert scorer.fallback_steps == []
    np.testing.assert_allclose(scorer.predict(frame), pipeline.predict(frame), rtol=RTOL)


# How a row's value may tie with a threshold: scikit-learn compares float32 features with
# float64 thresholds, so a threshold that float32 holds exactly sends an equal value left
# (<=), and one that float32 rounds up sends the rounded value right.
TIES: dict[str, Callable[[float], bool]] = {
    "exact-tie": lambda threshold: float(np.float32(threshold)) == threshold,
    "tie-rounded-up": lambda threshold: float(np.float32(threshold)) > threshold,
}


@pytest.mark.parametrize("tie", list(TIES))
@pytest.mark.parametrize(
    "max_leaf_nodes",
    [None, 5],
    ids=["every-leaf-at-full-depth", "leaves-at-several-depths"],
)
@pytest.mark.parametrize("n_rows", [1, 3, TREE_WALK_MAX_ROWS, TREE_WALK_MAX_ROWS + 1])
def test_gradient_boosting_walks_its_trees_as_scikit_learn_does(
    n_rows: int, max_leaf_nodes: int | None, tie: str
) -> None:
    """Check the numpy tree walk gives scikit-learn's sums bit for bit, threshold ties included.

    With five leaves in trees three deep, some leaves are reached before the last level: the
    walk must stay on them.
    """
    # Given gradient boosting fitted on a few features
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5))
    model = GradientBoostingRegressor(
        n_estimators=50, max_depth=3, max_leaf_nodes=max_leaf_nodes, loss="huber"
    )
    model.fit(X, X[:, 0] - 2 * X[:, 1] ** 2 + rng.normal(scale=0.1, size=300))

    # When rows hold a tree's root threshold, of the kind of tie under test
    roots = [
        (stage.tree_.feature[0], stage.tree_.threshold[0]) for stage in model.estimators_[:, 0]
    ]
    feature, threshold = next((f, t) for f, t in roots if f >= 0 and TIES[tie](float(t)))
    rows = rng.normal(size=(n_rows, 5))
    rows[:, feature] = threshold
    if max_leaf_nodes is not None:
        assert min(_reached_depths(model, rows)) < 3, "no row ends above the deepest level"
    expected = model.predict(rows)
    with mock.patch.object(model, "predict", wraps=model.predict) as own_predict:
        got = compile_estimator(model, step_name="model")(rows)

    # Then the compiled form predicts exactly what the model predicts, walking the trees
    # itself for a few rows and leaving more rows to scikit-learn's loop
    assert np.array_equal(got, expected)
    assert own_predict.called == (n_rows > TREE_WALK_MAX_ROWS)


def _reached_depths(model: GradientBoostingRegressor, rows: Any) -> set[int]:
    """The depths of the leaves that ``rows`` end on, over all of ``model``'s trees."""
    reached = set()
    for stage in model.estimators_[:, 0]:
        tree = stage.tree_
        depth = np.zeros(tree.node_count, dtype=int)
        for node in range(tree.node_count):  # children come after their parent
            for child in (tree.children_left[node], tree.children_right[node]):
                if child >= 0:
                    depth[child] = depth[node] + 1
        reached |= set(depth[stage.apply(rows.astype(np.float32))].tolist())
    return reached


@pytest.mark.parametrize(
    "estimator",
    [
        Lasso(alpha=0.01),
        GradientBoostingRegressor(n_estimators=5),
        TransformedTargetRegressor(regressor=LinearRegression(), func=np.log, inverse_func=np.exp),
    ],
    ids=["lasso", "boosting", "log-target"],
)
def test_compiled_estimators_refuse_missing_values_as_scikit_learn_does(estimator: Any) -> None:
    X, y = _regression_data(2)
    estimator.fit(X, y)
    X[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        estimator.predict(X[:2])
    with pytest.raises(ValueError, match="NaN"):
        compile_estimator(estimator, step_name="model")(X[:2])


@pytest.mark.parametrize(
    "estimator",
    [
        GradientBoostingRegressor(n_estimators=20, init=LinearRegression()),
        TransformedTargetRegressor(regressor=Lasso(alpha=0.01)),
    ],
    ids=["boosting-from-a-model", "identity-target"],
)
def test_estimator_options_without_a_compiled_form_run_their_own_predict(estimator: Any) -> None:
    X, y = _regression_data(3)
    estimator.fit(X, y)
    for rows in (X[:1], X):
        np.testing.assert_allclose(
            compile_estimator(estimator, step_name="model")(rows), estimator.predict(rows)
        )


# ---------------------------------------------------------------------------------------
# The building blocks
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [3, 40], ids=["short-column", "long-column"])
def test_labels_factorize_alike_however_long_the_column(length: int) -> None:
    # Given text with every kind of missing value pandas knows
    pattern = ["b", None, "a", np.nan, "b", pd.NA, "c", pd.NaT]
    values = np.array((pattern * 5)[:length], dtype=object)

    # When it is factorized
    labels = Labels.from_array(values)

    # Then the codes point at the labels, and every missing value is -1
    expected = pd.Series(values, dtype=object).where(pd.notna(values), np.nan)
    assert labels.to_objects().tolist() == pytest.approx(expected.tolist(), nan_ok=True)
    assert (labels.codes == -1).tolist() == pd.isna(values).tolist()


def test_labels_of_several_columns_factorize_as_each_column_alone() -> None:
    """Check the shared pass over short columns against each column factorized alone."""
    # Given short object columns, a string array and a numeric column, in a mix
    columns = [
        np.array(["b", None, "b"], dtype=object),
        pd.array(["x", None, "y"], dtype="string"),
        np.array([np.nan, "a", pd.NA], dtype=object),
        np.array([20.0, 60.0, 20.0]),
    ]

    # When they are factorized together
    together = Labels.from_arrays(columns)

    # Then each has the codes and labels it has alone
    for labels, column in zip(together, columns, strict=True):
        alone = Labels.from_array(column)
        assert labels.codes.tolist() == alone.codes.tolist()
        assert labels.values == alone.values
    assert Labels.from_arrays([]) == []


def test_a_table_with_stacked_columns_reads_as_the_table_of_them_split() -> None:
    """Check every way a step reads or changes a table whose last columns are one block."""
    # Given a table whose last two columns are held as a block, and the same table split
    head: dict[str, scoring.Column] = {
        "a": np.array([1.0, 2.0, 3.0]),
        "t": Labels.from_array(np.array(["x", None, "x"], dtype=object)),
    }
    block = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])

    def stacked() -> Table:
        return Table(dict(head), 3).with_stacked(["d1", "d2"], block)

    split = Table({**head, "d1": block[0], "d2": block[1]}, 3)

    # Then names, blocks and frames agree, before and after each change
    assert stacked().names == split.names == ("a", "t", "d1", "d2")
    np.testing.assert_array_equal(
        stacked().to_matrix(["a", "d1", "d2"]), split.to_matrix(["a", "d1", "d2"])
    )
    np.testing.assert_array_equal(
        stacked().block(["d1", "a", "d2"]), split.block(["d1", "a", "d2"])
    )
    with pytest.raises(scoring.NotCompiled):
        stacked().block(["t", "d1", "d2"])
    # a stacked column also among the first names: read from the columns, split
    np.testing.assert_array_equal(
        stacked().block(["d2", "d1", "d2"]), split.block(["d2", "d1", "d2"])
    )
    table = stacked()
    assert table.columns is table.columns  # split once
    changes: list[Callable[[Table], Table]] = [
        lambda table: table,
        lambda table: table.take(np.array([2, 0])),
        lambda table: table.replace({"a": np.zeros(3)}),
        lambda table: table.replace({"d2": np.zeros(3)}),
        lambda table: table.replace({"new": np.ones(3)}),
        lambda table: table.drop(["a"]),
        lambda table: table.drop(["d1"]),
    ]
    for change in changes:
        got, want = change(stacked()), change(split)
        assert got.names == want.names
        pd.testing.assert_frame_equal(got.to_frame(), want.to_frame())
    # And the block handed out is a copy: the scaler writes into it
    matrix = stacked().to_matrix(["d1", "d2"])
    matrix += 5.0
    np.testing.assert_array_equal(block, [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])


@pytest.mark.parametrize("chunk_rows", [50, 100])
def test_batches_are_scored_in_chunks_with_rows_selected_per_chunk(
    fitted_pipeline: Pipeline,
    scorer: PipelineScorer,
    config: Config,
    test_records: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    chunk_rows: int,
) -> None:
    # Given 300 validated houses, 50 of which (a whole chunk, or half of one) are left out
    validated = _validated(test_records.head(300), config)
    rows = validated.is_valid.copy()
    rows[50:100] = False
    monkeypatch.setattr(scoring, "CHUNK_ROWS", chunk_rows)

    # When they are scored a chunk of rows at a time
    got = scorer.predict(validated.frame, rows=rows)

    # Then the prices are those of the selected rows, in order
    np.testing.assert_allclose(got, fitted_pipeline.predict(validated.frame[rows]), rtol=RTOL)


def test_no_rows_selected_gives_no_prices(
    scorer: PipelineScorer, raw_records: pd.DataFrame
) -> None:
    frame = raw_records.head(3)
    assert scorer.predict(frame, rows=np.zeros(3, dtype=bool)).shape == (0,)


def test_table_keeps_other_dtypes_for_the_fitted_steps() -> None:
    """Check how each kind of column enters a table, and that labels refuse datetimes."""
    frame = pd.DataFrame(
        {
            "count": pd.array([1, None, 3], dtype="Int64"),
            "text": pd.array(["a", None, "a"], dtype="string"),
            "kind": pd.Categorical(["x", "y", "x"]),
            "when": pd.to_datetime(["2020-01-01", "2021-01-01", "2022-01-01"]),
            "flag": pd.array([True, None, False], dtype="boolean"),
        }
    )
    table = Table.from_frame(frame)
    assert np.isnan(table.numeric("count")).tolist() == [False, True, False]
    assert isinstance(table.columns["text"], Labels) and isinstance(table.columns["kind"], Labels)
    assert table.columns["text"].codes.tolist() == [0, -1, 0]
    flags = table.columns["flag"]  # neither numbers nor labels: objects for the fitted steps
    assert isinstance(flags, np.ndarray) and flags.dtype == object
    with pytest.raises(scoring.NotCompiled):
        table.labels("when")
    with pytest.raises(scoring.NotCompiled):
        table.numeric("text")
    with pytest.raises(scoring.NotCompiled):
        table.to_matrix(["count", "text"])
    with pytest.raises(scoring.NotCompiled):
        table.to_matrix(["count", "when"])  # an array, but not of numbers
    pd.testing.assert_series_equal(table.to_frame()["when"], frame["when"])


def test_a_table_without_columns_is_a_frame_of_its_rows() -> None:
    assert Table({}, n_rows=3).to_frame().index.tolist() == [0, 1, 2]


# feature-engine fills a number column with text, which pandas 3 warns will soon raise.
@pytest.mark.filterwarnings("ignore:'str' is not supported as a fill value")
def test_a_compiled_step_gives_up_on_input_it_was_not_built_for() -> None:
    # Given a label imputer fitted on text, and numbers where the text was
    fit_on = pd.DataFrame({"Street": pd.Series(["Pave", np.nan], dtype=object)})
    imputer = CategoricalImputer(imputation_method="missing", variables=["Street"]).fit(fit_on)
    numbers = Table.from_frame(pd.DataFrame({"Street": [1.0, np.nan]}))

    # When the compiled form meets them
    # Then it leaves them to the fitted step, which fills in its own way
    with pytest.raises(scoring.NotCompiled):
        _compiled_only(imputer)(numbers)
    filled = _frame_of(CompiledStep("impute", imputer, _compiled_only(imputer))(numbers))
    assert filled["Street"].tolist() == [1.0, "Missing"]
