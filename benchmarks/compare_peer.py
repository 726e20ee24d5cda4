"""Time installed packages side by side in one run: the peer, an earlier commit, this tree.

Usage (from the repository root)::

    python benchmarks/compare_peer.py \\
        --package peer=/path/to/peer-venv/bin/python \\
        --package 2.0.0=.tox/bench/bin/python:/tmp/tree-at-2.0.0 \\
        --package this=.tox/bench/bin/python:. --rounds 3

Each ``--package NAME=PYTHON[:PYTHONPATH]`` is an interpreter that imports
``regression_model.predict`` (the peer, ``tid-regression-model``, has the same import name;
PYTHONPATH selects a source tree with its trained model). Round after round, each package
is measured in fresh interpreters, so that all of them see the same machine load:

- ``import``: ``from regression_model.predict import make_prediction`` in a new interpreter;
- ``one house``: p50 of 300 calls, each a different one-row DataFrame of test.csv (a call
  that raises is left out: the peer raises on house 95, whose missing values it drops);
- ``batch``: test.csv repeated to 100,000 rows in one call, rows per second (best of 3).

It prints each package's median over the rounds and writes them, with the machine, to
``benchmarks/results/compare_peer.json``. A package's own warnings (the peer's pickle was
made by an older scikit-learn) go to /dev/null.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from machine import describe

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_CSV = REPO_ROOT / "regression_model" / "datasets" / "test.csv"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "compare_peer.json"

MEASURE = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
started = time.perf_counter()
from regression_model.predict import make_prediction
imported = time.perf_counter() - started
if sys.argv[1] == "import":
    print(json.dumps(imported)); raise SystemExit
import pandas as pd
houses = pd.read_csv(sys.argv[2])
if sys.argv[1] == "one_house":
    rows = [houses.iloc[[i]] for i in range(300)]
    make_prediction(input_data=rows[0])
    seconds = []
    for row in rows:
        started = time.perf_counter()
        try:
            make_prediction(input_data=row)
        except Exception:  # the peer raises on a house it cannot price: not timed
            continue
        seconds.append(time.perf_counter() - started)
    print(json.dumps(1000 * sorted(seconds)[len(seconds) // 2]))
else:
    batch = pd.concat([houses] * (100_000 // len(houses) + 1), ignore_index=True).head(100_000)
    make_prediction(input_data=batch.head(1000))
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter(); make_prediction(input_data=batch)
        best = min(best, time.perf_counter() - started)
    print(json.dumps(len(batch) / best))
"""
MEASUREMENTS = {"import": "import_s", "one_house": "one_house_p50_ms", "batch": "batch_rows_per_s"}


def _measure(python: str, pythonpath: str | None, measurement: str) -> float:
    environment = dict(os.environ)
    environment.pop("PYTHONPATH", None)
    if pythonpath:
        environment["PYTHONPATH"] = str(Path(pythonpath).resolve())
    completed = subprocess.run(
        [python, "-c", MEASURE, measurement, str(TEST_CSV)],
        env=environment,
        cwd="/",  # never this tree's package by accident
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{python} {measurement} failed:\n{completed.stderr}")
    return float(json.loads(completed.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", action="append", required=True, metavar="NAME=PYTHON[:PATH]")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    packages = {}
    for spec in arguments.package:
        name, _, target = spec.partition("=")
        python, _, pythonpath = target.partition(":")
        packages[name] = (python, pythonpath or None)
    figures: dict[str, dict[str, list[float]]] = {
        name: {key: [] for key in MEASUREMENTS.values()} for name in packages
    }
    load = [os.getloadavg()[0]]
    for _ in range(arguments.rounds):
        for measurement, key in MEASUREMENTS.items():
            for name, (python, pythonpath) in packages.items():
                figures[name][key].append(_measure(python, pythonpath, measurement))
        load.append(os.getloadavg()[0])
    medians = {
        name: {key: statistics.median(values) for key, values in by_key.items()}
        for name, by_key in figures.items()
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"machine": describe(), "load_average_1min": load, "medians": medians, "all": figures},
            indent=2,
        )
        + "\n"
    )
    print(f"load average (1 min) over the run: {min(load):.1f} to {max(load):.1f}")
    print(f"{'package':12s} {'import s':>9s} {'one house ms':>13s} {'batch rows/s':>13s}")
    for name, by_key in medians.items():
        print(
            f"{name:12s} {by_key['import_s']:9.3f} {by_key['one_house_p50_ms']:13.2f} "
            f"{by_key['batch_rows_per_s']:13,.0f}"
        )


if __name__ == "__main__":
    sys.exit(main())
