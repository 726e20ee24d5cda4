"""The file paths against the model: the same rows in memory, as CSV, as Parquet, on Dask.

Run from the repository root, with a trained model (``tox -e bench`` runs it)::

    python benchmarks/bench_cli.py                      # 1,000,000 rows
    python benchmarks/bench_cli.py --rows 300000        # issue 20's file
    python benchmarks/bench_cli.py --rows 200000 --chunk-size 5000

It writes test.csv repeated to ``--rows`` rows as CSV and as Parquet into a temporary
directory, then measures, one after the other in one run:

- ``make_prediction`` on the rows already in memory (read beforehand, in frames of
  ``IN_MEMORY_FRAME_ROWS``), the speed the file paths are held to;
- ``regression-model predict`` on the CSV and on the Parquet file, in a child process;
- ``predict_dask`` on the same rows as Parquet partitions, with 1 and 2 workers
  (``bench_dask.py``), and single-row ``make_prediction`` latency (``bench_predict.py``).

Each figure carries the peak resident memory of its process (``ru_maxrss``) and the load
average of the machine when it ran. Wall time of the command line includes the child's
start-up and model load. The figures, with the machine, go to
``benchmarks/results/bench_cli.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import describe

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_CSV = REPO_ROOT / "regression_model" / "datasets" / "test.csv"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "bench_cli.json"
# The Parquet writer borrows the package's missing-value strings: import this checkout's.
sys.path.insert(0, str(REPO_ROOT))


def write_csv(path: Path, *, rows: int) -> None:
    """test.csv's rows repeated, text copied as is, until the file has ``rows`` rows."""
    header, *lines = TEST_CSV.read_text().splitlines(keepends=True)
    with path.open("w") as out:
        out.write(header)
        written = 0
        while written < rows:
            block = lines[: rows - written]
            out.writelines(block)
            written += len(block)


def write_parquet(csv_path: Path, path: Path) -> None:
    """The CSV's rows as Parquet, converted in batches, missing where pandas reads them so."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from regression_model.tables import NULL_STRINGS

    # Without these, text cells such as NA stay text: labels the model never saw, which make
    # every row slow to validate and the Parquet figures meaningless.
    options = pa_csv.ConvertOptions(null_values=NULL_STRINGS, strings_can_be_null=True)
    with pa_csv.open_csv(csv_path, convert_options=options) as reader:
        with pq.ParquetWriter(path, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)


# Runs the command given as arguments and reports its outcome and peak resident memory. A
# child's ru_maxrss starts from the memory of the process that forked it, so the measuring
# parent must be small: this fresh interpreter, not the benchmark, which may hold a lot.
_MEASURE = """
import json, resource, subprocess, sys
child = subprocess.run(sys.argv[1:], capture_output=True, text=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"returncode": child.returncode, "stdout": child.stdout,
                  "stderr": child.stderr, "maxrss": usage.ru_maxrss}))
"""


def score(source: Path, output: Path, *, chunk_size: int | None) -> dict[str, Any]:
    """Run the command line on ``source``: wall seconds, peak memory and its summary line."""
    arguments = ["predict", str(source), "--output", str(output), "--overwrite"]
    if chunk_size is not None:
        arguments += ["--chunk-size", str(chunk_size)]
    return run_command(arguments)


def run_command(arguments: list[str]) -> dict[str, Any]:
    """Run ``regression-model ARGUMENTS`` in a child: wall seconds, peak memory, first line."""
    command = [sys.executable, "-m", "regression_model", *arguments]
    started = time.perf_counter()
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        capture_output=True,
        text=True,
        env=_child_env(),
    )
    seconds = time.perf_counter() - started
    outcome = json.loads(measured.stdout)
    if outcome["returncode"] != 0:
        raise SystemExit(f"the command failed ({outcome['returncode']}):\n{outcome['stderr']}")
    return {
        "seconds": seconds,
        "peak_rss_mb": _mb(outcome["maxrss"]),
        "summary": (outcome["stdout"].strip().splitlines() or [""])[0],
    }


IN_MEMORY_FRAME_ROWS = 100_000

# Reads the CSV whole (not timed), then scores it with make_prediction a frame at a time,
# and prints the seconds and its own peak resident memory.
_IN_MEMORY = """
import json, resource, sys, time
import pandas as pd
from regression_model.predict import make_prediction
rows, frame_rows = pd.read_csv(sys.argv[1]), int(sys.argv[2])
make_prediction(input_data=rows.head(10))  # load the model outside the timing
started = time.perf_counter()
for start in range(0, len(rows), frame_rows):
    make_prediction(input_data=rows.iloc[start : start + frame_rows])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _mb(maxrss: int) -> float:
    # Linux reports KiB, macOS bytes.
    return maxrss / (2**20 if sys.platform == "darwin" else 2**10)


