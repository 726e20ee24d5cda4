"""Load ``config.yml``: strictyaml types every value, pydantic checks ranges and references."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

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
                        "required": Seq(Str()),
                    }
                ),
                "categorical_vars_with_na_missing": Seq(Str()),
                "categorical_vars_with_na_frequent": Seq(Str()),
                "numerical_vars_with_na": Seq(Str()),
                "temporal_vars": Seq(Str()),
                "ref_var": Str(),
                "numericals_log_vars": Seq(Str()),
                "qual_vars": Seq(Str()),
                "qual_mappings": MapPattern(Str(), Int()),
                "exposure_vars": Seq(Str()),
                "exposure_mappings": MapPattern(Str(), Int()),
                "finish_vars": Seq(Str()),
                "finish_mappings": MapPattern(Str(), Int()),
                "categorical_vars": Seq(Str()),
                "rare_label_tolerance": Float(),
                "test_size": Float(),
                "random_state": Int(),
                "alpha": Float(),
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


class InputSchema(_Frozen):
    """The raw columns the model reads, their kinds and which ones must be present."""

    numeric: dict[str, NumericRule]
    categorical: tuple[str, ...]
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
        return self


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
    numericals_log_vars: tuple[str, ...]
    qual_vars: tuple[str, ...]
    qual_mappings: dict[str, int]
    exposure_vars: tuple[str, ...]
    exposure_mappings: dict[str, int]
    finish_vars: tuple[str, ...]
    finish_mappings: dict[str, int]
    categorical_vars: tuple[str, ...]
    rare_label_tolerance: float = Field(gt=0, lt=1)
    test_size: float = Field(gt=0, lt=1)
    random_state: int = Field(ge=0)
    alpha: float = Field(gt=0)

    @property
    def features(self) -> tuple[str, ...]:
        return self.inputs.features

    @model_validator(mode="after")
    def _check_variable_groups(self) -> ModelSettings:
        features = self.features
        for group in (
            "categorical_vars_with_na_missing",
            "categorical_vars_with_na_frequent",
            "numerical_vars_with_na",
            "temporal_vars",
            "numericals_log_vars",
            "qual_vars",
            "exposure_vars",
            "finish_vars",
            "categorical_vars",
        ):
            _check_subset(group, getattr(self, group), features)
        _check_subset("ref_var", (self.ref_var,), features)
        for name in (self.target, self.id_column):
            if name in features:
                raise ValueError(f"{name!r} is the target or the row id, not a feature")
        return self


class Config(_Frozen):
    """The whole configuration: app settings and model settings."""

    app: AppSettings
    model: ModelSettings


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
