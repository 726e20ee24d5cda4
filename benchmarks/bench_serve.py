"""Load test of ``regression-model serve`` with locust, on the loopback interface only.

Run from the repository root, with a trained model and the bench requirements installed::

    python benchmarks/bench_serve.py                   # both scenarios, 1 and 2 workers
    python benchmarks/bench_serve.py --workers 2 --single-seconds 20 --batch-seconds 10
    python benchmarks/bench_serve.py --profile         # where one request's CPU goes

Each run starts the real server (``python -m regression_model serve``) on a free port of
127.0.0.1, waits for ``/ready``, then runs locust headless against it:

- ``single``: 16 concurrent clients, each sending one house of test.csv per request, back
  to back, for ``--single-seconds`` (60 by default);
- ``batch``: 4 concurrent clients, each sending 1,000 houses of test.csv per request.

Every run is bounded twice: by its duration and by a maximum number of requests. The
server's resident memory and CPU time (the process and its workers) are read before and
after each run, and so is locust's CPU time: CPU per request is the server's CPU time over
the run divided by the requests answered. The figures, with the machine they were measured
on, go to ``benchmarks/results/bench_serve.json``. This file is also the locustfile that
the locust child process loads (its user classes are below).

``--profile`` starts one worker, sends single-house requests one after another (one client,
keep-alive) while py-spy samples the worker (only while it holds the GIL, so time waiting
for the network is not counted), and prints where the worker's CPU goes: parsing the HTTP
request, the framework, the JSON body, ``make_prediction`` (its table, validation and
scoring), the answer's JSON, metrics, the access log and writing to the socket.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_CSV = REPO_ROOT / "regression_model" / "datasets" / "test.csv"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "bench_serve.json"
PROFILE_RESULTS = REPO_ROOT / "benchmarks" / "results" / "bench_serve_profile.json"
LOOPBACK = "127.0.0.1"
SERVER_START_TIMEOUT_S = 120
BATCH_ROWS = 1000
PREDICT = "/v1/predict"
# A request count no run of these lengths reaches on this machine: a bound, not a target.
MAX_REQUESTS = {"single": 200_000, "batch": 20_000}
# Issue 23: at 16 clients on 2 workers; memory over the soak (soak_serve.py).
TARGETS = {"single_p99_ms": 40.0, "single_rps": 800.0, "rss_growth_mb": 30.0}
PROFILE_REQUESTS = 3000
PROFILE_WARM_UP = 200
PROFILE_RATE_HZ = 1000


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
    server_cpu_ms_per_request: float
    locust_cpu_ms_per_request: float
    load_average_start: float
    load_average_end: float


# --- the locust side: loaded by the locust child process -------------------------------------


def request_bodies(rows_per_request: int) -> list[bytes]:
    """test.csv's houses as JSON bodies of ``rows_per_request`` houses, built up front."""
    import pandas as pd

    houses = json.loads(pd.read_csv(TEST_CSV).to_json(orient="records"))
    if rows_per_request == 1:
        return [json.dumps(house).encode() for house in houses]
    # Two different 1,000-house windows, so requests are not all identical.
    starts = (0, len(houses) - rows_per_request)
    return [json.dumps(houses[s : s + rows_per_request]).encode() for s in starts]


if os.environ.get("BENCH_SERVE_LOCUST") == "1":
    from locust import FastHttpUser, constant, task
    from locust.exception import StopUser

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
        bodies = request_bodies(1)

    class BatchUser(_PredictUser):
        scenario = "batch"
        bodies = request_bodies(BATCH_ROWS)


# --- the driver: starts the server, runs locust, reads the figures ---------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def child_env() -> dict[str, str]:
    paths = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def start_server(*, port: int, workers: int, log_path: Path) -> subprocess.Popen[bytes]:
    """The real server on 127.0.0.1, once /ready answers and every worker has started."""
    command = [sys.executable, "-m", "regression_model", "serve"]
    command += ["--host", LOOPBACK, "--port", str(port), "--workers", str(workers)]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=child_env())
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/ready") as answer:
                # One ready worker answers /ready; the others may still be loading.
                started = log_path.read_text().count("Application startup complete.")
                if answer.status == 200 and started >= workers:
                    return server
            time.sleep(0.2)
        except urllib.error.HTTPError as not_ready:
            not_ready.close()
            time.sleep(0.5)
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server did not become ready:\n{log_path.read_text()}")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (uvicorn's workers), in MB."""
    import psutil

    parent = psutil.Process(pid)
    processes = [parent, *parent.children(recursive=True)]
    return sum(process.memory_info().rss for process in processes) / 1e6


def cpu_seconds(pid: int, *, kind: str = "both") -> float:
    """CPU time of a process and all its descendants, in seconds: ``user``, ``system`` (the
    kernel's, the loopback network's included) or ``both``."""
    import psutil

    parent = psutil.Process(pid)
    times = [process.cpu_times() for process in [parent, *parent.children(recursive=True)]]
    user = sum(cpu.user for cpu in times)
    system = sum(cpu.system for cpu in times)
    return {"user": user, "system": system, "both": user + system}[kind]