def in_memory(source: Path, *, rows: int) -> dict[str, Any]:
    """``make_prediction`` on the CSV's rows, held in memory: rows/s and peak memory."""
    completed = subprocess.run(
        [sys.executable, "-c", _IN_MEMORY, str(source), str(IN_MEMORY_FRAME_ROWS)],
        capture_output=True,
        text=True,
        env=_child_env(),
        check=True,
    )
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    return {"seconds": outcome["seconds"], "peak_rss_mb": _mb(outcome["maxrss"])}


def single_row_p50_ms() -> float:
    """The p50 of single-row ``make_prediction`` (a one-row DataFrame), from bench_predict."""
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "bench_predict.py"), "single_row"],
        capture_output=True,
        text=True,
        env=_child_env(),
        check=True,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    p50: float = result["dataframe"]["p50_ms"]
    return p50


def measure(*, rows: int, chunk_size: int | None, dask_partitions: int) -> dict[str, Any]:
    """Every figure of issue 14 on the same ``rows`` rows, in one run."""
    import bench_dask

    figures: dict[str, Any] = {"rows": rows, "chunk_size": chunk_size or "default"}
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as scratch:
        csv_path, parquet_path = Path(scratch) / "houses.csv", Path(scratch) / "houses.parquet"
        write_csv(csv_path, rows=rows)
        write_parquet(csv_path, parquet_path)
        load = os.getloadavg()[0]
        figures["in_memory"] = {**in_memory(csv_path, rows=rows), "load_1m": load}
        for name, source in (("csv", csv_path), ("parquet", parquet_path)):
            load = os.getloadavg()[0]
            run = score(source, source.with_name(f"scored{source.suffix}"), chunk_size=chunk_size)
            figures[name] = {**run, "input_mb": source.stat().st_size / 1e6, "load_1m": load}
        dataset = Path(scratch) / "partitions"
        bench_dask.write_dataset(dataset, rows=rows, partitions=dask_partitions)
        for n_workers in (1, 2):
            load = os.getloadavg()[0]
            cold, warm = bench_dask.score_on_cluster(
                dataset, Path(scratch) / f"dask-{n_workers}", n_workers=n_workers, repeats=1
            )
            figures[f"dask_{n_workers}"] = {"seconds": warm, "cold_seconds": cold, "load_1m": load}
    figures["single_row_p50_ms"] = single_row_p50_ms()
    for key in ("in_memory", "csv", "parquet", "dask_1", "dask_2"):
        figures[key]["rows_per_s"] = rows / figures[key]["seconds"]
    return figures


# (measure, target as text, whether met): the file paths are issue 20's (300,000 rows), Dask
# and the single row issue 14's.
def targets(figures: dict[str, Any]) -> list[tuple[str, str, bool]]:
    model = figures["in_memory"]["rows_per_s"]
    parquet, csv = (figures[name]["rows_per_s"] / model for name in ("parquet", "csv"))
    scaling = figures["dask_2"]["rows_per_s"] / figures["dask_1"]["rows_per_s"]
    peak = max(figures[name]["peak_rss_mb"] for name in ("csv", "parquet"))
    p50 = figures["single_row_p50_ms"]
    return [
        (f"Parquet CLI / in memory = {parquet:.0%}", ">= 80%", parquet >= 0.80),
        (f"CSV CLI / in memory = {csv:.0%}", ">= 70%", csv >= 0.70),
        (f"CLI peak RSS = {peak:.0f} MB", "< 500 MB", peak < 500),
        (f"Dask 2 workers / 1 worker = {scaling:.2f}x", ">= 1.7x", scaling >= 1.7),
        (f"single-row p50 = {p50:.2f} ms", "<= 2 ms", p50 <= 2.0),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=None, help="default: the CLI's")
    parser.add_argument("--dask-partitions", type=int, default=16)
    args = parser.parse_args(argv)

    machine = describe()
    figures = measure(
        rows=args.rows, chunk_size=args.chunk_size, dask_partitions=args.dask_partitions
    )
    print(f"{'path':<22} {'seconds':>8} {'rows/s':>9} {'peak MB':>8} {'load 1m':>8}")
    for key in ("in_memory", "csv", "parquet", "dask_1", "dask_2"):
        run = figures[key]
        peak = f"{run['peak_rss_mb']:>8.0f}" if "peak_rss_mb" in run else f"{'':>8}"
        print(
            f"{key:<22} {run['seconds']:>8.1f} {run['rows_per_s']:>9,.0f} {peak} "
            f"{run['load_1m']:>8.2f}"
        )
    print(f"single-row p50 {figures['single_row_p50_ms']:.2f} ms")
    print()
    for measured, target, is_met in targets(figures):
        print(f"{measured:<44} target {target:<9} {'met' if is_met else 'NOT met'}")
    print(f"machine: {machine['cpu_model']}, {machine['nproc']} cores, {machine['platform']}")
    result = {
        "benchmark": "file_paths",
        **figures,
        "targets": [list(target) for target in targets(figures)],
        "machine": machine,
        "load_average_1m_after": os.getloadavg()[0],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
