"""Run the issue 5 benchmarks and the interval cost, print a table against the targets, save JSON.

Usage: ``python benchmarks/run.py [--train-if-missing] [--only NAME ...]`` (``tox -e bench``).
Each measurement runs in its own interpreter (see ``bench_predict.py``); the JSON, with the
machine's description, goes to ``benchmarks/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from machine import describe

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
MEASUREMENTS = (
    "single_row",
    "batch",
    "bare_pipeline",
    "cold_start",
    "training",
    "intervals",
    "file_paths",
)
# Measured by bench_cli.py (issue 14), the rest by bench_predict.py.
_SCRIPT_BY_MEASUREMENT = {"file_paths": "bench_cli.py"}


@dataclass(frozen=True)
class Row:
    """One line of the printed table."""

    measure: str
    value: float
    unit: str
    target: str = ""
    is_met: bool | None = None


def _child_env() -> dict[str, str]:
    # Measure this tree's package even where it is not installed (tox installs it editable).
    paths = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def run_measurement(name: str) -> dict[str, Any]:
    script = _SCRIPT_BY_MEASUREMENT.get(name)
    command = [sys.executable, str(BENCH_DIR / (script or "bench_predict.py"))]
    completed = subprocess.run(
        command if script else [*command, name],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=_child_env(),
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark {name} failed:\n{completed.stderr}")
    if script:
        print(completed.stdout, end="")
        figures: dict[str, Any] = json.loads((RESULTS_DIR / "bench_cli.json").read_text())
        return figures
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def table_rows(results: dict[str, dict[str, Any]]) -> list[Row]:
    """The figures issue 5 asks for, each with its target where it has one."""
    rows: list[Row] = []
    if "single_row" in results:
        for shape in ("dataframe", "record"):
            p50, p99 = (results["single_row"][shape][key] for key in ("p50_ms", "p99_ms"))
            rows.append(Row(f"single row p50 ({shape})", p50, "ms", "<= 2", p50 <= 2.0))
            rows.append(Row(f"single row p99 ({shape})", p99, "ms", "<= 10", p99 <= 10.0))
    if "batch" in results:
        batch = results["batch"]
        speed, growth = batch["rows_per_s"], batch["peak_rss_growth_mb"]
        rows.append(
            Row(f"batch, {batch['rows']} rows", speed, "rows/s", ">= 175000", speed >= 175_000)
        )
        rows.append(Row("batch peak RSS growth", growth, "MB", "<= 150", growth <= 150))
    if "bare_pipeline" in results:
        bare = results["bare_pipeline"]
        rows.append(Row("bare pipeline.predict, same batch", bare["rows_per_s"], "rows/s"))
        if "batch" in results:
            ratio = results["batch"]["best_s"] / bare["best_s"]
            rows.append(
                Row("make_prediction / pipeline.predict", ratio, "x", "<= 1.3", ratio <= 1.3)
            )
    if "cold_start" in results:
        cold = results["cold_start"]
        rows.append(Row("cold import", cold["import_s"], "s"))
        total = cold["total_s"]
        rows.append(Row("cold import + first prediction", total, "s", "<= 1.5", total <= 1.5))
    if "training" in results:
        rows.append(Row("training wall time", results["training"]["wall_s"], "s"))
    if "intervals" in results:
        intervals = results["intervals"]
        for name, key in (("single row p50", "single_row_overhead"), ("batch", "batch_overhead")):
            overhead = 100 * intervals[key]
            rows.append(Row(f"interval cost, {name}", overhead, "%", "<= 10", overhead <= 10))
        # In milliseconds too: a percentage of a slow make_prediction would flatter it.
        rows.append(Row("interval cost, single row p50", intervals["single_row_added_ms"], "ms"))
        added = 1e3 * (intervals["batch_interval_best_s"] - intervals["batch_plain_best_s"])
        rows.append(Row(f"interval cost, batch of {intervals['batch_rows']}", added, "ms"))
    if "file_paths" in results:
        files = results["file_paths"]
        for key in ("in_memory", "csv", "parquet", "dask_1", "dask_2"):
            rows.append(Row(f"{files['rows']:,} rows: {key}", files[key]["rows_per_s"], "rows/s"))
        for measured, target, is_met in files["targets"]:
            name, value = measured.rsplit(" = ", 1)
            rows.append(Row(name, float(value.rstrip("%xMBms ")), "", target, is_met))
    return rows


def format_table(rows: list[Row]) -> str:
    lines = [f"{'measure':<42} {'value':>12} {'unit':<7} {'target':<10} met"]
    lines.append("-" * len(lines[0]))
    for row in rows:
        value = f"{row.value:,.0f}" if row.unit == "rows/s" else f"{row.value:.3g}"
        met = "" if row.is_met is None else ("yes" if row.is_met else "NO")
        lines.append(f"{row.measure:<42} {value:>12} {row.unit:<7} {row.target:<10} {met}")
    return "\n".join(lines)


def model_exists() -> bool:
    from regression_model.config.core import TRAINED_MODEL_DIR, get_config
    from regression_model.processing.data_manager import artifact_name

    name = artifact_name(pipeline_name=get_config().app.pipeline_name)
    return (TRAINED_MODEL_DIR / name).is_file()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-if-missing", action="store_true", help="train a model first")
    parser.add_argument("--only", nargs="+", choices=MEASUREMENTS, default=list(MEASUREMENTS))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))

    if args.train_if_missing and not model_exists():
        print("no trained model: training one", flush=True)
        subprocess.run(
            [sys.executable, "-m", "regression_model.train_pipeline"],
            check=True,
            cwd=REPO_ROOT,
            env=_child_env(),
        )

    results: dict[str, dict[str, Any]] = {}
    for name in args.only:
        print(f"running {name} ...", flush=True)
        results[name] = run_measurement(name)
    rows = table_rows(results)
    print()
    print(format_table(rows))

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "timestamp": stamp,
        "machine": describe(),
        "results": results,
        "table": [row.__dict__ for row in rows],
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    text = json.dumps(report, indent=2) + "\n"
    (RESULTS_DIR / f"bench-{stamp}.json").write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    print(f"\nsaved {RESULTS_DIR / f'bench-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
