"""The HTTP service: every endpoint and error case through FastAPI's TestClient, then the
real server as a child process, over HTTP, including a drain on SIGTERM."""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.concurrency import run_in_threadpool

import regression_model
from regression_model import __version__
from regression_model.config.core import TRAINED_MODEL_DIR, Config
from regression_model.examples import load_example_houses
from regression_model.predict import make_prediction
from regression_model.processing.data_manager import ModelLoadError, artifact_name, load_metadata
from regression_model.results import ErrorKind, PredictionResult, RowError
from regression_model.serve import app as serve_app
from regression_model.serve import routes
from regression_model.serve.app import REQUEST_ID_HEADER, SERVER_ERROR, create_app
from regression_model.serve.logs import ACCESS_LOGGER, JsonFormatter
from regression_model.serve.metrics import UNMATCHED_ROUTE
from regression_model.serve.routes import MODEL_FAILED, MODEL_LOADING, NOT_HOUSES, NOT_JSON
from regression_model.serve.schemas import example_house as serve_example_house
from tests.conftest import LiveServer

# Small limits, so the limit tests send small requests; one house is scored on the event
# loop, two or more in a worker thread.
MAX_ROWS = 3
MAX_BODY_BYTES = 20_000
INLINE_MAX_ROWS = 1
DRAIN_TIMEOUT_S = 60
# Anything that would betray the server's insides in an answer.
LEAKS = re.compile(r"Traceback|File \"|/work/|site-packages|\.py\b")


@pytest.fixture()
def small_limits_config(config: Config) -> Config:
    serve = config.serve.model_copy(
        update={
            "max_rows_per_request": MAX_ROWS,
            "max_body_bytes": MAX_BODY_BYTES,
            "inline_max_rows": INLINE_MAX_ROWS,
        }
    )
    return config.model_copy(update={"serve": serve})


@pytest.fixture()
def app(small_limits_config: Config) -> FastAPI:
    return create_app(config=small_limits_config)


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client of a started app: the lifespan has loaded the model."""
    with TestClient(app, raise_server_exceptions=False) as started:
        yield started


@pytest.fixture()
def example_house() -> dict[str, Any]:
    """The house the page starts from, a fresh copy each test may change."""
    return dict(serve_example_house())


def _model_path(config: Config) -> Path:
    return TRAINED_MODEL_DIR / artifact_name(pipeline_name=config.app.pipeline_name)


def _assert_no_leak(answer: httpx2.Response) -> None:
    assert not LEAKS.search(answer.text), answer.text


# --- service endpoints -------------------------------------------------------------------


def test_health_says_alive(client: TestClient) -> None:
    # When
    answer = client.get("/health")
    # Then
    assert answer.status_code == 200
    assert answer.json() == {"status": "alive"}


def test_ready_reports_the_verified_model(client: TestClient, config: Config) -> None:
    # Given
    metadata = load_metadata(model_path=_model_path(config))
    # When
    answer = client.get("/ready")
    # Then
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ready",
        "version": __version__,
        "model_sha256": metadata.model_sha256,
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/ready"), ("GET", "/v1/model"), ("POST", "/v1/predict")],
    ids=["ready", "model", "predict"],
)
def test_model_routes_answer_503_until_the_model_is_loaded(
    app: FastAPI, method: str, path: str, example_house: dict[str, Any]
) -> None:
    """Check that before the lifespan has run (no model yet) the model's routes say so."""
    # Given a client that does not start the app
    client = TestClient(app)
    # When
    answer = client.request(method, path, json=[example_house])
    # Then
    assert answer.status_code == 503
    assert answer.json() == {"detail": MODEL_LOADING}
    assert client.get("/health").status_code == 200