def _run_locust(*, scenario: Scenario, port: int, csv_prefix: Path) -> tuple[dict[str, str], float]:
    """Run locust headless; its aggregated statistics and the CPU seconds it used."""
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
    env = {**child_env(), "BENCH_SERVE_LOCUST": "1"}
    before = os.times()
    completed = subprocess.run(command, capture_output=True, text=True, env=env)
    after = os.times()
    locust_cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    # locust exits 1 when any request failed: the figures still count, failures included.
    stats = Path(f"{csv_prefix}_stats.csv")
    if not stats.is_file():
        raise RuntimeError(f"locust wrote no statistics:\n{completed.stderr}")
    with stats.open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    return rows["Aggregated"], locust_cpu


def run_scenario(*, scenario: Scenario, workers: int, work_dir: Path) -> RunResult:
    port = free_port()
    log_path = work_dir / f"server-{scenario.name}-{workers}.log"
    server = start_server(port=port, workers=workers, log_path=log_path)
    try:
        rss_start = rss_mb(server.pid)
        cpu_start = cpu_seconds(server.pid)
        load_start = os.getloadavg()[0]
        stats, locust_cpu = _run_locust(
            scenario=scenario, port=port, csv_prefix=work_dir / f"{scenario.name}-{workers}"
        )
        server_cpu = cpu_seconds(server.pid) - cpu_start
        load_end = os.getloadavg()[0]
        rss_end = rss_mb(server.pid)
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
        server_cpu_ms_per_request=1000 * server_cpu / max(requests, 1),
        locust_cpu_ms_per_request=1000 * locust_cpu / max(requests, 1),
        load_average_start=load_start,
        load_average_end=load_end,
    )


def format_table(results: list[RunResult]) -> str:
    header = (
        f"{'scenario':<8} {'workers':>7} {'clients':>7} {'requests':>9} {'failures':>8} "
        f"{'req/s':>8} {'houses/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'RSS MB start/end':>17} "
        f"{'CPU ms/req server':>17} {'locust':>6} {'load':>10}"
    )
    lines = [header, "-" * len(header)]
    for run in results:
        lines.append(
            f"{run.scenario:<8} {run.workers:>7} {run.clients:>7} {run.requests:>9,} "
            f"{run.failures:>8,} {run.requests_per_s:>8.1f} {run.houses_per_s:>9,.0f} "
            f"{run.p50_ms:>7.0f} {run.p99_ms:>7.0f} "
            f"{run.rss_start_mb:>8.0f}/{run.rss_end_mb:<8.0f} "
            f"{run.server_cpu_ms_per_request:>17.2f} {run.locust_cpu_ms_per_request:>6.2f} "
            f"{run.load_average_start:>4.1f}->{run.load_average_end:<4.1f}"
        )
    return "\n".join(lines)


# --- --profile: where one request's CPU goes ------------------------------------------------

SOCKET_WRITE = "writing the answer to the socket"
# Each sample goes to the first category one of whose frames is on its stack: a frame is
# (function, a piece of its file's path). The order matters: make_prediction's parts before
# make_prediction, the route's parts before the framework that calls the route.
PROFILE_CATEGORIES: list[tuple[str, list[tuple[str, str]]]] = [
    ("make_prediction: records to a table", [("to_frame", "validation.py")]),
    ("make_prediction: validation", [("validate_records", "validation.py")]),
    ("make_prediction: scoring", [("predict", "scoring.py")]),
    ("make_prediction: the rest", [("make_prediction", "predict.py")]),
    # _parse_houses: the route's parser before issue 23 (json.loads), for a profile of it
    ("request body JSON", [("parse_houses", "routes.py"), ("_parse_houses", "routes.py")]),
    ("answer JSON (pydantic)", [("model_dump_json", "")]),
    ("metrics (prometheus-client)", [("observe_request", "metrics.py")]),
    ("metrics (prometheus-client)", [("observe_result", "metrics.py")]),
    ("access log (JSON line)", [("info", "logging")]),
    (SOCKET_WRITE, [("send", "httptools_impl.py")]),
    (
        "the hop to a worker thread and back (anyio)",
        [("run_in_threadpool", "starlette"), ("run_sync", "anyio"), ("run", "_asyncio.py")],
    ),
    ("framework (FastAPI, Starlette, middleware)", [("__call__", "fastapi")]),
    ("HTTP parsing (httptools), event loop", [("", "")]),
]


def _category(stack: list[str]) -> str:
    for name, markers in PROFILE_CATEGORIES:
        for function, path in markers:
            for frame in stack:
                frame_function, _, location = frame.partition(" (")
                # py-spy names a method Class.method
                is_function = frame_function.rpartition(".")[2] == function
                if (not function or is_function) and path in location:
                    return name
    return PROFILE_CATEGORIES[-1][0]


