"""The service's Prometheus metrics, correct with one worker process or several.

uvicorn's ``--workers N`` runs N processes, and a scrape of ``/metrics`` reaches one of them.
Each process's own counters would therefore answer with a different share of the traffic
on each scrape. prometheus-client's multiprocess mode solves exactly this: every process
writes its values to memory-mapped files in one directory, and a scrape adds up the files
of all processes, those of a worker that has died and been replaced included, so counters
never go back. ``server.run_server`` makes a fresh directory for each run, names it in
``PROMETHEUS_MULTIPROC_DIR`` before any worker starts (prometheus-client reads it when it is
first imported) and removes it when the server stops. Without that variable (an app built
in-process, as the tests do) the metrics live in the app's own registry.

Only counters and histograms are kept: both add up across processes as they are, where a
gauge would need a per-process mode and a clean-up when a worker dies.
"""

from __future__ import annotations

import os
from collections import Counter as Tally

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from regression_model.results import PredictionResult
from regression_model.serve import MULTIPROCESS_DIR_VARIABLE

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
# The route label of a request that matched no route (a 404): one label for every unknown
# path, so that a scan of random paths cannot create a time series per path.
UNMATCHED_ROUTE = "unmatched"
_PREFIX = "regression_model"


class MetricsSetupError(RuntimeError):
    """prometheus-client was imported before its multiprocess directory was named."""


class ServiceMetrics:
    """The counters and the latency histogram the service updates, and their exposition.

    Parameters
    ----------
    latency_buckets_s : tuple of float
        The latency histogram's bucket upper bounds, in seconds (config.yml's
        ``serve.latency_buckets_s``).

    Attributes
    ----------
    registry : CollectorRegistry
        The app's own registry; ``/metrics`` shows it when no multiprocess directory is set.
    """

    def __init__(self, *, latency_buckets_s: tuple[float, ...]) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None
        if self.multiprocess_dir is not None and not _values_are_shared():
            # The values would stay in this process: every scrape would see one worker's.
            raise MetricsSetupError(
                f"prometheus_client was imported before {MULTIPROCESS_DIR_VARIABLE} was set, "
                "so its metrics would not add up across workers: set it before the server "
                "starts (regression-model serve does)"
            )
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            f"{_PREFIX}_http_requests",
            "HTTP requests answered, by route, method and status code.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.request_errors = Counter(
            f"{_PREFIX}_http_request_errors",
            "HTTP requests answered with a 4xx or 5xx status, by route and status code.",
            ("route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{_PREFIX}_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route.",
            ("route",),
            buckets=latency_buckets_s,
            registry=self.registry,
        )
        self.houses_priced = Counter(
            f"{_PREFIX}_houses_priced",
            "Houses given a price by /v1/predict.",
            registry=self.registry,
        )
        self.row_errors = Counter(
            f"{_PREFIX}_row_errors",
            "Reasons houses got no price (row errors in a 200 answer), by kind.",
            ("kind",),
            registry=self.registry,
        )
        self.row_warnings = Counter(
            f"{_PREFIX}_row_warnings",
            "Reasons to doubt a price (row warnings; the house is priced), by kind.",
            ("kind",),
            registry=self.registry,
        )

    def observe_request(self, *, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        code = str(status)
        self.requests.labels(route, method, code).inc()
        if status >= 400:
            self.request_errors.labels(route, code).inc()
        self.latency.labels(route).observe(seconds)

    def observe_result(self, *, result: PredictionResult) -> None:
        """Count the houses a prediction priced, and its row errors and warnings by kind."""
        priced = sum(price is not None for price in result.predictions)
        if priced:
            self.houses_priced.inc(priced)
        for kind, count in Tally(error.kind.value for error in result.errors).items():
            self.row_errors.labels(kind).inc(count)
        for kind, count in Tally(warning.kind.value for warning in result.warnings).items():
            self.row_warnings.labels(kind).inc(count)

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format: all workers' together, where shared."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        # A registry of its own for each scrape, as prometheus-client's documentation does:
        # the collector reads every process's files when it is collected.
        registry = CollectorRegistry()
        # prometheus-client leaves this one constructor without annotations.
        MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def _values_are_shared() -> bool:
    """Whether prometheus-client chose its multiprocess values when it was imported."""
    return values.ValueClass is not values.MutexValue
