"""The service's routes: health, readiness, metrics, the model's description, prediction,
the page."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from regression_model.predict import make_prediction
from regression_model.processing.intervals import calibrated_level
from regression_model.results import PredictionResult
from regression_model.serve.metrics import METRICS_CONTENT_TYPE
from regression_model.serve.schemas import Health, ModelInfo, Problem, Readiness
from regression_model.serve.state import ServiceState

PREDICT_PATH = "/v1/predict"
INDEX_PAGE = Path(__file__).resolve().parent / "static" / "index.html"
MODEL_LOADING = "the model is still loading; try again in a moment"
MODEL_FAILED = "the model could not be loaded; the service's log says why"
NOT_JSON = "the request body is not valid JSON"
NOT_HOUSES = "the request body must be one house (a JSON object) or a list of houses (objects)"
NO_INPUT_COLUMNS = "none of the model's {count} input columns (GET /v1/model lists them)"
# A refusal names at most this many positions of a list, then says how many more.
_NAMED_POSITIONS = 5

router = APIRouter()

_NOT_READY_RESPONSE: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "The model is not loaded (yet)."}
}


def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def _loaded_model(request: Request) -> ModelInfo:
    state = _state(request)
    if state.model_info is None:
        detail = MODEL_FAILED if state.has_failed else MODEL_LOADING
        raise HTTPException(status_code=503, detail=detail)
    return state.model_info


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    """The page that prices one house."""
    return FileResponse(INDEX_PAGE)


@router.get("/health", tags=["service"])
async def health() -> Health:
    """The process is up; it says nothing about the model (see /ready)."""
    return Health(status="alive")


@router.get("/ready", tags=["service"], responses=_NOT_READY_RESPONSE)
async def ready(request: Request) -> Readiness:
    """The model is loaded, matches its recorded sha256 and version, and prices houses."""
    info = _loaded_model(request)
    return Readiness(status="ready", version=info.version, model_sha256=info.metadata.model_sha256)


@router.get(
    "/metrics",
    tags=["service"],
    response_class=Response,
    responses={200: {"content": {METRICS_CONTENT_TYPE: {}}, "description": "Every metric."}},
)
async def metrics(request: Request) -> Response:
    """Requests, errors, latency, houses priced, row errors and warnings, in the Prometheus
    text format; with several workers, the sums over all of them."""
    return Response(content=_state(request).metrics.exposition(), media_type=METRICS_CONTENT_TYPE)


@router.get("/v1/model", tags=["model"], responses=_NOT_READY_RESPONSE)
async def model(request: Request) -> ModelInfo:
    """Version, sha256, training metrics and metadata, input schema and an example house."""
    return _loaded_model(request)


@router.post(
    PREDICT_PATH,
    tags=["model"],
    response_class=Response,
    responses={
        200: {
            "model": PredictionResult,
            "description": "One prediction or row errors per house, in request order.",
        },
        413: {"model": Problem, "description": "Too many houses, or too large a body."},
        422: {"model": Problem, "description": "The body is not JSON, or not houses."},
        **_NOT_READY_RESPONSE,
    },
)
async def predict(
    request: Request,
    interval: float | None = Query(
        default=None,
        description="A calibrated level (see /v1/model) for `lower` and `upper` price ends.",
    ),
    explain: bool = Query(
        default=False,
        description="Add `explanations`: each input column's part of each house's log price.",
    ),
) -> Response:
    """Price houses: a list of house records (raw column names) or one record.

    The answer holds one prediction per house, in order, ``null`` where the house has
    errors; a house with a bad value is a row error in a 200 answer, never a refusal. With
    ``?interval=0.9`` (a level training calibrated) each priced house also gets the ends of
    its range; an uncalibrated level is refused (422) naming the calibrated ones. With
    ``?explain=true`` each priced house also gets its explanation (README, "Why this price").
    """
    model = _loaded_model(request)
    state = _state(request)
    settings = state.config.serve
    if interval is not None:
        try:
            calibrated_level(model.metadata.intervals, interval)
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from error
    body = await _read_body(request, limit=settings.max_body_bytes)
    houses = _parse_houses(
        body, columns=state.input_columns, max_rows=settings.max_rows_per_request
    )
    score = partial(make_prediction, input_data=houses, interval=interval, explain=explain)
    if len(houses) <= settings.inline_max_rows:
        # A few houses score in about 3 ms. The hop to a worker thread and back would add
        # 0.4 ms of CPU and buy no parallelism: under the GIL one of the two threads waits.
        result = score()
    else:
        # A batch holds the CPU for longer: in a worker thread, the loop keeps answering.
        result = await run_in_threadpool(score)
    state.metrics.observe_result(result=result)
    return Response(content=result.model_dump_json(), media_type="application/json")


async def _read_body(request: Request, *, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to exceed ``limit`` bytes."""
    too_large = HTTPException(
        status_code=413, detail=f"the request body is larger than the limit of {limit:,} bytes"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    # A chunked body declares no length: count as it arrives.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_houses(
    body: bytes, *, columns: frozenset[str], max_rows: int
) -> list[dict[str, object]]:
    """The houses in a JSON body: a list of objects, or one object as a list of one.

    An object is a house if it has at least one of the model's input ``columns``; a house
    with some of them missing is still a house, whose missing columns are row errors.

    Raises
    ------
    HTTPException
        422 if the body is not JSON, not objects, or holds an object with none of the
        ``columns`` (naming its position in a list); 413 past ``max_rows`` houses.
    """
    try:
        # orjson: strict RFC 8259 JSON (NaN and Infinity are not JSON) in C, several
        # times faster than the standard library on a house's 1.5 kB.
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        detail = f"{NOT_JSON}: {error.msg} (line {error.lineno}, column {error.colno})"
        raise HTTPException(status_code=422, detail=detail) from None
    if isinstance(payload, dict):
        if columns.isdisjoint(payload):
            detail = f"the request body is not a house: the object has {_no_columns(columns)}"
            raise HTTPException(status_code=422, detail=detail)
        return [payload]
    if not isinstance(payload, list):
        raise HTTPException(status_code=422, detail=NOT_HOUSES)
    not_objects = [position for position, house in enumerate(payload) if type(house) is not dict]
    if not_objects:
        detail = f"{NOT_HOUSES}; {_elements(not_objects, 'is not an object', 'are not objects')}"
        raise HTTPException(status_code=422, detail=detail)
    if len(payload) > max_rows:
        detail = f"a request may hold at most {max_rows:,} houses; this one holds {len(payload):,}"
        raise HTTPException(status_code=413, detail=detail)
    # isdisjoint stops at the first input column it finds: the first key or two of a house.
    strangers = [position for position, house in enumerate(payload) if columns.isdisjoint(house)]
    if strangers:
        elements = _elements(
            strangers, "is not a house: the object has", "are not houses: they have"
        )
        raise HTTPException(status_code=422, detail=f"{elements} {_no_columns(columns)}")
    return payload


def _no_columns(columns: frozenset[str]) -> str:
    return NO_INPUT_COLUMNS.format(count=len(columns))


def _elements(positions: list[int], one: str, many: str) -> str:
    """``element 3 of the list (counting from 0) {one}``, or ``elements 0, 3 and 7 of the list
    (counting from 0) {many}``, naming at most five positions."""
    if len(positions) == 1:
        return f"element {positions[0]} of the list (counting from 0) {one}"
    named = [str(position) for position in positions[:_NAMED_POSITIONS]]
    more = len(positions) - len(named)
    listed = (
        f"{', '.join(named)} and {more:,} more"
        if more
        else f"{', '.join(named[:-1])} and {named[-1]}"
    )
    return f"elements {listed} of the list (counting from 0) {many}"
