"""The compiled scorer: the fitted pipeline's predictions, step by step and end to end."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from feature_engine.creation import MathFeatures
from feature_engine.encoding import (
    CountFrequencyEncoder,
    OneHotEncoder,
    OrdinalEncoder,
    RareLabelEncoder,
)
from feature_engine.imputation import (
    AddMissingIndicator,
    ArbitraryNumberImputer,
    CategoricalImputer,
    MeanMedianImputer,
)
from feature_engine.selection import DropFeatures
from feature_engine.transformation import (
    LogCpTransformer,
    LogTransformer,
    PowerTransformer,
    YeoJohnsonTransformer,
)
from feature_engine.wrappers import SklearnTransformerWrapper
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    VotingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler
from sklearn.preprocessing import OneHotEncoder as SklearnOneHotEncoder
from sklearn.preprocessing import RobustScaler, StandardScaler

from regression_model.config.core import Config
from regression_model.processing import scoring
from regression_model.processing.features import Mapper, TemporalVariableTransformer
from regression_model.processing.scoring import (
    ESTIMATORS,
    TRANSFORMERS,
    TREE_WALK_MAX_ROWS,
    Labels,
    PipelineScorer,
    Table,
    class_path,
    column_arrays,
    compile_estimator,
    compile_pipeline,
)
from regression_model.processing.validation import ValidatedRecords, validate_records

# The bar: the scorer gives the fitted pipeline's predictions to a relative 1e-9.
RTOL = 1e-9


@pytest.fixture(scope="module")
def scorer(fitted_pipeline: Pipeline) -> PipelineScorer:
    return compile_pipeline(fitted_pipeline)


def _validated(records: pd.DataFrame, config: Config) -> ValidatedRecords:
    return validate_records(records=records, schema=config.model.inputs)


# ---------------------------------------------------------------------------------------
# End to end: the scorer against the pipeline it was compiled from
# ---------------------------------------------------------------------------------------


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

    # When the pipeline and the scorer (with and without validation's codes) predict
    expected = fitted_pipeline.predict(validated.frame[validated.is_valid])
    with_codes = scorer.predict(validated.frame, rows=validated.is_valid, labels=validated.labels)
    from_frame = scorer.predict(validated.frame[validated.is_valid])

    # Then all three agree on every row
    np.testing.assert_allclose(with_codes, expected, rtol=RTOL)
    np.testing.assert_allclose(from_frame, expected, rtol=RTOL)


def test_scorer_matches_pipeline_one_row_at_a_time(
    fitted_pipeline: Pipeline, scorer: PipelineScorer, config: Config, test_records: pd.DataFrame
) -> None:
    """Check the short-column code path (a dict per column) on single houses."""
    # Given 200 houses of test.csv, each validated on its own as a web request would be
    rows = test_records.iloc[:200]
    expected = fitted_pipeline.predict(_validated(rows, config).frame)

    # When each is scored alone
    scored = [
        scorer.predict(validated.frame, labels=validated.labels)[0]
        for validated in (_validated(rows.iloc[[i]], config) for i in range(len(rows)))
    ]

    # Then each gets the price the pipeline gives it in the batch
    np.testing.assert_allclose(scored, expected, rtol=RTOL)


def test_reordered_columns_fall_back_where_needed_and_still_match(
    fitted_pipeline: Pipeline, scorer: PipelineScorer, config: Config, test_records: pd.DataFrame
) -> None:
    """Check that a step meeting columns in another order runs the fitted step instead."""
    # Given validated houses whose columns come in reverse order
    frame = _validated(test_records.head(40), config).frame
    reversed_frame = frame[frame.columns[::-1]]

    # When both predict (feature-engine's first step puts the columns back in order)
    expected = fitted_pipeline.predict(reversed_frame)

    # Then the scorer gives the same prices
    np.testing.assert_allclose(scorer.predict(reversed_frame), expected, rtol=RTOL)


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
    scorer: PipelineScorer,
    config: Config,
    test_records: pd.DataFrame,
    train_records: pd.DataFrame,
    data: st.DataObject,
) -> None:
    # Given up to 40 valid houses (around the 16-row switch between the two ways to find
    # labels), each with a few values replaced by any value the schema allows
    features = list(config.model.features)
    positions = data.draw(
        st.lists(st.integers(0, 1458).filter(lambda p: p != 1132), min_size=1, max_size=40)
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
    got = scorer.predict(validated.frame, rows=validated.is_valid, labels=validated.labels)
    np.testing.assert_allclose(got, expected, rtol=RTOL)


# ---------------------------------------------------------------------------------------
# The fallback: steps without a compiled form run their own transform or predict
# ---------------------------------------------------------------------------------------


class _ScaleColumn(TransformerMixin, BaseEstimator):
    """A step the registry does not know: multiplies one column by a factor."""

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


def _with_step(pipeline: Pipeline, position: int, name: str, step: Any) -> Pipeline:
    steps = list(pipeline.steps)
    steps.insert(position, (name, step))
    return Pipeline(steps)


@pytest.mark.parametrize(
    "make_step",
    [lambda: _ScaleColumn(), lambda: FunctionTransformer(_double_frontage)],
    ids=["custom-class", "function-transformer"],
)
def test_unknown_steps_run_their_own_transform(
    fitted_pipeline: Pipeline,
    config: Config,
    test_records: pd.DataFrame,
    make_step: Callable[[], Any],
) -> None:
    # Given the pipeline with an unregistered step after its first two
    validated = _validated(test_records.head(60), config)
    head = Pipeline(fitted_pipeline.steps[:2])
    step = make_step().fit(head.transform(validated.frame))
    pipeline = _with_step(fitted_pipeline, 2, "unknown", step)

    # When it is compiled
    scorer = compile_pipeline(pipeline)

    # Then that step falls back, and the predictions still match, including the change
    assert "unknown" in scorer.fallback_steps
    expected = pipeline.predict(validated.frame)
    np.testing.assert_allclose(scorer.predict(validated.frame), expected, rtol=RTOL)
    assert not np.allclose(expected, fitted_pipeline.predict(validated.frame), rtol=1e-6)


def test_unknown_final_estimator_runs_its_own_predict(
    fitted_pipeline: Pipeline, config: Config, train_records: pd.DataFrame
) -> None:
    # Given the pipeline's transformers followed by an estimator the registry does not know
    validated = _validated(train_records.head(300), config)
    transformers = Pipeline(fitted_pipeline.steps[:-1])
    neighbours = KNeighborsRegressor(n_neighbors=3).fit(
        transformers.transform(validated.frame), train_records["SalePrice"].head(300)
    )
    pipeline = Pipeline([*fitted_pipeline.steps[:-1], ("neighbours", neighbours)])

    # When it is compiled and scores
    scored = compile_pipeline(pipeline).predict(validated.frame)

    # Then it gives the estimator's own predictions
    np.testing.assert_allclose(scored, pipeline.predict(validated.frame), rtol=RTOL)


# ---------------------------------------------------------------------------------------
# Each compiled step against its own transform, on tricky inputs
# ---------------------------------------------------------------------------------------


def _compiled(step: Any) -> Callable[[Any], Any]:
    compiler = TRANSFORMERS[class_path(step)]
    compiled = compiler(step)
    assert compiled is not None, f"{class_path(step)} was expected to compile"
    return compiled


def _assert_compiled_matches(step: Any, X: pd.DataFrame) -> None:
    """The compiled step's output equals the step's own transform: same columns, values."""
    expected = step.transform(X)
    output = _compiled(step)(Table.from_frame(X))
    if isinstance(output, Table):
        got = output.to_frame()
        assert isinstance(expected, pd.DataFrame)
        assert list(got.columns) == list(expected.columns)
        for name in expected.columns:
            want, have = expected[name], got[name]
            if pd.api.types.is_numeric_dtype(want.dtype):
                np.testing.assert_allclose(
                    have.to_numpy(np.float64), want.to_numpy(np.float64), rtol=RTOL, err_msg=name
                )
            else:
                assert have.isna().tolist() == want.isna().tolist(), name
                assert have.dropna().tolist() == want.dropna().tolist(), name
    else:
        np.testing.assert_allclose(output, np.asarray(expected, dtype=np.float64), rtol=RTOL)


def _assert_both_raise(step: Any, X: pd.DataFrame, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        step.transform(X)
    with pytest.raises(ValueError, match=match):
        _compiled(step)(Table.from_frame(X))


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


def test_categorical_imputer_fills_numbers_given_as_labels() -> None:
    frame = pd.DataFrame({"Area": [1.0, np.nan, 1.0, 4.0, np.nan]})
    step = CategoricalImputer(imputation_method="frequent", variables=["Area"], ignore_format=True)
    _assert_compiled_matches(step.fit(frame), frame)


@pytest.mark.parametrize(
    "make_step",
    [
        lambda: MeanMedianImputer(imputation_method="median", variables=["Area", "Count"]),
        lambda: MeanMedianImputer(imputation_method="mean", variables=["Area"]),
        lambda: ArbitraryNumberImputer(arbitrary_number=-1, variables=["Area"]),
        lambda: AddMissingIndicator(variables=["Area", "Street", "Count"]),
    ],
    ids=["median", "mean", "arbitrary", "indicator"],
)
def test_number_imputers_and_indicators(
    labels_frame: pd.DataFrame, make_step: Callable[[], Any]
) -> None:
    step = make_step().fit(labels_frame)
    _assert_compiled_matches(step, labels_frame)


def test_rare_label_encoder_groups_rare_and_unseen_labels(labels_frame: pd.DataFrame) -> None:
    frame = labels_frame.assign(Street=labels_frame["Street"].fillna("Pave"))
    step = RareLabelEncoder(tol=0.2, n_categories=1, variables=["Street", "Alley"]).fit(frame)
    _assert_compiled_matches(step, _with_unseen(frame))


def test_rare_label_encoder_keeps_missing_when_told_to(labels_frame: pd.DataFrame) -> None:
    # NaN only: feature-engine's isin([nan]) misses None and groups it as rare, while the
    # scorer treats every missing value alike; validated frames only ever hold NaN.
    frame = labels_frame.assign(Street=labels_frame["Street"].fillna(np.nan))
    step = RareLabelEncoder(tol=0.2, n_categories=1, variables=["Street"], missing_values="ignore")
    _assert_compiled_matches(step.fit(frame), _with_unseen(frame))


def test_rare_label_encoder_raises_on_missing_as_feature_engine_does(
    labels_frame: pd.DataFrame,
) -> None:
    frame = labels_frame.assign(Street=labels_frame["Street"].fillna("Pave"))
    step = RareLabelEncoder(tol=0.2, n_categories=1, variables=["Street"]).fit(frame)
    _assert_both_raise(step, labels_frame, "contain NaN")


@pytest.mark.parametrize(
    "make_step",
    [
        lambda: OrdinalEncoder(encoding_method="arbitrary", variables=["Alley"], unseen="encode"),
        lambda: OrdinalEncoder(encoding_method="ordered", variables=["Alley"], unseen="encode"),
        lambda: CountFrequencyEncoder(variables=["Alley"], unseen="encode"),
        *[
            pytest.param(
                make,
                # feature-engine 1.9's encoder drops columns in place, which pandas 3 warns on.
                marks=pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop"),
            )
            for make in (
                lambda: OneHotEncoder(variables=["Alley"]),
                lambda: OneHotEncoder(variables=["Alley"], drop_last=True),
            )
        ],
    ],
    ids=["ordinal-arbitrary", "ordinal-ordered", "count", "one-hot", "one-hot-drop-last"],
)
def test_encoders_on_unseen_labels(
    labels_frame: pd.DataFrame, make_step: Callable[[], Any]
) -> None:
    frame = labels_frame.drop(columns=["Street"])
    step = make_step().fit(frame, frame["Count"])
    _assert_compiled_matches(step, _with_unseen(labels_frame).drop(columns=["Street"]))


def test_encoder_unseen_raise_raises_and_ignore_warns(labels_frame: pd.DataFrame) -> None:
    frame = labels_frame.drop(columns=["Street"])
    unseen = _with_unseen(labels_frame).drop(columns=["Street"])
    raising = OrdinalEncoder(encoding_method="arbitrary", variables=["Alley"], unseen="raise")
    _assert_both_raise(raising.fit(frame), unseen, "NaN values were introduced")
    ignoring = OrdinalEncoder(encoding_method="arbitrary", variables=["Alley"], unseen="ignore")
    ignoring.fit(frame)
    with pytest.warns(UserWarning, match="NaN values were introduced"):
        _assert_compiled_matches(ignoring, unseen)


def test_sklearn_simple_imputer_in_a_wrapper(labels_frame: pd.DataFrame) -> None:
    frame = labels_frame.assign(Street=labels_frame["Street"].fillna(np.nan))
    step = SklearnTransformerWrapper(
        SimpleImputer(strategy="most_frequent"), variables=["Street", "Alley"]
    ).fit(frame)
    _assert_compiled_matches(step, _with_unseen(frame))
    numbers = SklearnTransformerWrapper(SimpleImputer(strategy="median"), variables=["Area"])
    _assert_compiled_matches(numbers.fit(frame), frame)


def test_sklearn_one_hot_encoder_in_a_wrapper_zeros_unseen_labels(
    labels_frame: pd.DataFrame,
) -> None:
    frame = labels_frame.assign(Street=labels_frame["Street"].fillna("Pave"))
    step = SklearnTransformerWrapper(
        SklearnOneHotEncoder(handle_unknown="ignore", sparse_output=False),
        variables=["Street", "Alley"],
    ).fit(frame)
    _assert_compiled_matches(step, _with_unseen(frame))


@pytest.mark.parametrize(
    "make_step",
    [
        lambda: LogTransformer(variables=["Count"]),
        lambda: LogTransformer(variables=["Count"], base="10"),
        lambda: LogCpTransformer(variables=["Count", "Shift"], C=1),
        lambda: LogCpTransformer(variables=["Count", "Shift"], C="auto"),
        lambda: PowerTransformer(variables=["Count", "Shift"], exp=0.5),
        lambda: YeoJohnsonTransformer(variables=["Count", "Shift"]),
    ],
    ids=["log", "log10", "logcp", "logcp-auto", "power", "yeo-johnson"],
)
def test_numerical_transformations(make_step: Callable[[], Any]) -> None:
    frame = pd.DataFrame({"Count": [1, 2, 3, 10], "Shift": [0.0, 0.5, 2.0, 7.25]})
    step = make_step().fit(frame)
    _assert_compiled_matches(step, frame)


def test_numerical_transformations_raise_on_missing_and_non_positive_values() -> None:
    frame = pd.DataFrame({"Count": [1.0, 2.0, 3.0]})
    log = LogCpTransformer(variables=["Count"], C=1).fit(frame)
    _assert_both_raise(log, frame.assign(Count=[1.0, np.nan, 3.0]), "contain NaN")
    _assert_both_raise(log, frame.assign(Count=[1.0, -5.0, 3.0]), "zero or negative")
    _assert_both_raise(log, frame.assign(Count=[1.0, np.inf, 3.0]), "inf values")


@pytest.mark.parametrize("func", ["prod", "sum", "mean", "min", "max"])
def test_math_features(func: str) -> None:
    frame = pd.DataFrame({"A": [1.0, 2.5, 3.0], "B": [4, 5, 6], "C": [0.5, 0.25, 2.0]})
    step = MathFeatures(variables=["A", "B", "C"], func=func, new_variables_names=["New"])
    _assert_compiled_matches(step.fit(frame), frame)


def test_drop_features(labels_frame: pd.DataFrame) -> None:
    step = DropFeatures(features_to_drop=["Area", "Street"]).fit(labels_frame)
    _assert_compiled_matches(step, labels_frame)


def test_temporal_variable_transformer_and_mapper(labels_frame: pd.DataFrame) -> None:
    years = pd.DataFrame(
        {"YearBuilt": [2000.0, np.nan, 1950.0], "YrSold": [2008.0, 2009.0, 2010.0]}
    )
    temporal = TemporalVariableTransformer(variables=("YearBuilt",), reference_variable="YrSold")
    _assert_compiled_matches(temporal.fit(years), years)
    # An unmapped label and a missing value both become NaN.
    mapper = Mapper(variables=("Alley",), mappings={"A": 1, "B": 2}).fit(labels_frame)
    _assert_compiled_matches(mapper, labels_frame)


@pytest.mark.parametrize(
    "make_step",
    [
        lambda: MinMaxScaler(),
        lambda: MinMaxScaler(feature_range=(-1, 1), clip=True),
        lambda: StandardScaler(),
        lambda: StandardScaler(with_mean=False),
        lambda: RobustScaler(),
        lambda: RobustScaler().set_output(transform="pandas"),
    ],
    ids=["min-max", "min-max-clip", "standard", "standard-no-mean", "robust", "robust-pandas"],
)
def test_scalers_keep_nan_and_match(make_step: Callable[[], Any]) -> None:
    frame = pd.DataFrame({"A": [1.0, 2.0, np.nan, 8.0], "B": [3, 1, 4, 1]})
    step = make_step().fit(frame.fillna(0))
    _assert_compiled_matches(step, frame.assign(A=[1.0, 20.0, np.nan, -8.0]))


@pytest.mark.parametrize(
    "estimator",
    [
        LinearRegression(),
        Ridge(alpha=0.5),
        Lasso(alpha=0.01),
        ElasticNet(alpha=0.01),
        TransformedTargetRegressor(regressor=Lasso(alpha=0.01), func=np.log, inverse_func=np.exp),
        TransformedTargetRegressor(regressor=Ridge(), transformer=StandardScaler()),
        VotingRegressor(
            [("lasso", Lasso(alpha=0.01)), ("trees", HistGradientBoostingRegressor(max_iter=20))],
            weights=[2, 1],
        ),
    ],
    ids=["ols", "ridge", "lasso", "elastic-net", "log-target", "scaled-target", "voting"],
)
def test_compiled_estimators_match_their_predict(estimator: Any) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = np.exp(X @ np.array([0.5, -0.2, 0.1, 0.0]) + 10 + rng.normal(scale=0.1, size=200))
    estimator.fit(X, y)

    assert class_path(estimator) in ESTIMATORS
    np.testing.assert_allclose(compile_estimator(estimator)(X), estimator.predict(X), rtol=RTOL)


@pytest.mark.parametrize("n_rows", [1, 3, TREE_WALK_MAX_ROWS, TREE_WALK_MAX_ROWS + 1])
def test_gradient_boosting_walks_its_trees_as_scikit_learn_does(n_rows: int) -> None:
    """Check the numpy tree walk for a few rows, ties with thresholds included."""
    # Given gradient boosting fitted on a few features
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5))
    model = GradientBoostingRegressor(n_estimators=50, max_depth=3, loss="huber")
    model.fit(X, X[:, 0] - 2 * X[:, 1] ** 2 + rng.normal(scale=0.1, size=300))

    # When rows hold values equal to the trees' own thresholds (float32 rounding decides)
    tree = model.estimators_[0, 0].tree_
    splits = tree.feature >= 0
    rows = rng.normal(size=(n_rows, 5))
    rows[:, tree.feature[splits][0]] = tree.threshold[splits][0]

    # Then the compiled form predicts what the model predicts
    assert class_path(model) in ESTIMATORS
    np.testing.assert_allclose(compile_estimator(model)(rows), model.predict(rows), rtol=RTOL)


def test_linear_model_rejects_missing_values_as_scikit_learn_does() -> None:
    X = np.arange(12.0).reshape(6, 2)
    model = Lasso(alpha=0.01).fit(X, np.arange(6.0))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(X)
    with pytest.raises(ValueError, match="NaN"):
        compile_estimator(model)(X)


def test_every_registered_class_exists() -> None:
    """Check the registry's import paths, so a library that moves a class fails here."""
    for path in [*TRANSFORMERS, *ESTIMATORS]:
        module_name, _, class_name = path.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module_name), class_name), type), path


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


