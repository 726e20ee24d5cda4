"""Load ``config.yml``: strictyaml types every value, pydantic checks ranges and references."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from strictyaml import (
    YAML,
    Bool,
    EmptyList,
    Float,
    Int,
    Map,
    MapPattern,
    Seq,
    Str,
    YAMLValidationError,
    load,
)
from strictyaml.ruamel.error import MarkedYAMLError

import regression_model
from regression_model.errors import ConfigError

__all__ = [
    "CONFIG_FILE_PATH",
    "DATASET_DIR",
    "PACKAGE_ROOT",
    "TRAINED_MODEL_DIR",
    "Config",
    "ConfigError",
    "DriftSettings",
    "ExplainSettings",
    "ModelSettings",
    "check_training_settings",
    "get_config",
    "is_source_checkout",
    "load_config",
    "no_model_advice",
]

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
                "intervals": Map(
                    {"levels": Seq(Float()), "tail_quantile": Float(), "max_tail_count": Int()}
                ),
                "test_size": Float(),
                "cv_folds": Int(),
                "random_state": Int(),
                "estimator": Str(),
                "blend": Seq(Str()),
                "residual_trim": Map(
                    {"estimators": EmptyList() | Seq(Str()), "threshold": Float()}
                ),
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
                "xgboost": Map(
                    {
                        "n_estimators": Int(),
                        "learning_rate": Float(),
                        "max_depth": Int(),
                        "min_child_weight": Float(),
                        "subsample": Float(),
                        "colsample_bytree": Float(),
                        "reg_lambda": Float(),
                        "reg_alpha": Float(),
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
        "drift": Map(
            {
                "quantile_bins": Int(),
                "psi_moderate": Float(),
                "psi_drifted": Float(),
                "outside_share_drifted": Float(),
                "share_floor": Float(),
            }
        ),
        "explain": Map({"top_columns": Int()}),
        "serve": Map(
            {
                "host": Str(),
                "port": Int(),
                "max_rows_per_request": Int(),
                "max_body_bytes": Int(),
                "inline_max_rows": Int(),
                "latency_buckets_s": Seq(Float()),
            }
        ),
    }
)


def is_source_checkout() -> bool:
    """Whether the package runs from a source tree: only a source tree holds the datasets.

    The wheel ships the trained model but not the training data (see setup.py).
    """
    return DATASET_DIR.is_dir()


def no_model_advice() -> str:
    """What to do when this version's model file is missing, for where the package runs."""
    if is_source_checkout():
        return "train one with `tox -e train`"
    return (
        "the installed package ships its model, so the installation is broken; "
        "reinstall the wheel"
    )


def _key_error(key: str, message: str) -> PydanticCustomError:
    """A validation error about ``key`` (dotted, below the model being validated)."""
    return PydanticCustomError("config_key", "{message}", {"key": key, "message": message})


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppSettings(_Frozen):
    """Where the package finds its data and saves its pipeline."""

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
            raise _key_error(
                "minimum", f"minimum {self.minimum:g} is above maximum {self.maximum:g}"
            )
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
            raise _key_error("categorical", f"columns declared more than once: {duplicated}")
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


class IntervalSettings(_Frozen):
    """Which prediction-interval levels training calibrates, and how it judges a house unusual."""

    levels: tuple[float, ...] = Field(min_length=1)
    tail_quantile: float = Field(gt=0, lt=0.5)
    max_tail_count: int = Field(gt=0)

    @model_validator(mode="after")
    def _check_levels(self) -> IntervalSettings:
        if not all(0 < level < 1 for level in self.levels):
            raise ValueError(f"interval levels must lie strictly between 0 and 1: {self.levels}")
        if len(set(self.levels)) != len(self.levels):
            raise ValueError(f"interval levels must not repeat: {self.levels}")
        return self


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


class XGBoostSettings(_Frozen):
    n_estimators: int = Field(gt=0)
    learning_rate: float = Field(gt=0)
    max_depth: int = Field(gt=0)
    min_child_weight: float = Field(ge=0)
    subsample: float = Field(gt=0, le=1)
    colsample_bytree: float = Field(gt=0, le=1)
    reg_lambda: float = Field(ge=0)
    reg_alpha: float = Field(ge=0)


