"""The service's logs as JSON lines, one object per line, for an ordinary log shipper.

Every line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``pid`` and ``message``; an
access line (logger ``regression_model.serve.access``, one per request, written by the app
in place of uvicorn's own access log) adds ``request_id``, ``method``, ``path``, ``status``,
``duration_ms`` and ``client``; a line with an exception adds ``exception``, the traceback
as one string. This module imports no model library: the supervising process of
``--workers N`` uses it too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import orjson

ACCESS_LOGGER = "regression_model.serve.access"
# The attribute of a log record that holds an access line's fields: logging's ``extra``.
FIELDS_ATTRIBUTE = "fields"


class JsonFormatter(logging.Formatter):
    """Format a log record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # default=str: a field of another type (a path, say) is written as its text rather
        # than losing the whole line.
        return orjson.dumps(line, default=str).decode()


def log_config(*, level: str) -> dict[str, Any]:
    """``logging.config.dictConfig`` settings: uvicorn's and the package's logs as JSON lines.

    Access lines go to stdout and everything else to stderr, as uvicorn does.
    """
    handler_class = "logging.StreamHandler"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "default": {
                "class": handler_class,
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": handler_class,
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "regression_model": {"handlers": ["default"], "level": level, "propagate": False},
            ACCESS_LOGGER: {"handlers": ["access"], "level": level, "propagate": False},
        },
    }