def test_column_arrays_has_a_public_fallback(
    monkeypatch: pytest.MonkeyPatch, labels_frame: pd.DataFrame
) -> None:
    """Check that reading columns works if pandas drops its private column iterator."""
    fast = column_arrays(labels_frame)
    monkeypatch.delattr(pd.DataFrame, "_iter_column_arrays")
    slow = column_arrays(labels_frame)
    assert len(fast) == len(slow) == labels_frame.shape[1]
    for a, b in zip(fast, slow):
        assert pd.Series(a).equals(pd.Series(b))


# ---------------------------------------------------------------------------------------
# Chunks, arrays and the compiled forms' own fallbacks
# ---------------------------------------------------------------------------------------


def test_batches_are_scored_in_chunks_with_rows_selected_per_chunk(
    fitted_pipeline: Pipeline,
    scorer: PipelineScorer,
    config: Config,
    test_records: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given 300 validated houses, a whole chunk of which is left out
    validated = _validated(test_records.head(300), config)
    rows = validated.is_valid.copy()
    rows[50:100] = False
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 50)

    # When they are scored 50 rows at a time
    got = scorer.predict(validated.frame, rows=rows, labels=validated.labels)

    # Then the prices are those of the selected rows, in order
    np.testing.assert_allclose(got, fitted_pipeline.predict(validated.frame[rows]), rtol=RTOL)


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
    with pytest.raises(scoring.NotCompiled):
        table.labels("when")
    with pytest.raises(scoring.NotCompiled):
        table.numeric("text")
    with pytest.raises(scoring.NotCompiled):
        table.to_matrix(["count", "text"])
    pd.testing.assert_series_equal(table.to_frame()["when"], frame["when"])