SingleEstimator = Literal[
    "lasso", "elastic_net", "gradient_boosting", "xgboost", "hist_gradient_boosting"
]


class ResidualTrimSettings(_Frozen):
    """Which estimators are refitted without the training rows they fit worst, and the cut."""

    estimators: tuple[SingleEstimator, ...]
    threshold: float = Field(gt=0)


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
    intervals: IntervalSettings
    test_size: float = Field(gt=0, lt=1)
    cv_folds: int = Field(ge=2)
    random_state: int = Field(ge=0)
    estimator: SingleEstimator | Literal["blend"]
    blend: tuple[SingleEstimator, ...] = Field(min_length=2)
    residual_trim: ResidualTrimSettings
    lasso: LassoSettings
    elastic_net: ElasticNetSettings
    gradient_boosting: GradientBoostingSettings
    xgboost: XGBoostSettings
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
        for group in ("weighted_sums", "products", "presence_flags"):
            clashing = sorted(set(getattr(self, group)) & set(features))
            if clashing:
                raise _key_error(group, f"new feature names clash with input columns: {clashing}")
        for key in ("target", "id_column"):
            name = getattr(self, key)
            if name in features:
                raise _key_error(key, f"{name!r} is the target or the row id, not a feature")
        self._check_every_feature_is_handled()
        return self

    def _check_every_feature_is_handled(self) -> None:
        """Every feature the pipeline sees either must have a value or is imputed, and every label
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
            raise _key_error(
                "inputs.required",
                "features that may lack a value but have no missing-value rule: "
                f"{sorted(optional - imputed)}",
            )
        unencoded = set(inputs.categorical) - {*self.ordinal_vars, *self.categorical_vars}
        if unencoded:
            raise _key_error(
                "categorical_vars", f"labels neither scored nor encoded: {sorted(unencoded)}"
            )


class ServeSettings(_Frozen):
    """The HTTP service: where it listens and what one request may hold."""

    host: str
    port: int = Field(ge=0, le=65535)
    max_rows_per_request: int = Field(gt=0)
    max_body_bytes: int = Field(gt=0)
    inline_max_rows: int = Field(ge=0)
    latency_buckets_s: tuple[float, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_buckets(self) -> ServeSettings:
        bounds = self.latency_buckets_s
        if bounds[0] <= 0 or any(low >= high for low, high in zip(bounds, bounds[1:])):
            raise _key_error(
                "latency_buckets_s", f"must be positive and strictly increasing: {list(bounds)}"
            )
        return self


class DriftSettings(_Frozen):
    """How training profiles each input column and how ``regression-model drift`` judges it."""

    quantile_bins: int = Field(ge=2)
    psi_moderate: float = Field(gt=0)
    psi_drifted: float = Field(gt=0)
    outside_share_drifted: float = Field(gt=0, le=1)
    share_floor: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _check_order(self) -> DriftSettings:
        if self.psi_drifted <= self.psi_moderate:
            raise _key_error(
                "psi_drifted",
                f"must be above psi_moderate ({self.psi_drifted} <= {self.psi_moderate})",
            )
        return self


class ExplainSettings(_Frozen):
    """How ``make_prediction(..., explain=True)`` puts a price's reasons in words."""

    top_columns: int = Field(ge=1)


class Config(_Frozen):
    """The whole configuration: app settings, model settings, the HTTP service's settings and
    the drift report's."""

    app: AppSettings
    model: ModelSettings
    drift: DriftSettings
    explain: ExplainSettings
    serve: ServeSettings


