"""Explanations: each input column's part of a house's log price (regression_model/explain.py)."""

from __future__ import annotations

import copy
import itertools
import math
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import TransformedTargetRegressor
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor, VotingRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline

from regression_model.config.core import DATASET_DIR, Config
from regression_model.errors import ModelNotExplainableError
from regression_model.explain import Explainer, build_explainer
from regression_model.predict import make_prediction
from regression_model.processing.boosted_trees import XGBoostTreesRegressor
from regression_model.processing.scoring import Table, compile_pipeline
from regression_model.processing.validation import validate_records
from regression_model.results import Explanation, PredictionResult, WarningKind

# The explanation's promise: with the base they add up to the log price to this tolerance.
LOG_PRICE_TOLERANCE = 1e-6


def _explainer(pipeline: Pipeline) -> Explainer:
    return build_explainer(pipeline=pipeline, scorer=compile_pipeline(pipeline))


def _validated(records: pd.DataFrame, config: Config) -> pd.DataFrame:
    return validate_records(records=records, schema=config.model.inputs).frame


def _log_price_gap(price: float | None, explanation: Explanation | None) -> float:
    assert price is not None and explanation is not None
    explained = explanation.base + math.fsum(explanation.contributions.values())
    return abs(math.log(price) - explained - explanation.price_band)


def test_explanations_add_up_to_the_log_price_on_every_row_of_test_csv(
    explained_test_set: PredictionResult, config: Config
) -> None:
    # Given every row of test.csv, explained
    result = explained_test_set
    assert result.explanations is not None

    # Then every priced row has an explanation over every input column, and only those
    priced = [row for row, price in enumerate(result.predictions) if price is not None]
    assert len(priced) == 1458
    assert [row for row, found in enumerate(result.explanations) if found] == priced
    gaps = [_log_price_gap(result.predictions[row], result.explanations[row]) for row in priced]
    assert max(gaps) < LOG_PRICE_TOLERANCE
    first = result.explanations[0]
    assert first is not None
    assert list(first.contributions) == list(config.model.inputs.features)
    assert len({found.base for found in result.explanations if found}) == 1


def test_explanations_put_the_largest_contributions_in_words(
    explained_test_set: PredictionResult, config: Config, test_records: pd.DataFrame
) -> None:
    # Given an explained house
    assert explained_test_set.explanations is not None
    explanation = explained_test_set.explanations[4]
    assert explanation is not None

    # Then its words name the configured number of columns, largest first, with the value
    # the user sent and the change to the price
    assert len(explanation.top) == config.explain.top_columns
    largest = sorted(explanation.contributions.items(), key=lambda item: -abs(item[1]))
    for words, (column, contribution) in zip(explanation.top, largest):
        value: Any = test_records.at[4, column]
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # the words show 80, not 80.0
        change = 100 * math.expm1(contribution)
        shown = f"{change:+.0f}%" if abs(change) >= 1 else f"{change:+.1f}%"
        assert words == f"{column} {value}: {shown}"


@pytest.mark.parametrize(
    ("column", "value"),
    [("OverallQual", 10), ("Neighborhood", "NoRidge"), ("GrLivArea", 3000), ("YrSold", 2006)],
    ids=["score", "label", "area", "sale-year"],
)
def test_a_column_changed_in_one_row_moves_only_that_rows_explanation(
    test_records: pd.DataFrame, column: str, value: int | str
) -> None:
    """Check that an explanation depends on its own row only, and follows the column."""
    # Given twelve houses, and a copy where one house has another value in one column
    houses = test_records.head(12).reset_index(drop=True)
    changed = houses.copy()
    changed[column] = changed[column].astype(object)
    changed.loc[5, column] = value

    # When both are explained
    before = make_prediction(input_data=houses, explain=True).explanations
    after = make_prediction(input_data=changed, explain=True).explanations
    assert before is not None and after is not None

    # Then every other row's explanation is the same, bit for bit, and that row's
    # contribution of the changed column moved
    assert [found for row, found in enumerate(after) if row != 5] == [
        found for row, found in enumerate(before) if row != 5
    ]
    assert after[5] is not None and before[5] is not None
    assert after[5].contributions[column] != before[5].contributions[column]


