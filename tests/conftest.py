"""Shared fixtures: the config, raw records from the shipped datasets, a small fitted pipeline."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import joblib
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, settings
from sklearn.pipeline import Pipeline

import regression_model
from regression_model.config.core import DATASET_DIR, PACKAGE_ROOT, Config, load_config
from regression_model.drift import InputProfile, build_profile
from regression_model.pipeline import build_pipeline
from regression_model.predict import make_prediction
from regression_model.processing.data_manager import (
    file_sha256,
    load_dataset,
    metadata_path,
    save_pipeline,
)
from regression_model.processing.domain import TrainingDomain, learn_domain
from regression_model.processing.validation import validate_records
from regression_model.results import PredictionResult
from regression_model.train_pipeline import drop_training_outliers, load_training_data

# Properties that call the model are slow per example: keep their example counts low and
# their deadline off (the first call loads the model).
settings.register_profile(
    "regression_model",
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("regression_model")
# `tox -e mutate` (pyproject.toml's [tool.mutmut]) runs the tests once per mutant: the same
# examples every run, so a mutant's verdict does not depend on the draw, and no shrinking, which
# only tidies the report of a failure that already killed the mutant.
settings.register_profile(
    "mutate",
    parent=settings.get_profile("regression_model"),
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


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


# The sample pipeline's boosted trees number this many, not the configured 1,000: the same
# classes and code paths at a tenth of the fit, which `tox -e mutate` pays again in every
# mutant's process. The shipped model (tests/test_predict.py) has the configured count.
SAMPLE_BOOSTING_TREES = 100


@pytest.fixture(scope="session")
def training_profile(config: Config) -> InputProfile:
    """The input profile of the training rows, as training builds it (no one may mutate it)."""
    features, _ = drop_training_outliers(
        *load_training_data(config=config, dataset_dir=DATASET_DIR), settings=config.model
    )
    return build_profile(
        features=features,
        numeric=config.model.inputs.numeric_columns,
        labels=config.model.inputs.categorical,
        settings=config.drift,
    )


@pytest.fixture(scope="session")
def area_columns(config: Config) -> tuple[str, ...]:
    """The input columns that hold areas in square feet (and MiscVal, dollars)."""
    return config.model.inputs.numeric["areas"].columns


# The one neighbourhood every house of ``shifted_records`` is moved to.
SHIFTED_NEIGHBORHOOD = "NAmes"
AREA_FACTOR = 1.5


@pytest.fixture(scope="session")
def shifted_records(test_records: pd.DataFrame, area_columns: tuple[str, ...]) -> pd.DataFrame:
    """test.csv with every area 1.5 times as large and every house in one neighbourhood."""
    shifted = test_records.copy()
    shifted[list(area_columns)] = shifted[list(area_columns)] * AREA_FACTOR
    shifted["Neighborhood"] = SHIFTED_NEIGHBORHOOD
    return shifted


@pytest.fixture(scope="session")
def fitted_pipeline(config: Config, training_sample: tuple[pd.DataFrame, pd.Series]) -> Pipeline:
    """A pipeline fitted on 600 training rows, so tests never need a shipped model."""
    fewer_trees = {
        name: getattr(config.model, name).model_copy(update={"n_estimators": SAMPLE_BOOSTING_TREES})
        for name in ("gradient_boosting", "xgboost")
    }
    model_settings = config.model.model_copy(update=fewer_trees)
    return build_pipeline(model_settings).fit(*training_sample)


@pytest.fixture(scope="session")
def linear_pipeline(config: Config, training_sample: tuple[pd.DataFrame, pd.Series]) -> Pipeline:
    """The configured pipeline with Lasso alone as its estimator, fitted on the sample."""
    return build_pipeline(config.model.model_copy(update={"estimator": "lasso"})).fit(
        *training_sample
    )


@pytest.fixture(scope="session")
def explained_test_set(test_records: pd.DataFrame) -> PredictionResult:
    """Every row of test.csv, priced and explained by the shipped model (no one may mutate it)."""
    return make_prediction(input_data=test_records, explain=True)


@pytest.fixture(scope="session")
def fitted_domain(
    config: Config, fitted_pipeline: Pipeline, training_sample: tuple[pd.DataFrame, pd.Series]
) -> TrainingDomain:
    """The domain of ``fitted_pipeline``."""
    features, _ = training_sample
    return learn_domain(pipeline=fitted_pipeline, features=features, schema=config.model.inputs)


@pytest.fixture()
def package_copy(tmp_path: Path) -> Path:
    """A copy of the installed package, trained model and datasets included, to break at will.

    Run it in a subprocess with the returned directory's parent first on PYTHONPATH.
    """
    target = tmp_path / "site" / PACKAGE_ROOT.name
    shutil.copytree(PACKAGE_ROOT, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture()
def saved_files(
    fitted_pipeline: Pipeline, fitted_domain: TrainingDomain, tmp_path: Path, config: Config
) -> Callable[[object], Path]:
    """Save any object as this version's model, with metadata whose sha256 matches it."""

    def save(model: object) -> Path:
        model_dir = tmp_path / "trained_models"
        training_data = tmp_path / "train.csv"
        training_data.write_text("Id,SalePrice\n1,200000\n")
        path = save_pipeline(
            pipeline=fitted_pipeline,
            pipeline_name=config.app.pipeline_name,
            training_data=training_data,
            metrics={"holdout_r2": 0.9},
            domain=fitted_domain,
            model_dir=model_dir,
        )
        joblib.dump(model, path)
        metadata = json.loads(metadata_path(path).read_text())
        metadata["model_sha256"] = file_sha256(path)
        metadata_path(path).write_text(json.dumps(metadata))
        return path

    return save


