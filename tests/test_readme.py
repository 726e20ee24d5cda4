"""README.md's code blocks, run: an example that drifts from the code fails here.

pytest-markdown-docs runs every ``python`` block in-process (``tox -e test_package`` passes
``--markdown-docs README.md``). The tests below add what it cannot do: run each ``python``
block as a script and compare what it prints with the ``text`` block shown after it (the
Dask example needs a script of its own, for its worker processes), run the ``console``
blocks' commands and compare their output, and check the set-up commands of the ``bash``
blocks against tox.ini, the version and the extras.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from regression_model import __version__
from regression_model.config.core import TRAINED_MODEL_DIR, Config
from regression_model.processing.data_manager import artifact_name, load_metadata
from tests.conftest import LiveServer
from tests.readme_blocks import README_PATH, CodeBlock, readme_code_blocks

REPO_ROOT = README_PATH.parent
BLOCKS = readme_code_blocks()
# A python block followed directly by a text block shows what the python block prints.
EXAMPLES_WITH_OUTPUT = [
    (block, shown)
    for block, shown in zip(BLOCKS, BLOCKS[1:])
    if block.language == "python" and shown.language == "text"
]
CONSOLE_BLOCKS = [block for block in BLOCKS if block.language == "console"]
BASH_BLOCKS = [block for block in BLOCKS if block.language == "bash"]
PROMPT = "$ "
# Wall-clock times in command output ("in 0.9 s.") differ from run to run.
SECONDS = re.compile(r"\bin \d+(\.\d+)? s\b")
WHEEL = f"dist/ames_price_model-{__version__}-py3-none-any.whl"
EXTRAS = ("dask", "report", "serve")
# Where README's serving examples send their requests: the default of `regression-model serve`.
# The test starts a server on a free port and sends them there instead.
README_SERVER_URL = "http://127.0.0.1:8000"
# Waiting for a LocalCluster of worker processes on a busy 2-core machine can take a while.
SCRIPT_TIMEOUT_SECONDS = 300


def _normalise(text: str) -> str:
    return SECONDS.sub("in <seconds> s", text).rstrip()


def _run(
    command: list[str] | str, *, cwd: Path, shell: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a command as a reader would, in ``cwd``, capturing its output as text.

    This interpreter's scripts folder goes first on PATH, so ``regression-model`` is the
    command this environment installed.
    """
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        shell=shell,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
    )


@pytest.fixture()
def reader_folder(tmp_path: Path) -> Path:
    """An empty folder in which the repository's package folder (and so its data) is visible
    at the same relative path as in a clone, so examples write their files here."""
    (tmp_path / "regression_model").symlink_to(REPO_ROOT / "regression_model")
    return tmp_path


def test_every_block_is_a_kind_the_tests_run() -> None:
    # Given the README's code blocks
    # Then each is python (run), text (output of the python block before it), console (run)
    # or bash (checked), so no example escapes the tests
    assert BLOCKS
    for block, previous in zip(BLOCKS, [None, *BLOCKS]):
        assert block.language in {"python", "text", "console", "bash"}, block.test_id
        if block.language == "text":
            assert previous is not None and previous.language == "python", block.test_id


def test_the_dask_example_is_run_as_a_script() -> None:
    """Check that the Dask example, which only works as a script, shows its output."""
    guarded = [block for block, _ in EXAMPLES_WITH_OUTPUT if "__main__" in block.code]
    assert len(guarded) == 1
    assert 'if __name__ == "__main__":' in guarded[0].code


@pytest.mark.parametrize(
    ("example", "shown"),
    EXAMPLES_WITH_OUTPUT,
    ids=[block.test_id for block, _ in EXAMPLES_WITH_OUTPUT],
)
def test_python_example_prints_what_the_readme_shows(
    example: CodeBlock, shown: CodeBlock, reader_folder: Path
) -> None:
    # Given a python example saved as a script, as a reader would save it
    script = reader_folder / "example.py"
    script.write_text(example.code, encoding="utf-8")

    # When it runs in a new interpreter
    run = _run([sys.executable, script.name], cwd=reader_folder)

    # Then it succeeds and prints exactly what the README shows after it (stderr holds only
    # what the machine adds, such as Dask's notice that its dashboard port is taken)
    assert run.returncode == 0, run.stderr
    assert _normalise(run.stdout) == _normalise(shown.code)


