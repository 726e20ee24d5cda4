"""Shared fixtures: the config, raw records from the shipped datasets, a small fitted pipeline."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from sklearn.pipeline import Pipeline

from regression_model.config.core import Config, load_config
from regression_model.pipeline import build_pipeline
from regression_model.processing.data_manager import load_dataset
from regression_model.processing.domain import TrainingDomain, learn_domain
from regression_model.processing.validation import validate_records

# Properties that call the model are slow per example: keep their example counts low and
# their deadline off (the first call loads the model).
settings.register_profile(
    "regression_model",
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("regression_model")


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="session")
def test_records(config: Config) -> pd.DataFrame:
    """All of test.csv, as raw records (no one may mutate it)."""
    return load_dataset(file_name=config.app.test_data_file)


@pytest.fixture(scope="session")
def train_records(config: Config) -> pd.DataFrame:
    """All of train.csv, target included, as raw records (no one may mutate it)."""
    return load_dataset(file_name=config.app.training_data_file)


@pytest.fixture(scope="session")
def training_price_band(config: Config, train_records: pd.DataFrame) -> tuple[float, float]:
    """The lowest and highest price in train.csv: the band every prediction lies in."""
    prices = train_records[config.model.target]
    return float(prices.min()), float(prices.max())


@pytest.fixture()
def raw_records(test_records: pd.DataFrame) -> pd.DataFrame:
    """The first 50 rows of test.csv: a fresh copy each test may change."""
    return test_records.head(50).copy()


@pytest.fixture(scope="session")
def training_sample(config: Config, train_records: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """600 validated training rows and their prices (no one may mutate them)."""
    sample = train_records.sample(n=600, random_state=config.model.random_state)
    validated = validate_records(records=sample, schema=config.model.inputs)
    # validate_records indexes rows 0..n-1; the target must follow, or encoders refuse it.
    return validated.frame, sample[config.model.target].reset_index(drop=True)


@pytest.fixture(scope="session")
def fitted_pipeline(config: Config, training_sample: tuple[pd.DataFrame, pd.Series]) -> Pipeline:
    """A pipeline fitted on 600 training rows, so tests never need a shipped model."""
    return build_pipeline(config.model).fit(*training_sample)


@pytest.fixture(scope="session")
def fitted_domain(
    config: Config, fitted_pipeline: Pipeline, training_sample: tuple[pd.DataFrame, pd.Series]
) -> TrainingDomain:
    """The domain of ``fitted_pipeline``."""
    features, _ = training_sample
    return learn_domain(pipeline=fitted_pipeline, features=features, schema=config.model.inputs)