def _check_subset(key: str, columns: Iterable[str], features: Iterable[str]) -> None:
    unknown = sorted(set(columns) - set(features))
    if unknown:
        raise _key_error(key, f"names columns that are not features: {unknown}")


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
        If the file cannot be read or is not strict YAML, a key is missing or unknown, a
        value has the wrong type or is out of range, or a variable group names a column that
        is not a feature. The one-line message names the file, the line and the key path
        (``model.cv_folds``).
    """
    config_path = CONFIG_FILE_PATH if path is None else path
    try:
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"cannot read config {config_path}: {_reason(error)}", culprit=config_path
        ) from error
    # Parsed without the schema first, for the tree and its true line numbers (strictyaml's
    # own marks point into a re-serialised copy), then checked against it for typed values.
    try:
        tree = load(text, label=str(config_path))
    except MarkedYAMLError as error:
        # Syntax: no tree to walk, but the scanner's line is the file's own.
        line = error.problem_mark.line if error.problem_mark is not None else 0
        key_path = _key_path_at_line(text.splitlines(), line)
        raise ConfigError(
            f"invalid config {config_path} line {line + 1}{_key_label(key_path)}: "
            f"{_strictyaml_problem(error)}",
            culprit=config_path,
        ) from error
    try:
        tree.revalidate(SCHEMA)
    except YAMLValidationError as error:
        key_path = _strictyaml_key_path(error)
        raise _config_error(
            config_path, text, key_path, _describe_strictyaml(error, tree, key_path)
        ) from error
    try:
        return Config.model_validate(tree.data)
    except ValidationError as error:
        problems = [_describe_pydantic(problem, tree) for problem in error.errors()]
        key_path, message = problems[0]
        expected = [
            str(problem["ctx"]["expected"])
            for problem, (path, _) in zip(error.errors(), problems, strict=True)
            if path == key_path and problem["type"] == "literal_error"
        ]
        if len(expected) > 1:  # one literal per member of a union: list them all
            got = error.errors()[0]["input"]
            message = f"input should be one of {', '.join(expected)}, got {got!r}"
        # A union reports once per member it tried: count each key once.
        n_others = len({path for path, _ in problems} - {key_path})
        if n_others:
            message += f" (and {n_others} more {'problem' if n_others == 1 else 'problems'})"
        raise _config_error(config_path, text, key_path, message) from error


def _describe_pydantic(problem: Any, tree: YAML) -> tuple[tuple[str, ...], str]:
    """The key path and message of one pydantic error, phrased like strictyaml's."""
    key_path = _existing_prefix(tree, [str(part) for part in problem["loc"]])
    context = problem.get("ctx") or {}
    if problem["type"] == "config_key":
        return (*key_path, *str(context["key"]).split(".")), str(problem["msg"])
    message = str(problem["msg"])
    return key_path, f"{message[:1].lower()}{message[1:]}, got {problem['input']!r}"


