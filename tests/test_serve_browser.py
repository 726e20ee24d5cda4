"""The page at / in a real headless Chromium (Debian's chromium and chromium-driver), driven
by Selenium against the real server: the form, a price, an error next to its field.

Outside CI the tests skip when Chromium is not installed; in CI (CI=true), where .ci/run
installs it, a missing browser fails them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from regression_model.config.core import Config
from regression_model.predict import make_prediction
from regression_model.serve.schemas import example_house
from tests.conftest import LiveServer

BROWSER_NAMES = ("chromium", "chromium-browser")
DRIVER_NAME = "chromedriver"
# Long enough for a loaded machine; the page usually needs well under a second.
WAIT_S = 30


def _find_browser() -> tuple[str, str] | None:
    browsers = [path for path in map(shutil.which, BROWSER_NAMES) if path]
    driver = shutil.which(DRIVER_NAME)
    return (browsers[0], driver) if browsers and driver else None


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    found = _find_browser()
    if found is None:
        reason = "Chromium and chromedriver are not installed (apt-get install chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; .ci/run installs them")
        pytest.skip(reason)
    binary, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1400,1800"):
        options.add_argument(argument)
    # An explicit driver path: Selenium Manager never tries to download one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    yield driver
    driver.quit()


@pytest.fixture()
def page(browser: WebDriver, live_server: LiveServer) -> WebDriver:
    """The page at /, loaded, with its form built and prefilled."""
    browser.get(f"{live_server.url}/")
    WebDriverWait(browser, WAIT_S).until(
        lambda driver: driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
    )
    return browser


def _as_typed(value: object) -> str:
    """A JSON value as a person would see it typed in a field (JavaScript's String())."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _input(page: WebDriver, column: str) -> Any:
    return page.find_element(By.ID, f"input-{column}")


def _set_value(page: WebDriver, column: str, value: str) -> None:
    field = _input(page, column)
    field.clear()
    field.send_keys(value)


def _submit_and_read_price(page: WebDriver) -> str:
    price = page.find_element(By.ID, "price")
    before = page.find_element(By.ID, "result").get_attribute("class")
    page.find_element(By.ID, "submit").click()
    WebDriverWait(page, WAIT_S).until(
        lambda driver: driver.find_element(By.ID, "result").get_attribute("class") != before
    )
    text: str = price.text
    return text


def test_the_form_groups_fields_as_the_schema_and_holds_the_example_house(
    page: WebDriver, config: Config
) -> None:
    # When the page has loaded
    fieldsets = page.find_elements(By.TAG_NAME, "fieldset")
    # Then one group per numeric group, then the labels, each with its columns, prefilled
    inputs = config.model.inputs
    expected_groups = {name.capitalize(): rule.columns for name, rule in inputs.numeric.items()}
    expected_groups["Labels"] = inputs.categorical
    shown_groups = {
        fieldset.get_attribute("data-group"): tuple(
            field.get_attribute("name") for field in fieldset.find_elements(By.TAG_NAME, "input")
        )
        for fieldset in fieldsets
    }
    assert shown_groups == expected_groups
    assert list(shown_groups) == list(expected_groups)
    house = example_house()
    for column in inputs.features:
        assert _input(page, column).get_attribute("value") == _as_typed(house[column]), column


def test_changing_a_field_and_submitting_shows_the_models_price(
    page: WebDriver, config: Config
) -> None:
    # Given a larger house than the example
    house = {**example_house(), "GrLivArea": 2500, "1stFlrSF": 2500}
    [expected] = make_prediction(input_data=[house]).predictions
    assert expected is not None
    _set_value(page, "GrLivArea", "2500")
    _set_value(page, "1stFlrSF", "2500")
    # When
    shown = _submit_and_read_price(page)
    # Then the price is the model's, in whole dollars
    assert shown == f"${expected:,.0f}"


def test_a_bad_value_shows_its_error_next_to_its_field(page: WebDriver) -> None:
    # Given a negative lot area
    _set_value(page, "LotArea", "-5")
    # When
    shown = _submit_and_read_price(page)
    # Then no price, and the message sits under the lot area field, which is marked
    assert shown == "No price"
    field = page.find_element(By.ID, "field-LotArea")
    assert "has-error" in (field.get_attribute("class") or "")
    message = page.find_element(By.ID, "message-LotArea").text
    assert message == "LotArea must be between 0 and 250000, got -5"
    assert page.find_element(By.ID, "message-GrLivArea").text == ""


def test_a_value_outside_training_is_priced_with_its_warning_next_to_its_field(
    page: WebDriver, config: Config
) -> None:
    # Given a lot area inside the schema's range but beyond anything seen in training
    house = {**example_house(), "LotArea": 240000}
    result = make_prediction(input_data=[house])
    [expected_price] = result.predictions
    [warning] = result.warnings
    assert expected_price is not None and warning.column == "LotArea"
    _set_value(page, "LotArea", "240000")
    # When
    shown = _submit_and_read_price(page)
    # Then the house is priced, and the warning sits under the lot area field
    assert shown == f"${expected_price:,.0f}"
    field = page.find_element(By.ID, "field-LotArea")
    assert "has-warning" in (field.get_attribute("class") or "")
    assert page.find_element(By.ID, "message-LotArea").text == warning.message


def test_a_priced_house_shows_a_bar_chart_of_its_largest_contributions(
    page: WebDriver, config: Config
) -> None:
    """Check the chart of issue 22: one bar per column in words, up or down as its part."""
    # Given the example house and its explanation
    [explanation] = make_prediction(input_data=[example_house()], explain=True).explanations or []
    assert explanation is not None

    # When it is priced on the page
    _submit_and_read_price(page)

    # Then the chart holds a bar per column the explanation puts in words, in its order
    figure = page.find_element(By.ID, "explanation")
    assert figure.is_displayed()
    rows = figure.find_elements(By.CLASS_NAME, "bar-row")
    assert len(rows) == config.explain.top_columns
    for row, words in zip(rows, explanation.top):
        name, change = words.rsplit(": ", 1)
        assert row.find_element(By.CLASS_NAME, "bar-name").text == name
        assert row.find_element(By.CLASS_NAME, "bar-value").text == change
        column = words.split(" ")[0]
        direction = "is-up" if explanation.contributions[column] >= 0 else "is-down"
        assert direction in (row.find_element(By.CLASS_NAME, "bar").get_attribute("class") or "")


def test_a_house_without_a_price_shows_no_chart(page: WebDriver) -> None:
    # Given a house priced, then one with a bad value
    _submit_and_read_price(page)
    _set_value(page, "LotArea", "-5")
    # When
    _submit_and_read_price(page)
    # Then the chart is hidden
    assert not page.find_element(By.ID, "explanation").is_displayed()
