"""Load ``config.yml``: strictyaml types every value, pydantic checks ranges and references."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from strictyaml import Bool, Float, Int, Map, MapPattern, Seq, Str, YAMLValidationError, load

import regression_model

PACKAGE_ROOT = Path(regression_model.__file__).resolve().parent
CONFIG_FILE_PATH = PACKAGE_ROOT / "config.yml"
DATASET_DIR = PACKAGE_ROOT / "datasets"
TRAINED_MODEL_DIR = PACKAGE_ROOT / "trained_models"

_NUMERIC_RULE = Map(
    {"minimum": Float(), "maximum": Float(), "whole_numbers": Bool(), "columns": Seq(Str())}
)

SCHEMA = Map(
    {
        "app": Map(
            {
                "package_name": Str(),
                "training_data_file": Str(),
                "test_data_file": Str(),
                "pipeline_name": Str(),
            }
        ),
        "model": Map(
            {
                "target": Str(),
                "id_column": Str(),
                "inputs": Map(
                    {
                        "numeric": MapPattern(Str(), _NUMERIC_RULE),
                        "categorical": Seq(Str()),
                        "consistency": Seq(Map({"column": Str(), "at_least": Str()})),
                        "required": Seq(Str()),
                    }
                ),
                "categorical_vars_with_na_missing": Seq(Str()),
                "categorical_vars_with_na_frequent": Seq(Str()),
                "numerical_vars_with_na": Seq(Str()),
                "temporal_vars": Seq(Str()),
                "ref_var": Str(),
                "ordinal_mappings": MapPattern(
                    Str(), Map({"variables": Seq(Str()), "mapping": MapPattern(Str(), Int())})
                ),
                "weighted_sums": MapPattern(Str(), MapPattern(Str(), Float())),
                "products": MapPattern(Str(), Seq(Str())),
                "presence_flags": MapPattern(Str(), Str()),
                "log_vars": Seq(Str()),
                "categorical_vars": Seq(Str()),
                "rare_label_tolerance": Float(),
                "training_outliers": Map(
                    {"variable": Str(), "above": Float(), "target_below": Float()}
                ),
                "domain": Map({"range_margin": Float(), "price_margin": Float()}),
                "test_size": Float(),
                "cv_folds": Int(),
                "random_state": Int(),
                "estimator": Str(),
                "blend": Seq(Str()),
                "lasso": Map({"alpha": Float(), "max_iter": Int()}),
                "elastic_net": Map({"alpha": Float(), "l1_ratio": Float(), "max_iter": Int()}),
                "gradient_boosting": Map(
                    {
                        "n_estimators": Int(),
                        "learning_rate": Float(),
                        "max_depth": Int(),
                        "max_features": Str(),
                        "min_samples_leaf": Int(),
                        "subsample": Float(),
                        "loss": Str(),
                    }
                ),
                "hist_gradient_boosting": Map(
                    {
                        "max_iter": Int(),
                        "learning_rate": Float(),
                        "max_leaf_nodes": Int(),
                        "min_samples_leaf": Int(),
                        "max_features": Float(),
                        "l2_regularization": Float(),
                    }
                ),
            }
        ),
        "serve": Map(
            {
                "host": Str(),
                "port": Int(),
                "max_rows_per_request": Int(),
                "max_body_bytes": Int(),
            }
        ),
    }
)


class ConfigError(ValueError):
    """The configuration file is malformed or inconsistent; the message names the key."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppSettings(_Frozen):
    """Where the package finds its data and saves its pipeline."""

    package_name: str
    training_data_file: str
    test_data_file: str
    pipeline_name: str


class NumericRule(_Frozen):
    """The values a group of numeric input columns may hold."""

    minimum: float
    maximum: float
    whole_numbers: bool
    columns: tuple[str, ...]

    @model_validator(mode="after")
    def _check_bounds(self) -> NumericRule:
        if self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} is above maximum {self.maximum}")
        return self


class ConsistencyRule(_Frozen):
    """Two numeric fields that must agree: ``column`` is at least ``at_least``."""

    column: str
    at_least: str