def _commands_and_output(block: CodeBlock) -> list[tuple[str, str]]:
    """Split a console block into its ``$ `` commands, each with the output shown below it."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.code.splitlines():
        if line.startswith(PROMPT):
            steps.append((line.removeprefix(PROMPT), []))
        else:
            assert steps, f"{block.test_id}: output before the first command"
            steps[-1][1].append(line)
    return [(command, "\n".join(lines)) for command, lines in steps]


@pytest.mark.parametrize("block", CONSOLE_BLOCKS, ids=[block.test_id for block in CONSOLE_BLOCKS])
def test_console_example_prints_what_the_readme_shows(
    block: CodeBlock, reader_folder: Path, start_server: Callable[[], LiveServer]
) -> None:
    # Given a console block's commands, each with the output the README shows (and, for the
    # serving examples, a running server)
    steps = _commands_and_output(block)
    assert steps
    server_url = start_server().url if README_SERVER_URL in block.code else README_SERVER_URL

    for command, shown in steps:
        # When the command runs in a shell, in a folder laid out like a clone
        run = _run(command.replace(README_SERVER_URL, server_url), cwd=reader_folder, shell=True)

        # Then it prints what the README shows, on stdout then stderr (wall-clock times aside)
        assert _normalise(run.stdout + run.stderr) == _normalise(shown), command


def _tox_environments() -> set[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO_ROOT / "tox.ini")
    return {section.removeprefix("testenv:") for section in parser.sections()}


def _check_bash_command(command: str) -> None:
    """Fail unless a set-up command names tox environments, the wheel and extras that exist."""
    words = shlex.split(command)
    if words[:4] == ["python", "-m", "pip", "install"]:
        assert words[4:] == ["tox"], command
    elif words[:1] == ["tox"]:
        environments = [word for flag, word in zip(words, words[1:]) if flag == "-e"]
        assert environments and set(environments) <= _tox_environments(), command
    elif words[:2] == ["pip", "install"]:
        (target,) = words[2:]
        wheel, _, extra = target.partition("[")
        assert wheel == WHEEL, command
        assert extra in ("", *(f"{name}]" for name in EXTRAS)), command
    else:
        pytest.fail(f"a README command no test checks: {command}")


@pytest.mark.parametrize("block", BASH_BLOCKS, ids=[block.test_id for block in BASH_BLOCKS])
def test_setup_commands_name_what_exists(block: CodeBlock) -> None:
    """Check that each set-up command names real tox environments, this version's wheel and
    real extras. Non-regression test for #12 (the README installed another package)."""
    # Given a bash block's commands, comments dropped, `&&` chains split
    commands = [
        part.strip()
        for line in block.code.splitlines()
        for part in line.split("#", 1)[0].split("&&")
        if part.strip()
    ]

    # Then each one names only things that exist
    assert commands
    for command in commands:
        _check_bash_command(command)


def test_accuracy_table_shows_the_trained_models_metrics(config: Config) -> None:
    # Given the metrics recorded beside the model this tree trained
    model_path = TRAINED_MODEL_DIR / artifact_name(pipeline_name=config.app.pipeline_name)
    metrics = load_metadata(model_path=model_path).metrics

    # When the README is read
    text = README_PATH.read_text(encoding="utf-8")

    # Then its accuracy table shows those figures, as the model card rounds them
    for figure in (
        f"| {metrics['cv_rmse_log_mean']:.4f} ± {metrics['cv_rmse_log_std']:.4f} |",
        f"| {metrics['holdout_r2']:.3f} |",
        f"| ${metrics['holdout_rmse']:,.0f} |",
    ):
        assert figure in text


def test_input_schema_section_counts_the_configured_columns(config: Config) -> None:
    # Given the configured input schema
    inputs = config.model.inputs

    # When the README is read, line breaks as spaces
    text = " ".join(README_PATH.read_text(encoding="utf-8").split())

    # Then it counts the feature and text columns the config declares
    assert f"Every one of the {len(inputs.features)} feature columns" in text
    assert f"the {len(inputs.categorical)} text columns" in text
