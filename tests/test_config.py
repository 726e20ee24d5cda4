"""config.yml: the packaged file loads, and a broken file fails at load, naming the key."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import strictyaml

from regression_model import errors
from regression_model.config.core import (
    CONFIG_FILE_PATH,
    Config,
    ConfigError,
    check_training_settings,
    get_config,
    load_config,
)

# A schema-less strictyaml load reads every leaf as a string, so a case can put any text in
# any place; load_config then parses the written copy against the real schema.
Edit = Callable[[dict[str, Any]], None]


def _packaged_config_tree() -> dict[str, Any]:
    tree: dict[str, Any] = strictyaml.load(CONFIG_FILE_PATH.read_text(encoding="utf-8")).data
    return tree


def _write_config(tree: dict[str, Any], path: Path) -> Path:
    path.write_text(strictyaml.as_document(tree).as_yaml(), encoding="utf-8")
    return path


def _drop_pipeline_name(tree: dict[str, Any]) -> None:
    del tree["app"]["pipeline_name"]


def _random_state_as_text(tree: dict[str, Any]) -> None:
    tree["model"]["random_state"] = "zero"


def _add_unknown_key(tree: dict[str, Any]) -> None:
    tree["model"]["learning_rate"] = "0.1"


def _temporal_var_not_a_feature(tree: dict[str, Any]) -> None:
    tree["model"]["temporal_vars"].append("YearOfTheDragon")


def _ref_var_not_a_feature(tree: dict[str, Any]) -> None:
    tree["model"]["ref_var"] = "YearOfTheDragon"


def _mapping_value_as_text(tree: dict[str, Any]) -> None:
    tree["model"]["ordinal_mappings"]["quality"]["mapping"]["Gd"] = "four"


def _mapping_value_as_fraction(tree: dict[str, Any]) -> None:
    tree["model"]["ordinal_mappings"]["quality"]["mapping"]["Gd"] = "4.5"


def _minimum_above_maximum(tree: dict[str, Any]) -> None:
    rule = tree["model"]["inputs"]["numeric"]["areas"]
    rule["minimum"] = str(float(rule["maximum"]) + 1)


def _test_size(value: str) -> Edit:
    def edit(tree: dict[str, Any]) -> None:
        tree["model"]["test_size"] = value

    return edit


def _unknown_estimator(tree: dict[str, Any]) -> None:
    tree["model"]["estimator"] = "random_forest"


def _blend_of_one(tree: dict[str, Any]) -> None:
    tree["model"]["blend"] = ["lasso"]


def _residual_trim(key: str, value: Any) -> Edit:
    def edit(tree: dict[str, Any]) -> None:
        tree["model"]["residual_trim"][key] = value

    return edit


def _product_of_unknown_column(tree: dict[str, Any]) -> None:
    tree["model"]["products"]["QualSF"] = ["OverallQual", "TotalArea"]


def _outlier_rule_on_unknown_column(tree: dict[str, Any]) -> None:
    tree["model"]["training_outliers"]["variable"] = "LivingArea"


def _optional_feature_not_imputed(tree: dict[str, Any]) -> None:
    tree["model"]["numerical_vars_with_na"].remove("LotFrontage")


def _label_neither_scored_nor_encoded(tree: dict[str, Any]) -> None:
    tree["model"]["categorical_vars"].remove("Neighborhood")


def _engineered_name_clashes_with_input(tree: dict[str, Any]) -> None:
    tree["model"]["presence_flags"]["GarageCars"] = "GarageArea"


def _duplicate_column(tree: dict[str, Any]) -> None:
    tree["model"]["inputs"]["categorical"].append("GrLivArea")


def _drift_setting(key: str, value: str) -> Edit:
    def edit(tree: dict[str, Any]) -> None:
        tree["drift"][key] = value

    return edit


def _serve_setting(key: str, value: str | list[str]) -> Edit:
    def edit(tree: dict[str, Any]) -> None:
        tree["serve"][key] = value

    return edit


def _explain_top_zero(tree: dict[str, Any]) -> None:
    tree["explain"]["top_columns"] = "0"


# (case id, edit to the packaged config, text the error must contain)
BROKEN_CONFIGS: list[tuple[str, Edit, str]] = [
    ("missing-key", _drop_pipeline_name, "pipeline_name"),
    ("wrong-type", _random_state_as_text, "random_state"),
    ("unknown-key", _add_unknown_key, "learning_rate"),
    ("group-names-non-feature", _temporal_var_not_a_feature, "temporal_vars"),
    ("ref-var-not-a-feature", _ref_var_not_a_feature, "ref_var"),
    ("mapping-value-not-integer", _mapping_value_as_text, "Gd"),
    ("mapping-value-fraction", _mapping_value_as_fraction, "Gd"),
    ("minimum-above-maximum", _minimum_above_maximum, "areas"),
    ("test-size-zero", _test_size("0.0"), "test_size"),
    ("test-size-one", _test_size("1.0"), "test_size"),
    ("test-size-above-one", _test_size("1.5"), "test_size"),
    ("duplicate-column", _duplicate_column, "GrLivArea"),
    ("unknown-estimator", _unknown_estimator, "estimator"),
    ("blend-of-one", _blend_of_one, "blend"),
    ("trim-unknown-estimator", _residual_trim("estimators", ["forest"]), "residual_trim"),
    ("trim-threshold-zero", _residual_trim("threshold", "0.0"), "residual_trim.threshold"),
    ("product-of-unknown-column", _product_of_unknown_column, "products.QualSF"),
    ("outlier-rule-unknown-column", _outlier_rule_on_unknown_column, "training_outliers"),
    ("optional-feature-not-imputed", _optional_feature_not_imputed, "LotFrontage"),
    ("label-neither-scored-nor-encoded", _label_neither_scored_nor_encoded, "Neighborhood"),
    ("new-name-clashes-with-input", _engineered_name_clashes_with_input, "GarageCars"),
    ("drift-limits-in-wrong-order", _drift_setting("psi_drifted", "0.05"), "drift.psi_drifted"),
    ("drift-one-bin", _drift_setting("quantile_bins", "1"), "drift.quantile_bins"),
    ("drift-share-floor-zero", _drift_setting("share_floor", "0.0"), "drift.share_floor"),
    ("explain-top-zero", _explain_top_zero, "explain.top_columns"),
    (
        "drift-outside-share-above-one",
        _drift_setting("outside_share_drifted", "1.5"),
        "drift.outside_share_drifted",
    ),
    ("serve-inline-rows-negative", _serve_setting("inline_max_rows", "-1"), "inline_max_rows"),
    (
        "serve-latency-buckets-not-increasing",
        _serve_setting("latency_buckets_s", ["0.1", "0.05"]),
        "serve.latency_buckets_s",
    ),
    (
        "serve-latency-bucket-zero",
        _serve_setting("latency_buckets_s", ["0.0", "0.05"]),
        "serve.latency_buckets_s",
    ),
]


def test_packaged_config_loads_with_its_groups_among_the_features() -> None:
    # Given the packaged config.yml
    # When it is loaded
    config = load_config()

    # Then it is a Config whose cross-referenced columns are all features
    assert isinstance(config, Config)
    assert set(config.model.temporal_vars) <= set(config.model.features)
    assert config.model.ref_var in config.model.features
    assert config.model.target not in config.model.features
    assert 0 < config.model.test_size < 1


def test_unchanged_copy_of_config_loads_equal_to_packaged_config(tmp_path: Path) -> None:
    """Check that the rewrite used by the broken-config cases changes nothing by itself."""
    # Given a copy of config.yml written the way the broken cases write theirs
    path = _write_config(_packaged_config_tree(), tmp_path / "config.yml")

    # When it is loaded
    config = load_config(path)

    # Then it equals the packaged config
    assert config == load_config()


@pytest.mark.parametrize(
    ("edit", "key"),
    [case[1:] for case in BROKEN_CONFIGS],
    ids=[case[0] for case in BROKEN_CONFIGS],
)
def test_broken_config_fails_at_load_naming_the_key(tmp_path: Path, edit: Edit, key: str) -> None:
    # Given a copy of config.yml with one mistake
    tree = copy.deepcopy(_packaged_config_tree())
    edit(tree)
    path = _write_config(tree, tmp_path / "config.yml")

    # When it is loaded
    # Then loading fails with a ConfigError that names the key
    with pytest.raises(ConfigError, match=key):
        load_config(path)


def test_config_is_immutable(config: Config) -> None:
    # Given the loaded config
    # When a value is reassigned
    # Then pydantic refuses (frozen models)
    with pytest.raises(ValueError, match="frozen"):
        config.model.test_size = 0.5  # type: ignore[misc]


def test_get_config_returns_the_same_cached_object() -> None:
    # Given the cached default config
    # When it is requested twice
    first, second = get_config(), get_config()

    # Then both calls return the very same object, equal to a fresh load
    assert first is second
    assert first == load_config()


# (case id, where the message points (a text in the packaged config.yml, and how many lines
# below it), the text to replace, its replacement, the message after "invalid config <path> ")
YAML_MISTAKES: list[tuple[str, tuple[str, int], str, str, str]] = [
    (
        "integer-as-text",
        ("cv_folds: 5", 0),
        "cv_folds: 5",
        "cv_folds: five",
        "line {line}, model.cv_folds: expecting an integer, found 'five'",
    ),
    (
        "float-as-text",
        ("test_size: 0.1", 0),
        "test_size: 0.1",
        "test_size: ten",
        "line {line}, model.test_size: expecting a float, found 'ten'",
    ),
    (
        "out-of-range",
        ("cv_folds: 5", 0),
        "cv_folds: 5",
        "cv_folds: 1",
        "line {line}, model.cv_folds: input should be greater than or equal to 2, got 1",
    ),
    (
        "mapping-value-as-text",
        ("        Gd: 4\n", 0),
        "        Gd: 4\n",
        "        Gd: four\n",
        "line {line}, model.ordinal_mappings.quality.mapping.Gd: "
        "expecting an integer, found 'four'",
    ),
    (
        "unknown-key",
        ("  random_state: 0", 1),
        "  random_state: 0",
        "  random_state: 0\n  seed: 1",
        "line {line}, model.seed: unknown key 'seed'",
    ),
    (
        "missing-key",
        ("app:", 0),
        "  pipeline_name: regression_model_output_v\n",
        "",
        "line {line}, app: required key(s) 'pipeline_name' not found",
    ),
    (
        "bad-indentation",
        ("  random_state: 0", 0),
        "  random_state: 0",
        "   random_state: 0",
        "line {line}, model.cv_folds.random_state: a key cannot start here; check the indentation",
    ),
    (
        "tab",
        ("  random_state: 0", 0),
        "  random_state: 0",
        "\trandom_state: 0",
        "line {line}, model.random_state: a tab cannot indent YAML; indent with spaces",
    ),
    (
        "flow-style",
        ("  random_state: 0", 0),
        "  random_state: 0",
        "  random_state: {seed: 1}",
        "line {line}, model.random_state: flow style ({...} or [...]) is not allowed; "
        "write one item per line",
    ),
    (
        "duplicate-key",
        ("  random_state: 0", 1),
        "  random_state: 0",
        "  random_state: 0\n  random_state: 1",
        "line {line}, model.random_state: Duplicate key 'random_state' found",
    ),
    (
        "group-names-non-feature",
        ("  temporal_vars:\n", 0),
        "  temporal_vars:\n",
        "  temporal_vars:\n    - YearOfTheDragon\n",
        "line {line}, model.temporal_vars: names columns that are not features: "
        "['YearOfTheDragon']",
    ),
    (
        "unknown-estimator",
        ("estimator: blend", 0),
        "estimator: blend",
        "estimator: forest",
        "line {line}, model.estimator: input should be one of 'lasso', 'elastic_net', "
        "'gradient_boosting', 'xgboost' or 'hist_gradient_boosting', 'blend', got 'forest'",
    ),
]


def line_of(text: str, anchor: tuple[str, int]) -> int:
    """The 1-based line of the first occurrence of ``anchor[0]``, plus ``anchor[1]``."""
    found, below = anchor
    return text[: text.index(found)].count("\n") + 1 + below


@pytest.mark.parametrize(
    ("anchor", "old", "new", "message"),
    [case[1:] for case in YAML_MISTAKES],
    ids=[case[0] for case in YAML_MISTAKES],
)
def test_a_config_mistake_is_one_line_naming_the_line_and_key_path(
    tmp_path: Path, anchor: tuple[str, int], old: str, new: str, message: str
) -> None:
    """Non-regression test for #11: strictyaml's raw exceptions, blank lines and wrong keys."""
    # Given a copy of config.yml with one mistake
    text = CONFIG_FILE_PATH.read_text(encoding="utf-8")
    assert old in text
    message = message.replace("{line}", str(line_of(text, anchor)))
    path = tmp_path / "config.yml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")

    # When it is loaded
    with pytest.raises(ConfigError) as raised:
        load_config(path)

    # Then the one-line message names the file, the line and the key path
    assert str(raised.value) == f"invalid config {path} {message}"