def test_a_batch_priced_in_chunks_on_threads_is_explained_row_for_row(
    test_records: pd.DataFrame,
) -> None:
    """Check that chunks explained on two threads join back in input order."""
    # Given a batch of more than one chunk, with the bad row of test.csv in the second one
    batch = pd.concat([test_records] * 6, ignore_index=True)  # 8,754 rows: two chunks

    # When it is explained on two threads, and on one
    threaded = make_prediction(input_data=batch, explain=True, threads=2).explanations
    alone = make_prediction(input_data=batch, explain=True, threads=1).explanations

    # Then the explanations are the same, row for row, None where the row has no price
    assert threaded is not None and alone is not None
    assert threaded == alone
    assert [row for row, found in enumerate(threaded) if found is None] == [
        1132 + 1459 * copy_ for copy_ in range(6)
    ]


@settings(max_examples=15)
@given(
    rows=st.lists(st.integers(0, 1458), min_size=1, max_size=6),
    quality=st.integers(1, 10),
    living_area=st.floats(0, 250_000),
    neighborhood=st.sampled_from(["NAmes", "NoRidge", "Atlantis"]),
)
def test_any_changed_houses_explanations_add_up_to_their_log_prices(
    test_records: pd.DataFrame, rows: list[int], quality: int, living_area: float, neighborhood: str
) -> None:
    """Check the sum on houses changed anywhere in the schema's range, held values included."""
    # Given a few houses of test.csv with another quality, living area and neighbourhood
    houses = test_records.iloc[rows].assign(
        OverallQual=quality, GrLivArea=living_area, Neighborhood=neighborhood
    )

    # When they are explained
    result = make_prediction(input_data=houses, explain=True)
    assert result.explanations is not None

    # Then every priced house's parts add up to its log price
    for price, explanation in zip(result.predictions, result.explanations):
        assert (price is None) == (explanation is None)
        if price is not None:
            assert _log_price_gap(price, explanation) < LOG_PRICE_TOLERANCE


@pytest.mark.parametrize(
    ("column", "prefix"),
    [("LotArea", "LotArea"), ("Neighborhood", "Neighborhood_"), ("SaleCondition", "SaleCond")],
    ids=["logged-area", "one-hot-label", "one-hot-label-2"],
)
def test_a_linear_models_contribution_is_its_coefficients_times_the_distance_from_the_mean(
    linear_pipeline: Pipeline,
    training_sample: tuple[pd.DataFrame, pd.Series],
    test_records: pd.DataFrame,
    config: Config,
    column: str,
    prefix: str,
) -> None:
    """Check the linear member against a hand computation through scikit-learn's own steps."""
    # Given a Lasso pipeline, its model matrix on the training rows and on some houses
    features, _ = training_sample
    houses = _validated(test_records.head(20), config)
    to_matrix = linear_pipeline[:-1]
    names = list(linear_pipeline[-2].feature_names_in_)
    lasso = linear_pipeline[-1].regressor_.regressor_
    used = [position for position, name in enumerate(names) if name.startswith(prefix)]

    # When the houses are explained
    contributions, _ = _explainer(linear_pipeline).contributions(houses, np.ones(20, dtype=bool))

    # Then the column's contribution is sum(coef * (z - training mean)) over its columns
    mean = to_matrix.transform(features).mean(axis=0)
    by_hand = ((to_matrix.transform(houses) - mean) * lasso.coef_)[:, used].sum(axis=1)
    position = list(config.model.inputs.features).index(column)
    np.testing.assert_allclose(contributions[:, position], by_hand, rtol=1e-9, atol=1e-12)
    assert np.abs(by_hand).max() > 0  # the test compares something


def _tree_expectation(tree: pd.DataFrame, row: np.ndarray, known: set[int]) -> float:
    """The tree's expected value given the features in ``known`` (TreeSHAP's Algorithm 1)."""
    nodes: dict[str, Any] = {str(node["ID"]): node for node in tree.to_dict("records")}

    def value(node_id: str) -> float:
        node = nodes[node_id]
        if node["Feature"] == "Leaf":
            return float(node["Gain"])
        feature = int(str(node["Feature"]).lstrip("f"))
        if feature in known:
            return value(node["Yes"] if row[feature] < node["Split"] else node["No"])
        yes, no = nodes[node["Yes"]], nodes[node["No"]]
        weighted = yes["Cover"] * value(node["Yes"]) + no["Cover"] * value(node["No"])
        return float(weighted / node["Cover"])

    return value(f"{int(tree['Tree'].iloc[0])}-0")