def test_a_model_that_fails_to_load_keeps_the_service_up_and_unready(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a model that cannot be loaded, for a reason naming a server path
    def broken_model(**_: object) -> None:
        raise ModelLoadError("/srv/models/model.pkl does not match its metadata")

    monkeypatch.setattr(serve_app, "load_model", broken_model)
    # When
    with TestClient(app) as client:
        ready = client.get("/ready")
        health = client.get("/health")
    # Then the answer says why in general terms, the log names the cause
    assert ready.status_code == 503
    assert ready.json() == {"detail": MODEL_FAILED}
    assert health.status_code == 200
    assert "/srv/models/model.pkl does not match" in caplog.text


def test_a_model_that_cannot_price_the_example_house_is_not_ready(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a model that loads but gives the example house an error instead of a price
    failed = PredictionResult(
        predictions=[None],
        errors=[RowError(row=0, column=None, kind=ErrorKind.PREDICTION_FAILED, message="no")],
        version=__version__,
    )
    monkeypatch.setattr(serve_app, "make_prediction", lambda **_: failed)
    # When
    with TestClient(app) as client:
        ready = client.get("/ready")
    # Then
    assert ready.status_code == 503
    assert ready.json() == {"detail": MODEL_FAILED}
    assert "the model gave the example house no price: no" in caplog.text


def test_every_answer_carries_its_own_request_id(client: TestClient) -> None:
    # When
    answers = [client.get(path) for path in ("/health", "/health", "/nowhere")]
    # Then
    request_ids = [answer.headers[REQUEST_ID_HEADER] for answer in answers]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in request_ids)
    assert len(set(request_ids)) == len(answers)


# --- /v1/model ---------------------------------------------------------------------------


def test_model_describes_version_metadata_schema_and_example(
    client: TestClient, config: Config
) -> None:
    # Given
    model_path = _model_path(config)
    metadata = load_metadata(model_path=model_path)
    # When
    answer = client.get("/v1/model")
    # Then
    assert answer.status_code == 200
    info = answer.json()
    assert info["version"] == __version__
    assert info["model_file"] == model_path.name
    assert info["model_sha256_matches"] is True
    assert info["metadata"] == metadata.model_dump(mode="json")
    assert info["input_schema"] == config.model.inputs.model_dump(mode="json")
    assert info["example_house"] == serve_example_house()
    _assert_no_leak(answer)


# --- /v1/predict -------------------------------------------------------------------------


def test_predict_answers_what_make_prediction_returns(client: TestClient, raw_records: Any) -> None:
    # Given three houses of test.csv as JSON records (NaN becomes null)
    houses = json.loads(raw_records.head(MAX_ROWS).to_json(orient="records"))
    # When
    answer = client.post("/v1/predict", json=houses)
    # Then
    assert answer.status_code == 200
    assert answer.json() == make_prediction(input_data=houses).model_dump(mode="json")
    assert len(answer.json()["predictions"]) == MAX_ROWS


def test_predict_takes_one_house_as_a_list_of_one(
    client: TestClient, example_house: dict[str, Any]
) -> None:
    # When
    one = client.post("/v1/predict", json=example_house)
    listed = client.post("/v1/predict", json=[example_house])
    # Then
    assert one.status_code == listed.status_code == 200
    assert one.json() == listed.json()
    assert one.json()["predictions"][0] > 0


@pytest.mark.parametrize(
    ("column", "bad_value", "kind"),
    [
        ("LotArea", -5, "out_of_range"),
        ("LotArea", "big", "not_a_number"),
        ("OverallQual", 2.5, "not_whole_number"),
        ("Neighborhood", None, "missing_value"),
        ("GrLivArea", [1, 2], "wrong_type"),
    ],
    ids=["negative-area", "text-area", "fractional-score", "missing-required", "nested-value"],
)
def test_a_bad_house_is_a_row_error_in_a_200_answer(
    client: TestClient, example_house: dict[str, Any], column: str, bad_value: object, kind: str
) -> None:
    # Given a good house, then the same house with one bad value
    bad_house = {**example_house, column: bad_value}
    # When
    answer = client.post("/v1/predict", json=[example_house, bad_house])
    # Then the good house is priced, the bad one has its error and no price
    assert answer.status_code == 200
    result = answer.json()
    assert result["predictions"][0] > 0
    assert result["predictions"][1] is None
    assert [(e["row"], e["column"], e["kind"]) for e in result["errors"]] == [(1, column, kind)]


def test_a_house_with_some_columns_missing_is_answered_with_row_errors(
    client: TestClient, example_house: dict[str, Any]
) -> None:
    """Check that a partial house is still a house: its missing column is a row error."""
    # Given the example house without LotArea
    partial = {column: value for column, value in example_house.items() if column != "LotArea"}
    # When
    answer = client.post("/v1/predict", json=partial)
    # Then
    assert answer.status_code == 200
    result = answer.json()
    assert result["predictions"] == [None]
    assert [(e["column"], e["kind"]) for e in result["errors"]] == [("LotArea", "missing_column")]


NO_COLUMNS = "none of the model's 78 input columns (GET /v1/model lists them)"
# Stands for the example house in a list below.
HOUSE = "HOUSE"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"not": "records", "x": [1, 2]},
            f"the request body is not a house: the object has {NO_COLUMNS}",
        ),
        ({}, f"the request body is not a house: the object has {NO_COLUMNS}"),
        ({"Id": 1461}, f"the request body is not a house: the object has {NO_COLUMNS}"),
        (
            [HOUSE, {"not": "records"}],
            f"element 1 of the list (counting from 0) is not a house: the object has {NO_COLUMNS}",
        ),
        (
            [{}, HOUSE, {"x": 1}],
            "elements 0 and 2 of the list (counting from 0) are not houses: "
            f"they have {NO_COLUMNS}",
        ),
    ],
    ids=["issue-23-example", "empty-object", "only-an-id", "second-of-two", "two-of-three"],
)
def test_an_object_with_none_of_the_model_columns_is_refused_with_422(
    client: TestClient, example_house: dict[str, Any], body: Any, detail: str
) -> None:
    """Check that an object sharing no column with the input schema is not taken for a house
    with every column missing. Non-regression test for #23."""
    # Given the body, with the example house in place of HOUSE
    if isinstance(body, list):
        body = [example_house if item == HOUSE else item for item in body]
    # When
    answer = client.post("/v1/predict", json=body)
    # Then one line says what was expected, and which element was not a house
    assert answer.status_code == 422
    assert answer.json() == {"detail": detail}


