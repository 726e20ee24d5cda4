"""Our own transformers: scikit-learn's checks, a DataFrame contract, and exact behaviour."""

from __future__ import annotations

import inspect
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from regression_model.processing import features
from regression_model.processing.arithmetic import (
    map_labels,
    presence_flags,
    weighted_sum,
    years_before,
)
from regression_model.processing.features import (
    Mapper,
    PresenceFlags,
    RangeCapper,
    TemporalVariableTransformer,
    WeightedSums,
)
from tests.strategies import integer_frames, label_frames

QUALITY = {"Po": 1, "Fa": 2, "TA": 3, "Gd": 4, "Ex": 5}

# Every public transformer in features.py, configured for HOUSES. A new transformer must be
# added here (test_every_public_transformer_is_tested enforces it), which puts it through the
# DataFrame contract below.
ALL_TRANSFORMERS: tuple[BaseEstimator, ...] = (
    TemporalVariableTransformer(
        variables=("YearBuilt", "YearRemodAdd"), reference_variable="YrSold"
    ),
    Mapper(variables=("ExterQual", "KitchenQual"), mappings=QUALITY),
    WeightedSums(sums={"TotalBath": {"FullBath": 1.0, "HalfBath": 0.5}}),
    PresenceFlags(flags={"HasGarage": "GarageArea"}),
    RangeCapper(variables=("GrLivArea", "GarageArea"), margin=0.1),
)

# Array input is wrapped into columns x0..xn, so scikit-learn's checks (which feed arrays)
# need instances that name those columns.
SKLEARN_CHECKED: tuple[BaseEstimator, ...] = (
    TemporalVariableTransformer(variables=("x0",), reference_variable="x1"),
    Mapper(variables=("x0",), mappings=QUALITY),
    WeightedSums(sums={"twice_x0": {"x0": 2.0}}),
    PresenceFlags(flags={"has_x0": "x0"}),
    RangeCapper(),
)

# A few houses, indexed from 10 so that a transformer that drops the index is caught.
HOUSES = pd.DataFrame(
    {
        "YearBuilt": [1990.0, 2005.0, np.nan],
        "YearRemodAdd": [2000.0, 2005.0, 1970.0],
        "YrSold": [2008.0, 2010.0, 2007.0],
        "ExterQual": ["Gd", "TA", None],
        "KitchenQual": ["Ex", "Unheard", "Fa"],
        "GrLivArea": [1500.0, 900.0, 2100.0],
        "FullBath": [2, 1, 1],
        "HalfBath": [1, 0, np.nan],
        "GarageArea": [480.0, 0.0, np.nan],
    },
    index=pd.Index([10, 11, 12]),
)
# The same houses with a living area far beyond those above, so that every transformer
# fitted on HOUSES changes something when it transforms these.
WILD_HOUSES = HOUSES.assign(GrLivArea=[1500.0, 90000.0, 2100.0])


def _ids(transformers: tuple[BaseEstimator, ...]) -> list[str]:
    return [type(transformer).__name__ for transformer in transformers]


def _public_classes() -> set[type]:
    return {
        obj
        for name, obj in inspect.getmembers(features, inspect.isclass)
        if obj.__module__ == features.__name__ and not name.startswith("_")
    }


def _expected_failed_checks(estimator: BaseEstimator) -> dict[str, str]:
    # Our transformers work on named DataFrame columns; scikit-learn's checks feed arrays,
    # which we wrap into x0..xn. Only one check then does not apply: it fits one column.
    if isinstance(estimator, TemporalVariableTransformer):
        return {
            "check_fit2d_1feature": "needs a year column and a reference column; one column "
            "cannot hold both, so fit rightly raises 'Columns not found'",
        }
    return {}


@parametrize_with_checks(list(SKLEARN_CHECKED), expected_failed_checks=_expected_failed_checks)
def test_transformer_passes_sklearn_estimator_checks(
    estimator: BaseEstimator, check: object
) -> None:
    check(estimator)  # type: ignore[operator]


def test_every_public_transformer_is_tested() -> None:
    """Check that no public class in features.py escapes the checks and the contract."""
    # Given the public classes defined in features.py
    public = _public_classes()

    # Then each is in ALL_TRANSFORMERS and in the scikit-learn checks
    assert public == {type(transformer) for transformer in ALL_TRANSFORMERS}
    assert public == {type(transformer) for transformer in SKLEARN_CHECKED}


# DataFrame contract, for every transformer -------------------------------------------------


