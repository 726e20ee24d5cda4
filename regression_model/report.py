"""Write the model card (Markdown) and the diagnostics figure (PNG) beside a trained model.

The figure needs matplotlib, from the optional ``report`` extra
(``pip install ames-price-model[report]``); without it the card is still written and
says the figure was skipped.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from regression_model.array_types import FloatArray
from regression_model.config.core import Config, ModelSettings
from regression_model.processing.data_manager import ModelMetadata
from regression_model.processing.intervals import Calibration, IntervalCalibration

logger = logging.getLogger(__name__)


# The name the package installs under (the import name is regression_model).
DISTRIBUTION_NAME = "ames-price-model"

# How many held-out rows the figure's interval panel draws: enough to show the spread,
# few enough that each range stays visible.
INTERVAL_PANEL_ROWS = 160


# benchmarks/compare_models.py writes its repeated cross-validation of the candidate models
# here, in a source checkout; the card shows it when it was run for the trained settings.
MODEL_COMPARISON = Path(__file__).resolve().parent.parent / "docs" / "model-comparison.md"


def estimator_digest(settings: ModelSettings) -> str:
    """A short digest of the settings that decide the estimator, for matching a comparison."""
    dumped = settings.model_dump(mode="json")
    keys = ("estimator", "blend", "residual_trim", *settings.blend, settings.estimator)
    chosen = {key: dumped.get(key) for key in keys}
    return hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()).hexdigest()[:12]


def _comparison_section(settings: ModelSettings, comparison: Path = MODEL_COMPARISON) -> str:
    heading = "## Choosing the model\n"
    if not comparison.is_file():
        return f"{heading}No comparison of candidate models is recorded beside this source tree.\n"
    table = comparison.read_text(encoding="utf-8")
    if f"estimator digest: {estimator_digest(settings)}" not in table:
        return (
            f"{heading}The recorded comparison of candidate models was made for other estimator "
            "settings: run `python benchmarks/compare_models.py` to compare these.\n"
        )
    return f"{heading}{table}"


def has_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def write_report(
    *,
    model_path: Path,
    metadata: ModelMetadata,
    config: Config,
    y_true: FloatArray,
    y_pred: FloatArray,
    held_out_intervals: Calibration | None = None,
) -> list[Path]:
    """Write ``<model>.md`` and, when matplotlib is installed, ``<model>.png``.

    Parameters
    ----------
    model_path : Path
        The saved model; the report files take its name with other suffixes.
    metadata : ModelMetadata
        What the model was trained from and its scores.
    config : Config
        The configuration the model was trained with.
    y_true, y_pred : ndarray of float
        Sale prices and their out-of-fold predictions, for the diagnostics figure.
    held_out_intervals : Calibration, default=None
        The training rows' held-out prediction intervals, for the figure's interval panel.

    Returns
    -------
    list of Path
        The files written.
    """
    figure_path = model_path.with_suffix(".png")
    if has_matplotlib():
        _plot_diagnostics(
            y_true=y_true,
            y_pred=y_pred,
            path=figure_path,
            metadata=metadata,
            intervals=held_out_intervals,
        )
        figure_note = f"![Predicted against actual prices, and residuals]({figure_path.name})"
        written = [figure_path]
    else:
        figure_note = (
            "The diagnostics figure was skipped: matplotlib is not installed "
            f"(`pip install '{DISTRIBUTION_NAME}[report]'`)."
        )
        logger.warning("matplotlib is not installed: skipped the diagnostics figure")
        written = []
    card_path = model_path.with_suffix(".md")
    card_path.write_text(
        _model_card(metadata=metadata, config=config, figure_note=figure_note), encoding="utf-8"
    )
    return [card_path, *written]


def _model_card(*, metadata: ModelMetadata, config: Config, figure_note: str) -> str:
    settings = config.model
    metrics = metadata.metrics
    required = ", ".join(settings.inputs.required)
    versions = ", ".join(f"{name} {version}" for name, version in metadata.versions.items())
    return f"""# Model card: {metadata.model_file}

## Intended use
Estimate the sale price, in dollars, of a residential property in Ames, Iowa, from the 79
attributes of the House Prices data: for valuation support, batch scoring and teaching how
a model goes to production. Not for lending or legal decisions, and not for houses outside
Ames or sales outside 2006 to 2010 without retraining.

## Data
- Training data: `{metadata.training_data_file}` (sha256 `{metadata.training_data_sha256}`),
  the Kaggle House Prices training set from Dean De Cock's Ames Housing data: sales in
  Ames, Iowa, 2006 to 2010.
- Every training row passes the same input validation as scoring traffic.

