"""The five measurements of issue 5, one per fresh interpreter.

Run one measurement with ``python benchmarks/bench_predict.py NAME``; it prints a single JSON
object on its last line. ``benchmarks/run.py`` runs all of them, each in its own subprocess,
so that one measurement's imports, caches and garbage never colour another's figures.

Measurements
------------
single_row
    ``make_prediction`` latency for one house per call, each call a different row of
    test.csv, given as a fresh one-row DataFrame and as a record dict.
batch
    test.csv repeated to about 100,000 rows, end to end through ``make_prediction``: rows
    per second and the growth of peak resident memory during the call.
bare_pipeline
    The same batch, validated beforehand, through the fitted pipeline's own ``predict``.
cold_start
    ``from regression_model.predict import make_prediction`` plus the first prediction, in a
    new interpreter that has imported nothing else.
training
    Wall time of ``run_training``, writing its model to a temporary directory so that the
    shipped model is left alone.
intervals
    What ``interval=0.9`` adds to ``make_prediction`` (issue 16: at most 10%), single row
    and batch, with and without it timed alternately in one interpreter so that both see
    the same machine load. Single row: three passes over the same 500 rows; the cost is
    the median of each pair's difference over the p50 without an interval.
"""

from __future__ import annotations

import gc
import json
import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_CSV = REPO_ROOT / "regression_model" / "datasets" / "test.csv"

SINGLE_ROW_CALLS = 500
SINGLE_ROW_WARMUP = 20
BATCH_ROWS = 100_000
BATCH_REPEATS = 3
COLD_START_REPEATS = 3
INTERVAL_LEVEL = 0.9
INTERVAL_SINGLE_ROW_PASSES = 3
# More than BATCH_REPEATS: the cost sought is a few percent, below the load's swings.
INTERVAL_BATCH_REPEATS = 5

Result = dict[str, Any]


def _test_records() -> pd.DataFrame:
    # The raw file as a caller would read it: pandas' own dtypes, missing values included.
    return pd.read_csv(TEST_CSV)


def _batch_frame() -> pd.DataFrame:
    test = _test_records()
    copies = math.ceil(BATCH_ROWS / len(test))
    return pd.concat([test] * copies, ignore_index=True)


def _percentiles_ms(seconds: list[float]) -> Result:
    millis = np.asarray(seconds) * 1e3
    return {
        "calls": len(seconds),
        "p50_ms": float(np.percentile(millis, 50)),
        "p90_ms": float(np.percentile(millis, 90)),
        "p99_ms": float(np.percentile(millis, 99)),
        "max_ms": float(millis.max()),
        "mean_ms": float(millis.mean()),
    }


def _time_calls(predict: Callable[[Any], object], inputs: list[Any]) -> list[float]:
    timings = []
    for item in inputs:
        start = time.perf_counter()
        predict(item)
        timings.append(time.perf_counter() - start)
    return timings


def measure_single_row() -> Result:
    """p50/p99 latency of one-house calls, as a DataFrame and as a record dict."""
    from regression_model.predict import make_prediction

    test = _test_records()
    rows = range(SINGLE_ROW_CALLS)
    warmup_rows = range(len(test) - SINGLE_ROW_WARMUP, len(test))
    # Inputs are built before timing: making the caller's frame or dict is the caller's cost.
    frames = [test.iloc[[row]] for row in rows]
    records: list[dict[str, Any]] = test.to_dict(orient="records")  # type: ignore[assignment]
    for row in warmup_rows:  # the first call loads config and model; later calls reuse them
        make_prediction(input_data=test.iloc[[row]])
        make_prediction(input_data=records[row])

    def predict(input_data: Any) -> object:
        return make_prediction(input_data=input_data)

    gc.collect()
    by_frame = _time_calls(predict, frames)
    by_record = _time_calls(predict, [records[row] for row in rows])
    return {"dataframe": _percentiles_ms(by_frame), "record": _percentiles_ms(by_record)}