@pytest.mark.parametrize("transformer", ALL_TRANSFORMERS, ids=_ids(ALL_TRANSFORMERS))
def test_transformer_raises_not_fitted_before_fit(transformer: BaseEstimator) -> None:
    # Given an unfitted transformer
    unfitted = clone(transformer)

    # When it is used before fit
    # Then it raises NotFittedError
    with pytest.raises(NotFittedError):
        unfitted.transform(HOUSES)
    with pytest.raises(NotFittedError):
        unfitted.get_feature_names_out()


@pytest.mark.parametrize("transformer", ALL_TRANSFORMERS, ids=_ids(ALL_TRANSFORMERS))
def test_transformer_fit_returns_self_and_learns_only_underscored_attributes(
    transformer: BaseEstimator,
) -> None:
    # Given an unfitted transformer
    unfitted = clone(transformer)
    before = set(vars(unfitted))

    # When it is fitted
    fitted = unfitted.fit(HOUSES)

    # Then fit returned the same object and every attribute it added ends in "_"
    assert fitted is unfitted
    learned = set(vars(fitted)) - before
    assert learned
    assert all(name.endswith("_") for name in learned), sorted(learned)


@pytest.mark.parametrize("transformer", ALL_TRANSFORMERS, ids=_ids(ALL_TRANSFORMERS))
def test_transformer_leaves_its_input_unchanged_and_keeps_the_index(
    transformer: BaseEstimator,
) -> None:
    # Given frames to fit on and to transform, and copies of them
    houses, wild = HOUSES.copy(), WILD_HOUSES.copy()

    # When the transformer fits on one and transforms the other
    transformed = clone(transformer).fit(houses).transform(wild)

    # Then both inputs are untouched and the output is a new frame with the input's index
    pd.testing.assert_frame_equal(houses, HOUSES)
    pd.testing.assert_frame_equal(wild, WILD_HOUSES)
    assert isinstance(transformed, pd.DataFrame)
    pd.testing.assert_index_equal(transformed.index, WILD_HOUSES.index)
    assert not transformed.equals(WILD_HOUSES)


@pytest.mark.parametrize("transformer", ALL_TRANSFORMERS, ids=_ids(ALL_TRANSFORMERS))
def test_transformer_feature_names_out_equal_output_columns(transformer: BaseEstimator) -> None:
    # Given a fitted transformer
    fitted = clone(transformer).fit(HOUSES)

    # When it transforms the frame
    transformed = fitted.transform(HOUSES)

    # Then get_feature_names_out names the output columns, in order, as scikit-learn's own
    # transformers do: an array of Python strings
    names = fitted.get_feature_names_out()
    assert list(names) == list(transformed.columns)
    assert names.dtype == object


@pytest.mark.parametrize("transformer", SKLEARN_CHECKED, ids=_ids(SKLEARN_CHECKED))
def test_transformer_fitted_on_an_array_names_its_columns_x0_to_xn(
    transformer: BaseEstimator,
) -> None:
    # Given a transformer fitted on an array of two columns, which has no column names
    fitted = clone(transformer).fit(np.array([[1.0, 2.0], [3.0, 4.0]]))

    # When it names its output
    names = fitted.get_feature_names_out()

    # Then the inputs are x0 and x1, any new columns follow, and the names are strings
    new_features = getattr(fitted, "new_features_", [])
    assert list(names) == ["x0", "x1", *new_features]
    assert names.dtype == object


@pytest.mark.parametrize("transformer", ALL_TRANSFORMERS, ids=_ids(ALL_TRANSFORMERS))
def test_transformer_tags_say_missing_values_pass_and_the_output_is_a_frame(
    transformer: BaseEstimator,
) -> None:
    # Given a transformer's scikit-learn tags
    tags = transformer.__sklearn_tags__()

    # Then NaN is allowed in (it passes through, or is imputed later) and no input dtype is
    # promised out, since the output is a DataFrame
    assert tags.input_tags.allow_nan is True
    assert tags.transformer_tags is not None
    assert tags.transformer_tags.preserves_dtype == []


@pytest.mark.parametrize("transformer", ALL_TRANSFORMERS, ids=_ids(ALL_TRANSFORMERS))
def test_transformer_works_in_a_pandas_output_pipeline(transformer: BaseEstimator) -> None:
    # Given the transformer alone and inside a pipeline that outputs pandas
    pipeline = Pipeline([("step", clone(transformer))]).set_output(transform="pandas")

    # When both fit and transform the frame
    from_pipeline = pipeline.fit_transform(HOUSES)
    alone = clone(transformer).fit_transform(HOUSES)

    # Then the pipeline's frame is the transformer's own
    pd.testing.assert_frame_equal(from_pipeline, alone)


