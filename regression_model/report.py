"""Write the model card (Markdown) and the diagnostics figure (PNG) beside a trained model.

The figure needs matplotlib, from the optional ``report`` extra
(``pip install ames-price-model[report]``); without it the card is still written and
says the figure was skipped.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from regression_model.array_types import FloatArray
from regression_model.config.core import Config
from regression_model.processing.data_manager import ModelMetadata

logger = logging.getLogger(__name__)


# The name the package installs under (the import name is regression_model).
DISTRIBUTION_NAME = "ames-price-model"


def has_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def write_report(
    *,
    model_path: Path,
    metadata: ModelMetadata,
    config: Config,
    y_true: FloatArray,
    y_pred: FloatArray,
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

    Returns
    -------
    list of Path
        The files written.
    """
    figure_path = model_path.with_suffix(".png")
    if has_matplotlib():
        _plot_diagnostics(y_true=y_true, y_pred=y_pred, path=figure_path, metadata=metadata)
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
    *, y_true: FloatArray, y_pred: FloatArray, path: Path, metadata: ModelMetadata
) -> None:
    import matplotlib

    matplotlib.use("Agg")  # render to a file; no display is needed or assumed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    residuals = np.log(y_true) - np.log(y_pred)
    low, high = min(y_true.min(), y_pred.min()), max(y_true.max(), y_pred.max())
    ticks = dollar_ticks(low=low, high=high)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8))
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
    metrics = metadata.metrics
    figure.suptitle(
        f"{DISTRIBUTION_NAME} {metadata.package_version}: out-of-fold predictions, "
        f"{metrics['cv_folds']:.0f}-fold cross-validated RMSE of log price "
        f"{metrics['cv_rmse_log_mean']:.4f}"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
