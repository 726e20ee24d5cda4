"""The released artifacts: what the wheel and sdist hold, and a wheel that works installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from regression_model import __version__
from regression_model.predict import make_prediction
from tests.readme_blocks import readme_code_blocks

REPO_ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.install


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel and an sdist built from this tree (after training, so the wheel has a model)."""
    if not any((REPO_ROOT / "regression_model" / "trained_models").glob("*.pkl")):
        pytest.fail("no trained model: run `tox -e train` before the packaging tests")
    out_dir = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out_dir), str(REPO_ROOT)])
    return out_dir


def _run(command: list[str], cwd: Path | None = None) -> str:
    """Run a command, failing the test with its stderr if it fails; return its stdout.

    PYTHONPATH is dropped so that the child sees only its own environment's packages.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def _only(directory: Path, pattern: str) -> Path:
    (path,) = directory.glob(pattern)
    return path


def test_wheel_holds_code_config_and_model_but_no_data(dist_dir: Path) -> None:
    # Given the built wheel
    wheel = _only(dist_dir, f"ames_price_model-{__version__}-*.whl")

    # When its file list is read
    names = set(zipfile.ZipFile(wheel).namelist())

    # Then it carries the code, config, version, type marker, model and metadata ...
    for required in (
        "regression_model/__init__.py",
        "regression_model/predict.py",
        "regression_model/processing/validation.py",
        "regression_model/config/core.py",
        "regression_model/config.yml",
        "regression_model/VERSION",
        "regression_model/py.typed",
        "regression_model/examples/houses.json",
        f"regression_model/trained_models/regression_model_output_v{__version__}.pkl",
        f"regression_model/trained_models/regression_model_output_v{__version__}.json",
        f"regression_model/trained_models/regression_model_output_v{__version__}.md",
        f"regression_model/trained_models/regression_model_output_v{__version__}.profile.json",
    ):
        assert required in names
    # ... and neither the training data nor the tests
    assert not [name for name in names if name.endswith(".csv") or name.startswith("tests/")]


def test_sdist_holds_what_retraining_needs(dist_dir: Path) -> None:
    # Given the built sdist
    sdist = _only(dist_dir, f"ames_price_model-{__version__}.tar.gz")

    # When its file list is read, relative to its top folder
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}

    # Then data, config, version, requirements and tooling are all there
    for required in (
        "regression_model/datasets/train.csv",
        "regression_model/datasets/test.csv",
        "regression_model/config.yml",
        "regression_model/VERSION",
        "requirements/requirements.txt",
        "requirements/test_requirements.txt",
        "requirements/dask_requirements.txt",
        "requirements/report_requirements.txt",
        "setup.py",
        "pyproject.toml",
        "tox.ini",
        "README.md",
        "CHANGELOG.md",
    ):
        assert required in names


@pytest.fixture(scope="module")
def installed_python(dist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a new virtual environment, outside the repository, into which the
    wheel was installed by its file name, as the README says."""
    wheel = _only(dist_dir, f"ames_price_model-{__version__}-py3-none-any.whl")
    env_dir = tmp_path_factory.mktemp("installed") / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", str(wheel)])
    return python


def test_installed_wheel_finds_its_own_model_and_config(
    installed_python: Path, tmp_path: Path, test_records: pd.DataFrame
) -> None:
    """Check that the wheel, installed in a fresh venv outside the repo, makes predictions."""
    # Given the wheel installed into a new virtual environment outside the repository
    python = installed_python
    env_dir = python.parents[1]
    rows = test_records.head(5)
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(rows.to_json(orient="records"))
    script = (
        "import json, sys, regression_model\n"
        "from regression_model.predict import make_prediction\n"
        "records = json.load(open(sys.argv[1]))\n"
        "result = make_prediction(input_data=records)\n"
        "print(json.dumps({'file': regression_model.__file__, "
        "'result': result.model_dump(mode='json')}))\n"
    )

    # When that environment scores a few rows of test.csv, run from an unrelated folder
    output = json.loads(_run([str(python), "-c", script, str(rows_file)], cwd=tmp_path))

    # Then the installed package answered, with the same prices as this tree's model
    assert Path(output["file"]).is_relative_to(env_dir)
    assert output["result"]["errors"] == []
    assert output["result"]["version"] == __version__
    expected = np.array(make_prediction(input_data=rows).predictions, dtype=float)
    np.testing.assert_allclose(output["result"]["predictions"], expected, rtol=1e-9)


def test_readmes_first_example_runs_verbatim_from_the_installed_wheel(
    installed_python: Path, tmp_path: Path
) -> None:
    """Check that the README's first example needs nothing but the installed wheel.
    Non-regression test for #12 (it used houses it never defined)."""
    # Given the README's first python block, saved as a script in a folder outside the repo,
    # and the output the README shows after it
    blocks = readme_code_blocks()
    first = next(index for index, block in enumerate(blocks) if block.language == "python")
    first_example, shown = blocks[first], blocks[first + 1]
    script = tmp_path / "first_example.py"
    script.write_text(first_example.code, encoding="utf-8")

    # When the wheel's environment runs it
    output = _run([str(installed_python), str(script)], cwd=tmp_path)

    # Then it prints what the README shows
    assert shown.language == "text"
    assert output == shown.code