def test_a_refusal_names_five_elements_then_counts_the_rest(config: Config) -> None:
    # Given an app that takes up to 7 houses, and 7 objects that are not houses
    serve = config.serve.model_copy(update={"max_rows_per_request": 7})
    app = create_app(config=config.model_copy(update={"serve": serve}))
    # When
    with TestClient(app) as client:
        answer = client.post("/v1/predict", json=[{"x": 1}] * 7)
    # Then
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(
        "elements 0, 1, 2, 3, 4 and 2 more of the list (counting from 0) are not houses"
    )


@pytest.mark.parametrize(
    ("houses", "is_in_thread"),
    [(1, False), (INLINE_MAX_ROWS + 1, True)],
    ids=["few-on-the-loop", "more-in-a-thread"],
)
def test_only_requests_past_inline_max_rows_are_scored_in_a_worker_thread(
    client: TestClient,
    example_house: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    houses: int,
    is_in_thread: bool,
) -> None:
    # Given a record of what goes to the thread pool
    sent_to_thread: list[object] = []

    async def recording_run_in_threadpool(function: Any) -> Any:
        sent_to_thread.append(function.func)  # the route's partial of make_prediction
        return await run_in_threadpool(function)

    monkeypatch.setattr(routes, "run_in_threadpool", recording_run_in_threadpool)
    # When
    answer = client.post("/v1/predict", json=[example_house] * houses)
    # Then the answer is the same either way; only its path differs
    assert answer.status_code == 200
    assert answer.json() == make_prediction(input_data=[example_house] * houses).model_dump(
        mode="json"
    )
    assert sent_to_thread == ([make_prediction] if is_in_thread else [])


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            b"{not json",
            f"{NOT_JSON}: unexpected character, expected a string key (line 1, column 2)",
        ),
        (b"", f"{NOT_JSON}: Input is a zero-length, empty document (line 1, column 1)"),
        (b"\xff\xfe\xfa", f"{NOT_JSON}: str is not valid UTF-8"),
        # NaN and Infinity are not JSON (RFC 8259), though the standard library's parser
        # takes them.
        (b'{"LotArea": NaN}', f"{NOT_JSON}: unexpected character, expected a JSON value"),
        (b"42", NOT_HOUSES),
        (b'"a house"', NOT_HOUSES),
        (b"null", NOT_HOUSES),
        (b"[{}, 3]", f"{NOT_HOUSES}; element 1 of the list (counting from 0) is not an object"),
        (b"[[1, 2]]", f"{NOT_HOUSES}; element 0 of the list (counting from 0) is not an object"),
    ],
    ids=[
        "broken",
        "empty",
        "not-utf8",
        "nan",
        "number",
        "string",
        "null",
        "one-not-a-house",
        "rows",
    ],
)
def test_a_body_that_is_not_houses_is_refused_with_422(
    client: TestClient, body: bytes, detail: str
) -> None:
    # When
    answer = client.post("/v1/predict", content=body)
    # Then
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(detail)