def _brute_force_shapley(trees: XGBoostTreesRegressor, row: np.ndarray) -> np.ndarray:
    """Shapley values of the trees' path-dependent expectation, over every feature subset."""
    import xgboost

    booster = xgboost.Booster(model_file=bytearray(trees.booster_))
    frame = booster.trees_to_dataframe()
    n_features = len(row)
    values = np.zeros(n_features + 1)
    for _, tree in frame.groupby("Tree"):
        for feature in range(n_features):
            others = [other for other in range(n_features) if other != feature]
            for size in range(n_features):
                weight = (
                    math.factorial(size)
                    * math.factorial(n_features - size - 1)
                    / math.factorial(n_features)
                )
                for subset in itertools.combinations(others, size):
                    with_it = _tree_expectation(tree, row, {*subset, feature})
                    without = _tree_expectation(tree, row, set(subset))
                    values[feature] += weight * (with_it - without)
        values[-1] += _tree_expectation(tree, row, set())
    values[-1] += trees.base_score_
    return values


def test_the_trees_explanation_is_exact_treeshap() -> None:
    """Check XGBoost's values against Shapley values computed over every feature subset."""
    # Given small boosted trees on four features
    generator = np.random.default_rng(0)
    X = generator.normal(size=(200, 4))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + 0.1 * generator.normal(size=200)
    trees = XGBoostTreesRegressor(n_estimators=5, max_depth=3, learning_rate=0.3).fit(X, y)
    rows = X[:3].astype(np.float32)

    # When they are explained
    values = trees.shap_values(rows)

    # Then each row's values are the Shapley values of the trees' expectation, and they
    # add up to the prediction
    for row, found in zip(rows, values):
        np.testing.assert_allclose(found, _brute_force_shapley(trees, row), atol=1e-5)
    np.testing.assert_allclose(values.sum(axis=1), trees.predict(rows), atol=1e-5)


def test_a_blends_contributions_add_up_exactly_to_its_log_price(
    fitted_pipeline: Pipeline, test_records: pd.DataFrame, config: Config
) -> None:
    """Check the float32 gap of the trees is spread so that the blend's parts add up."""
    # Given the sample pipeline (Lasso and XGBoost) and some houses
    houses = _validated(test_records.head(40), config)
    explainer = _explainer(fitted_pipeline)

    # When they are explained
    contributions, _ = explainer.contributions(houses, np.ones(40, dtype=bool))

    # Then base and contributions give the log of the pipeline's own price
    log_prices = np.log(fitted_pipeline.predict(houses))
    explained = explainer.base + contributions.sum(axis=1)
    np.testing.assert_allclose(explained, log_prices, rtol=0, atol=LOG_PRICE_TOLERANCE)


def test_every_model_column_hands_on_all_of_its_contribution(
    fitted_pipeline: Pipeline, test_records: pd.DataFrame, config: Config
) -> None:
    """Check that the shares of every model column's sources add up to 1 on every row."""
    # Given some houses, one without a basement
    houses = _validated(test_records.head(30), config)
    houses.loc[0, ["TotalBsmtSF", "BsmtFinSF1", "BsmtFinSF2", "BsmtUnfSF"]] = 0.0
    table = Table.from_frame(houses)

    # When the feature steps are followed back to the input columns
    _, names, lineage, _ = _explainer(fitted_pipeline)._trace(table)

    # Then every model column's shares add up to 1, and a sum is shared by its parts' sizes
    for name in names:
        total = sum(np.broadcast_to(share, (30,)) for share in lineage[name].values())
        np.testing.assert_allclose(total, 1.0, err_msg=name)
    total_sf = lineage["TotalSF"]
    assert np.broadcast_to(total_sf["TotalBsmtSF"], (30,))[0] == 0.0
    assert set(total_sf) == {"TotalBsmtSF", "1stFlrSF", "2ndFlrSF"}
    assert set(lineage["QualSF"]) == {"OverallQual", "TotalBsmtSF", "1stFlrSF", "2ndFlrSF"}
    np.testing.assert_allclose(lineage["QualSF"]["OverallQual"], 0.5)
    assert lineage["YearBuilt"] == {"YearBuilt": 1.0}  # the age is the year column's
    assert lineage["HasGarage"] == {"GarageArea": 1.0}
    assert lineage["Neighborhood_NAmes"] == {"Neighborhood": 1.0}


