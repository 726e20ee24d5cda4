"""The failures a user can meet, each naming its culprit: the file or the key to fix.

The command line prints any of them as one line on stderr and exits with its ``exit_code``:
2 when the command or its files are wrong (the user can fix the call), 1 when the model or the
config cannot be used (the installation needs fixing). docs/failures.md lists every case.

Examples
--------
>>> error = InputFileError("houses.csv line 3 has 81 fields, the header has 80",
...                        culprit="houses.csv")
>>> error.exit_code, error.culprit
(2, 'houses.csv')
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

# The exit codes the command line documents; 0 is success.
EXIT_UNUSABLE = 1
EXIT_USAGE = 2


class RegressionModelError(Exception):
    """A failure reported to the user in one line, with the thing at fault.

    Parameters
    ----------
    message : str
        One line saying what is wrong and, where it helps, what to do.
    culprit : Path or str, default=None
        The file, or the config key, the user should look at.
    """

    exit_code: ClassVar[int] = EXIT_UNUSABLE

    def __init__(self, message: str, *, culprit: Path | str | None = None) -> None:
        super().__init__(message)
        self.culprit = culprit

    @property
    def exit_status(self) -> int:
        """The command line's exit status for this failure."""
        return self.exit_code


class ConfigError(RegressionModelError, ValueError):
    """The configuration is malformed or inconsistent; the message names the key and line."""


class ModelLoadError(RegressionModelError, RuntimeError):
    """The trained pipeline cannot be used: unreadable, tampered with, or from another version."""


class ModelNotFoundError(ModelLoadError, FileNotFoundError):
    """No trained pipeline exists for this package version."""


class ModelNotExplainableError(RegressionModelError, ValueError):
    """The trained model holds a part that explanations cannot split by input column."""


class InputFileError(RegressionModelError):
    """A file given to read is missing, unreadable or not a table the model can score."""

    exit_code = EXIT_USAGE


class OutputFileError(RegressionModelError):
    """The output cannot be written where the command was told to write it."""

    exit_code = EXIT_USAGE


class TrainingDataNotFoundError(InputFileError):
    """Training was asked for where there is no training data (an installed wheel)."""


class InterruptedRun(RegressionModelError):
    """A signal (Ctrl-C, SIGTERM, SIGHUP) stopped the command; it exits with 128 + signal.

    Parameters
    ----------
    message : str
        What was interrupted and what was left as it was.
    signal_number : int
        The signal that stopped the command.
    """

    def __init__(self, message: str, *, signal_number: int) -> None:
        super().__init__(message)
        self.signal_number = signal_number

    @property
    def exit_status(self) -> int:
        # The shell's convention for a process stopped by a signal: 130 for Ctrl-C.
        return 128 + self.signal_number
