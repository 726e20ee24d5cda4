"""Soak test of ``regression-model serve``: a steady rate for minutes, on loopback only.

Run from the repository root, with a trained model and the bench requirements installed::

    python benchmarks/soak_serve.py                      # 10 minutes, 100 requests/s, 2 workers
    python benchmarks/soak_serve.py --minutes 2 --rate 50

It starts the real server (2 workers) on a free port of 127.0.0.1, waits until every worker
is ready, then runs locust headless: ``--clients`` users, each sending one house of
test.csv per request at a constant rate (locust's ``constant_throughput``), so the service
sees ``--rate`` requests per second in total for ``--minutes`` minutes. The run is bounded
by its duration and by a request count (the planned count plus 10 %), and stops by itself.

Every ``--sample-seconds`` the server's resident memory (the supervisor and its workers) is
read; locust's history (``--csv-full-history``) gives the latency over each 10 seconds. The
table shows, per sample, requests answered, failures, p50 and p99 and memory; the growth is
measured from the first sample after a minute of warm-up (caches filled) to the end, and
from before the first request. Figures go to ``benchmarks/results/soak_serve.json``. This
file is also the locustfile the locust child loads (its user class is below).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

from bench_serve import (  # noqa: E402  (the benchmarks folder is not a package)
    LOOPBACK,
    PREDICT,
    REPO_ROOT,
    SERVER_START_TIMEOUT_S,
    TARGETS,
    child_env,
    free_port,
    request_bodies,
    rss_mb,
    start_server,
)

RESULTS = REPO_ROOT / "benchmarks" / "results" / "soak_serve.json"
WARM_UP_S = 60
# locust stops a little after --run-time; the driver waits this much longer at most.
LOCUST_GRACE_S = 60
# The planned requests plus this share: a bound the run never needs, not a target.
REQUEST_MARGIN = 1.1
# Set by the driver for the locust child: requests per second per user, and the bound.
RATE_VARIABLE = "SOAK_SERVE_RATE_PER_CLIENT"
MAX_REQUESTS_VARIABLE = "SOAK_SERVE_MAX_REQUESTS"


@dataclass(frozen=True)
class Sample:
    """One point of the soak: since the start, requests so far, latency, memory."""

    elapsed_s: float
    requests: int
    failures: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    rss_mb: float


# --- the locust side: loaded by the locust child process -------------------------------------

if os.environ.get(RATE_VARIABLE):
    from locust import FastHttpUser, constant_throughput, task
    from locust.exception import StopUser

    _sent = [0]
    _max_requests = int(os.environ[MAX_REQUESTS_VARIABLE])

    class SoakUser(FastHttpUser):
        wait_time = constant_throughput(float(os.environ[RATE_VARIABLE]))
        bodies = request_bodies(1)

        def on_start(self) -> None:
            self.position = 0

        @task
        def predict(self) -> None:
            if _sent[0] >= _max_requests:
                raise StopUser()
            _sent[0] += 1
            body = self.bodies[self.position % len(self.bodies)]
            self.position += 1
            self.client.post(PREDICT, data=body, headers={"Content-Type": "application/json"})


# --- the driver -------------------------------------------------------------------------------


def _history(path: Path) -> list[dict[str, str]]:
    """locust's per-second rows of the aggregated statistics (10-second latency windows)."""
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"]