## Features
- {len(settings.features)} raw input columns; required (never imputed): {required}.
- Added: {", ".join(settings.engineered_features)}.
- Years become years before the sale; ordered labels ({len(settings.ordinal_vars)} columns)
  become scores; areas become log(1 + area); {len(settings.categorical_vars)} label columns
  are one-hot encoded, rare and unseen labels sharing one column; everything is scaled
  robustly (median and quartiles).
- Missing optional values are imputed (the "none" label, the most frequent label or the
  median) with values learned from the training rows only.

## Estimator
- Target: {settings.target}, modelled as log(price) and returned in dollars.
- {_estimator_summary(config)}
- Training-only outlier rule: rows with {settings.training_outliers.variable} above
  {settings.training_outliers.above:,.0f} that sold below
  ${settings.training_outliers.target_below:,.0f} are dropped before fitting and scoring.

## Metrics
{_metrics_table(metrics)}
{_intervals_section(metadata.intervals)}
{_comparison_section(settings)}

{figure_note}

## Limits
- Prices are 2006 to 2010 dollars from one city; the model knows no later market.
- Houses unlike the training data (very large, unusual sale conditions, labels never seen
  in training) are priced with more error; unseen labels are grouped with rare ones.
- Partial sales of very large new houses sell far below the trend and are priced poorly.

## Provenance
- Package version {metadata.package_version}; model sha256 `{metadata.model_sha256}`.
- Trained with {versions}.
"""


def _estimator_summary(config: Config) -> str:
    settings = config.model
    names = settings.blend if settings.estimator == "blend" else (settings.estimator,)
    described = "; ".join(
        f"{name} ({', '.join(f'{k}={v}' for k, v in getattr(settings, name).model_dump().items())})"
        for name in names
    )
    trimmed = ", ".join(settings.residual_trim.estimators)
    if trimmed:
        described += (
            f". Refitted without the training rows whose residual lies beyond "
            f"{settings.residual_trim.threshold} robust standard deviations: {trimmed}"
        )
    if settings.estimator == "blend":
        return f"The average, in log space, of: {described}."
    return f"Estimator: {described}."


def _metrics_table(metrics: dict[str, float]) -> str:
    rows = [
        (
            f"{metrics['cv_folds']:.0f}-fold cross-validated RMSE of log price (mean ± std)",
            f"{metrics['cv_rmse_log_mean']:.4f} ± {metrics['cv_rmse_log_std']:.4f}",
        ),
        ("holdout RMSE of log price", f"{metrics['holdout_rmse_log']:.4f}"),
        ("holdout RMSE", f"${metrics['holdout_rmse']:,.0f}"),
        ("holdout R²", f"{metrics['holdout_r2']:.3f}"),
        ("training rows (after the outlier rule)", f"{metrics['training_rows']:.0f}"),
    ]
    lines = ["| measure | value |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]
    return "\n".join(lines)


def _intervals_section(intervals: IntervalCalibration | None) -> str:
    if intervals is None:
        return ""
    rows = "\n".join(
        f"| {level.level:.0%} | {level.coverage:.1%} | {level.median_relative_width:.1%} |"
        for level in intervals.levels
    )
    return f"""
## Prediction intervals
`make_prediction(input_data=..., interval=level)` returns a range around each price for
these levels. Conformal, calibrated on the out-of-fold residuals of log price; wider for
houses priced far from the median and for houses with numeric inputs outside the middle of
the training data. Measured on {intervals.held_out_rows:,} training rows, each given its
range by a calibration (repeated per cross-validation fold) that never saw it:

