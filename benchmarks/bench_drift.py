"""The drift report's time on a large file: ``regression-model drift`` on CSV and Parquet.

Run from the repository root, with a trained model::

    python benchmarks/bench_drift.py                  # 300,000 rows
    python benchmarks/bench_drift.py --rows 1000000

It writes test.csv repeated to ``--rows`` rows as CSV and as Parquet (as ``bench_cli.py``
does) into a temporary directory, then times ``regression-model drift`` on each in a child
process, start-up and profile load included, with its peak resident memory and the load
average of the machine when it ran. The figures, with the machine, go to
``benchmarks/results/bench_drift.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench_cli import REPO_ROOT, run_command, write_csv, write_parquet
from machine import describe

RESULTS = REPO_ROOT / "benchmarks" / "results" / "bench_drift.json"
DEFAULT_ROWS = 300_000


def measure(*, rows: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"rows": rows}
    with tempfile.TemporaryDirectory() as folder:
        csv_path, parquet_path = Path(folder) / "houses.csv", Path(folder) / "houses.parquet"
        write_csv(csv_path, rows=rows)
        write_parquet(csv_path, parquet_path)
        for name, source in (("csv", csv_path), ("parquet", parquet_path)):
            load = os.getloadavg()[0]
            run = run_command(["drift", str(source)])
            figures[name] = {
                **run,
                "rows_per_second": rows / run["seconds"],
                "input_mb": source.stat().st_size / 1e6,
                "load_1m": load,
            }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    arguments = parser.parse_args()
    figures = measure(rows=arguments.rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": describe(), **figures}, indent=2) + "\n")
    for name in ("csv", "parquet"):
        run = figures[name]
        print(
            f"drift, {name} ({run['input_mb']:.0f} MB), {figures['rows']:,} rows: "
            f"{run['seconds']:.1f} s, {run['rows_per_second']:,.0f} rows/s, "
            f"peak {run['peak_rss_mb']:.0f} MB, load {run['load_1m']:.1f}"
        )
        print(f"  {run['summary']}")


if __name__ == "__main__":
    main()
