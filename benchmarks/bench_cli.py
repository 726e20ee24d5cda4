"""Throughput and peak memory of ``regression-model predict`` on a large generated file.

Run from the repository root, with a trained model::

    python benchmarks/bench_cli.py                      # 1,000,000-row CSV
    python benchmarks/bench_cli.py --format parquet     # the same rows as Parquet
    python benchmarks/bench_cli.py --rows 200000 --chunk-size 5000

It writes test.csv repeated to ``--rows`` rows into a temporary directory, scores it with
``python -m regression_model predict`` in a child process, prints a table and writes the
figures, with the machine they were measured on, to ``benchmarks/results/bench_cli.json``.
Wall time includes the child's start-up and model load; peak memory is the child's peak
resident set size (``ru_maxrss``), which streaming keeps independent of the file's size.
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
    """The CSV's rows as Parquet, converted in batches (pyarrow infers the column types)."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    with pa_csv.open_csv(csv_path) as reader:
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
    command = [sys.executable, "-m", "regression_model", "predict", str(source)]
    command += ["--output", str(output), "--overwrite"]
    if chunk_size is not None:
        command += ["--chunk-size", str(chunk_size)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    started = time.perf_counter()
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - started
    outcome = json.loads(measured.stdout)
    if outcome["returncode"] != 0:
        raise SystemExit(f"the command failed ({outcome['returncode']}):\n{outcome['stderr']}")
    # Linux reports KiB, macOS bytes.
    peak_mb = outcome["maxrss"] / (2**20 if sys.platform == "darwin" else 2**10)
    return {"seconds": seconds, "peak_rss_mb": peak_mb, "summary": outcome["stdout"].strip()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--chunk-size", type=int, default=None, help="default: the CLI's")
    args = parser.parse_args(argv)

    before = {**describe(), "load_average_1m_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as scratch:
        source = Path(scratch) / "houses.csv"
        write_csv(source, rows=args.rows)
        if args.format == "parquet":
            csv_path, source = source, Path(scratch) / "houses.parquet"
            write_parquet(csv_path, source)
            csv_path.unlink()
        input_mb = source.stat().st_size / 1e6
        output = source.with_name(f"scored{source.suffix}")
        run = score(source, output, chunk_size=args.chunk_size)
        output_mb = output.stat().st_size / 1e6

    result = {
        "benchmark": "cli_predict",
        "format": args.format,
        "rows": args.rows,
        "chunk_size": args.chunk_size or "default",
        "input_mb": round(input_mb, 1),
        "output_mb": round(output_mb, 1),
        "seconds": round(run["seconds"], 2),
        "rows_per_s": round(args.rows / run["seconds"]),
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
        "cli_summary": run["summary"],
        "machine": before,
        "load_average_1m_after": os.getloadavg()[0],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(f"{'format':<8} {'rows':>10} {'input MB':>9} {'seconds':>8} {'rows/s':>8} {'peak MB':>8}")
    print(
        f"{args.format:<8} {args.rows:>10,} {input_mb:>9.0f} {run['seconds']:>8.1f} "
        f"{result['rows_per_s']:>8,} {run['peak_rss_mb']:>8.0f}"
    )
    print(f"machine: {before['cpu_model']}, {before['nproc']} cores, {before['platform']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results_file = RESULTS if args.format == "csv" else RESULTS.with_name("bench_cli_parquet.json")
    results_file.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {results_file.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