def test_array_pipeline_scales_a_copy_and_feature_engine_steps_fall_back() -> None:
    """Check array input: scikit-learn steps compile, feature-engine's get x0..xn frames."""
    # Given a pipeline fitted on an array: a scaler, then feature-engine, then a model
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 3))
    y = X @ np.array([1.0, -1.0, 0.5])
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("impute", MeanMedianImputer()),
            ("model", LinearRegression()),
        ]
    ).fit(X, y)
    untouched = X.copy()

    # When the scorer predicts from the same array
    got = compile_pipeline(pipeline).predict(X)

    # Then it matches and leaves the caller's array alone
    np.testing.assert_allclose(got, pipeline.predict(X), rtol=RTOL)
    np.testing.assert_array_equal(X, untouched)


class _SumNumbers(BaseEstimator):
    """A final step the registry does not know: the sum of each row's numbers."""

    def fit(self, X: Any, y: Any = None) -> _SumNumbers:
        self.is_fitted_ = True
        return self

    def predict(self, X: Any) -> Any:
        numbers = pd.DataFrame(X).select_dtypes("number").astype(np.float64)
        return numbers.sum(axis=1).to_numpy()


def _labels_and_numbers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Street": pd.Series(["Pave", "Grvl", "Pave", "Pave", "Grvl", "Pave"], dtype=object),
            "Area": [1.0, 2.0, np.nan, 4.0, -1.0, 6.0],
            "Count": [1, 2, 3, 4, 5, 6],
            "Rooms": [3.0, 2.0, 5.0, 4.0, 4.0, 1.0],
        }
    )


