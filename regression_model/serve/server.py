"""Run the service with uvicorn: what ``regression-model serve`` calls.

This module imports only uvicorn and FastAPI, not the model's libraries: with several
workers, the supervising process never loads pandas, scikit-learn or the model; each
worker builds the app from ``APP_FACTORY`` and loads the model once. Nor does it import
prometheus-client, which must find its per-run directory named when it is first imported
(see ``metrics.py``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import tempfile
from types import FrameType

# Imported here, not only in the workers, so that a missing serve extra fails at once, in
# the command line, with one line naming the extra.
import fastapi_offline  # noqa: F401
import uvicorn

from regression_model.config.core import get_config
from regression_model.serve import MULTIPROCESS_DIR_VARIABLE
from regression_model.serve.logs import log_config

# prometheus-client is only looked for, not imported: imported here, it would choose its
# single-process values before run_server names its directory (see metrics.py).
if importlib.util.find_spec("prometheus_client") is None:
    raise ModuleNotFoundError("No module named 'prometheus_client'", name="prometheus_client")

APP_FACTORY = "regression_model.serve.app:create_app"
LOG_LEVEL = "INFO"


def _exit_cleanly(signal_number: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def run_server(*, host: str | None, port: int | None, workers: int) -> None:
    """Serve until SIGTERM or Ctrl-C, then finish the requests in flight and return.

    ``host`` and ``port`` default to the config's ``serve`` section. Each of the
    ``workers`` processes loads the model once.
    """
    settings = get_config().serve
    # uvicorn drains on SIGTERM or SIGINT, then raises the signal again so the default
    # action ends the process (status -15, or KeyboardInterrupt). A drain that finished is
    # a clean stop: the handler it finds makes it exit 0, as it does before uvicorn starts.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_cleanly)
    # The metrics of every worker add up in one directory, fresh for each run: files left by
    # an earlier run would add its counts to this one's.
    metrics_dir = tempfile.mkdtemp(prefix="regression-model-metrics-")
    inherited = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    os.environ[MULTIPROCESS_DIR_VARIABLE] = metrics_dir
    try:
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=settings.host if host is None else host,
            port=settings.port if port is None else port,
            workers=workers,
            # Every line JSON, uvicorn's included; the app writes one access line per request
            # with its request id, so uvicorn's own access log is off.
            log_config=log_config(level=LOG_LEVEL),
            access_log=False,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        if inherited is None:
            del os.environ[MULTIPROCESS_DIR_VARIABLE]
        else:
            os.environ[MULTIPROCESS_DIR_VARIABLE] = inherited
