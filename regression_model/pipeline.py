"""Build the unfitted feature-engineering and regression pipeline from config."""

from __future__ import annotations

import numpy as np
from feature_engine.creation import MathFeatures
from feature_engine.encoding import RareLabelEncoder
from feature_engine.imputation import CategoricalImputer, MeanMedianImputer
from feature_engine.transformation import LogCpTransformer
from feature_engine.wrappers import SklearnTransformerWrapper
from sklearn.base import RegressorMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    VotingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, Lasso
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, RobustScaler

from regression_model.config.core import ModelSettings, SingleEstimator
from regression_model.processing.boosted_trees import XGBoostTreesRegressor
from regression_model.processing.domain import INPUT_CAPPER, PRICE_BAND
from regression_model.processing.features import (
    Mapper,
    PresenceFlags,
    RangeCapper,
    TemporalVariableTransformer,
    WeightedSums,
)
from regression_model.processing.price_band import PriceBandRegressor
from regression_model.processing.residual_trim import ResidualTrimmedRegressor


def build_estimator(settings: ModelSettings, name: SingleEstimator) -> RegressorMixin:
    """A new, unfitted estimator of the kind ``name`` with its configured settings.

    An estimator listed under ``residual_trim`` is refitted without the training rows it
    fits worst (``ResidualTrimmedRegressor``).
    """
    estimator = _configured_estimator(settings, name)
    trim = settings.residual_trim
    if name in trim.estimators:
        return ResidualTrimmedRegressor(regressor=estimator, threshold=trim.threshold)
    return estimator


def _configured_estimator(settings: ModelSettings, name: SingleEstimator) -> RegressorMixin:
    seed = settings.random_state
    if name == "lasso":
        return Lasso(**settings.lasso.model_dump(), random_state=seed)
    if name == "elastic_net":
        return ElasticNet(**settings.elastic_net.model_dump(), random_state=seed)
    if name == "gradient_boosting":
        return GradientBoostingRegressor(
            **settings.gradient_boosting.model_dump(), random_state=seed
        )
    if name == "xgboost":
        return XGBoostTreesRegressor(**settings.xgboost.model_dump(), random_state=seed)
    return HistGradientBoostingRegressor(
        **settings.hist_gradient_boosting.model_dump(), random_state=seed
    )


def build_regressor(settings: ModelSettings) -> RegressorMixin:
    """The configured estimator, or the average of the blended ones."""
    if settings.estimator == "blend":
        return VotingRegressor([(name, build_estimator(settings, name)) for name in settings.blend])
    return build_estimator(settings, settings.estimator)


def build_pipeline(settings: ModelSettings) -> Pipeline:
    """Return a new, unfitted pipeline on every call.

    The pipeline takes validated records (see ``processing.validation``) and returns sale
    prices in dollars: the regressor learns log(price) and its predictions are
    exponentiated, so callers never see the log scale.
    """
    margin = settings.domain.range_margin
    steps = [
        (
            INPUT_CAPPER,
            RangeCapper(variables=settings.inputs.numeric_columns, margin=margin),
        ),
        (
            "impute_none_labels",
            CategoricalImputer(
                imputation_method="missing",
                variables=list(settings.categorical_vars_with_na_missing),
            ),
        ),
        (
            "impute_frequent_labels",
            # scikit-learn's imputer breaks ties between equally frequent labels (it takes the
            # first in sort order); feature-engine's refuses to fit, which made training fail
            # on some folds.
            SklearnTransformerWrapper(
                SimpleImputer(strategy="most_frequent"),
                variables=list(settings.categorical_vars_with_na_frequent),
            ),
        ),
        (
            "impute_median_numbers",
            MeanMedianImputer(
                imputation_method="median", variables=list(settings.numerical_vars_with_na)
            ),
        ),
        (
            "years_before_sale",
            TemporalVariableTransformer(
                variables=settings.temporal_vars, reference_variable=settings.ref_var
            ),
        ),
        *[
            (f"score_{name}", Mapper(variables=group.variables, mappings=group.mapping))
            for name, group in settings.ordinal_mappings.items()
        ],
        (
            "impute_unmapped_scores",
            MeanMedianImputer(imputation_method="median", variables=list(settings.ordinal_vars)),
        ),
        ("add_sums", WeightedSums(sums=settings.weighted_sums)),
        *[
            (
                f"add_{name}",
                MathFeatures(variables=list(factors), func="prod", new_variables_names=[name]),
            )
            for name, factors in settings.products.items()
        ],
        ("add_presence_flags", PresenceFlags(flags=settings.presence_flags)),
        ("log_areas", LogCpTransformer(variables=list(settings.log_vars), C=1)),
        # Engineered features (products, sums, logs) can leave the training range even
        # when every input is inside it: cap every number the regressor sees, too. The
        # one-hot columns that follow are 0 or 1, inside their range by construction.
        ("cap_features_to_training_range", RangeCapper(margin=margin)),
        (
            "group_rare_labels",
            RareLabelEncoder(
                tol=settings.rare_label_tolerance,
                n_categories=1,
                variables=list(settings.categorical_vars),
                # feature-engine's imputers hand text columns on as pandas 3's "str" dtype,
                # which its object-dtype check warns about; validation made them labels.
                ignore_format=True,
            ),
        ),
        (
            "one_hot_labels",
            # scikit-learn's encoder, wrapped to keep DataFrames: feature-engine's warns on
            # every call under pandas 3 (it drops columns in place).
            SklearnTransformerWrapper(
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                variables=list(settings.categorical_vars),
            ),
        ),
        ("scale", RobustScaler()),
        (
            PRICE_BAND,
            PriceBandRegressor(
                regressor=TransformedTargetRegressor(
                    regressor=build_regressor(settings), func=np.log, inverse_func=np.exp
                ),
                margin=settings.domain.price_margin,
            ),
        ),
    ]
    return Pipeline(steps)