| level | coverage on held-out rows | median width / price |
|---|---|---|
{rows}
"""


# Log axes get ticks at 1, 2 and 5 times a power of ten: evenly spaced on a log scale and
# round amounts a reader takes in at a glance. Where a range holds fewer than two of those,
# every whole multiple of a power of ten is used instead.
_ROUND_STEPS = (1, 2, 5)
_ALL_STEPS = tuple(range(1, 10))
_MIN_TICKS = 2


def dollar_ticks(*, low: float, high: float) -> list[float]:
    """Round dollar amounts from ``low`` to ``high`` for a logarithmic axis.

    Parameters
    ----------
    low, high : float
        The positive range the axis shows.

    Returns
    -------
    list of float
        The amounts, ascending: 1, 2 and 5 times a power of ten, or every whole multiple
        of a power of ten when the range holds fewer than two of those.

    Examples
    --------
    >>> dollar_ticks(low=35_000, high=760_000)
    [50000.0, 100000.0, 200000.0, 500000.0]
    """
    decades = range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
    for steps in (_ROUND_STEPS, _ALL_STEPS):
        ticks = [float(step * 10**decade) for decade in decades for step in steps]
        within = [tick for tick in ticks if low <= tick <= high]
        if len(within) >= _MIN_TICKS:
            return within
    return within


def dollar_label(value: float) -> str:
    """A short dollar amount for an axis: ``$50k``, ``$200k``, ``$1.5M``.

    Examples
    --------
    >>> dollar_label(50_000), dollar_label(1_500_000)
    ('$50k', '$1.5M')
    """
    if value >= 1e6:
        return f"${value / 1e6:g}M"
    return f"${value / 1e3:g}k"


def _plot_diagnostics(
    *,
    y_true: FloatArray,
    y_pred: FloatArray,
    path: Path,
    metadata: ModelMetadata,
    intervals: Calibration | None = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")  # render to a file; no display is needed or assumed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    residuals = np.log(y_true) - np.log(y_pred)
    low, high = min(y_true.min(), y_pred.min()), max(y_true.max(), y_pred.max())
    ticks = dollar_ticks(low=low, high=high)
    # The interval panel, when there is one, spans a second row under the two panels.
    rows_of_panels = 1 if intervals is None else 2
    figure = plt.figure(figsize=(11, 4.8 * rows_of_panels))
    grid = figure.add_gridspec(rows_of_panels, 2)
    left, right = figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[0, 1])
    left.scatter(y_true, y_pred, s=6, alpha=0.5)
    left.plot([low, high], [low, high], color="black", linewidth=1)
    left.set(xscale="log", yscale="log", xlabel="actual price", ylabel="predicted price")
    left.set_title("Out-of-fold predictions against actual prices")
    right.scatter(y_pred, residuals, s=6, alpha=0.5)
    right.axhline(0, color="black", linewidth=1)
    right.set(xscale="log", xlabel="predicted price", ylabel="log(actual) - log(predicted)")
    right.set_title("Residuals against predicted price")
    for axis in (left.xaxis, left.yaxis, right.xaxis):
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_major_formatter(FuncFormatter(lambda value, _: dollar_label(value)))
        axis.set_minor_formatter(NullFormatter())
    for axes in (left, right):
        axes.grid(which="major", linewidth=0.5, alpha=0.4)
    if intervals is not None:
        below = figure.add_subplot(grid[1, :])
        _plot_intervals(below, y_true=y_true, y_pred=y_pred, intervals=intervals)
        below.yaxis.set_major_locator(
            FixedLocator(
                dollar_ticks(
                    low=min(map(np.min, intervals.held_out_lower.values())),
                    high=max(map(np.max, intervals.held_out_upper.values())),
                )
            )
        )
        below.yaxis.set_major_formatter(FuncFormatter(lambda value, _: dollar_label(value)))
        below.yaxis.set_minor_formatter(NullFormatter())
        below.grid(which="major", axis="y", linewidth=0.5, alpha=0.4)
    metrics = metadata.metrics
    figure.suptitle(
        f"{DISTRIBUTION_NAME} {metadata.package_version}: out-of-fold predictions, "
        f"{metrics['cv_folds']:.0f}-fold cross-validated RMSE of log price "
        f"{metrics['cv_rmse_log_mean']:.4f}"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot_intervals(
    axes: Any, *, y_true: FloatArray, y_pred: FloatArray, intervals: Calibration
) -> None:
    """Held-out rows' ranges (widest level palest), their prices, and the prices they missed.

    Every ``n / INTERVAL_PANEL_ROWS``-th row by predicted price is drawn: all 1,458 make one
    solid band that hides the prices.
    """
    stride = max(1, len(y_pred) // INTERVAL_PANEL_ROWS)
    order = np.argsort(y_pred)[::stride]
    position = np.arange(len(order))
    levels = sorted(intervals.held_out_lower, reverse=True)
    for shade, level in enumerate(levels, 1):
        axes.vlines(
            position,
            intervals.held_out_lower[level][order],
            intervals.held_out_upper[level][order],
            color="tab:blue",
            alpha=shade / len(levels) * 0.6,
            linewidth=2,
            label=f"{level:.0%} interval",
        )
    narrowest = levels[-1]
    actual = y_true[order]
    is_outside = (actual < intervals.held_out_lower[narrowest][order]) | (
        actual > intervals.held_out_upper[narrowest][order]
    )
    axes.scatter(
        position[~is_outside], actual[~is_outside], s=6, color="black", zorder=3, label="price"
    )
    axes.scatter(
        position[is_outside],
        actual[is_outside],
        s=10,
        zorder=3,
        color="tab:red",
        label=f"price outside the {narrowest:.0%} interval",
    )
    axes.set(
        yscale="log",
        xlabel=f"every {stride}th held-out training row, by predicted price",
        ylabel="price",
        xlim=(-1, len(order)),
    )
    axes.set_title(
        "Prediction intervals from calibrations that never saw the row, against actual prices"
    )
    axes.legend(loc="upper left", fontsize="small")
