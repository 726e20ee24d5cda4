"""Build the unfitted feature-engineering and regression pipeline from config."""

from __future__ import annotations

import numpy as np
from feature_engine.encoding import OrdinalEncoder, RareLabelEncoder
from feature_engine.imputation import AddMissingIndicator, CategoricalImputer, MeanMedianImputer
from feature_engine.transformation import LogCpTransformer
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Lasso
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from regression_model.config.core import ModelSettings
from regression_model.processing.features import Mapper, TemporalVariableTransformer


def build_pipeline(settings: ModelSettings) -> Pipeline:
    """Return a new, unfitted pipeline on every call.

    The regressor is trained on log(price) and its predictions are exponentiated, so the
    pipeline takes validated records and returns prices in dollars.
    """
    mapped_vars: list[str | int] = [
        *settings.qual_vars,
        *settings.exposure_vars,
        *settings.finish_vars,
    ]
    return Pipeline(
        [
            (
                "impute_none_labels",
                CategoricalImputer(
                    imputation_method="missing",
                    variables=list(settings.categorical_vars_with_na_missing),
                ),
            ),
            (
                "impute_frequent_labels",
                CategoricalImputer(
                    imputation_method="frequent",
                    variables=list(settings.categorical_vars_with_na_frequent),
                ),
            ),
            (
                "flag_missing_numbers",
                AddMissingIndicator(variables=list(settings.numerical_vars_with_na)),
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
            ("log_areas", LogCpTransformer(variables=list(settings.numericals_log_vars), C=1)),
            (
                "map_quality",
                Mapper(variables=settings.qual_vars, mappings=settings.qual_mappings),
            ),
            (
                "map_exposure",
                Mapper(variables=settings.exposure_vars, mappings=settings.exposure_mappings),
            ),
            (
                "map_finish",
                Mapper(variables=settings.finish_vars, mappings=settings.finish_mappings),
            ),
            (
                "impute_unmapped_labels",
                MeanMedianImputer(imputation_method="median", variables=mapped_vars),
            ),
            (
                "group_rare_labels",
                RareLabelEncoder(
                    tol=settings.rare_label_tolerance,
                    n_categories=1,
                    variables=list(settings.categorical_vars),
                    # The imputers' infer_objects() turns text columns into pandas 3's "str"
                    # dtype, and feature-engine 1.9's object-dtype check warns on that
                    # (Pandas4Warning). These columns are labels by validation, so skip it.
                    ignore_format=True,
                ),
            ),
            (
                "encode_labels",
                OrdinalEncoder(
                    encoding_method="ordered",
                    variables=list(settings.categorical_vars),
                    unseen="encode",
                    ignore_format=True,  # as for group_rare_labels
                ),
            ),
            ("scale", MinMaxScaler()),
            (
                "regress_log_price",
                TransformedTargetRegressor(
                    regressor=Lasso(alpha=settings.alpha, random_state=settings.random_state),
                    func=np.log,
                    inverse_func=np.exp,
                ),
            ),
        ]
    )