def _latency_at(
    history: list[dict[str, str]], *, start: float, until: float
) -> tuple[float, float]:
    """The median of the p50s and the highest p99 of the history rows in ``(start, until]``."""
    rows = [row for row in history if start < float(row["Timestamp"]) <= until]
    rows = [row for row in rows if row["50%"] not in ("N/A", "0")]
    if not rows:
        return float("nan"), float("nan")
    p50s = sorted(float(row["50%"]) for row in rows)
    return p50s[len(p50s) // 2], max(float(row["99%"]) for row in rows)


def _count_at(history: list[dict[str, str]], *, until: float) -> tuple[int, int]:
    rows = [row for row in history if float(row["Timestamp"]) <= until]
    if not rows:
        return 0, 0
    return int(rows[-1]["Total Request Count"]), int(rows[-1]["Total Failure Count"])


def run_soak(
    *, minutes: float, rate: float, clients: int, workers: int, sample_s: int, work_dir: Path
) -> tuple[list[Sample], float]:
    """Run the soak; the samples and the memory before the first request."""
    seconds = int(minutes * 60)
    port = free_port()
    server = start_server(port=port, workers=workers, log_path=work_dir / "server.log")
    csv_prefix = work_dir / "soak"
    command = [sys.executable, "-m", "locust", "-f", str(Path(__file__).resolve())]
    command += ["--headless", "--host", f"http://{LOOPBACK}:{port}"]
    command += ["--users", str(clients), "--spawn-rate", str(clients)]
    command += ["--run-time", f"{seconds}s", "--stop-timeout", "10"]
    command += ["--csv", str(csv_prefix), "--csv-full-history", "--only-summary"]
    command += ["--loglevel", "WARNING", "SoakUser"]
    env = {
        **child_env(),
        RATE_VARIABLE: str(rate / clients),
        MAX_REQUESTS_VARIABLE: str(int(rate * seconds * REQUEST_MARGIN)),
    }
    memory: list[tuple[float, float]] = []
    try:
        rss_before = rss_mb(server.pid)
        started = time.time()
        with (work_dir / "locust.log").open("wb") as log:
            locust = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = started + seconds + LOCUST_GRACE_S
        next_sample = started + sample_s
        while locust.poll() is None:
            if time.time() > deadline:
                locust.kill()
                raise RuntimeError("locust ran past its duration; see locust.log")
            if time.time() >= next_sample:
                memory.append((time.time(), rss_mb(server.pid)))
                next_sample += sample_s
            time.sleep(0.5)
        # The memory at the end; a sample taken moments before stands for it instead.
        if not memory or time.time() - memory[-1][0] > sample_s / 2:
            memory.append((time.time(), rss_mb(server.pid)))
    finally:
        server.terminate()
        server.wait(timeout=SERVER_START_TIMEOUT_S)
    history = _history(Path(f"{csv_prefix}_stats_history.csv"))
    samples: list[Sample] = []
    previous_time, previous_count = started, 0
    for when, rss in memory:
        requests, failures = _count_at(history, until=when)
        p50, p99 = _latency_at(history, start=previous_time, until=when)
        samples.append(
            Sample(
                elapsed_s=round(when - started, 1),
                requests=requests,
                failures=failures,
                requests_per_s=(requests - previous_count) / max(when - previous_time, 1e-9),
                p50_ms=p50,
                p99_ms=p99,
                rss_mb=rss,
            )
        )
        previous_time, previous_count = when, requests
    return samples, rss_before


def format_table(samples: list[Sample]) -> str:
    header = (
        f"{'elapsed s':>9} {'requests':>9} {'failures':>8} {'req/s':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'RSS MB':>7}"
    )
    lines = [header, "-" * len(header)]
    for sample in samples:
        lines.append(
            f"{sample.elapsed_s:>9.0f} {sample.requests:>9,} {sample.failures:>8,} "
            f"{sample.requests_per_s:>7.1f} {sample.p50_ms:>7.0f} {sample.p99_ms:>7.0f} "
            f"{sample.rss_mb:>7.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=100, help="requests/s, all clients")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample-seconds", type=int, default=30)
    args = parser.parse_args(argv)
    from machine import describe

    machine = describe()
    print(
        f"soak: {args.rate:g} requests/s from {args.clients} clients for {args.minutes:g} "
        f"minutes, {args.workers} workers, 127.0.0.1 only...",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as work_dir:
        samples, rss_before = run_soak(
            minutes=args.minutes,
            rate=args.rate,
            clients=args.clients,
            workers=args.workers,
            sample_s=args.sample_seconds,
            work_dir=Path(work_dir),
        )
    load_end = list(os.getloadavg())
    warm = [sample for sample in samples if sample.elapsed_s >= WARM_UP_S] or samples
    summary: dict[str, Any] = {
        "requests": samples[-1].requests,
        "failures": samples[-1].failures,
        "rss_before_first_request_mb": rss_before,
        "rss_after_warm_up_mb": warm[0].rss_mb,
        "rss_end_mb": samples[-1].rss_mb,
        "rss_growth_after_warm_up_mb": samples[-1].rss_mb - warm[0].rss_mb,
        "rss_growth_from_start_mb": samples[-1].rss_mb - rss_before,
        "rss_growth_target_mb": TARGETS["rss_growth_mb"],
    }
    print(format_table(samples))
    print(
        f"memory: {rss_before:.0f} MB before the first request, {warm[0].rss_mb:.0f} MB after "
        f"{warm[0].elapsed_s:.0f} s, {samples[-1].rss_mb:.0f} MB at the end (growth "
        f"{summary['rss_growth_after_warm_up_mb']:+.1f} MB after warm-up, "
        f"{summary['rss_growth_from_start_mb']:+.1f} MB in all; target "
        f"{TARGETS['rss_growth_mb']:g} MB); failures {summary['failures']}; load average "
        f"{machine['load_average_1_5_15'][0]:.1f} at the start, {load_end[0]:.1f} at the end"
    )
    report = {
        "machine": machine,
        "load_average_end_1_5_15": load_end,
        "settings": vars(args),
        "summary": summary,
        "samples": [asdict(sample) for sample in samples],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