def profile_shares(raw_profile: Path) -> dict[str, float]:
    """py-spy's raw output (one ``stack count`` line per distinct stack) as shares by category."""
    samples: Counter[str] = Counter()
    for line in raw_profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            samples[_category(stack.split(";")[1:])] += int(count)
    total = sum(samples.values())
    return {name: samples[name] / total for name, _ in PROFILE_CATEGORIES if samples[name]}


def _send_sequentially(*, port: int, path: str, bodies: list[bytes], requests: int) -> None:
    import http.client

    connection = http.client.HTTPConnection(LOOPBACK, port)
    method = "POST" if bodies else "GET"
    for position in range(requests):
        body = bodies[position % len(bodies)] if bodies else None
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{path} answered {answer.status}")
    connection.close()


def run_profile(*, work_dir: Path, requests: int) -> dict[str, Any]:
    """Sequential single-house requests to one worker under py-spy: CPU per request by part."""
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        raise RuntimeError("py-spy is not installed (requirements/serve_bench_requirements.txt)")
    port = free_port()
    log_path = work_dir / "server-profile.log"
    server = start_server(port=port, workers=1, log_path=log_path)
    bodies = request_bodies(1)
    raw_profile = work_dir / "profile.txt"
    try:
        figures: dict[str, Any] = {"load_average_start": os.getloadavg()[0]}
        for name, path, route_bodies in (("health", "/health", []), ("predict", PREDICT, bodies)):
            _send_sequentially(port=port, path=path, bodies=route_bodies, requests=PROFILE_WARM_UP)
            recorder = None
            if name == "predict":
                # --gil: only samples where the worker holds the GIL, so waiting on the
                # socket is not counted; --nonblocking: the worker is never paused.
                recorder = subprocess.Popen(
                    [py_spy, "record", "--pid", str(server.pid), "--gil", "--nonblocking"]
                    + ["--rate", str(PROFILE_RATE_HZ), "--format", "raw", "-o", str(raw_profile)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1)  # py-spy attaches
            system_start = cpu_seconds(server.pid, kind="system")
            cpu_start = cpu_seconds(server.pid)
            _send_sequentially(port=port, path=path, bodies=route_bodies, requests=requests)
            figures[f"{name}_cpu_ms_per_request"] = (
                1000 * (cpu_seconds(server.pid) - cpu_start) / requests
            )
            figures[f"{name}_system_cpu_ms_per_request"] = (
                1000 * (cpu_seconds(server.pid, kind="system") - system_start) / requests
            )
            if recorder is not None:
                recorder.send_signal(signal.SIGINT)
                recorder.wait(timeout=SERVER_START_TIMEOUT_S)
        figures["load_average_end"] = os.getloadavg()[0]
    finally:
        server.terminate()
        server.wait(timeout=SERVER_START_TIMEOUT_S)
    figures["shares"] = profile_shares(raw_profile)
    return figures


def format_profile(figures: dict[str, Any]) -> str:
    """The profile as a table; milliseconds are shares of the CPU time the worker used.

    A sample inside the socket write is mostly the worker waiting for the core: on a busy
    machine the client it wakes runs first, and uvloop keeps the GIL through the call. Its
    CPU is the kernel's share of the worker's time, so that row shows the kernel's CPU and
    the other rows share out the rest.
    """
    per_request = figures["predict_cpu_ms_per_request"]
    kernel = figures["predict_system_cpu_ms_per_request"]
    shares = figures["shares"]
    in_python = 1 - shares.get(SOCKET_WRITE, 0.0)
    lines = [
        f"one house per request, one client: {per_request:.2f} ms of the worker's CPU per "
        f"request, {kernel:.2f} ms of it in the kernel (GET /health: "
        f"{figures['health_cpu_ms_per_request']:.2f} ms); load average "
        f"{figures['load_average_start']:.1f} -> {figures['load_average_end']:.1f}",
        f"{'where':<45} {'samples':>7} {'CPU ms':>7}",
    ]
    for name, share in shares.items():
        cpu_ms = kernel if name == SOCKET_WRITE else share / in_python * (per_request - kernel)
        lines.append(f"{name:<45} {share:>7.1%} {cpu_ms:>7.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--single-seconds", type=int, default=60)
    parser.add_argument("--batch-seconds", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="where one request's CPU goes")
    parser.add_argument("--profile-requests", type=int, default=PROFILE_REQUESTS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    from machine import describe

    machine = describe()
    report: dict[str, Any] = {"machine": machine}
    if args.profile:
        with tempfile.TemporaryDirectory() as work_dir:
            figures = run_profile(work_dir=Path(work_dir), requests=args.profile_requests)
        print(format_profile(figures))
        report["profile"] = figures
        PROFILE_RESULTS.parent.mkdir(parents=True, exist_ok=True)
        PROFILE_RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {PROFILE_RESULTS}")
        return 0
    scenarios = [
        Scenario("single", "SingleHouseUser", clients=16, seconds=args.single_seconds),
        Scenario("batch", "BatchUser", clients=4, seconds=args.batch_seconds),
    ]
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
    report.update(targets=TARGETS, runs=[asdict(run) for run in results])
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