@pytest.mark.parametrize("transformer", ALL_TRANSFORMERS, ids=_ids(ALL_TRANSFORMERS))
def test_transformer_survives_a_joblib_round_trip(
    transformer: BaseEstimator, tmp_path: Path
) -> None:
    # Given a fitted transformer saved with joblib
    fitted = clone(transformer).fit(HOUSES)
    joblib.dump(fitted, tmp_path / "transformer.pkl")

    # When it is loaded back
    loaded = joblib.load(tmp_path / "transformer.pkl")

    # Then it transforms exactly as the original does
    pd.testing.assert_frame_equal(loaded.transform(HOUSES), fitted.transform(HOUSES))


@pytest.mark.parametrize("transformer", ALL_TRANSFORMERS, ids=_ids(ALL_TRANSFORMERS))
def test_transformer_set_params_on_clone_behaves_like_construction(
    transformer: BaseEstimator,
) -> None:
    """Check that set_params on a default clone equals constructing with the same params."""
    # Given the params of a configured transformer
    params = transformer.get_params()

    # When a default instance is cloned and given them, and another is constructed with them
    configured = clone(type(transformer)()).set_params(**params)
    constructed = type(transformer)(**params)

    # Then both hold the same params and transform identically
    assert configured.get_params() == constructed.get_params() == params
    pd.testing.assert_frame_equal(
        configured.fit_transform(HOUSES), constructed.fit_transform(HOUSES)
    )


# TemporalVariableTransformer ---------------------------------------------------------------


def test_temporal_transformer_replaces_years_with_years_before_reference() -> None:
    # Given years built and remodelled, and a sale year
    houses = pd.DataFrame(
        {
            "YearBuilt": [1990, 2005],
            "YearRemodAdd": [2000, 2008],
            "YrSold": [2008, 2010],
            "Street": ["Pave", "Grvl"],
        }
    )
    transformer = TemporalVariableTransformer(
        variables=("YearBuilt", "YearRemodAdd"), reference_variable="YrSold"
    )

    # When transformed
    transformed = transformer.fit_transform(houses)

    # Then each year became the years until the sale; other columns are as they were
    expected = pd.DataFrame(
        {
            "YearBuilt": [18, 5],
            "YearRemodAdd": [8, 2],
            "YrSold": [2008, 2010],
            "Street": ["Pave", "Grvl"],
        }
    )
    pd.testing.assert_frame_equal(transformed, expected)
    assert transformer.variables_ == ["YearBuilt", "YearRemodAdd"]


def test_temporal_transformer_defaults_to_remodel_year_and_sale_year() -> None:
    # Given the columns the defaults name
    houses = pd.DataFrame({"YearRemodAdd": [2000, 1990], "YrSold": [2008, 2010]})

    # When transformed by a default transformer
    transformed = TemporalVariableTransformer().fit_transform(houses)

    # Then the remodel year became years before the sale
    expected = pd.DataFrame({"YearRemodAdd": [8, 20], "YrSold": [2008, 2010]})
    pd.testing.assert_frame_equal(transformed, expected)


def test_temporal_transformer_keeps_missing_years_missing() -> None:
    # Given a missing year in one row and a missing sale year in another
    houses = pd.DataFrame(
        {"GarageYrBlt": [np.nan, 1999.0, 2001.0], "YrSold": [2008.0, np.nan, 2006.0]}
    )
    transformer = TemporalVariableTransformer(
        variables=("GarageYrBlt",), reference_variable="YrSold"
    )

    # When transformed
    transformed = transformer.fit_transform(houses)

    # Then a missing input gives a missing output, never a guess
    expected = pd.DataFrame(
        {"GarageYrBlt": [np.nan, np.nan, 5.0], "YrSold": [2008.0, np.nan, 2006.0]}
    )
    pd.testing.assert_frame_equal(transformed, expected)


def test_temporal_transformer_fit_names_every_missing_column() -> None:
    # Given a frame without one year column and without the reference column
    houses = pd.DataFrame({"YearBuilt": [1990]})
    transformer = TemporalVariableTransformer(
        variables=("YearBuilt", "GarageYrBlt"), reference_variable="YrSold"
    )

    # When fitted
    # Then fit raises, naming both missing columns
    with pytest.raises(ValueError, match=r"Columns not found in X: \['GarageYrBlt', 'YrSold'\]"):
        transformer.fit(houses)


