"""The model card and diagnostics figure written beside a trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from regression_model import report
from regression_model.config.core import Config
from regression_model.processing.data_manager import ModelMetadata
from regression_model.processing.domain import TrainingDomain, ValueRange

METRICS = {
    "cv_folds": 5.0,
    "cv_rmse_log_mean": 0.1062,
    "cv_rmse_log_std": 0.012,
    "holdout_rmse": 19876.0,
    "holdout_rmse_log": 0.1065,
    "holdout_r2": 0.9486,
    "training_rows": 1458.0,
}


@pytest.fixture()
def metadata() -> ModelMetadata:
    return ModelMetadata(
        package_version="9.9.9",
        model_file="model_v9.9.9.pkl",
        model_sha256="ab" * 32,
        training_data_file="train.csv",
        training_data_sha256="cd" * 32,
        metrics=METRICS,
        versions={"python": "3.11.7", "scikit-learn": "1.9.1"},
        domain=TrainingDomain(
            numeric={"GrLivArea": ValueRange(minimum=334, maximum=4476)},
            labels={"Street": ("Grvl", "Pave")},
            price=ValueRange(minimum=34900, maximum=755000),
        ),
    )


def _write_report(directory: Path, metadata: ModelMetadata, config: Config) -> list[Path]:
    """Write the report of a model in ``directory`` with made-up out-of-fold predictions."""
    rng = np.random.default_rng(0)
    actual = rng.uniform(50_000, 500_000, size=200)
    predicted = actual * np.exp(rng.normal(0, 0.1, size=200))
    return report.write_report(
        model_path=directory / "model_v9.9.9.pkl",
        metadata=metadata,
        config=config,
        y_true=actual,
        y_pred=predicted,
    )


def test_report_writes_a_card_with_the_metrics_and_a_figure(
    tmp_path: Path, metadata: ModelMetadata, config: Config
) -> None:
    pytest.importorskip("matplotlib")
    # Given a saved model's path, its metadata and out-of-fold predictions
    # When the report is written
    written = _write_report(tmp_path, metadata, config)

    # Then a Markdown card holds the scores, provenance and limits, and links a real PNG
    card, figure = tmp_path / "model_v9.9.9.md", tmp_path / "model_v9.9.9.png"
    assert written == [card, figure]
    text = card.read_text()
    for expected in (
        "5-fold cross-validated RMSE of log price (mean ± std) | 0.1062 ± 0.0120",
        "holdout R² | 0.949",
        "holdout RMSE | $19,876",
        "training rows (after the outlier rule) | 1458",
        "sha256 `" + "ab" * 32,
        "## Intended use",
        "## Limits",
        "](model_v9.9.9.png)",
    ):
        assert expected in text
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_report_without_matplotlib_writes_the_card_and_says_the_figure_was_skipped(
    tmp_path: Path, metadata: ModelMetadata, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an environment without matplotlib
    monkeypatch.setattr(report, "has_matplotlib", lambda: False)

    # When the report is written
    written = _write_report(tmp_path, metadata, config)

    # Then only the card exists, and it says why the figure is missing
    assert written == [tmp_path / "model_v9.9.9.md"]
    assert not (tmp_path / "model_v9.9.9.png").exists()
    assert "figure was skipped: matplotlib is not installed" in written[0].read_text()


# (case id, low, high, expected ticks)
DOLLAR_TICK_CASES: list[tuple[str, float, float, list[float]]] = [
    ("ames-prices", 35_000, 760_000, [50_000, 100_000, 200_000, 500_000]),
    ("bounds-on-ticks", 100_000, 1_000_000, [100_000, 200_000, 500_000, 1_000_000]),
    ("narrow-range", 120_000, 380_000, [200_000, 300_000]),
]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [case[1:] for case in DOLLAR_TICK_CASES],
    ids=[case[0] for case in DOLLAR_TICK_CASES],
)
def test_dollar_ticks_are_round_amounts_within_the_range(
    low: float, high: float, expected: list[float]
) -> None:
    """Check that a log price axis gets at least two round ticks, never one."""
    # Given a range of prices
    # When the axis ticks are chosen
    ticks = report.dollar_ticks(low=low, high=high)

    # Then they are the round amounts inside it
    assert ticks == expected


@pytest.mark.parametrize(
    ("value", "label"),
    [(50_000, "$50k"), (250_000, "$250k"), (1_000_000, "$1M"), (1_500_000, "$1.5M")],
    ids=["fifty-thousand", "quarter-million", "one-million", "one-and-a-half-million"],
)
def test_dollar_label_is_short(value: float, label: str) -> None:
    assert report.dollar_label(value) == label


@pytest.mark.parametrize(
    ("recorded", "shown"),
    [
        (None, "No comparison of candidate models is recorded"),
        ("<!-- estimator digest: 000000000000 -->\n| a | b |\n", "made for other estimator"),
        ("<!-- estimator digest: {digest} -->\n| lasso | 0.1100 |\n", "| lasso | 0.1100 |"),
    ],
    ids=["none-recorded", "recorded-for-other-settings", "recorded-for-these-settings"],
)
def test_card_shows_the_model_comparison_only_when_it_was_made_for_these_settings(
    config: Config, tmp_path: Path, recorded: str | None, shown: str
) -> None:
    # Given a comparison file made for these estimator settings, for others, or none
    comparison = tmp_path / "model-comparison.md"
    if recorded is not None:
        digest = report.estimator_digest(config.model)
        comparison.write_text(recorded.format(digest=digest), encoding="utf-8")

    # When the card's comparison section is written
    section = report._comparison_section(config.model, comparison)

    # Then it shows the table only when the digests match, and says why otherwise
    assert section.startswith("## Choosing the model")
    assert shown in section


def test_estimator_digest_changes_with_the_estimator_settings_only(config: Config) -> None:
    settings = config.model
    other_trim = settings.model_copy(
        update={"residual_trim": settings.residual_trim.model_copy(update={"threshold": 9.0})}
    )
    other_folds = settings.model_copy(update={"cv_folds": 7})

    assert report.estimator_digest(other_trim) != report.estimator_digest(settings)
    assert report.estimator_digest(other_folds) == report.estimator_digest(settings)