def test_a_value_held_to_the_training_range_says_so(test_records: pd.DataFrame) -> None:
    # Given a house with a living area far beyond any in training
    house = test_records.head(1).assign(GrLivArea=60_000.0)

    # When it is explained, every column in words
    result = make_prediction(input_data=house, explain=True, explain_top=100)

    # Then its explanation lists the column as held, and its words say so
    assert result.explanations is not None and result.explanations[0] is not None
    explanation = result.explanations[0]
    assert "GrLivArea" in explanation.held
    assert "LotArea" not in explanation.held
    (words,) = [words for words in explanation.top if words.startswith("GrLivArea ")]
    assert words.startswith("GrLivArea 60000 (held to the training range): ")
    assert _log_price_gap(result.predictions[0], explanation) < LOG_PRICE_TOLERANCE


def test_a_price_held_by_the_band_has_a_band_term_so_the_parts_still_add_up(
    train_records: pd.DataFrame,
) -> None:
    # Given the training houses the outlier rule drops: the larger is priced at the band's top
    outliers = train_records[
        (train_records["GrLivArea"] > 4000) & (train_records["SalePrice"] < 300_000)
    ]

    # When they are explained
    result = make_prediction(input_data=outliers, explain=True)
    assert result.explanations is not None

    # Then the row held by the band has a non-zero band term, the other none, and both add up
    held_by_band = {w.row for w in result.warnings if w.kind is WarningKind.PRICE_AT_BAND_EDGE}
    assert len(held_by_band) == 1
    for row, (price, explanation) in enumerate(zip(result.predictions, result.explanations)):
        assert explanation is not None
        assert (explanation.price_band != 0) == (row in held_by_band)
        assert _log_price_gap(price, explanation) < LOG_PRICE_TOLERANCE
    band_row = held_by_band.pop()
    assert result.explanations[band_row].price_band < 0  # type: ignore[union-attr]


# Run in a new interpreter: prices the houses of the file it is given without explain, and
# says whether the result has explanations and whether the explanation module was imported.
WITHOUT_EXPLAIN = """
import sys
import pandas as pd
from regression_model.predict import make_prediction
result = make_prediction(input_data=pd.read_csv(sys.argv[1]).head(20))
print(result.explanations is None, "regression_model.explain" in sys.modules)
"""


def test_a_prediction_without_explain_has_none_and_never_imports_the_explainer(
    config: Config,
) -> None:
    # Given a new interpreter, when it prices houses without asking why
    houses = DATASET_DIR / config.app.test_data_file
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXPLAIN, houses], capture_output=True, text=True, check=True
    )

    # Then there are no explanations, and the explanation module was never loaded
    assert run.stdout.split() == ["True", "False"]


@pytest.mark.parametrize(
    "explain_top", [0, -1, True, 2.5], ids=["zero", "negative", "bool", "float"]
)
def test_explain_top_must_be_a_whole_number_of_at_least_one(
    raw_records: pd.DataFrame, explain_top: Any
) -> None:
    with pytest.raises(ValueError, match="explain_top=.*at least 1"):
        make_prediction(input_data=raw_records, explain=True, explain_top=explain_top)


def test_explain_top_sets_how_many_columns_are_put_in_words(raw_records: pd.DataFrame) -> None:
    result = make_prediction(input_data=raw_records.head(3), explain=True, explain_top=6)
    assert result.explanations is not None
    assert [len(found.top) for found in result.explanations if found] == [6, 6, 6]


def _with_member(pipeline: Pipeline, member: Any) -> Pipeline:
    broken = copy.deepcopy(pipeline)
    broken[-1].regressor_.regressor_ = member
    return broken