@given(frame=integer_frames(columns=("YearBuilt", "YrSold")))
def test_temporal_transformer_output_is_reference_minus_year(frame: pd.DataFrame) -> None:
    # Given any frame of integer years
    transformer = TemporalVariableTransformer(variables=("YearBuilt",), reference_variable="YrSold")

    # When transformed
    transformed = transformer.fit_transform(frame)

    # Then the year column holds ref - year, and the reference is unchanged
    expected = frame.assign(YearBuilt=frame["YrSold"] - frame["YearBuilt"])
    pd.testing.assert_frame_equal(transformed, expected)


# Mapper -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["object", "str"], ids=["object-labels", "string-labels"])
def test_mapper_maps_labels_to_their_numbers(dtype: str) -> None:
    # Given quality labels, as object or as pandas' string dtype (pandas 3's default for text)
    houses = pd.DataFrame(
        {
            "ExterQual": pd.Series(["Gd", "TA", "Ex"], dtype=dtype),
            "KitchenQual": pd.Series(["Po", "Fa", "Gd"], dtype=dtype),
            "Street": ["Pave", "Grvl", "Pave"],
        }
    )
    mapper = Mapper(variables=("ExterQual", "KitchenQual"), mappings=QUALITY)

    # When transformed
    transformed = mapper.fit_transform(houses)

    # Then mapped columns hold the numbers as floats; other columns are as they were
    expected = pd.DataFrame(
        {
            "ExterQual": [4.0, 3.0, 5.0],
            "KitchenQual": [1.0, 2.0, 4.0],
            "Street": ["Pave", "Grvl", "Pave"],
        }
    )
    pd.testing.assert_frame_equal(transformed, expected)
    assert mapper.mappings_ == {label: float(value) for label, value in QUALITY.items()}


@pytest.mark.parametrize("dtype", ["object", "str"], ids=["object-labels", "string-labels"])
def test_mapper_turns_unseen_and_missing_labels_into_nan(dtype: str) -> None:
    """Check the documented choice: an unmapped or missing label becomes NaN, never an error."""
    # Given a label outside the mapping and a missing value
    houses = pd.DataFrame({"ExterQual": pd.Series(["Gd", "Unheard", None], dtype=dtype)})
    mapper = Mapper(variables=("ExterQual",), mappings=QUALITY)

    # When transformed
    transformed = mapper.fit_transform(houses)

    # Then both became NaN, for a later step to impute
    expected = pd.DataFrame({"ExterQual": [4.0, np.nan, np.nan]})
    pd.testing.assert_frame_equal(transformed, expected)


def test_mapper_fit_names_every_missing_column() -> None:
    # Given a frame without the columns to map
    houses = pd.DataFrame({"ExterQual": ["Gd"]})
    mapper = Mapper(variables=("ExterQual", "BsmtQual", "PoolQC"), mappings=QUALITY)

    # When fitted
    # Then fit raises, naming the missing columns
    with pytest.raises(ValueError, match=r"Columns not found in X: \['BsmtQual', 'PoolQC'\]"):
        mapper.fit(houses)


@pytest.mark.parametrize("mappings", [None, {}], ids=["none", "empty"])
def test_mapper_fit_rejects_an_empty_mapping(mappings: dict[str, float] | None) -> None:
    # Given a mapper with nothing to map to
    mapper = Mapper(variables=("ExterQual",), mappings=mappings)

    # When fitted
    # Then fit raises (construction did not: __init__ only stores)
    with pytest.raises(ValueError, match=r"^mappings must map at least one label to a number\.$"):
        mapper.fit(pd.DataFrame({"ExterQual": ["Gd"]}))


def test_mapper_transform_rejects_columns_other_than_those_seen_in_fit() -> None:
    # Given a mapper fitted on two columns
    mapper = Mapper(variables=("ExterQual",), mappings=QUALITY).fit(
        pd.DataFrame({"ExterQual": ["Gd"], "KitchenQual": ["TA"]})
    )

    # When it transforms a frame whose columns are in another order
    # Then it raises rather than map the wrong column
    with pytest.raises(ValueError, match="feature names should match"):
        mapper.transform(pd.DataFrame({"KitchenQual": ["TA"], "ExterQual": ["Gd"]}))


