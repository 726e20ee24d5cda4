"""Time this tree against another commit, side by side in one run.

Usage: ``.tox/bench/bin/python benchmarks/compare.py REF [--rounds N]``, once ``tox -e bench``
has made its environment.

Figures from different days, or from a machine under other load, cannot be compared (see
``benchmarks/README.md``). This script checks ``REF`` out into a temporary git worktree,
trains that tree's model there, then runs ``bench_predict.py single_row`` and ``batch`` for
the two trees in turn, round after round, each measurement in a fresh interpreter of the
same Python. Numeric libraries get one thread each, so that neither tree's figures depend
on how many cores happen to be free. It prints each tree's median over the rounds and this
tree's speed as a percentage of ``REF``'s (below 100%: slower).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS = ("single_row", "batch")
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _run(tree: Path, *command: str) -> str:
    environment = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(tree)}
    completed = subprocess.run(
        [sys.executable, *command], cwd=tree, env=environment, capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {tree}:\n{completed.stderr}")
    return completed.stdout


def measure(tree: Path, name: str) -> dict[str, float]:
    """One measurement of one tree: the figures the comparison reads."""
    result: dict[str, Any] = json.loads(
        _run(tree, "benchmarks/bench_predict.py", name).strip().splitlines()[-1]
    )
    if name == "batch":
        return {"batch, rows/s": result["rows_per_s"]}
    return {f"single row p50, ms ({shape})": result[shape]["p50_ms"] for shape in result}


def compare(reference: Path, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Every figure of both trees, measured alternately, ``rounds`` times."""
    figures: dict[str, dict[str, list[float]]] = {"reference": {}, "this tree": {}}
    for _ in range(rounds):
        for name in MEASUREMENTS:
            for label, tree in (("reference", reference), ("this tree", REPO_ROOT)):
                for figure, value in measure(tree, name).items():
                    figures[label].setdefault(figure, []).append(value)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="the commit to compare with, e.g. a release tag")
    parser.add_argument("--rounds", type=int, default=3, help="alternations (default 3)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        reference = Path(scratch) / "reference"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(reference), arguments.ref],
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
        )
        try:
            _run(reference, "-m", "regression_model.train_pipeline")
            figures = compare(reference, arguments.rounds)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(reference)], cwd=REPO_ROOT)
    print(
        f"{'median of ' + str(arguments.rounds) + ' rounds':34s} {arguments.ref:>12s} "
        f"{'this tree':>12s} {'speed':>8s}"
    )
    for figure, values in figures["this tree"].items():
        ours, theirs = statistics.median(values), statistics.median(figures["reference"][figure])
        speed = ours / theirs if figure.endswith("rows/s") else theirs / ours
        print(f"{figure:34s} {theirs:12.3f} {ours:12.3f} {speed:8.1%}")


if __name__ == "__main__":
    main()