class InputSchema(_Frozen):
    """The raw columns the model reads, their kinds and which ones must have a value."""

    numeric: dict[str, NumericRule]
    categorical: tuple[str, ...]
    consistency: tuple[ConsistencyRule, ...]
    required: tuple[str, ...]

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        return tuple(col for rule in self.numeric.values() for col in rule.columns)

    @property
    def features(self) -> tuple[str, ...]:
        """Every input column the model uses, numeric first."""
        return self.numeric_columns + self.categorical

    @model_validator(mode="after")
    def _check_columns(self) -> InputSchema:
        duplicated = sorted(col for col, count in Counter(self.features).items() if count > 1)
        if duplicated:
            raise ValueError(f"columns declared more than once: {duplicated}")
        _check_subset("required", self.required, self.features)
        for rule in self.consistency:
            _check_subset("consistency", (rule.column, rule.at_least), self.numeric_columns)
        return self


class OrdinalMapping(_Frozen):
    """Ordered labels of some columns and the score each label maps to."""

    variables: tuple[str, ...]
    mapping: dict[str, int]


class OutlierRule(_Frozen):
    """Training rows to drop: ``variable`` above ``above`` and the target below ``target_below``."""

    variable: str
    above: float
    target_below: float = Field(gt=0)


class DomainSettings(_Frozen):
    """How far beyond the training data the model's inputs and prices may go."""

    range_margin: float = Field(ge=0)
    price_margin: float = Field(ge=0, lt=1)


class LassoSettings(_Frozen):
    alpha: float = Field(gt=0)
    max_iter: int = Field(gt=0)


class ElasticNetSettings(_Frozen):
    alpha: float = Field(gt=0)
    l1_ratio: float = Field(ge=0, le=1)
    max_iter: int = Field(gt=0)


class GradientBoostingSettings(_Frozen):
    n_estimators: int = Field(gt=0)
    learning_rate: float = Field(gt=0)
    max_depth: int = Field(gt=0)
    max_features: Literal["sqrt", "log2"]
    min_samples_leaf: int = Field(gt=0)
    subsample: float = Field(gt=0, le=1)
    loss: Literal["squared_error", "absolute_error", "huber", "quantile"]


class HistGradientBoostingSettings(_Frozen):
    max_iter: int = Field(gt=0)
    learning_rate: float = Field(gt=0)
    max_leaf_nodes: int = Field(ge=2)
    min_samples_leaf: int = Field(gt=0)
    max_features: float = Field(gt=0, le=1)
    l2_regularization: float = Field(ge=0)


SingleEstimator = Literal["lasso", "elastic_net", "gradient_boosting", "hist_gradient_boosting"]