# The HTTP service (tests/test_serve.py, tests/test_serve_browser.py): the real server runs
# as a child process on a free loopback port, started with the command line users run.
SERVER_START_TIMEOUT_S = 120


@dataclass
class LiveServer:
    """A ``regression-model serve`` child process and where it listens."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# uvicorn logs this once per worker process, when its lifespan has loaded the model.
WORKER_STARTED = "Application startup complete."


def _start_server(log_path: Path, *, port: int | None = None, workers: int = 1) -> LiveServer:
    """Start ``regression-model serve`` on ``port`` (a free one if None); wait until /ready
    answers and every one of the ``workers`` has started."""
    port = free_loopback_port() if port is None else port
    package_parent = Path(regression_model.__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package_parent), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "regression_model", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{server.url}/ready") as answer:
                # One ready worker answers /ready; the others may still be loading.
                if answer.status == 200 and server.log().count(WORKER_STARTED) >= workers:
                    return server
            time.sleep(0.2)
        except urllib.error.HTTPError as not_ready:  # 503: the model failed to load
            not_ready.close()
            break
        except OSError:  # refused: still starting
            time.sleep(0.2)
    process.kill()
    process.wait()
    raise RuntimeError(f"the server did not become ready:\n{server.log()}")


@pytest.fixture()
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start servers on demand; any still running at the end of the test is killed."""
    started: list[LiveServer] = []

    def start(*, workers: int = 1) -> LiveServer:
        log_path = tmp_path / f"server-{len(started)}.log"
        started.append(_start_server(log_path, workers=workers))
        return started[-1]

    yield start
    for server in started:
        if server.process.poll() is None:
            # SIGTERM, not SIGKILL: uvicorn's supervisor then stops its worker processes,
            # which a killed supervisor would leave running.
            server.process.terminate()
            try:
                server.process.wait(timeout=SERVER_START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server shared by a module's tests, which only send it requests."""
    server = _start_server(tmp_path_factory.mktemp("server") / "server.log")
    yield server
    server.process.terminate()
    server.process.wait()