@given(frame=label_frames(columns=("ExterQual",), labels=tuple(QUALITY)))
def test_mapper_outputs_only_mapping_values_or_nan(frame: pd.DataFrame) -> None:
    # Given any mix of known labels, other text and missing values
    mapper = Mapper(variables=("ExterQual",), mappings=QUALITY)

    # When transformed
    mapped = mapper.fit_transform(frame)["ExterQual"]

    # Then a known label gets its number and everything else is NaN
    expected = [
        float(QUALITY[label]) if label in QUALITY else np.nan for label in frame["ExterQual"]
    ]
    np.testing.assert_array_equal(mapped.to_numpy(), np.array(expected, dtype="float64"))
    assert set(mapped.dropna()) <= {float(value) for value in QUALITY.values()}


# WeightedSums and PresenceFlags ------------------------------------------------------------


def test_weighted_sums_add_each_sum_after_the_input_columns() -> None:
    # Given bath counts, one of them missing
    # When the weighted sums are added
    out = WeightedSums(
        sums={"TotalBath": {"FullBath": 1.0, "HalfBath": 0.5}, "Twice": {"FullBath": 2.0}}
    ).fit_transform(HOUSES)

    # Then each new column is its weighted sum, a missing term makes it missing, and the
    # new columns follow the input columns in the order given
    expected = HOUSES.assign(
        TotalBath=[2.5, 1.0, np.nan], Twice=pd.Series([4.0, 2.0, 2.0], index=HOUSES.index)
    )
    pd.testing.assert_frame_equal(out, expected)


def test_presence_flags_mark_positive_values_and_keep_missing_ones() -> None:
    out = PresenceFlags(flags={"HasGarage": "GarageArea"}).fit_transform(HOUSES)

    expected = HOUSES.assign(HasGarage=[1.0, 0.0, np.nan])
    pd.testing.assert_frame_equal(out, expected)


# Whole messages, anchored: a test matching part of one passes whatever the rest says.
CLASH = r"New feature names already are columns of X: \['GrLivArea'\]"
NO_SUMS = r"sums must name at least one new column and the columns it sums\."
NO_FLAGS = r"flags must name at least one new column and the column it flags\."
NO_RANGE = r"Every column to cap needs at least one value to learn a range\."