def test_too_many_houses_are_refused_with_413_naming_the_limit(
    client: TestClient, example_house: dict[str, Any]
) -> None:
    # When
    answer = client.post("/v1/predict", json=[example_house] * (MAX_ROWS + 1))
    # Then
    assert answer.status_code == 413
    assert answer.json() == {
        "detail": f"a request may hold at most {MAX_ROWS:,} houses; this one holds {MAX_ROWS + 1:,}"
    }


def _chunked(body: bytes) -> Iterator[bytes]:
    # A generator body goes out chunked, with no Content-Length to check up front.
    yield body[: len(body) // 2]
    yield body[len(body) // 2 :]


@pytest.mark.parametrize("is_chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_past_the_size_limit_is_refused_with_413(
    client: TestClient, is_chunked: bool
) -> None:
    # Given a body one byte over the limit
    body = b" " * (MAX_BODY_BYTES + 1)
    # When
    answer = client.post("/v1/predict", content=_chunked(body) if is_chunked else body)
    # Then
    assert answer.status_code == 413
    assert answer.json() == {
        "detail": f"the request body is larger than the limit of {MAX_BODY_BYTES:,} bytes"
    }


def test_a_server_error_answers_500_with_the_logged_request_id_and_no_insides(
    client: TestClient,
    example_house: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given scoring that fails with a message naming a server path
    def failing_prediction(**_: object) -> None:
        raise RuntimeError("cannot open /srv/models/secret.pkl")

    monkeypatch.setattr(routes, "make_prediction", failing_prediction)
    # When
    with caplog.at_level(logging.ERROR, logger="regression_model.serve"):
        answer = client.post("/v1/predict", json=example_house)
    # Then the answer carries the id, the log holds the id and the cause
    assert answer.status_code == 500
    request_id = answer.headers[REQUEST_ID_HEADER]
    assert answer.json() == {"detail": SERVER_ERROR, "request_id": request_id}
    _assert_no_leak(answer)
    [record] = [r for r in caplog.records if request_id in r.getMessage()]
    assert record.exc_info is not None
    assert "cannot open /srv/models/secret.pkl" in str(record.exc_info[1])


# --- /metrics and the access log -----------------------------------------------------------


def _samples(metrics_text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_requests_errors_latency_houses_and_row_kinds(
    client: TestClient, example_house: dict[str, Any]
) -> None:
    # Given a priced house, a house beyond the training range (priced, with a warning), a
    # house with a negative area (a row error), a refused body and an unknown path
    houses = [example_house, {**example_house, "LotArea": 240000}, {**example_house, "LotArea": -5}]
    priced = client.post("/v1/predict", json=houses)
    refused = client.post("/v1/predict", json={"not": "a house"})
    client.get("/nowhere/1")
    client.get("/nowhere/2")
    # When
    answer = client.get("/metrics")
    # Then the text format, and each count as sent
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert (priced.status_code, refused.status_code) == (200, 422)
    samples = _samples(answer.text)
    predict = "/v1/predict"
    requests = "regression_model_http_requests_total"
    assert _value(samples, requests, route=predict, method="POST", status="200") == 1
    assert _value(samples, requests, route=predict, method="POST", status="422") == 1
    assert _value(samples, requests, route=UNMATCHED_ROUTE, method="GET", status="404") == 2
    errors = "regression_model_http_request_errors_total"
    assert _value(samples, errors, route=predict, status="422") == 1
    assert _value(samples, errors, route=predict, status="200") == 0
    assert (
        _value(samples, "regression_model_http_request_duration_seconds_count", route=predict) == 2
    )
    assert _value(samples, "regression_model_houses_priced_total") == 2
    assert _value(samples, "regression_model_row_errors_total", kind="out_of_range") == 1
    warnings = "regression_model_row_warnings_total"
    assert _value(samples, warnings, kind="outside_training_range") == 1


def test_metrics_count_a_server_error(
    client: TestClient, example_house: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given scoring that fails
    def failing_prediction(**_: object) -> None:
        raise RuntimeError("no")

    monkeypatch.setattr(routes, "make_prediction", failing_prediction)
    # When
    client.post("/v1/predict", json=example_house)
    samples = _samples(client.get("/metrics").text)
    # Then it is counted as the 500 it was answered with
    name = "regression_model_http_request_errors_total"
    assert _value(samples, name, route="/v1/predict", status="500") == 1


def test_every_request_is_one_access_record_with_its_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # When
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        answer = client.get("/health")
    # Then
    [record] = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == answer.headers[REQUEST_ID_HEADER]
    assert (line["method"], line["path"], line["route"], line["status"]) == (
        "GET",
        "/health",
        "/health",
        200,
    )
    assert line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["logger"] == ACCESS_LOGGER


def test_a_log_line_with_an_exception_is_still_one_json_line() -> None:
    # Given a record carrying an exception
    try:
        raise ValueError("bad\nthing")
    except ValueError as error:
        exc_info = (type(error), error, error.__traceback__)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("once",), exc_info)
    # When
    text = JsonFormatter().format(record)
    # Then
    assert "\n" not in text
    line = json.loads(text)
    assert line["message"] == "failed once"
    assert "ValueError: bad\nthing" in line["exception"]


# --- the page and the docs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/", "text/html"),
        ("/static/app.js", "text/javascript"),
        ("/static/style.css", "text/css"),
    ],
    ids=["page", "script", "style"],
)
def test_the_page_and_its_assets_are_served(client: TestClient, path: str, media_type: str) -> None:
    # When
    answer = client.get(path)
    # Then
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(media_type)
    assert answer.content


def test_docs_load_every_asset_from_the_service_itself(client: TestClient) -> None:
    """Check that /docs works offline: every script, style and icon is a local path."""
    # When
    page = client.get("/docs")
    # Then
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets, page.text
    assert all(asset.startswith("/") and not asset.startswith("//") for asset in assets)
    assert "http://" not in page.text and "https://" not in page.text
    assert all(client.get(asset).status_code == 200 for asset in assets)


def test_openapi_documents_every_input_column_with_its_range_or_labels(
    client: TestClient, config: Config
) -> None:
    # When
    openapi = client.get("/openapi.json").json()
    # Then
    house = openapi["components"]["schemas"]["House"]
    inputs = config.model.inputs
    assert set(house["properties"]) == set(inputs.features)
    for rule in inputs.numeric.values():
        for column in rule.columns:
            # A nullable field: a number with its range, or null.
            [number] = [kind for kind in house["properties"][column]["anyOf"] if "minimum" in kind]
            assert number["type"] == ("integer" if rule.whole_numbers else "number")
            assert (number["minimum"], number["maximum"]) == (rule.minimum, rule.maximum)
    assert house["examples"] == [serve_example_house()]
    body = openapi["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["anyOf"][0]["maxItems"] == MAX_ROWS
    # The loaded model's training domain: labels seen, and ranges, in the descriptions.
    domain = load_metadata(model_path=_model_path(config)).domain
    for column, labels in domain.labels.items():
        assert f"Labels seen in training: {', '.join(labels)};" in (
            house["properties"][column]["description"]
        )
    lot_area = domain.numeric["LotArea"]
    assert f"Training range {lot_area.minimum:g} to {lot_area.maximum:g}" in (
        house["properties"]["LotArea"]["description"]
    )


def test_openapi_before_the_model_is_loaded_documents_the_schema_alone(app: FastAPI) -> None:
    # Given a client that does not start the app (no model, so no training domain)
    client = TestClient(app)
    # When
    house = client.get("/openapi.json").json()["components"]["schemas"]["House"]
    # Then the schema's ranges are there, the training domain is not
    assert house["properties"]["LotArea"]["description"].startswith("Areas: a number from 0 to")
    assert "Training range" not in house["properties"]["LotArea"]["description"]
    assert house["properties"]["Neighborhood"]["description"] == (
        "A label. Required: null is a row error."
    )


# --- the command line and the real server -------------------------------------------------


@pytest.mark.parametrize("missing", ["fastapi", "orjson", "prometheus_client"])
def test_serve_without_the_extra_names_the_extra_and_exits_2(missing: str) -> None:
    # Given an interpreter where one of the extra's packages cannot be imported
    hide_fastapi = (
        f"import sys; sys.modules[{missing!r}] = None; sys.argv = ['regression-model', 'serve']; "
        "from regression_model.cli import main; main()"
    )
    package_parent = Path(regression_model.__file__).resolve().parents[1]
    # When
    completed = subprocess.run(
        [sys.executable, "-c", hide_fastapi],
        capture_output=True,
        text=True,
        cwd=package_parent,
        timeout=120,
    )
    # Then
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        f"Error: `serve` needs the serve extra ({missing} is missing): "
        "pip install 'ames-price-model[serve]'"
    ]


def test_the_real_server_answers_over_http(
    live_server: LiveServer, example_house: dict[str, Any]
) -> None:
    # When
    with httpx2.Client(base_url=live_server.url) as http:
        health = http.get("/health")
        priced = http.post("/v1/predict", json=[example_house, {**example_house, "LotArea": -1}])
    # Then
    assert health.json() == {"status": "alive"}
    assert priced.status_code == 200
    assert priced.json() == make_prediction(
        input_data=[example_house, {**example_house, "LotArea": -1}]
    ).model_dump(mode="json")


def _read_answer(connection: socket.socket) -> tuple[int, dict[str, Any]]:
    """Read an HTTP answer until the server closes the connection, as it does when draining."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    parsed: dict[str, Any] = json.loads(body)
    return status, parsed


def test_sigterm_finishes_the_request_in_flight_then_exits_0(
    start_server: Any, example_house: dict[str, Any]
) -> None:
    """Check the drain: a request whose body is half sent when SIGTERM arrives is answered."""
    # Given a real server and a request it has started to read
    server: LiveServer = start_server()
    body = json.dumps([example_house]).encode()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        head = (
            f"POST /v1/predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        connection.sendall(head.encode() + body[: len(body) // 2])
        # When SIGTERM arrives and the server says it waits for the open connection
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while "Waiting for connections to close" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        connection.sendall(body[len(body) // 2 :])
        status, answer = _read_answer(connection)
    # Then the request is answered in full, and the server exits cleanly
    assert status == 200
    assert answer["predictions"][0] > 0
    assert server.process.wait(timeout=DRAIN_TIMEOUT_S) == 0


def test_predict_passes_an_interval_level_through(client: TestClient, config: Config) -> None:
    """Check that ?interval= gives each priced house the ends of its range (issue 16)."""
    # Given the example house and a level training calibrated
    house = load_example_houses()[0]
    level = config.model.intervals.levels[0]

    # When it is priced with that level
    answer = client.post(f"/v1/predict?interval={level}", json=house)

    # Then the answer is make_prediction's with the same level
    assert answer.status_code == 200
    expected = make_prediction(input_data=house, interval=level)
    assert answer.json() == json.loads(expected.model_dump_json())
    assert answer.json()["lower"][0] < answer.json()["predictions"][0] < answer.json()["upper"][0]


def test_predict_passes_explain_through(client: TestClient) -> None:
    """Check that ?explain=true gives each priced house its explanation (issue 22)."""
    # Given a house with a bad value and a good one
    houses = [{**load_example_houses()[0], "LotArea": -5}, load_example_houses()[1]]

    # When they are priced with explanations, and without
    answer = client.post("/v1/predict?explain=true", json=houses)
    plain = client.post("/v1/predict", json=houses)

    # Then the answer is make_prediction's with explain, and null without it
    assert answer.status_code == 200
    expected = make_prediction(input_data=houses, explain=True)
    assert answer.json() == json.loads(expected.model_dump_json())
    assert answer.json()["explanations"][0] is None
    assert len(answer.json()["explanations"][1]["top"]) == 3
    assert plain.json()["explanations"] is None


def test_predict_refuses_an_uncalibrated_interval_level(client: TestClient) -> None:
    answer = client.post("/v1/predict?interval=0.85", json=load_example_houses()[0])
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("interval level 0.85 is not calibrated")


def test_metrics_add_up_across_worker_processes(
    start_server: Callable[..., LiveServer], example_house: dict[str, Any]
) -> None:
    """Check that with --workers 2 every scrape reports every worker's requests, whichever
    worker answers it (prometheus-client's multiprocess mode)."""
    # Given a server of two workers, and requests on connections of their own, in parallel,
    # so that both workers answer some
    server = start_server(workers=2)
    requests = 40

    def predict(_: int) -> int:
        return httpx2.post(f"{server.url}/v1/predict", json=example_house).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(predict, range(requests)))
    # When scraped several times, each scrape on a new connection
    scrapes = [_samples(httpx2.get(f"{server.url}/metrics").text) for _ in range(6)]
    # Then both workers answered, and every scrape counts all the requests
    assert statuses == [200] * requests
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    predict_pids = {line["pid"] for line in lines if line.get("path") == "/v1/predict"}
    assert len(predict_pids) == 2, predict_pids
    name = "regression_model_http_requests_total"
    counts = [_value(s, name, route="/v1/predict", method="POST", status="200") for s in scrapes]
    assert counts == [requests] * len(scrapes)
    houses = [_value(s, "regression_model_houses_priced_total") for s in scrapes]
    assert houses == [requests] * len(scrapes)


def test_the_real_server_logs_json_lines_with_the_request_id(
    live_server: LiveServer, example_house: dict[str, Any]
) -> None:
    # When
    answer = httpx2.post(f"{live_server.url}/v1/predict", json=example_house)
    # Then every line of the log is a JSON object, and one is this request's access line
    request_id = answer.headers[REQUEST_ID_HEADER]
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while request_id not in live_server.log():
        assert time.monotonic() < deadline, live_server.log()
        time.sleep(0.05)
    lines = [json.loads(line) for line in live_server.log().splitlines()]
    [access] = [line for line in lines if line.get("request_id") == request_id]
    assert access["logger"] == ACCESS_LOGGER
    assert (access["method"], access["path"], access["status"]) == ("POST", "/v1/predict", 200)
    assert access["client"].startswith("127.0.0.1:")
