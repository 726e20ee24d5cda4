"""Input drift: does a batch of houses look like the ones the model was trained on?

Training stores a compact profile of every input column beside the model
(``<model>.profile.json``): for a number, bins of equal training share and the training
range; for a label, the share of every label seen; for both, the missing share.
``profile_report`` counts a batch into the same bins and compares the two with the
population stability index (PSI),

    PSI = sum over bins of (input share - training share) * ln(input share / training share),

which is 0 for identical shares and grows with every shift. A column's verdict comes from the
PSI and from the share of its values outside the training range, with the limits in
``config.yml`` (``drift:``). Counts add up, so a file read in chunks (``DriftCounter``) gives
exactly the report of one pass.

Examples
--------
>>> import pandas as pd
>>> from regression_model.config.core import get_config
>>> houses = pd.DataFrame({"LotArea": [8450.0, 9600.0, 11250.0, 9550.0]})
>>> settings = get_config().drift
>>> profile = build_profile(features=houses, numeric=("LotArea",), labels=(), settings=settings)
>>> counter = DriftCounter(profile=profile, settings=settings)
>>> counter.add(houses)
>>> counter.report().columns[0].psi
0.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from regression_model import __version__
from regression_model.array_types import FloatArray
from regression_model.config.core import TRAINED_MODEL_DIR, Config, DriftSettings, get_config
from regression_model.errors import ModelLoadError
from regression_model.results import ErrorKind

__all__ = [
    "ColumnDrift",
    "DriftCounter",
    "DriftReport",
    "InputProfile",
    "LabelProfile",
    "NumericProfile",
    "Verdict",
    "build_profile",
    "load_profile",
    "profile_path",
    "profile_report",
    "write_profile",
]

InputData = pd.DataFrame | Mapping[str, object] | Sequence[Mapping[str, object]]
CountArray = npt.NDArray[np.int64]

# Errors that leave a cell empty rather than wrong: they are counted as missing values.
_MISSING_KINDS = frozenset({ErrorKind.MISSING_VALUE, ErrorKind.MISSING_COLUMN})
MISSING_BIN = "missing"
UNSEEN_LABELS_BIN = "labels unseen in training"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumericProfile(_Frozen):
    """One numeric column in training.

    Attributes
    ----------
    edges : tuple of float
        The bins' upper ends, ascending: bin ``i`` holds the values above ``edges[i - 1]``
        and up to ``edges[i]``; one more bin holds the values above the last edge. A value
        with a bin of its own has the float just below it as the edge before it.
    shares : tuple of float
        The share of training rows in each bin (one more than ``edges``).
    missing_share : float
        The share of training rows with no value.
    minimum, maximum : float or None
        The training range; None for a column training never saw a value in.
    """

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    missing_share: float
    minimum: float | None
    maximum: float | None


class LabelProfile(_Frozen):
    """One text column in training: each label seen and its share of the rows."""

    labels: tuple[str, ...]
    shares: tuple[float, ...]
    missing_share: float


class InputProfile(_Frozen):
    """Every input column of the training rows, as ``build_profile`` summarises them."""

    package_version: str
    training_rows: int
    numeric: dict[str, NumericProfile]
    labels: dict[str, LabelProfile]


class Verdict(str, Enum):
    """How far a column has moved from training, by the limits in ``config.yml``."""

    STABLE = "stable"
    MODERATE = "moderate"
    DRIFTED = "drifted"


class BinShares(_Frozen):
    """One bin of a column: its name, and the share of training and input rows in it."""

    bin: str
    training_share: float
    input_share: float


class ColumnDrift(_Frozen):
    """How one input column compares with training.

    Attributes
    ----------
    column : str
        The input column.
    kind : {"numeric", "label"}
        Whether its profile holds numbers or labels.
    psi : float
        The population stability index over its bins, missing values included.
    outside_share : float
        The share of the input's values outside the training range (for labels: never seen
        in training), of the rows with a value.
    missing_share, training_missing_share : float
        The share of rows with no value, in the input and in training.
    invalid_share : float
        The share of the input's rows whose value breaks the input schema (text in a number
        column, a negative area); they count as missing in the bins, and are shown here so
        that none is lost without a word.
    verdict : Verdict
        ``drifted`` from ``psi_drifted`` on or with ``outside_share_drifted`` of the values
        outside training, ``moderate`` from ``psi_moderate`` on, else ``stable``.
    bins : list of BinShares
        Every bin, in order, with both shares: what the HTML report plots.
    """

    column: str
    kind: str
    psi: float
    outside_share: float
    missing_share: float
    training_missing_share: float
    invalid_share: float
    verdict: Verdict
    bins: list[BinShares]


class DriftReport(_Frozen):
    """A batch compared with the training profile, the most drifted column first.

    Attributes
    ----------
    rows : int
        The rows compared.
    training_rows : int
        The rows the profile was made from.
    columns : list of ColumnDrift
        Every input column, sorted by PSI, then by outside share, both descending.
    settings : DriftSettings
        The limits the verdicts were judged by.
    version : str
        The package version that made the report.
    """

    rows: int
    training_rows: int
    columns: list[ColumnDrift]
    settings: DriftSettings
    version: str = Field(default=__version__)

    @property
    def flagged_columns(self) -> list[str]:
        """The columns whose verdict is not ``stable``, most drifted first."""
        return [c.column for c in self.columns if c.verdict is not Verdict.STABLE]

    @property
    def has_drifted(self) -> bool:
        """Whether any column's verdict is ``drifted``."""
        return any(c.verdict is Verdict.DRIFTED for c in self.columns)