@pytest.mark.parametrize(
    ("transformer", "message"),
    [
        (WeightedSums(sums={"Total": {"Nope": 1.0}}), r"Columns not found in X: \['Nope'\]"),
        (PresenceFlags(flags={"HasNope": "Nope"}), r"Columns not found in X: \['Nope'\]"),
        (WeightedSums(sums={"GrLivArea": {"FullBath": 1.0}}), CLASH),
        (PresenceFlags(flags={"GrLivArea": "GarageArea"}), CLASH),
        (WeightedSums(sums={}), NO_SUMS),
        (WeightedSums(sums={"Total": {}}), NO_SUMS),
        (PresenceFlags(flags={}), NO_FLAGS),
    ],
    ids=[
        "sum-of-missing-column",
        "flag-of-missing-column",
        "sum-name-clash",
        "flag-name-clash",
        "no-sums",
        "empty-sum",
        "no-flags",
    ],
)
def test_new_column_transformers_reject_bad_parameters_at_fit(
    transformer: BaseEstimator, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        clone(transformer).fit(HOUSES)


def test_range_capper_holds_values_to_the_training_range_widened_by_the_margin() -> None:
    # Given a capper fitted on living areas from 900 to 2,100 sq ft, with a 10% margin
    capper = RangeCapper(variables=("GrLivArea",), margin=0.1).fit(HOUSES)

    # When it meets areas below, inside and far above that range, and a missing one
    wild = HOUSES.iloc[[0, 0, 0, 0]].assign(GrLivArea=[0.0, 1000.0, 250000.0, np.nan])
    capped = capper.transform(wild)

    # Then each is held to [900 - 120, 2100 + 120]; missing stays missing
    assert capper.lower_ == {"GrLivArea": 780.0} and capper.upper_ == {"GrLivArea": 2220.0}
    np.testing.assert_array_equal(capped["GrLivArea"], [780.0, 1000.0, 2220.0, np.nan])


@pytest.mark.parametrize(
    ("capper", "frame", "message"),
    [
        (RangeCapper(margin=-0.1), HOUSES, r"margin must be zero or positive, got -0\.1\."),
        (RangeCapper(variables=("Nope",)), HOUSES, r"Columns not found in X: \['Nope'\]"),
        (RangeCapper(), pd.DataFrame({"A": [np.nan, np.nan]}), NO_RANGE),
        (RangeCapper(), pd.DataFrame({"A": [1.0, 2.0], "B": [np.nan, np.nan]}), NO_RANGE),
    ],
    ids=["negative-margin", "missing-column", "all-missing", "one-column-all-missing"],
)
def test_range_capper_fit_rejects_what_it_cannot_learn_from(
    capper: RangeCapper, frame: pd.DataFrame, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        clone(capper).fit(frame)


def test_range_capper_learns_each_columns_own_range() -> None:
    # Given two columns of different ranges, and a row where both are missing
    frame = pd.DataFrame({"A": [1.0, 5.0, np.nan, 3.0], "B": [300.0, 100.0, np.nan, 200.0]})

    # When a capper is fitted
    capper = RangeCapper().fit(frame)

    # Then each column's bounds are its own lowest and highest value; the empty row is fine
    assert capper.lower_ == {"A": 1.0, "B": 100.0}
    assert capper.upper_ == {"A": 5.0, "B": 300.0}


@pytest.mark.parametrize(
    ("dtype", "areas", "expected"),
    [
        ("int64", [0, 480, 1000], [0.0, 480.0, 1000.0]),
        ("float64", [0.0, 480.0, np.nan], [0.0, 480.0, np.nan]),
        ("Int64", [0, 480, pd.NA], [0.0, 480.0, np.nan]),
        ("Float64", [0.0, 480.0, pd.NA], [0.0, 480.0, np.nan]),
        ("object", [0, 480, None], [0.0, 480.0, np.nan]),
    ],
)
def test_numeric_transformers_read_numbers_of_any_dtype_as_floats(
    dtype: str, areas: list[object], expected: list[float]
) -> None:
    """Check that every transformer reading numbers reads them as float64, NaN where missing."""
    # Given garage areas of 0, 480 and one more (missing where the dtype can hold it)
    frame = pd.DataFrame({"GarageArea": pd.Series(areas, dtype=dtype)})
    flags = PresenceFlags(flags={"HasGarage": "GarageArea"})
    halves = WeightedSums(sums={"Half": {"GarageArea": 0.5}})

    # When the flags, a weighted sum and a range are computed from them
    flagged = flags.fit_transform(frame)["HasGarage"]
    summed = halves.fit_transform(frame)["Half"]
    capper = RangeCapper(variables=("GarageArea",)).fit(frame)

    # Then each is what the float values give
    np.testing.assert_array_equal(flagged, np.where(np.isnan(expected), np.nan, [0.0, 1.0, 1.0]))
    np.testing.assert_array_equal(summed, np.multiply(expected, 0.5))
    assert capper.lower_ == {"GarageArea": 0.0}
    assert capper.upper_ == {"GarageArea": np.nanmax(expected)}
    assert all(type(bound) is float for bound in [*capper.lower_.values(), *capper.upper_.values()])


# The arithmetic the transformers and the compiled scorer share ------------------------------


def test_shared_arithmetic_on_plain_arrays() -> None:
    """Check the functions transform and the compiled scorer both call, on numpy arrays."""
    values = np.array([2.0, 0.0, np.nan, -1.0])
    np.testing.assert_array_equal(
        years_before(reference=np.array([2010.0, 2010.0]), years=np.array([2000.0, np.nan])),
        [10.0, np.nan],
    )
    np.testing.assert_array_equal(
        map_labels(codes=np.array([1, -1, 0, 2]), labels=["Gd", "TA", "Unheard"], mapping=QUALITY),
        [3.0, np.nan, 4.0, np.nan],
    )
    np.testing.assert_array_equal(
        weighted_sum(terms=[(values, 1.0), (np.ones(4), 0.5)]), [2.5, 0.5, np.nan, -0.5]
    )
    np.testing.assert_array_equal(presence_flags(values=values), [1.0, 0.0, np.nan, 0.0])
    # Any amount above zero is present, however small
    np.testing.assert_array_equal(presence_flags(values=np.array([0.5, 1.0])), [1.0, 1.0])


def test_weighted_sum_adds_terms_in_the_order_given() -> None:
    """Check that terms are added left to right: floating-point addition is not associative."""
    big, one = np.array([1e16]), np.array([1.0])
    assert weighted_sum(terms=[(big, 1.0), (one, 1.0), (big, -1.0)]).tolist() == [0.0]
    assert weighted_sum(terms=[(one, 1.0), (big, 1.0), (big, -1.0)]).tolist() == [0.0]
    assert weighted_sum(terms=[(big, 1.0), (big, -1.0), (one, 1.0)]).tolist() == [1.0]