class _PeakRss:
    """Peak resident memory of this process while a block runs, in bytes above its start.

    On Linux, writing ``5`` to ``/proc/self/clear_refs`` resets the kernel's high-water
    mark (``VmHWM``) to the current RSS, so the kernel itself reports the exact peak.
    Elsewhere a thread samples RSS every millisecond with psutil, which can miss a peak
    shorter than that.
    """

    def __init__(self) -> None:
        self.method = ""
        self.start_bytes = 0
        self.peak_bytes = 0
        self._sampling = False
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _PeakRss:
        self.start_bytes = _current_rss()
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.method = "VmHWM after clear_refs"
        except OSError:
            self.method = "psutil sampling every 1 ms"
            self._sampling = True
            self.peak_bytes = self.start_bytes
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        import psutil  # type: ignore[import-untyped,unused-ignore]

        process = psutil.Process()
        while self._sampling:
            self.peak_bytes = max(self.peak_bytes, process.memory_info().rss)
            time.sleep(0.001)

    def __exit__(self, *exc_info: object) -> None:
        if self._thread is not None:
            self._sampling = False
            self._thread.join()
        else:
            self.peak_bytes = _status_bytes("VmHWM")

    @property
    def growth_mb(self) -> float:
        return (self.peak_bytes - self.start_bytes) / 1e6


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024  # the kernel reports kB
    raise RuntimeError(f"{field} not in /proc/self/status")


def _current_rss() -> int:
    try:
        return _status_bytes("VmRSS")
    except (OSError, RuntimeError):
        import psutil  # type: ignore[import-untyped,unused-ignore]

        return int(psutil.Process().memory_info().rss)


def measure_batch() -> Result:
    """Rows per second and peak-RSS growth of make_prediction on ~100,000 rows."""
    from regression_model.predict import make_prediction

    batch = _batch_frame()
    make_prediction(input_data=batch.head(50))  # load config and model outside the measure
    timings, growths = [], []
    for _ in range(BATCH_REPEATS):
        gc.collect()
        with _PeakRss() as memory:
            start = time.perf_counter()
            result = make_prediction(input_data=batch)
            timings.append(time.perf_counter() - start)
        growths.append(memory.growth_mb)
        n_priced = sum(price is not None for price in result.predictions)
        del result
    best = min(timings)
    return {
        **_model_description(),
        "rows": len(batch),
        "rows_priced": n_priced,
        "best_s": best,
        "median_s": statistics.median(timings),
        "rows_per_s": len(batch) / best,
        "peak_rss_growth_mb": max(growths),
        "memory_method": memory.method,
    }


def _model_description() -> Result:
    """What the batch scored with: the final estimator, and steps without a compiled form."""
    from regression_model import predict

    model = predict._trained_model()
    description: Result = {"steps": [name for name, _ in model.pipeline.steps]}
    description["estimator"] = " ".join(repr(model.pipeline.steps[-1][1]).split())
    description["fallback_steps"] = model.scorer.fallback_steps
    return description


def measure_bare_pipeline() -> Result:
    """The fitted pipeline's own predict on the same batch, validated beforehand."""
    from regression_model.config.core import get_config
    from regression_model.processing.data_manager import load_pipeline
    from regression_model.processing.validation import validate_records

    config = get_config()
    batch = _batch_frame()
    validated = validate_records(records=batch, schema=config.model.inputs)
    rows = validated.frame[validated.is_valid]
    pipeline = load_pipeline(pipeline_name=config.app.pipeline_name)
    pipeline.predict(rows.head(50))
    timings = []
    for _ in range(BATCH_REPEATS):
        gc.collect()
        start = time.perf_counter()
        pipeline.predict(rows)
        timings.append(time.perf_counter() - start)
    best = min(timings)
    return {
        "rows": len(rows),
        "best_s": best,
        "median_s": statistics.median(timings),
        "rows_per_s": len(rows) / best,
    }


# Runs in a new interpreter: only the standard library is imported before the clock starts.
_COLD_START_SCRIPT = """
import json, sys, time
record = json.loads(sys.stdin.read())
start = time.perf_counter()
from regression_model.predict import make_prediction
imported = time.perf_counter()
result = make_prediction(input_data=record)
done = time.perf_counter()
assert result.predictions[0] is not None, result.errors
print(json.dumps({"import_s": imported - start, "first_prediction_s": done - imported}))
"""