def check_training_settings(*, settings: ModelSettings, n_rows: int) -> None:
    """Check the values that only the training data can show to be unusable.

    Parameters
    ----------
    settings : ModelSettings
        The model settings training will use.
    n_rows : int
        The number of training rows, after the outlier rule.

    Raises
    ------
    ConfigError
        If ``cv_folds`` asks for more folds than there are rows, or ``test_size`` leaves a
        holdout or a training set of fewer than two rows. The message names the key.
    """
    if settings.cv_folds > n_rows:
        raise _config_error(
            CONFIG_FILE_PATH,
            _packaged_text(),
            ("model", "cv_folds"),
            f"{settings.cv_folds} folds need at least as many training rows; there are {n_rows}",
        )
    n_holdout = -(-settings.test_size * n_rows // 1)  # train_test_split rounds the holdout up
    if not _MIN_SPLIT_ROWS <= n_holdout <= n_rows - _MIN_SPLIT_ROWS:
        raise _config_error(
            CONFIG_FILE_PATH,
            _packaged_text(),
            ("model", "test_size"),
            f"{settings.test_size:g} of {n_rows} training rows leaves a holdout of "
            f"{n_holdout:.0f} rows; holdout and training set need {_MIN_SPLIT_ROWS} rows each",
        )


def _packaged_text() -> str | None:
    # Checks after loading point at the packaged file, where training's settings are set.
    try:
        return CONFIG_FILE_PATH.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# R² needs two rows to be defined, and fitting needs at least two.
_MIN_SPLIT_ROWS = 2


def _config_error(
    config_path: Path, text: str | None, key_path: Sequence[str], message: str
) -> ConfigError:
    line = None
    if text is not None:
        try:
            line = _line_of(load(text), key_path, text.splitlines())
        except MarkedYAMLError:
            line = None
    where = f"{config_path} line {line}" if line is not None else f"{config_path}"
    return ConfigError(
        f"invalid config {where}{_key_label(key_path)}: {message}", culprit=".".join(key_path)
    )


def _key_label(key_path: Sequence[str]) -> str:
    return f", {'.'.join(key_path)}" if key_path else ""


def _existing_prefix(tree: YAML, key_path: Sequence[str]) -> tuple[str, ...]:
    """The longest start of ``key_path`` that names a node of ``tree``.

    pydantic's locations can end in a type's name (``literal[...]``), which is no key.
    """
    node, found = tree, []
    for part in key_path:
        try:
            node = node[int(part)] if node.is_sequence() else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            break
        found.append(part)
    return tuple(found)


def _node_at(tree: YAML, key_path: Sequence[str]) -> YAML:
    node = tree
    for part in _existing_prefix(tree, key_path):
        node = node[int(part)] if node.is_sequence() else node[part]
    return node


def _line_of(tree: YAML, key_path: Sequence[str], lines: Sequence[str]) -> int:
    """The 1-based line where ``key_path`` (or its deepest existing parent) is set."""
    line: int = _node_at(tree, key_path).start_line
    # ruamel counts the comments and blank lines above a key as part of it: skip them.
    while line < len(lines) and (not lines[line - 1].strip() or lines[line - 1].lstrip()[0] == "#"):
        line += 1
    return line


def _strictyaml_key_path(error: YAMLValidationError) -> tuple[str, ...]:
    # strictyaml records where it failed as a pointer of (kind, key) steps but exposes it
    # only privately; without it the message still names the line.
    pointer: Any = getattr(getattr(error, "_chunk", None), "pointer", None)
    steps: list[tuple[str, Any]] = getattr(pointer, "_indices", [])
    path: list[str] = []
    for kind, value in steps:
        if kind in ("val", "key"):
            path.append(str(value[0]))
        elif kind == "index":
            path.append(str(value))
    return tuple(path)


def _describe_strictyaml(error: YAMLValidationError, tree: YAML, key_path: Sequence[str]) -> str:
    expected = re.sub(r"^(when|while) ", "", str(error.context or "")).strip()
    problem = str(error.problem or "").strip()
    if expected == "parsing a mapping":  # a missing or unknown key: the problem says it all
        expected = ""
    is_found = tuple(_existing_prefix(tree, key_path)) == tuple(key_path)
    node = _node_at(tree, key_path)
    if is_found and node.is_scalar() and problem.startswith("found "):
        problem = f"found {node.data!r}"
    problem = re.sub(r"^unexpected key not in schema ", "unknown key ", problem)
    return f"{expected}, {problem}" if expected else problem


def _strictyaml_problem(error: MarkedYAMLError) -> str:
    problem = " ".join(str(error.problem or error).split())
    if "'\\t'" in problem:
        return "a tab cannot indent YAML; indent with spaces"
    if "JSONesque" in problem:
        return "flow style ({...} or [...]) is not allowed; write one item per line"
    if "mapping values are not allowed here" in problem:
        return "a key cannot start here; check the indentation"
    return problem


def _key_path_at_line(lines: Sequence[str], line: int) -> tuple[str, ...]:
    """The dotted key a line of YAML sets, from its indentation and the lines above it."""
    path: list[str] = []
    indent = None
    for text in reversed(lines[: line + 1]):
        stripped = text.expandtabs(2).lstrip(" ")
        key = stripped.split(":", 1)[0].strip() if ":" in stripped else ""
        if not key or stripped.startswith(("#", "-")):
            continue
        depth = len(text.expandtabs(2)) - len(stripped)
        if indent is None or depth < indent:
            path.insert(0, key)
            indent = depth
        if depth == 0:
            break
    return tuple(path)


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror  # "Permission denied", without "[Errno 13]"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


@functools.cache
def get_config() -> Config:
    """The packaged configuration, read once on first use."""
    return load_config()
