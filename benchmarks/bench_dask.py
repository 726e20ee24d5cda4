"""Throughput of ``regression_model.batch.predict_dask`` on a local cluster of 1 and 2 workers.

Run from the repository root, with a trained model and the ``dask`` extra installed::

    python benchmarks/bench_dask.py                     # 400,000 rows, 8 partitions
    python benchmarks/bench_dask.py --rows 1000000 --partitions 16 --workers 1 2

It writes test.csv repeated to ``--rows`` rows as a Parquet dataset of ``--partitions`` files,
then, for each worker count, starts a ``LocalCluster`` of that many single-threaded worker
processes and scores the dataset with ``predict_dask`` several times, writing the result as
Parquet as a batch job would. Each run is timed from the first task to the last file
written, not counting the cluster's start-up. The first ("cold") run includes each worker's
imports and its one model load; "warm" is the best of the ``--repeats`` runs after it, the
steady state (best of, because other work on the machine only ever slows a run down). It
prints a table and writes the figures, with the machine, to
``benchmarks/results/bench_dask.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from machine import describe

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_CSV = REPO_ROOT / "regression_model" / "datasets" / "test.csv"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "bench_dask.json"

# Workers import the package: make this checkout importable in them, however it is run.
sys.path.insert(0, str(REPO_ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
)


def write_dataset(directory: Path, *, rows: int, partitions: int) -> None:
    """test.csv repeated to ``rows`` rows, split into ``partitions`` Parquet files."""
    test = pd.read_csv(TEST_CSV)
    data = pd.concat([test] * math.ceil(rows / len(test)), ignore_index=True).head(rows)
    directory.mkdir()
    for part, positions in enumerate(np.array_split(np.arange(rows), partitions)):
        data.iloc[positions].to_parquet(directory / f"part-{part:03d}.parquet", index=False)


def score_on_cluster(
    dataset: Path, output: Path, *, n_workers: int, repeats: int
) -> tuple[float, float]:
    """Seconds for ``n_workers`` worker processes to score ``dataset``: cold, then warm."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from regression_model.batch import predict_dask

    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        seconds = []
        for run in range(1 + repeats):
            started = time.perf_counter()
            predict_dask(input_data=dd.read_parquet(dataset)).to_parquet(output / str(run))
            seconds.append(time.perf_counter() - started)
        return seconds[0], min(seconds[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3, help="warm runs; the best is kept")
    args = parser.parse_args(argv)

    before = {**describe(), "load_average_1m_before": os.getloadavg()[0]}
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_dask_") as scratch:
        dataset = Path(scratch) / "houses"
        write_dataset(dataset, rows=args.rows, partitions=args.partitions)
        for n_workers in args.workers:
            cold, warm = score_on_cluster(
                dataset,
                Path(scratch) / f"scored-{n_workers}",
                n_workers=n_workers,
                repeats=args.repeats,
            )
            runs.append(
                {
                    "workers": n_workers,
                    "cold_seconds": round(cold, 2),
                    "cold_rows_per_s": round(args.rows / cold),
                    "warm_seconds": round(warm, 2),
                    "warm_rows_per_s": round(args.rows / warm),
                }
            )

    print(f"{'workers':>7} {'cold s':>7} {'cold rows/s':>11} {'warm s':>7} {'warm rows/s':>11}")
    for run in runs:
        print(
            f"{run['workers']:>7} {run['cold_seconds']:>7.1f} {run['cold_rows_per_s']:>11,} "
            f"{run['warm_seconds']:>7.1f} {run['warm_rows_per_s']:>11,}"
        )
    print(f"machine: {before['cpu_model']}, {before['nproc']} cores, {before['platform']}")
    result = {
        "benchmark": "dask_predict",
        "rows": args.rows,
        "partitions": args.partitions,
        "threads_per_worker": 1,
        "warm_repeats": args.repeats,
        "runs": runs,
        "machine": before,
        "load_average_1m_after": os.getloadavg()[0],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