@pytest.mark.parametrize(
    "make_step",
    [
        lambda: SklearnTransformerWrapper(StandardScaler(), variables=["Count"]),
        lambda: SklearnTransformerWrapper(SimpleImputer(missing_values=2), variables=["Count"]),
        lambda: SklearnTransformerWrapper(
            SklearnOneHotEncoder(sparse_output=False, drop="first"), variables=["Street"]
        ),
        lambda: MathFeatures(variables=["Count", "Rooms"], func=["sum", "prod"]),
        lambda: MathFeatures(variables=["Area", "Count"], func="sum", missing_values="ignore"),
    ],
    ids=["wrapped-scaler", "imputer-of-minus-one", "one-hot-drop", "two-functions", "nan-ok"],
)
def test_options_without_a_compiled_form_fall_back(make_step: Callable[[], Any]) -> None:
    # Given a pipeline whose first step has options its compiler does not handle
    X = _labels_and_numbers()
    pipeline = Pipeline([("step", make_step()), ("sum", _SumNumbers())]).fit(X)

    # When it is compiled
    scorer = compile_pipeline(pipeline)

    # Then the step runs its own transform, and the predictions match
    assert scorer.fallback_steps == ["step"]
    np.testing.assert_allclose(scorer.predict(X), pipeline.predict(X), rtol=RTOL)