def measure_cold_start() -> Result:
    """Import plus first prediction in new interpreters; the median of a few runs."""
    record = _test_records().iloc[0].to_dict()
    payload = json.dumps(record)  # NaN stays NaN: json writes and reads it by default
    runs = []
    for _ in range(COLD_START_REPEATS):
        start = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-c", _COLD_START_SCRIPT],
            input=payload,
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO_ROOT,
        )
        process_s = time.perf_counter() - start
        run = json.loads(completed.stdout.strip().splitlines()[-1])
        run["total_s"] = run["import_s"] + run["first_prediction_s"]
        run["process_s"] = process_s
        runs.append(run)
    median_run = sorted(runs, key=lambda run: run["total_s"])[len(runs) // 2]
    return {**median_run, "runs": runs}


def measure_training() -> Result:
    """Wall time of run_training: holdout fit, 5-fold cross-validation and the final fit."""
    from regression_model.train_pipeline import run_training

    with tempfile.TemporaryDirectory() as model_dir:
        start = time.perf_counter()
        run_training(model_dir=Path(model_dir))
        seconds = time.perf_counter() - start
    return {"wall_s": seconds}


def _alternate(
    calls: list[tuple[Callable[[], object], Callable[[], object]]],
) -> tuple[list[float], list[float]]:
    """Time each pair's two calls, the first going first in even pairs, second in odd ones."""
    plain, with_interval = [], []
    for index, (without, within) in enumerate(calls):
        order = [(without, plain), (within, with_interval)]
        for call, timings in order if index % 2 == 0 else reversed(order):
            start = time.perf_counter()
            call()
            timings.append(time.perf_counter() - start)
    return plain, with_interval


def measure_intervals() -> Result:
    """make_prediction with and without a 90% interval: single-row p50 and best batch time."""
    from regression_model.predict import make_prediction

    test = _test_records()
    frames = [test.iloc[[row]] for row in range(SINGLE_ROW_CALLS)]
    for row in range(len(test) - SINGLE_ROW_WARMUP, len(test)):
        make_prediction(input_data=test.iloc[[row]], interval=INTERVAL_LEVEL)

    def pair(input_data: Any) -> tuple[Callable[[], object], Callable[[], object]]:
        return (
            lambda: make_prediction(input_data=input_data),
            lambda: make_prediction(input_data=input_data, interval=INTERVAL_LEVEL),
        )

    gc.collect()
    single_plain, single_interval = _alternate(
        [pair(frame) for _ in range(INTERVAL_SINGLE_ROW_PASSES) for frame in frames]
    )
    batch = _batch_frame()
    gc.collect()
    batch_plain, batch_interval = _alternate([pair(batch) for _ in range(INTERVAL_BATCH_REPEATS)])
    single = {
        "plain": _percentiles_ms(single_plain),
        "interval": _percentiles_ms(single_interval),
    }
    # Each pair ran back to back on the same row: the median of the pairs' differences is
    # steadier under a varying machine load than the difference of two medians.
    added = statistics.median(np.subtract(single_interval, single_plain).tolist())
    return {
        "level": INTERVAL_LEVEL,
        "single_row": single,
        "single_row_added_ms": added * 1e3,
        "single_row_overhead": added * 1e3 / single["plain"]["p50_ms"],
        "batch_rows": len(batch),
        "batch_plain_best_s": min(batch_plain),
        "batch_interval_best_s": min(batch_interval),
        "batch_overhead": min(batch_interval) / min(batch_plain) - 1,
    }


MEASUREMENTS: dict[str, Callable[[], Result]] = {
    "single_row": measure_single_row,
    "batch": measure_batch,
    "bare_pipeline": measure_bare_pipeline,
    "cold_start": measure_cold_start,
    "training": measure_training,
    "intervals": measure_intervals,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in MEASUREMENTS:
        print(f"usage: {argv[0]} {{{','.join(MEASUREMENTS)}}}", file=sys.stderr)
        return 2
    # Training logs and feature-engine's warnings go to stderr; stdout carries only the JSON.
    print(json.dumps(MEASUREMENTS[argv[1]]()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
