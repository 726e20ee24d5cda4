"""Load test of ``regression-model serve`` with locust, on the loopback interface only.

Run from the repository root, with a trained model and the bench requirements installed::

    python benchmarks/bench_serve.py                   # both scenarios, 1 and 2 workers
    python benchmarks/bench_serve.py --workers 2 --single-seconds 20 --batch-seconds 10

Each run starts the real server (``python -m regression_model serve``) on a free port of
127.0.0.1, waits for ``/ready``, then runs locust headless against it:

- ``single``: 16 concurrent clients, each sending one house of test.csv per request, back
  to back, for ``--single-seconds`` (60 by default);
- ``batch``: 4 concurrent clients, each sending 1,000 houses of test.csv per request.

Every run is bounded twice: by its duration and by a maximum number of requests. The
server's resident memory (the process and its workers) is read before and after each run.
The figures, with the machine they were measured on, go to
``benchmarks/results/bench_serve.json``. This file is also the locustfile that the locust
child process loads (its user classes are below).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_CSV = REPO_ROOT / "regression_model" / "datasets" / "test.csv"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "bench_serve.json"
LOOPBACK = "127.0.0.1"
SERVER_START_TIMEOUT_S = 120
BATCH_ROWS = 1000
# A request count no run of these lengths reaches on this machine: a bound, not a target.
MAX_REQUESTS = {"single": 200_000, "batch": 20_000}
TARGETS = {"single_p99_ms": 25.0, "single_rps": 400.0, "rss_growth_mb": 50.0}


@dataclass(frozen=True)
class Scenario:
    name: str
    user_class: str
    clients: int
    seconds: int


@dataclass(frozen=True)
class RunResult:
    scenario: str
    workers: int
    clients: int
    seconds: int
    requests: int
    failures: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    houses_per_s: float
    rss_start_mb: float
    rss_end_mb: float


# --- the locust side: loaded by the locust child process -------------------------------------

if os.environ.get("BENCH_SERVE_LOCUST") == "1":
    from locust import FastHttpUser, constant, task
    from locust.exception import StopUser

    def _request_bodies(rows_per_request: int) -> list[bytes]:
        """test.csv's houses as JSON bodies of ``rows_per_request`` houses, built up front."""
        import pandas as pd

        houses = json.loads(pd.read_csv(TEST_CSV).to_json(orient="records"))
        if rows_per_request == 1:
            return [json.dumps(house).encode() for house in houses]
        # Two different 1,000-house windows, so requests are not all identical.
        starts = (0, len(houses) - rows_per_request)
        return [json.dumps(houses[s : s + rows_per_request]).encode() for s in starts]

    _sent = {"single": 0, "batch": 0}

    class _PredictUser(FastHttpUser):
        abstract = True
        wait_time = constant(0)
        scenario = ""
        bodies: list[bytes] = []

        def on_start(self) -> None:
            self.position = 0

        @task
        def predict(self) -> None:
            if _sent[self.scenario] >= MAX_REQUESTS[self.scenario]:
                raise StopUser()
            _sent[self.scenario] += 1
            body = self.bodies[self.position % len(self.bodies)]
            self.position += 1
            self.client.post("/v1/predict", data=body, headers={"Content-Type": "application/json"})

    class SingleHouseUser(_PredictUser):
        scenario = "single"
        bodies = _request_bodies(1)

    class BatchUser(_PredictUser):
        scenario = "batch"
        bodies = _request_bodies(BATCH_ROWS)