def test_a_compiled_step_gives_up_on_input_it_was_not_built_for() -> None:
    X = _labels_and_numbers()
    with_name_taken = X.assign(Area_na=0)
    indicator = AddMissingIndicator(variables=["Area"]).fit(with_name_taken)
    with pytest.raises(scoring.NotCompiled):  # the indicator's name is a column already
        _compiled(indicator)(Table.from_frame(with_name_taken))
    imputer = CategoricalImputer(
        imputation_method="missing", variables=["Area"], ignore_format=True
    )
    with pytest.raises(scoring.NotCompiled):  # numbers filled with the text "Missing"
        _compiled(imputer.fit(X))(Table.from_frame(X))


@pytest.mark.parametrize(
    ("make_step", "X", "match"),
    [
        (
            lambda: OrdinalEncoder(encoding_method="arbitrary", variables=["Street"]),
            pd.DataFrame({"Street": pd.Series(["Pave", np.nan], dtype=object)}),
            "contain NaN",
        ),
        (
            lambda: SklearnTransformerWrapper(
                SklearnOneHotEncoder(sparse_output=False, handle_unknown="error"),
                variables=["Street"],
            ),
            pd.DataFrame({"Street": pd.Series(["Pave", "Unheard"], dtype=object)}),
            "unknown categories",
        ),
        (lambda: StandardScaler(), pd.DataFrame({"Street": [0.0, np.inf]}), "infinity"),
    ],
    ids=["encoder-missing", "one-hot-unknown", "scaler-infinity"],
)
def test_bad_data_raises_in_the_scorer_as_in_the_step(
    make_step: Callable[[], Any], X: pd.DataFrame, match: str
) -> None:
    is_numeric = pd.api.types.is_numeric_dtype(X["Street"].dtype)
    fit_on = pd.DataFrame({"Street": [0.0, 1.0] if is_numeric else ["Pave", "Grvl"]}, dtype=object)
    step = make_step().fit(fit_on.astype(np.float64) if is_numeric else fit_on)
    scorer = compile_pipeline(Pipeline([("step", step), ("sum", _SumNumbers())]))
    with pytest.raises(ValueError, match=match):
        step.transform(X)
    with pytest.raises(ValueError, match=match):
        scorer.predict(X)


@pytest.mark.parametrize(
    "estimator",
    [
        Ridge(),
        GradientBoostingRegressor(n_estimators=20, init=LinearRegression()),
        VotingRegressor([("ols", LinearRegression()), ("ridge", Ridge(alpha=3.0))]),
        TransformedTargetRegressor(regressor=LinearRegression(), func=None, inverse_func=None),
    ],
    ids=["two-targets", "boosting-from-a-model", "voting-unweighted", "identity-target"],
)
def test_estimators_compiled_or_not_match_their_predict(estimator: Any) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, 2.0, -1.0]) + 5
    target = np.column_stack([y, -y]) if isinstance(estimator, Ridge) else y
    estimator.fit(X, target)
    for rows in (X[:1], X):
        np.testing.assert_allclose(compile_estimator(estimator)(rows), estimator.predict(rows))


def test_gradient_boosting_leaves_non_finite_rows_to_scikit_learn() -> None:
    X = np.random.default_rng(4).normal(size=(50, 2))
    model = GradientBoostingRegressor(n_estimators=5).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="NaN"):
        compile_estimator(model)(np.array([[np.nan, 0.0]]))
