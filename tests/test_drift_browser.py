"""The drift command's HTML report in a real headless Chromium: every chart drawn, every
column listed, nothing fetched from anywhere (the browser fixture is the serving page's)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from regression_model.cli import main
from regression_model.config.core import Config
from regression_model.drift import profile_report
from tests.test_serve_browser import browser  # noqa: F401 - the fixture, shared

# SVG rectangles narrower than this would be invisible: a chart that drew no bars.
MIN_BAR_WIDTH = 1


@pytest.fixture()
def drift_page(
    browser: WebDriver, shifted_records: pd.DataFrame, tmp_path: Path  # noqa: F811
) -> WebDriver:
    """The HTML report of the shifted copy of test.csv, written by the command, opened."""
    source = tmp_path / "shifted.parquet"
    shifted_records.to_parquet(source)
    page = tmp_path / "drift.html"
    result = CliRunner().invoke(main, ["drift", str(source), "--html", str(page)])
    assert result.exit_code == 1, result.stderr
    browser.get(page.as_uri())
    return browser


def test_drift_report_draws_one_chart_per_flagged_column(
    drift_page: WebDriver, shifted_records: pd.DataFrame
) -> None:
    # Given the report's page, opened in the browser
    report = profile_report(input_data=shifted_records)

    # When its charts are read
    figures = drift_page.find_elements(By.CSS_SELECTOR, "#charts figure")

    # Then there is one per flagged column, in the report's order, each drawn with visible bars
    assert [f.get_attribute("data-column") for f in figures] == report.flagged_columns
    for figure in figures:
        chart = figure.find_element(By.TAG_NAME, "svg")
        assert chart.size["width"] > 0 and chart.size["height"] > 0
        bars = figure.find_elements(By.CSS_SELECTOR, "rect.bar-input")
        assert any(bar.size["height"] > 0 for bar in bars)
        assert all(bar.size["width"] >= MIN_BAR_WIDTH for bar in bars)


def test_drift_report_lists_every_column_with_its_verdict(
    drift_page: WebDriver, config: Config, shifted_records: pd.DataFrame
) -> None:
    # Given the report's page
    report = profile_report(input_data=shifted_records)

    # When its table is read
    rows = drift_page.find_elements(By.CSS_SELECTOR, "#columns tbody tr")

    # Then every input column has a row, most drifted first, its verdict in its last cell
    shown = [(row.get_attribute("data-column"), row.text.split()[-1]) for row in rows]
    assert shown == [(c.column, c.verdict.value) for c in report.columns]
    assert len(shown) == len(config.model.features)


def test_drift_report_loads_no_resource(drift_page: WebDriver) -> None:
    # Given the report's page, opened from a file
    # When the browser lists what it fetched
    fetched = drift_page.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )

    # Then it fetched nothing: the page stands alone
    assert fetched == []