# --- the driver: starts the server, runs locust, reads the figures ---------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _child_env() -> dict[str, str]:
    paths = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _start_server(*, port: int, workers: int, log_path: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "regression_model", "serve"]
    command += ["--host", LOOPBACK, "--port", str(port), "--workers", str(workers)]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=_child_env())
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/ready") as answer:
                if answer.status == 200:
                    return server
        except urllib.error.HTTPError as not_ready:
            not_ready.close()
            time.sleep(0.5)
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server did not become ready:\n{log_path.read_text()}")


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (uvicorn's workers), in MB."""
    import psutil

    parent = psutil.Process(pid)
    processes = [parent, *parent.children(recursive=True)]
    return sum(process.memory_info().rss for process in processes) / 1e6


def _run_locust(*, scenario: Scenario, port: int, csv_prefix: Path) -> dict[str, str]:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(Path(__file__).resolve()),
        "--headless",
        "--host",
        f"http://{LOOPBACK}:{port}",
        "--users",
        str(scenario.clients),
        "--spawn-rate",
        str(scenario.clients),
        "--run-time",
        f"{scenario.seconds}s",
        "--stop-timeout",
        "10",
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        scenario.user_class,
    ]
    env = {**_child_env(), "BENCH_SERVE_LOCUST": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, env=env)
    # locust exits 1 when any request failed: the figures still count, failures included.
    stats = Path(f"{csv_prefix}_stats.csv")
    if not stats.is_file():
        raise RuntimeError(f"locust wrote no statistics:\n{completed.stderr}")
    with stats.open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    return rows["Aggregated"]


def run_scenario(*, scenario: Scenario, workers: int, work_dir: Path) -> RunResult:
    port = _free_port()
    log_path = work_dir / f"server-{scenario.name}-{workers}.log"
    server = _start_server(port=port, workers=workers, log_path=log_path)
    try:
        rss_start = _rss_mb(server.pid)
        stats = _run_locust(
            scenario=scenario, port=port, csv_prefix=work_dir / f"{scenario.name}-{workers}"
        )
        rss_end = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=SERVER_START_TIMEOUT_S)
    requests = int(stats["Request Count"])
    rows_per_request = 1 if scenario.name == "single" else BATCH_ROWS
    rps = float(stats["Requests/s"])
    return RunResult(
        scenario=scenario.name,
        workers=workers,
        clients=scenario.clients,
        seconds=scenario.seconds,
        requests=requests,
        failures=int(stats["Failure Count"]),
        requests_per_s=rps,
        p50_ms=float(stats["50%"]),
        p99_ms=float(stats["99%"]),
        houses_per_s=rps * rows_per_request,
        rss_start_mb=rss_start,
        rss_end_mb=rss_end,
    )


def format_table(results: list[RunResult]) -> str:
    header = (
        f"{'scenario':<8} {'workers':>7} {'clients':>7} {'requests':>9} {'failures':>8} "
        f"{'req/s':>8} {'houses/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'RSS MB start/end':>17}"
    )
    lines = [header, "-" * len(header)]
    for run in results:
        lines.append(
            f"{run.scenario:<8} {run.workers:>7} {run.clients:>7} {run.requests:>9,} "
            f"{run.failures:>8,} {run.requests_per_s:>8.1f} {run.houses_per_s:>9,.0f} "
            f"{run.p50_ms:>7.0f} {run.p99_ms:>7.0f} "
            f"{run.rss_start_mb:>8.0f}/{run.rss_end_mb:<8.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--single-seconds", type=int, default=60)
    parser.add_argument("--batch-seconds", type=int, default=30)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    from machine import describe

    scenarios = [
        Scenario("single", "SingleHouseUser", clients=16, seconds=args.single_seconds),
        Scenario("batch", "BatchUser", clients=4, seconds=args.batch_seconds),
    ]
    machine = describe()
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory() as work_dir:
        for workers in args.workers:
            for scenario in scenarios:
                print(f"running {scenario.name} with {workers} worker(s)...", flush=True)
                results.append(
                    run_scenario(scenario=scenario, workers=workers, work_dir=Path(work_dir))
                )
    print(format_table(results))
    print(f"targets: {TARGETS}; load average at start: {machine['load_average_1_5_15']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "machine": machine,
        "targets": TARGETS,
        "runs": [asdict(run) for run in results],
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