class ModelSettings(_Frozen):
    """The features, the feature-engineering groups and the estimator's settings."""

    target: str
    id_column: str
    inputs: InputSchema
    categorical_vars_with_na_missing: tuple[str, ...]
    categorical_vars_with_na_frequent: tuple[str, ...]
    numerical_vars_with_na: tuple[str, ...]
    temporal_vars: tuple[str, ...]
    ref_var: str
    ordinal_mappings: dict[str, OrdinalMapping]
    weighted_sums: dict[str, dict[str, float]]
    products: dict[str, tuple[str, ...]]
    presence_flags: dict[str, str]
    log_vars: tuple[str, ...]
    categorical_vars: tuple[str, ...]
    rare_label_tolerance: float = Field(gt=0, lt=1)
    training_outliers: OutlierRule
    domain: DomainSettings
    test_size: float = Field(gt=0, lt=1)
    cv_folds: int = Field(ge=2)
    random_state: int = Field(ge=0)
    estimator: SingleEstimator | Literal["blend"]
    blend: tuple[SingleEstimator, ...] = Field(min_length=2)
    lasso: LassoSettings
    elastic_net: ElasticNetSettings
    gradient_boosting: GradientBoostingSettings
    hist_gradient_boosting: HistGradientBoostingSettings

    @property
    def features(self) -> tuple[str, ...]:
        return self.inputs.features

    @property
    def ordinal_vars(self) -> tuple[str, ...]:
        return tuple(col for group in self.ordinal_mappings.values() for col in group.variables)

    @property
    def engineered_features(self) -> tuple[str, ...]:
        """Columns the pipeline adds: sums first, then products, then flags."""
        return (*self.weighted_sums, *self.products, *self.presence_flags)

    @model_validator(mode="after")
    def _check_variable_groups(self) -> ModelSettings:
        features = self.features
        for group in (
            "categorical_vars_with_na_missing",
            "categorical_vars_with_na_frequent",
            "numerical_vars_with_na",
            "temporal_vars",
            "categorical_vars",
        ):
            _check_subset(group, getattr(self, group), features)
        _check_subset("ref_var", (self.ref_var,), features)
        _check_subset("training_outliers", (self.training_outliers.variable,), features)
        for name, mapping_group in self.ordinal_mappings.items():
            _check_subset(f"ordinal_mappings.{name}", mapping_group.variables, features)
        # Each kind of new column may use the raw features and the kinds built before it.
        for name, weights in self.weighted_sums.items():
            _check_subset(f"weighted_sums.{name}", weights, features)
        summed = (*features, *self.weighted_sums)
        for name, factors in self.products.items():
            _check_subset(f"products.{name}", factors, summed)
        _check_subset("presence_flags", self.presence_flags.values(), summed)
        _check_subset("log_vars", self.log_vars, summed)
        clashing = sorted(set(self.engineered_features) & set(features))
        if clashing:
            raise ValueError(f"new feature names clash with input columns: {clashing}")
        for name in (self.target, self.id_column):
            if name in features:
                raise ValueError(f"{name!r} is the target or the row id, not a feature")
        self._check_every_feature_is_handled()
        return self

    def _check_every_feature_is_handled(self) -> None:
        """Every feature the pipeline sees is either required or imputed, and every label
        is either scored or encoded: so no row that validation accepts can reach the
        estimator as NaN or as text."""
        inputs = self.inputs
        optional = set(self.features) - set(inputs.required)
        imputed = {
            *self.categorical_vars_with_na_missing,
            *self.categorical_vars_with_na_frequent,
            *self.numerical_vars_with_na,
        }
        if optional - imputed:
            raise ValueError(f"features neither required nor imputed: {sorted(optional - imputed)}")
        unencoded = set(inputs.categorical) - {*self.ordinal_vars, *self.categorical_vars}
        if unencoded:
            raise ValueError(f"labels neither scored nor encoded: {sorted(unencoded)}")


class ServeSettings(_Frozen):
    """The HTTP service: where it listens and what one request may hold."""

    host: str
    port: int = Field(ge=0, le=65535)
    max_rows_per_request: int = Field(gt=0)
    max_body_bytes: int = Field(gt=0)


class Config(_Frozen):
    """The whole configuration: app settings, model settings and the HTTP service's settings."""

    app: AppSettings
    model: ModelSettings
    serve: ServeSettings


def _check_subset(key: str, columns: Iterable[str], features: Iterable[str]) -> None:
    unknown = sorted(set(columns) - set(features))
    if unknown:
        raise ValueError(f"{key} names columns that are not features: {unknown}")


def load_config(path: Path | None = None) -> Config:
    """Parse and validate a config file.

    Parameters
    ----------
    path : Path, default=None
        The YAML file to read; ``None`` reads the packaged ``config.yml``.

    Returns
    -------
    Config
        The validated, immutable configuration.

    Raises
    ------
    ConfigError
        If a key is missing or unknown, a value has the wrong type, or a variable group
        names a column that is not a feature. The message names the key.
    """
    config_path = CONFIG_FILE_PATH if path is None else path
    text = config_path.read_text(encoding="utf-8")
    try:
        parsed = load(text, SCHEMA, label=str(config_path)).data
    except YAMLValidationError as error:
        raise ConfigError(f"invalid config {config_path}:\n{error}") from error
    try:
        return Config.model_validate(parsed)
    except ValueError as error:
        raise ConfigError(f"invalid config {config_path}:\n{error}") from error


@functools.cache
def get_config() -> Config:
    """The packaged configuration, read once on first use."""
    return load_config()