def test_a_config_file_that_cannot_be_read_is_a_config_error(tmp_path: Path) -> None:
    # Given a path where no config file is
    path = tmp_path / "config.yml"

    # When it is loaded, then the error names the file and the reason
    with pytest.raises(ConfigError, match=f"^cannot read config {path}: No such file"):
        load_config(path)


def test_config_error_belongs_to_the_user_facing_hierarchy() -> None:
    # Given the ConfigError importable from config.core, where it always was
    # Then it is the one of regression_model.errors, a ValueError as before, and exits 1
    assert ConfigError is errors.ConfigError
    assert issubclass(ConfigError, errors.RegressionModelError)
    assert issubclass(ConfigError, ValueError)
    assert ConfigError("x").exit_code == 1


@pytest.mark.parametrize(
    ("updates", "n_rows", "message"),
    [
        ({"cv_folds": 100_000}, 1458, "model.cv_folds: 100000 folds need at least as many"),
        ({"test_size": 0.0001}, 1458, "model.test_size: 0.0001 of 1458 training rows leaves"),
        ({"test_size": 0.9999}, 1458, "model.test_size: 0.9999 of 1458 training rows leaves"),
    ],
    ids=["more-folds-than-rows", "holdout-of-one-row", "training-set-of-one-row"],
)
def test_settings_that_only_the_training_data_can_refuse_fail_before_training(
    config: Config, updates: dict[str, float], n_rows: int, message: str
) -> None:
    """Non-regression test for #11: cv_folds: 100000 failed inside scikit-learn."""
    # Given settings that pass validation but cannot work on this many rows
    settings = config.model.model_copy(update=updates)

    # When they are checked against the training rows
    # Then the error names the key
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_training_settings(settings=settings, n_rows=n_rows)


def test_the_packaged_settings_pass_the_training_check(config: Config) -> None:
    # Given the packaged settings and the training rows left after the outlier rule
    # When they are checked, then nothing is raised
    check_training_settings(settings=config.model, n_rows=1458)