def _share_edges(values: FloatArray, *, bins: int) -> tuple[float, ...]:
    """Upper ends of bins of about equal share of ``values``; a heavy value gets its own bin.

    A plain quantile cut of a column that is mostly 0 (pools, porches) puts nearly every row
    in one bin and the rest in one or two, so a shift of the houses that have one goes
    unseen. A value holding at least ``1 / bins`` of the rows is cut out as a bin of its
    own, and the other values share the remaining bins by quantile.
    """
    distinct, counts = np.unique(values, return_counts=True)
    is_heavy = counts >= len(values) / bins
    heavy = distinct[is_heavy]
    edges: list[float] = []
    for value in heavy.tolist():
        edges.extend((float(np.nextafter(value, -np.inf)), float(value)))
    rest = values[~np.isin(values, heavy)]
    n_rest_bins = bins - len(heavy)
    if len(rest) and n_rest_bins > 1:
        cuts = np.quantile(rest, np.linspace(0, 1, n_rest_bins + 1)[1:-1])
        edges.extend(float(cut) for cut in cuts)
    return tuple(float(edge) for edge in np.unique(np.asarray(edges, dtype=float)))


def _numeric_counts(values: FloatArray, edges: Sequence[float]) -> tuple[CountArray, int]:
    """Rows per bin, missing values last, and how many rows have a value."""
    is_missing = np.isnan(values)
    present = values[~is_missing]
    # side="left": a value equal to an edge belongs to the bin that edge closes.
    bins = np.searchsorted(np.asarray(edges, dtype=float), present, side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(np.int64)
    return np.append(counts, np.int64(is_missing.sum())), len(present)


def _label_counts(values: pd.Series, labels: Sequence[str]) -> CountArray:
    """Rows per training label, then unseen labels, then missing values."""
    is_missing = values.isna().to_numpy()
    codes = pd.Index(list(labels), dtype="object").get_indexer(pd.Index(values, dtype="object"))
    n_labels = len(labels)
    # Code -1 is a label not seen in training, or a missing value (told apart below).
    codes = np.where(codes < 0, n_labels, codes)
    counts = np.bincount(codes[~is_missing], minlength=n_labels + 1).astype(np.int64)
    return np.append(counts, np.int64(is_missing.sum()))


def build_profile(
    *,
    features: pd.DataFrame,
    numeric: Sequence[str],
    labels: Sequence[str],
    settings: DriftSettings,
) -> InputProfile:
    """Summarise the training rows' input columns, for ``profile_report`` to compare with.

    Parameters
    ----------
    features : DataFrame
        The validated training rows (numbers as float, labels as text).
    numeric, labels : sequence of str
        The numeric and the text columns to profile.
    settings : DriftSettings
        How many bins a numeric column gets.

    Returns
    -------
    InputProfile
        The shares are the ones ``DriftCounter`` counts for the same rows, so a batch
        identical to the training rows has a PSI of exactly 0 in every column.
    """
    n_rows = len(features)
    numeric_profiles = {}
    for name in numeric:
        values = features[name].to_numpy(dtype=float)
        present = values[~np.isnan(values)]
        edges = _share_edges(present, bins=settings.quantile_bins)
        counts, _ = _numeric_counts(values, edges)
        numeric_profiles[name] = NumericProfile(
            edges=edges,
            shares=tuple((counts[:-1] / n_rows).tolist()),
            missing_share=float(counts[-1] / n_rows),
            minimum=float(present.min()) if len(present) else None,
            maximum=float(present.max()) if len(present) else None,
        )
    label_profiles = {}
    for name in labels:
        column = features[name]
        seen = tuple(sorted(str(label) for label in column.dropna().unique()))
        counts = _label_counts(column, seen)
        label_profiles[name] = LabelProfile(
            labels=seen,
            shares=tuple((counts[: len(seen)] / n_rows).tolist()),
            missing_share=float(counts[-1] / n_rows),
        )
    return InputProfile(
        package_version=__version__,
        training_rows=n_rows,
        numeric=numeric_profiles,
        labels=label_profiles,
    )


def profile_path(model_path: Path) -> Path:
    """Where the profile of the model at ``model_path`` lies: beside it, as ``.profile.json``."""
    return model_path.with_suffix(".profile.json")


def write_profile(*, features: pd.DataFrame, config: Config, model_path: Path) -> Path:
    """Profile the training rows ``features`` and write the profile beside the model."""
    schema = config.model.inputs
    profile = build_profile(
        features=features,
        numeric=schema.numeric_columns,
        labels=schema.categorical,
        settings=config.drift,
    )
    path = profile_path(model_path)
    path.write_text(profile.model_dump_json(indent=1) + "\n", encoding="utf-8")
    return path


def _model_path(config: Config) -> Path:
    from regression_model.processing.data_manager import artifact_name

    return TRAINED_MODEL_DIR / artifact_name(pipeline_name=config.app.pipeline_name)


def load_profile(*, model_path: Path) -> InputProfile:
    """Read the profile written beside a model file.

    Raises
    ------
    ModelLoadError
        If the profile is missing, unreadable, or was written by another package version;
        the message names the file and says to retrain.
    """
    from regression_model.processing.data_manager import _reason, _retrain_advice

    path = profile_path(model_path)
    try:
        profile = InputProfile.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ModelLoadError(
            f"no training profile {path}; {_retrain_advice()}", culprit=path
        ) from error
    except (OSError, UnicodeDecodeError, ValidationError) as error:
        raise ModelLoadError(
            f"training profile {path} is unreadable: {_reason(error)}; {_retrain_advice()}",
            culprit=path,
        ) from error
    if profile.package_version != __version__:
        raise ModelLoadError(
            f"training profile {path} was written by version {profile.package_version}, "
            f"this is version {__version__}; {_retrain_advice()}",
            culprit=path,
        )
    return profile


def psi(*, training: FloatArray, actual: FloatArray, floor: float) -> float:
    """The population stability index between two share vectors over the same bins.

    Shares below ``floor`` count as ``floor``, so that a bin empty on one side keeps the
    index finite; equal vectors give exactly 0.

    Examples
    --------
    >>> round(psi(training=np.array([0.5, 0.5]), actual=np.array([0.9, 0.1]), floor=1e-4), 4)
    0.8789
    """
    expected = np.maximum(training, floor)
    observed = np.maximum(actual, floor)
    return float(np.sum((observed - expected) * np.log(observed / expected)))


def _edge_text(value: float) -> str:
    return f"{value:g}"


def _numeric_bin_names(edges: Sequence[float]) -> list[str]:
    """Readable names of the bins ``edges`` close, plus the last, open one."""
    names = []
    lower: float | None = None
    for position, upper in enumerate(edges):
        next_edge = edges[position + 1] if position + 1 < len(edges) else None
        # A value's own bin opens at the float just below it: name it by the value.
        if lower is not None and np.nextafter(lower, np.inf) == upper:
            names.append(f"= {_edge_text(upper)}")
        elif next_edge is not None and np.nextafter(upper, np.inf) == next_edge:
            below = f"< {_edge_text(next_edge)}"
            names.append(below if lower is None else f"{_edge_text(lower)} to {below}")
        elif lower is None:
            names.append(f"≤ {_edge_text(upper)}")
        else:
            names.append(f"{_edge_text(lower)} to {_edge_text(upper)}")
        lower = upper
    names.append(f"> {_edge_text(edges[-1])}" if edges else "any value")
    return names


def _count_outside(values: FloatArray, column: NumericProfile) -> int:
    """How many of ``values`` lie outside the training range (all of them, if it has none)."""
    present = values[~np.isnan(values)]
    if column.minimum is None or column.maximum is None:
        return len(present)
    return int(np.count_nonzero((present < column.minimum) | (present > column.maximum)))


class DriftCounter:
    """Counts batches into the training profile's bins; ``report()`` compares the totals.

    Counts add up, so feeding a file chunk by chunk gives exactly the report of one pass.

    Parameters
    ----------
    profile : InputProfile
        The training profile.
    settings : DriftSettings
        The limits the verdicts are judged by.
    """

    def __init__(self, *, profile: InputProfile, settings: DriftSettings) -> None:
        self.profile = profile
        self.settings = settings
        self.rows = 0
        self._bins = {
            name: np.zeros(len(column.edges) + 2, dtype=np.int64)
            for name, column in profile.numeric.items()
        } | {
            name: np.zeros(len(column.labels) + 2, dtype=np.int64)
            for name, column in profile.labels.items()
        }
        self._outside = dict.fromkeys(self._bins, 0)
        self._present = dict.fromkeys(self._bins, 0)
        self._invalid = dict.fromkeys(self._bins, 0)

    def add(self, records: pd.DataFrame) -> None:
        """Count a batch of raw records (validated here, as ``make_prediction`` does)."""
        from regression_model.processing.validation import validate_records

        validated = validate_records(records=records, schema=get_config().model.inputs)
        for error in validated.errors:
            if error.kind not in _MISSING_KINDS and error.column is not None:
                self._invalid[error.column] += 1
        frame = validated.frame
        for name, column in self.profile.numeric.items():
            values = frame[name].to_numpy(dtype=float)
            counts, n_present = _numeric_counts(values, column.edges)
            self._bins[name] += counts
            self._present[name] += n_present
            self._outside[name] += _count_outside(values, column)
        for name, labels in self.profile.labels.items():
            counts = _label_counts(frame[name], labels.labels)
            self._bins[name] += counts
            self._present[name] += int(counts[:-1].sum())
            self._outside[name] += int(counts[-2])
        self.rows += len(frame)

    def report(self) -> DriftReport:
        """The totals so far compared with training, the most drifted column first.

        Raises
        ------
        ValueError
            If no rows were counted: there is nothing to compare.
        """
        if self.rows == 0:
            raise ValueError("no rows to compare with the training profile")
        columns = [
            self._column(name, "numeric", column.shares, column.missing_share, column.edges)
            for name, column in self.profile.numeric.items()
        ]
        columns.extend(
            self._column(name, "label", column.shares, column.missing_share, None, column.labels)
            for name, column in self.profile.labels.items()
        )
        columns.sort(key=lambda c: (-c.psi, -c.outside_share, c.column))
        return DriftReport(
            rows=self.rows,
            training_rows=self.profile.training_rows,
            columns=columns,
            settings=self.settings,
        )

    def _column(
        self,
        name: str,
        kind: str,
        shares: Sequence[float],
        missing_share: float,
        edges: Sequence[float] | None,
        labels: Sequence[str] = (),
    ) -> ColumnDrift:
        counts = self._bins[name]
        if edges is not None:
            names = _numeric_bin_names(edges)
            training = np.array([*shares, missing_share])
        else:
            # Labels unseen in training have no training share.
            names = [*labels, UNSEEN_LABELS_BIN]
            training = np.array([*shares, 0.0, missing_share])
        names.append(MISSING_BIN)
        actual = counts / self.rows
        index = psi(training=training, actual=actual, floor=self.settings.share_floor)
        present = self._present[name]
        outside_share = self._outside[name] / present if present else 0.0
        return ColumnDrift(
            column=name,
            kind=kind,
            psi=index,
            outside_share=outside_share,
            missing_share=float(actual[-1]),
            training_missing_share=missing_share,
            invalid_share=self._invalid[name] / self.rows,
            verdict=self._verdict(index, outside_share),
            bins=[
                BinShares(bin=bin_name, training_share=float(t), input_share=float(a))
                for bin_name, t, a in zip(names, training, actual)
            ],
        )

    def _verdict(self, index: float, outside_share: float) -> Verdict:
        if (
            index >= self.settings.psi_drifted
            or outside_share >= self.settings.outside_share_drifted
        ):
            return Verdict.DRIFTED
        if index >= self.settings.psi_moderate:
            return Verdict.MODERATE
        return Verdict.STABLE


def drift_counter(*, config: Config | None = None) -> DriftCounter:
    """A counter against the trained model's profile, with the configured limits.

    Raises
    ------
    ModelLoadError
        If the trained model has no usable profile beside it.
    """
    config = get_config() if config is None else config
    return DriftCounter(profile=load_profile(model_path=_model_path(config)), settings=config.drift)


def profile_report(*, input_data: InputData) -> DriftReport:
    """Compare a batch of houses with the training profile, column by column.

    Parameters
    ----------
    input_data : DataFrame, dict or list of dicts
        Raw house records, as ``make_prediction`` takes them. Values that break the input
        schema count as missing and are reported in ``invalid_share``.

    Returns
    -------
    DriftReport
        Every input column's PSI, outside share and verdict, the most drifted first.

    Raises
    ------
    TypeError
        If ``input_data`` is not a table.
    ValueError
        If it holds no rows.
    ModelLoadError
        If no training profile lies beside the trained model.
    """
    from regression_model.processing.validation import to_frame

    counter = drift_counter()
    counter.add(to_frame(input_data))
    return counter.report()


def report_lines(report: DriftReport) -> list[str]:
    """The report as the terminal shows it: a summary, a header, then one line per column."""
    counts = {verdict: 0 for verdict in Verdict}
    for column in report.columns:
        counts[column.verdict] += 1
    summary = ", ".join(f"{n} {verdict.value}" for verdict, n in counts.items())
    lines = [
        f"{report.rows:,} rows against {report.training_rows:,} training rows: {summary}",
        f"{'column':<16} {'psi':>8} {'outside':>8} {'missing':>8} {'invalid':>8}  verdict",
    ]
    lines.extend(
        f"{c.column:<16} {c.psi:>8.4f} {c.outside_share:>8.1%} {c.missing_share:>8.1%} "
        f"{c.invalid_share:>8.1%}  {c.verdict.value}"
        for c in report.columns
    )
    return lines
