"""What an explanation costs: ``make_prediction`` with and without ``explain=True``.

Run from the repository root, with a trained model::

    python benchmarks/bench_explain.py                 # test.csv repeated to 10,000 rows
    python benchmarks/bench_explain.py --rows 50000

In one interpreter, after a warm-up call of each (which loads the model, XGBoost's booster
and builds the explainer), it times alternately:

- a batch (test.csv repeated to ``--rows`` rows), best of ``--repeats`` each way: the extra
  time of ``explain=True`` divided by the priced rows is the cost per row;
- single houses (``--singles`` different rows of test.csv, one-row DataFrames), the median
  of each way.

Then, in a new interpreter, it prices houses without ``explain`` and records whether the
explanation module (or anything it alone imports) was loaded: a call without ``explain``
must pay nothing for it. The figures, with the machine and the load average before and
after, go to ``benchmarks/results/bench_explain.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from machine import describe

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results" / "bench_explain.json"
TEST_CSV = REPO_ROOT / "regression_model" / "datasets" / "test.csv"

# Prices houses without explain in a new interpreter and says what got imported.
NO_EXPLAIN_CHILD = """
import sys, pandas as pd
from regression_model.predict import make_prediction
houses = pd.read_csv(sys.argv[1])
result = make_prediction(input_data=houses)
print(result.explanations is None, 'regression_model.explain' in sys.modules)
"""


def _seconds(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(*, rows: int, repeats: int, singles: int) -> dict[str, Any]:
    from regression_model.predict import make_prediction

    houses = pd.read_csv(TEST_CSV)
    batch = pd.concat([houses] * (rows // len(houses) + 1), ignore_index=True).head(rows)
    priced = sum(price is not None for price in make_prediction(input_data=batch).predictions)
    make_prediction(input_data=batch.head(10), explain=True)  # warm-up: builds the explainer

    load_before = os.getloadavg()
    plain, explained = [], []
    for _ in range(repeats):  # alternately, so that a change in load hits both
        plain.append(_seconds(lambda: make_prediction(input_data=batch)))
        explained.append(_seconds(lambda: make_prediction(input_data=batch, explain=True)))
    one_rows = [houses.iloc[[row]] for row in range(singles)]
    single_plain, single_explained = [], []
    for one in one_rows:
        single_plain.append(_seconds(lambda: make_prediction(input_data=one)))
        single_explained.append(_seconds(lambda: make_prediction(input_data=one, explain=True)))
    load_after = os.getloadavg()

    child = subprocess.run(
        [sys.executable, "-c", NO_EXPLAIN_CHILD, str(TEST_CSV)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    no_explanations, explain_imported = (word == "True" for word in child.stdout.split())
    best_plain, best_explained = min(plain), min(explained)
    return {
        "rows": rows,
        "priced_rows": priced,
        "batch_seconds_plain": best_plain,
        "batch_seconds_explain": best_explained,
        "batch_ms_per_row_explain_extra": 1000 * (best_explained - best_plain) / priced,
        "single_ms_p50_plain": 1000 * statistics.median(single_plain),
        "single_ms_p50_explain": 1000 * statistics.median(single_explained),
        "without_explain_result_has_none": no_explanations,
        "without_explain_imports_explain_module": explain_imported,
        "load_1_5_15_before": list(load_before),
        "load_1_5_15_after": list(load_after),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--singles", type=int, default=100)
    arguments = parser.parse_args()
    figures = measure(rows=arguments.rows, repeats=arguments.repeats, singles=arguments.singles)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": describe(), **figures}, indent=2) + "\n")
    print(
        f"batch of {figures['rows']:,} rows ({figures['priced_rows']:,} priced): "
        f"{figures['batch_seconds_plain']:.2f} s without explain, "
        f"{figures['batch_seconds_explain']:.2f} s with: "
        f"{figures['batch_ms_per_row_explain_extra']:.3f} ms more per row"
    )
    print(
        f"one house, p50: {figures['single_ms_p50_plain']:.2f} ms without explain, "
        f"{figures['single_ms_p50_explain']:.2f} ms with"
    )
    print(
        "without explain: explanations None "
        f"{figures['without_explain_result_has_none']}, explain module imported "
        f"{figures['without_explain_imports_explain_module']}"
    )
    print(
        f"load average (1, 5, 15 min) before {figures['load_1_5_15_before']}, "
        f"after {figures['load_1_5_15_after']}"
    )


if __name__ == "__main__":
    main()
