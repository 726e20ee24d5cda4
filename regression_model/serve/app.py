"""The FastAPI application: load the model once at start-up, then serve the routes.

``create_app()`` builds the app; uvicorn calls it as a factory, once per worker process
(see ``server.py``). Every answer carries an ``X-Request-ID`` header, and every request is
counted in ``/metrics`` and logged as one JSON access line with that id (``logs.py``); a
server error is logged with that id and answers it, with no stack trace or server path in
the answer.
"""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regression_model import __version__
from regression_model.config.core import TRAINED_MODEL_DIR, Config, get_config
from regression_model.predict import make_prediction
from regression_model.processing.data_manager import (
    ModelLoadError,
    artifact_name,
    file_sha256,
    load_metadata,
)
from regression_model.serve.logs import ACCESS_LOGGER, FIELDS_ATTRIBUTE
from regression_model.serve.metrics import UNMATCHED_ROUTE, ServiceMetrics
from regression_model.serve.routes import PREDICT_PATH, router
from regression_model.serve.schemas import (
    HOUSE_SCHEMA_NAME,
    ModelInfo,
    Problem,
    example_house,
    house_model,
    predict_request_body,
)
from regression_model.serve.state import ServiceState

REQUEST_ID_HEADER = "X-Request-ID"
STATIC_DIR = Path(__file__).resolve().parent / "static"
SERVER_ERROR = "internal server error; the service's log holds the cause under this request id"

HTTP_NOT_FOUND = 404
HTTP_SERVER_ERROR = 500

logger = logging.getLogger(__name__)
access_logger = logging.getLogger(ACCESS_LOGGER)


def load_model(*, config: Config) -> ModelInfo:
    """Load the trained model, verify it and describe it.

    ``make_prediction`` loads the pipeline on its first call, after checking the file's
    sha256 and version against its metadata; pricing the example house then proves the
    loaded model scores.

    Raises
    ------
    ModelLoadError
        If the model is missing, does not match its metadata, or cannot price the example.
    """
    example = example_house()
    result = make_prediction(input_data=[example])
    if result.predictions[0] is None:
        reasons = "; ".join(error.message for error in result.errors)
        raise ModelLoadError(f"the model gave the example house no price: {reasons}")
    model_path = TRAINED_MODEL_DIR / artifact_name(pipeline_name=config.app.pipeline_name)
    metadata = load_metadata(model_path=model_path)
    return ModelInfo(
        version=__version__,
        model_file=model_path.name,
        model_sha256_matches=file_sha256(model_path) == metadata.model_sha256,
        metadata=metadata,
        input_schema=config.model.inputs,
        example_house=example,
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServiceState = app.state.service
    try:
        # Off the event loop: unpickling and the first prediction take a second.
        state.model_info = await run_in_threadpool(load_model, config=state.config)
    except Exception:  # any failure: stay up, say so on /ready, log the cause
        state.has_failed = True
        logger.exception("the model could not be loaded; /ready answers 503")
    else:
        logger.info("model %s loaded and verified", state.model_info.model_file)
    # The loaded model and libraries live as long as the process: frozen, the garbage
    # collector stops walking them on each full collection, which otherwise costs every
    # request about 0.2 ms of CPU (benchmarks/README.md, "Serving").
    gc.collect()
    gc.freeze()
    yield


class RequestObserver:
    """Give every request an id, then count it, time it and log it as one JSON line.

    The id is kept in ``request.state`` and sent as the ``X-Request-ID`` header. This one
    pure ASGI middleware does the work of three (id, metrics, access log) so that a request
    crosses one layer, not three; it replaces uvicorn's access log, which the server turns
    off. A request whose handler raised is counted and logged as the 500 that Starlette's
    outermost error handler answers.
    """

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = HTTP_SERVER_ERROR

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = _route_label(scope, status=status)
            self.metrics.observe_request(
                route=route, method=scope["method"], status=status, seconds=seconds
            )
            client = scope.get("client")
            access_logger.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    FIELDS_ATTRIBUTE: {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                        "client": None if client is None else f"{client[0]}:{client[1]}",
                    }
                },
            )


def _route_label(scope: Scope, *, status: int) -> str:
    """The route's template, not the path: one time series per route, whatever the path.

    FastAPI records the API route it matched in the scope; a mount (``/static``) moves its
    prefix from the path into ``root_path`` instead. The plain routes FastAPI adds itself
    (``/openapi.json``, ``/docs``) record neither, but only an existing route answers other
    than 404, so their path is their label. Any other 404 matched nothing.
    """
    route = scope.get("route")
    if route is not None:
        template: str = route.path
        return template
    mount: str = scope.get("root_path", "")[len(scope.get("app_root_path", "")) :]
    if mount:
        return mount
    path: str = scope["path"]
    return UNMATCHED_ROUTE if status == HTTP_NOT_FOUND else path


async def _server_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette calls this outside every middleware, so the header is set here too.
    request_id: str = getattr(request.state, "request_id", "") or uuid.uuid4().hex
    logger.error(
        "request %s: %s %s failed",
        request_id,
        request.method,
        request.url.path,
        exc_info=error,
    )
    problem = Problem(detail=SERVER_ERROR, request_id=request_id)
    return JSONResponse(
        problem.model_dump(), status_code=HTTP_SERVER_ERROR, headers={REQUEST_ID_HEADER: request_id}
    )


def _openapi_with_house(app: FastAPI, *, config: Config) -> Callable[[], dict[str, Any]]:
    """An OpenAPI generator that documents ``/v1/predict``'s body with the house model.

    The route reads its body itself (a bad house is a row error, not a 422), so FastAPI
    cannot see the model: it is added to the schema's components here. Once the model is
    loaded, the house model also lists its training ranges and labels, and the schema is
    kept; before that it is built afresh on each request.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        info: ModelInfo | None = app.state.service.model_info
        house = house_model(config=config, domain=None if info is None else info.metadata.domain)
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components[HOUSE_SCHEMA_NAME] = house.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        body = predict_request_body(max_rows=config.serve.max_rows_per_request)
        schema["paths"][PREDICT_PATH]["post"]["requestBody"] = body
        if info is not None:
            app.openapi_schema = schema
        return schema

    return openapi


def create_app(*, config: Config | None = None) -> FastAPI:
    """Build the service: routes, the page at ``/``, offline ``/docs``, request ids.

    Parameters
    ----------
    config : Config, default=None
        The configuration to serve with; ``None`` uses the packaged one.

    Returns
    -------
    FastAPI
        The app; its lifespan loads the model once, when the server starts.
    """
    config = get_config() if config is None else config
    app = FastAPIOffline(
        title="regression_model",
        version=__version__,
        description=(
            "Sale prices of houses in Ames, Iowa. POST houses to /v1/predict; a house with a "
            "bad value gets row errors in a 200 answer. The page at / prices one house."
        ),
        redoc_url=None,
        lifespan=_lifespan,
    )
    metrics = ServiceMetrics(latency_buckets_s=config.serve.latency_buckets_s)
    app.state.service = ServiceState(
        config=config, metrics=metrics, input_columns=frozenset(config.model.inputs.features)
    )
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(RequestObserver, metrics=metrics)
    app.add_exception_handler(Exception, _server_error)
    app.openapi = _openapi_with_house(app, config=config)  # type: ignore[method-assign]
    return app