def _fitted(estimator: Any, pipeline: Pipeline, features: pd.DataFrame, y: pd.Series) -> Any:
    return estimator.fit(pipeline[:-1].transform(features), np.log(y))


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (DummyRegressor(), "a DummyRegressor cannot be explained"),
        (HistGradientBoostingRegressor(max_iter=5), "a HistGradientBoostingRegressor cannot"),
    ],
    ids=["dummy", "sklearn-trees"],
)
def test_a_member_that_cannot_be_explained_is_named(
    fitted_pipeline: Pipeline,
    training_sample: tuple[pd.DataFrame, pd.Series],
    member: Any,
    message: str,
) -> None:
    # Given the sample pipeline with a member explanations do not cover
    fitted = _fitted(member, fitted_pipeline, *training_sample)
    broken = _with_member(fitted_pipeline, fitted)

    # When an explainer is built, then it fails naming the member
    with pytest.raises(ModelNotExplainableError, match=message):
        _explainer(broken)


def test_any_weighted_blend_of_linear_and_tree_members_adds_up(
    fitted_pipeline: Pipeline,
    training_sample: tuple[pd.DataFrame, pd.Series],
    test_records: pd.DataFrame,
    config: Config,
) -> None:
    """Check learned weights and a third (Ridge) member, as issue 21's stacking may give."""
    # Given a blend of Lasso, XGBoost and Ridge with unequal weights
    members = fitted_pipeline[-1].regressor_.regressor_.estimators_
    blend = VotingRegressor(
        [("lasso", members[0]), ("xgboost", members[1]), ("ridge", Ridge())],
        weights=[0.5, 0.3, 0.2],
    )
    blend.estimators_ = [
        members[0],
        members[1],
        _fitted(Ridge(), fitted_pipeline, *training_sample),
    ]
    pipeline = _with_member(fitted_pipeline, blend)
    houses = _validated(test_records.head(25), config)

    # When houses are explained
    explainer = _explainer(pipeline)
    contributions, _ = explainer.contributions(houses, np.ones(25, dtype=bool))

    # Then the parts add up to the log of the blend's price
    explained = explainer.base + contributions.sum(axis=1)
    np.testing.assert_allclose(
        explained, np.log(pipeline.predict(houses)), rtol=0, atol=LOG_PRICE_TOLERANCE
    )


def test_a_regressor_not_learning_log_prices_cannot_be_explained(
    fitted_pipeline: Pipeline,
) -> None:
    broken = copy.deepcopy(fitted_pipeline)
    broken[-1].regressor_ = TransformedTargetRegressor(func=np.sqrt, inverse_func=np.square)
    with pytest.raises(ModelNotExplainableError, match="learn log\\(price\\)"):
        _explainer(broken)


def test_a_model_saved_before_explanations_asks_to_be_retrained(
    fitted_pipeline: Pipeline,
) -> None:
    broken = copy.deepcopy(fitted_pipeline)
    del broken[-1].feature_mean_
    with pytest.raises(ModelNotExplainableError, match="retrain"):
        _explainer(broken)


def test_trees_without_xgboost_cannot_be_explained_and_say_why(
    fitted_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the sample pipeline, unpickled (no booster loaded) where XGBoost cannot import
    unpickled = copy.deepcopy(fitted_pipeline)
    monkeypatch.setitem(sys.modules, "xgboost", None)  # makes the import raise ImportError

    # When an explainer is built (it explains a row to learn the trees' base), then it
    # fails in one line naming XGBoost
    with pytest.raises(ModelNotExplainableError, match="needs XGBoost"):
        _explainer(unpickled)


def test_result_rejects_explanations_that_do_not_align_with_the_prices() -> None:
    explanation = Explanation(
        base=12.0, contributions={"LotArea": 0.1}, price_band=0.0, top=[], held=[]
    )
    with pytest.raises(ValueError, match="one per priced row"):
        PredictionResult(
            predictions=[100_000.0, None],
            errors=[{"row": 1, "column": None, "kind": "missing_value", "message": "x"}],
            version="1",
            explanations=[explanation, explanation],
        )
